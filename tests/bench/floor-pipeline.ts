// The floor of an export of many small items: the least a Node pipeline on archiver can do for them, timed in the
// same run as scopex. A worker thread reads each stored item (one file), decrypts it (AES-256-GCM) and takes its
// SHA-256; the main thread appends each plaintext to archiver (store, with scopex's own write coalescing, compact
// central directory and native CRC-32), which writes the ZIP to a file. Nothing else: no index, scope gate, safe
// names, manifests, production records, metadata lines, signature or fsync. The key is random, so the tag is not
// checked (final() is not called), as in the crypto ceiling: with the wrong key it would throw, and an exception per
// item (~8 us here) is a cost no real export pays; comparing a 16-byte tag is next to nothing.
//
// It runs as its own process, as scopex does: `node floor-pipeline.js LIST OUT.zip`, LIST holding one stored item's
// file per line. It prints {"items":N,"bytes":B} (plaintext bytes) when the archive is closed.
import { createDecipheriv, hash, randomBytes } from 'node:crypto';
import { closeSync, createWriteStream, existsSync, fstatSync, openSync, readFileSync, readSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { BLOB_MAGIC, HEADER_BYTES, TAG_BYTES } from '../../src/keys/item-crypto.js';
import { coalesceZipWrites } from '../../src/seal/coalesced-zip-writes.js';
import { compactCentralDirectory } from '../../src/seal/compact-central-directory.js';
import { useNativeCrc32 } from '../../src/seal/native-crc.js';

/** Where the nonce starts in the at-rest format: after the magic and the version byte. */
const NONCE_AT = BLOB_MAGIC.length + 1;
/** Items per request to the worker, and requests out at once: the worker reads ahead while batches are appended. */
const BATCH_ITEMS = 128;
const BATCHES_AHEAD = 3;
/** Appends archiver has not yet written, at most (scopex bounds them the same way, by archiver's `entry` event). */
const IN_FLIGHT = 128;

interface Reply {
  bodies: Uint8Array[];
  done: boolean;
}

/** The stored files of every item the bench order covers: each listed item of these accounts in each store. */
export function storedItemFiles(worldDir: string, accountIds: readonly string[]): string[] {
  const files: string[] = [];
  for (const accountId of accountIds) {
    for (const service of ['mail', 'storage', 'im']) {
      const folder = path.join(worldDir, 'stores', service, accountId);
      const index = path.join(folder, 'index.jsonl');
      if (!existsSync(index)) continue;
      for (const line of readFileSync(index, 'utf8').split('\n')) {
        if (line.trim() === '') continue;
        const { id } = JSON.parse(line) as { id: string };
        files.push(path.join(folder, 'blobs', id));
      }
    }
  }
  return files;
}

export function writeItemList(file: string, items: readonly string[]): void {
  writeFileSync(file, `${items.join('\n')}\n`);
}

function workerLoop(files: readonly string[]): void {
  const port = parentPort!;
  const key = randomBytes(32);
  let next = 0;
  port.on('message', (count: number) => {
    const bodies: Uint8Array[] = [];
    const transfer: ArrayBuffer[] = [];
    for (let taken = 0; taken < count && next < files.length; taken++, next++) {
      const fd = openSync(files[next]!, 'r');
      let blob: Buffer;
      try {
        const size = fstatSync(fd).size;
        blob = Buffer.allocUnsafeSlow(size);
        readSync(fd, blob, 0, size, 0);
      } finally {
        closeSync(fd);
      }
      const decipher = createDecipheriv('aes-256-gcm', key, blob.subarray(NONCE_AT, HEADER_BYTES), { authTagLength: TAG_BYTES });
      decipher.setAuthTag(blob.subarray(blob.length - TAG_BYTES));
      // No final(): see the top of the file.
      const body = decipher.update(blob.subarray(HEADER_BYTES, blob.length - TAG_BYTES));
      hash('sha256', body);
      bodies.push(body);
      // Moved, not copied, when the plaintext has its own memory (a pooled one is copied).
      if (body.byteOffset === 0 && body.buffer.byteLength === body.length) transfer.push(body.buffer as ArrayBuffer);
    }
    const reply: Reply = { bodies, done: next >= files.length };
    port.postMessage(reply, transfer);
  });
}

interface ZipArchive extends NodeJS.EventEmitter {
  pipe(destination: NodeJS.WritableStream): void;
  append(source: Buffer, data: { name: string; date: Date }): void;
  finalize(): Promise<void>;
}

async function mainLoop(listFile: string, outFile: string): Promise<void> {
  const files = readFileSync(listFile, 'utf8').split('\n').filter((line) => line !== '');
  const { ZipArchive: ZipArchiveClass } = (await import('archiver')) as unknown as { ZipArchive: new (options: { store: boolean; highWaterMark: number }) => ZipArchive };
  useNativeCrc32();
  const archive = new ZipArchiveClass({ store: true, highWaterMark: 1 << 20 });
  coalesceZipWrites(archive);
  compactCentralDirectory(archive);
  const out = createWriteStream(outFile, { flags: 'wx', highWaterMark: 1 << 20 });
  // An output that cannot be created (it exists, say) stops the run before any item is read.
  await new Promise<void>((resolve, reject) => {
    out.once('open', () => resolve());
    out.once('error', reject);
  });
  const closed = new Promise<void>((resolve, reject) => {
    out.once('close', resolve);
    out.once('error', reject);
    archive.once('error', reject);
  });
  archive.pipe(out);
  let inFlight = 0;
  let wake: (() => void) | null = null;
  archive.on('entry', () => {
    inFlight -= 1;
    if (wake && inFlight < IN_FLIGHT / 2) {
      const resume = wake;
      wake = null;
      resume();
    }
  });
  const worker = new Worker(new URL(import.meta.url), { workerData: { files } });
  // Requests are answered in order; each reply settles the oldest one waiting.
  const waiting: { resolve: (reply: Reply) => void; reject: (error: unknown) => void }[] = [];
  worker.on('message', (reply: Reply) => waiting.shift()?.resolve(reply));
  worker.on('error', (error) => {
    for (const request of waiting.splice(0)) request.reject(error);
  });
  const ask = (): Promise<Reply> => {
    const reply = new Promise<Reply>((resolve, reject) => waiting.push({ resolve, reject }));
    reply.catch(() => undefined); // awaited in turn; one left unawaited after the last batch must not go unhandled
    worker.postMessage(BATCH_ITEMS);
    return reply;
  };
  const date = new Date('2026-01-01T00:00:00Z');
  let items = 0;
  let bytes = 0;
  try {
    const pending = Array.from({ length: BATCHES_AHEAD }, ask);
    for (let done = false; !done; ) {
      const reply = await pending.shift()!;
      done = reply.done;
      if (!done) pending.push(ask());
      for (const body of reply.bodies) {
        archive.append(Buffer.from(body.buffer, body.byteOffset, body.byteLength), { name: `floor/data/${String(items).padStart(7, '0')}.eml`, date });
        items += 1;
        bytes += body.byteLength;
        inFlight += 1;
        if (inFlight >= IN_FLIGHT) await new Promise<void>((resolve) => (wake = resolve));
      }
    }
    await archive.finalize();
    await closed;
  } finally {
    await worker.terminate();
  }
  process.stdout.write(`${JSON.stringify({ items, bytes })}\n`);
}

if (!isMainThread) {
  workerLoop((workerData as { files: string[] }).files);
} else if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname)) {
  const [listFile, outFile] = process.argv.slice(2);
  if (!listFile || !outFile) {
    process.stderr.write('usage: node floor-pipeline.js LIST OUT.zip\n');
    process.exitCode = 2;
  } else {
    await mainLoop(listFile, outFile).catch((error: unknown) => {
      process.stderr.write(`floor-pipeline: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exitCode = 1;
    });
  }
}
