// The key service's reader thread (the built script, as the CLI runs it) answers every small read exactly as the
// in-thread reader does: the same plaintext, and the same error class and code for every damaged or missing blob.
import { createHash, randomBytes, type KeyObject } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { crc32 } from 'node:zlib';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeyError, ScopexError, SourceError } from '../../src/errors.js';
import { BLOB_OVERHEAD, encryptItemBuffer, HEADER_BYTES, itemAad, TAG_BYTES } from '../../src/keys/item-crypto.js';
import { unwrapDataKey } from '../../src/keys/data-keys.js';
import { ThreadedBlobReader } from '../../src/keys/item-reader.js';
import { decodeHeaders, decodeJobs, encodeHeaders, encodeJobs, RING_SLOTS, STREAM_CHUNK_BYTES, type ReaderReply, type ReaderThreadData } from '../../src/keys/item-reader-protocol.js';
import { isDigesting, type KeyService } from '../../src/keys/key-service.js';
import { createLocalKeyService } from '../../src/keys/local-key-service.js';
import { loadMasterKey } from '../../src/keys/master-key.js';
import { mailHeaderFields, type MailHeaderFields } from '../../src/pipeline/mail-headers.js';
import { buildStoreFixture, type FixtureItem, type StoreFixture } from '../helpers/store-fixture.js';
import { giveBackChunk, isLent } from '../../src/util/lent-chunks.js';
import { blobOf, drain, failureOf, refOf } from './key-helpers.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const SCRIPT = pathToFileURL(path.join(ROOT, 'dist/src/keys/item-reader-thread.js'));

let fx: StoreFixture;
let threaded: KeyService;
let inThread: KeyService;
let scratch: string;

beforeAll(async () => {
  // One item bigger than a batch's shared arena (2 MiB), so that plaintexts also travel the other way.
  fx = await buildStoreFixture({ pki: false, largeItemBytes: 900 * 1024 });
  const files = { masterKeyFile: fx.masterKeyFile, dataKeysFile: fx.dataKeysFile };
  threaded = createLocalKeyService({ ...files, readerThread: SCRIPT });
  inThread = createLocalKeyService({ ...files, readerThread: false });
  scratch = mkdtempSync(path.join(os.tmpdir(), 'scopex-reader-'));
});
afterAll(async () => {
  await threaded.close?.();
  fx.cleanup();
  rmSync(scratch, { recursive: true, force: true });
});

const providerItems = () => fx.items.filter((item) => item.encryption === 'provider-key');

/** What a read failed with, as class name and code, or 'ok'. */
async function outcome(service: KeyService, item: FixtureItem, blobFile: string, maxBytes = 1 << 20): Promise<string> {
  const error = await failureOf(() => service.readItem(refOf(item, blobFile), maxBytes));
  if (error === undefined) return 'ok';
  expect(error).toBeInstanceOf(ScopexError);
  expect((error as Error).message).toContain(item.id);
  return `${(error as Error).constructor.name}:${(error as ScopexError<string>).code}`;
}

let counter = 0;
function scratchBlob(content: Buffer): string {
  const file = path.join(scratch, `blob-${counter++}`);
  writeFileSync(file, content);
  return file;
}

describe('the reader thread', () => {
  it('returns every provider-key item exactly, with many reads in flight at once (several batches)', async () => {
    const items = providerItems().filter((item) => item.plaintext !== undefined);
    const rounds = Array.from({ length: 6 }, () => items).flat();
    expect(rounds.length).toBeGreaterThan(64);
    const read = await Promise.all(rounds.map((item) => threaded.readItem(refOf(item), item.bytes)));
    read.forEach((plaintext, index) => {
      expect(plaintext.bytes.equals(rounds[index]!.plaintext!)).toBe(true);
      expect(plaintext.sha256).toBe(rounds[index]!.sha256);
      expect(plaintext.crc32).toBe(crc32(plaintext.bytes));
    });
  });

  it('returns items that overflow the batch arena intact, mixed with small ones', async () => {
    const large = providerItems().find((item) => item.id === 's-large')!;
    const small = providerItems().filter((item) => item.plaintext !== undefined);
    const mixed = Array.from({ length: 8 }, (_, index) => [large, small[index % small.length]!]).flat();
    const read = await Promise.all(mixed.map((item) => threaded.readItem(refOf(item), item.bytes)));
    read.forEach((plaintext, index) => {
      expect(createHash('sha256').update(plaintext.bytes).digest('hex')).toBe(mixed[index]!.sha256);
      expect(plaintext.sha256).toBe(mixed[index]!.sha256);
      expect(plaintext.crc32).toBe(crc32(plaintext.bytes));
    });
  });

  it('reads the header fields of the messages that ask for them, as the main thread would, and of no others', async () => {
    // The large item overflows the batch arena and travels on its own; every other read asks, so batches mix both.
    const items = providerItems();
    expect(items.some((item) => item.id === 's-large')).toBe(true);
    const asks = items.map((item, index) => item.id === 's-large' || index % 2 === 0);
    for (const service of [threaded, inThread]) {
      const read = await Promise.all(items.map((item, index) => service.readItem(refOf(item), item.bytes, { mailHeaders: asks[index]! })));
      read.forEach((plaintext, index) => {
        expect(plaintext.sha256).toBe(items[index]!.sha256);
        expect(createHash('sha256').update(plaintext.bytes).digest('hex')).toBe(items[index]!.sha256);
        expect(plaintext.mailHeaders).toEqual(asks[index] ? mailHeaderFields(plaintext.bytes) : undefined);
      });
    }
    // Not vacuous: the fixture's messages have senders.
    const mail = items.filter((item) => item.service === 'mail' && item.bytes > 0);
    const fromThread = await Promise.all(mail.map((item) => threaded.readItem(refOf(item), item.bytes, { mailHeaders: true })));
    expect(fromThread.some((plaintext) => plaintext.mailHeaders?.from)).toBe(true);
  });

  it('fails as the in-thread reader does for every flipped byte, truncation and extension of a blob', async () => {
    const item = providerItems().find((candidate) => candidate.bytes > 40)!;
    const blob = blobOf(item);
    const damaged: Buffer[] = [];
    for (let index = 0; index < blob.length; index += 1) {
      const copy = Buffer.from(blob);
      copy[index] = copy[index]! ^ 0x01;
      damaged.push(copy);
    }
    for (const length of [0, 4, HEADER_BYTES, BLOB_OVERHEAD - 1, BLOB_OVERHEAD, blob.length - TAG_BYTES, blob.length - 1]) {
      damaged.push(blob.subarray(0, length));
    }
    damaged.push(Buffer.concat([blob, Buffer.from([0])]));
    const files = damaged.map(scratchBlob);
    const fromThread = await Promise.all(files.map((file) => outcome(threaded, item, file)));
    const fromMain = await Promise.all(files.map((file) => outcome(inThread, item, file)));
    expect(fromThread).toEqual(fromMain);
    expect(fromThread.every((result) => result.startsWith('IntegrityError:'))).toBe(true);
  });

  it('refuses a blob larger than asked for, and names a missing blob ITEM_MISSING', async () => {
    const item = providerItems().find((candidate) => candidate.bytes > 10)!;
    expect(await outcome(threaded, item, item.blobFile, item.bytes - 1)).toBe('IntegrityError:ITEM_FORMAT');
    const missing = await failureOf(() => threaded.readItem(refOf(item, path.join(scratch, 'absent')), 1 << 20));
    expect(missing).toBeInstanceOf(SourceError);
    expect((missing as SourceError).code).toBe('ITEM_MISSING');
  });

  it('never sends a read for an account with no data key', async () => {
    const item = providerItems()[0]!;
    const error = await failureOf(() => threaded.readItem({ ...refOf(item), accountId: 'acct-nobody' }, 1 << 20));
    expect(error).toBeInstanceOf(KeyError);
  });

  it('a script that is not there is an error, not a silent fallback', async () => {
    const service = createLocalKeyService({
      masterKeyFile: fx.masterKeyFile,
      dataKeysFile: fx.dataKeysFile,
      readerThread: pathToFileURL(path.join(scratch, 'no-such-thread.js')),
    });
    const item = providerItems()[0]!;
    expect(await failureOf(() => service.readItem(refOf(item), 1 << 20))).toBeInstanceOf(Error);
  });

  it('after close, reads go on in the calling thread', async () => {
    const service = createLocalKeyService({ masterKeyFile: fx.masterKeyFile, dataKeysFile: fx.dataKeysFile, readerThread: SCRIPT });
    const item = providerItems()[0]!;
    expect(await service.readItem(refOf(item), item.bytes)).toEqual({ bytes: item.plaintext, sha256: item.sha256, crc32: crc32(item.plaintext!) });
    await service.close?.();
    // No CRC: only the thread takes one, so this read was made here (and no new thread was started).
    expect(await service.readItem(refOf(item), item.bytes)).toEqual({ bytes: item.plaintext, sha256: item.sha256 });
  });

  it('prepare() starts the thread before the first read, and the first read uses it', async () => {
    const service = createLocalKeyService({ masterKeyFile: fx.masterKeyFile, dataKeysFile: fx.dataKeysFile, readerThread: SCRIPT });
    const ready = ThreadedBlobReader.startScript(SCRIPT);
    // An idle thread of this script, handed to the next key service that starts one: prepare() must take it now.
    await ready.release();
    expect(ready.threadId).toBeGreaterThan(0);
    service.prepare?.();
    const next = ThreadedBlobReader.startScript(SCRIPT);
    expect(next.threadId).not.toBe(ready.threadId);
    await next.close();
    const item = providerItems()[0]!;
    expect((await service.readItem(refOf(item), item.bytes)).crc32).toBe(crc32(item.plaintext!));
    await service.close?.();
  });

  it('prepare() never throws; a thread that cannot start fails the first read instead', async () => {
    const service = createLocalKeyService({
      masterKeyFile: fx.masterKeyFile,
      dataKeysFile: fx.dataKeysFile,
      readerThread: pathToFileURL(path.join(scratch, 'no-such-thread.js')),
    });
    expect(() => service.prepare?.()).not.toThrow();
    expect(await failureOf(() => service.readItem(refOf(providerItems()[0]!), 1 << 20))).toBeInstanceOf(Error);
  });

  it('starts no thread when told not to, in the built service too (where a thread script is there to start)', async () => {
    const built = (await import(pathToFileURL(path.join(ROOT, 'dist/src/keys/local-key-service.js')).href)) as { createLocalKeyService: typeof createLocalKeyService };
    const files = { masterKeyFile: fx.masterKeyFile, dataKeysFile: fx.dataKeysFile };
    const item = providerItems()[0]!;
    const off = built.createLocalKeyService({ ...files, readerThread: false });
    expect((await off.readItem(refOf(item), item.bytes)).crc32).toBeUndefined();
    const on = built.createLocalKeyService(files);
    expect((await on.readItem(refOf(item), item.bytes)).crc32).toBe(crc32(item.plaintext!));
    await on.close?.();
    await off.close?.();
  });
});

/** The data key of `accountId`, as the key service unwraps it. */
function dataKeyOf(accountId: string): KeyObject {
  const { accounts } = JSON.parse(readFileSync(fx.dataKeysFile, 'utf8')) as { accounts: Record<string, { wrapped: string }> };
  return unwrapDataKey(loadMasterKey(fx.masterKeyFile), accountId, accounts[accountId]!.wrapped);
}

describe('items streamed from the reader thread', () => {
  // Several chunks of 1 MiB and a ragged end, under the identity of the fixture's large item (the AAD binds it).
  const plaintext = Buffer.alloc(3 * 1024 * 1024 + 4321);
  for (let at = 0; at < plaintext.length; at += 1) plaintext[at] = (at * 7 + (at >>> 10)) & 0xff;
  let large: FixtureItem;
  let blob: Buffer;
  let blobFile: string;
  beforeAll(() => {
    large = providerItems().find((item) => item.id === 's-large')!;
    blob = encryptItemBuffer(dataKeyOf(large.accountId), randomBytes(12), itemAad(large.service, large.accountId, large.id), plaintext);
    blobFile = scratchBlob(blob);
  });

  /** What reading the stream gave: its bytes and its digest, or the failure as class name and code. */
  async function streamed(service: KeyService, file: string): Promise<{ bytes?: Buffer; failure?: string; digest?: unknown }> {
    const stream = service.openItem(refOf(large, file));
    try {
      const bytes = await drain(stream);
      return { bytes, digest: isDigesting(stream) ? await stream.plaintextDigest : undefined };
    } catch (error) {
      if (isDigesting(stream)) await expect(stream.plaintextDigest).rejects.toBe(error);
      return { failure: `${(error as Error).constructor.name}:${(error as ScopexError<string>).code}` };
    }
  }

  it('gives the bytes the in-thread stream gives, with their SHA-256 and size', async () => {
    const fromThread = await streamed(threaded, blobFile);
    const fromMain = await streamed(inThread, blobFile);
    expect(fromThread.bytes?.equals(plaintext)).toBe(true);
    expect(fromMain.bytes?.equals(plaintext)).toBe(true);
    expect(fromThread.digest).toEqual({ sha256: createHash('sha256').update(plaintext).digest('hex'), bytes: plaintext.length });
    // The in-thread stream takes no digest: the sealer hashes what it reads.
    expect(fromMain.digest).toBeUndefined();
    // Empty and one-chunk items too.
    for (const item of providerItems().filter((candidate) => candidate.service === 'storage' && candidate.plaintext !== undefined)) {
      const stream = threaded.openItem(refOf(item));
      expect((await drain(stream)).equals(item.plaintext!)).toBe(true);
      expect(isDigesting(stream) && (await stream.plaintextDigest)).toEqual({ sha256: item.sha256, bytes: item.bytes });
    }
  });

  /** Reads a stream chunk by chunk, each handed to `take` as it comes (before the next is read). */
  async function eachChunk(stream: NodeJS.ReadableStream, take: (chunk: Buffer) => void): Promise<void> {
    for await (const chunk of stream as AsyncIterable<Buffer>) take(chunk);
  }

  it('lends its chunks out of shared memory, and takes a slot again only once its chunk is given back', async () => {
    const reader = ThreadedBlobReader.startScript(SCRIPT);
    try {
      const key = dataKeyOf(large.accountId);
      // Kept, never given back: every chunk is lent and still holds its bytes at the end.
      const kept: Buffer[] = [];
      await eachChunk(reader.openStream(refOf(large, blobFile), key, (error) => error), (chunk) => kept.push(chunk));
      expect(kept.length).toBe(4);
      expect(kept.every((chunk) => isLent(chunk) && chunk.buffer instanceof SharedArrayBuffer)).toBe(true);
      expect(Buffer.concat(kept).equals(plaintext)).toBe(true);
      kept.forEach(giveBackChunk);

      // An item of more chunks than the ring has slots, each given back once read: every chunk is lent, from the
      // same few slots over and over.
      const big = Buffer.alloc((RING_SLOTS + 3) * STREAM_CHUNK_BYTES + 777);
      for (let at = 0; at < big.length; at += 4096) big.writeUInt32BE((at * 2654435761) >>> 0, at);
      const bigFile = scratchBlob(encryptItemBuffer(key, randomBytes(12), itemAad(large.service, large.accountId, large.id), big));
      const offsets = new Set<number>();
      let at = 0;
      await eachChunk(reader.openStream(refOf(large, bigFile), key, (error) => error), (chunk) => {
        expect(isLent(chunk)).toBe(true);
        expect(chunk.equals(big.subarray(at, at + chunk.length))).toBe(true);
        at += chunk.length;
        offsets.add(chunk.byteOffset);
        giveBackChunk(chunk);
      });
      expect(at).toBe(big.length);
      expect(offsets.size).toBeLessThan(RING_SLOTS);

      // The same item, its chunks kept: once every slot is lent, the rest are moved over, and no lent chunk is
      // written over by a later one.
      const held: Buffer[] = [];
      await eachChunk(reader.openStream(refOf(large, bigFile), key, (error) => error), (chunk) => held.push(chunk));
      expect(held.filter((chunk) => isLent(chunk)).length).toBe(RING_SLOTS);
      expect(held.length).toBe(RING_SLOTS + 4);
      expect(Buffer.concat(held).equals(big)).toBe(true);
      held.forEach(giveBackChunk);
    } finally {
      await reader.close();
    }
  });

  it('fails as the in-thread stream does for a damaged blob, and its digest with it', async () => {
    const damaged: Buffer[] = [];
    for (const at of [0, 5, HEADER_BYTES, HEADER_BYTES + 1024 * 1024 + 3, blob.length - TAG_BYTES - 1, blob.length - 1]) {
      const copy = Buffer.from(blob);
      copy[at] = copy[at]! ^ 0x40;
      damaged.push(copy);
    }
    for (const length of [0, HEADER_BYTES, BLOB_OVERHEAD - 1, 2 * 1024 * 1024, blob.length - 1]) damaged.push(blob.subarray(0, length));
    damaged.push(Buffer.concat([blob, Buffer.from([0])]));
    for (const file of damaged.map(scratchBlob)) {
      const fromThread = await streamed(threaded, file);
      expect(fromThread.failure).toMatch(/^IntegrityError:/);
      expect(fromThread.failure).toBe((await streamed(inThread, file)).failure);
    }
    expect((await streamed(threaded, path.join(scratch, 'absent'))).failure).toBe('SourceError:ITEM_MISSING');
  });

  it('closes a stream given up half-way on the thread, which can then be given back', async () => {
    const reader = ThreadedBlobReader.startScript(SCRIPT);
    try {
      const stream = reader.openStream(refOf(large, blobFile), dataKeyOf(large.accountId), (error) => error);
      const first = await new Promise<Buffer>((resolve) => stream.once('data', resolve));
      expect(first.length).toBe(1024 * 1024);
      expect(reader.reusable).toBe(false);
      stream.destroy();
      await expect(stream.plaintextDigest).rejects.toThrow();
      expect(reader.reusable).toBe(true);
      // The thread goes on serving.
      const item = providerItems().find((candidate) => candidate.plaintext !== undefined)!;
      expect((await reader.read(refOf(item), dataKeyOf(item.accountId), item.bytes)).sha256).toBe(item.sha256);
      for (let round = 0; round < 3; round += 1) {
        const again = reader.openStream(refOf(large, blobFile), dataKeyOf(large.accountId), (error) => error);
        const copies: Buffer[] = [];
        await eachChunk(again, (chunk) => {
          copies.push(Buffer.from(chunk));
          giveBackChunk(chunk);
        });
        expect(Buffer.concat(copies).equals(plaintext)).toBe(true);
      }
      // Meanwhile the first chunk, never given back, kept its slot: nothing was written over it.
      expect(isLent(first)).toBe(true);
      expect(first.equals(plaintext.subarray(0, first.length))).toBe(true);
      giveBackChunk(first);
    } finally {
      await reader.close();
    }
  });
});

describe('the CRC-32 of a stored item, read on the reader thread (plaintextCrc)', () => {
  const plaintext = Buffer.alloc(17 * 1024 * 1024 + 99);
  for (let at = 0; at < plaintext.length; at += 4096) plaintext.writeUInt32BE((at * 2246822519) >>> 0, at);
  let large: FixtureItem;
  let blob: Buffer;
  let blobFile: string;
  beforeAll(() => {
    large = providerItems().find((item) => item.id === 's-large')!;
    blob = encryptItemBuffer(dataKeyOf(large.accountId), randomBytes(12), itemAad(large.service, large.accountId, large.id), plaintext);
    blobFile = scratchBlob(blob);
  });

  it('is the CRC-32 and size of its plaintext, on the thread and in the calling thread alike, over more than one step', async () => {
    const expected = { crc32: crc32(plaintext) >>> 0, bytes: plaintext.length };
    expect(await threaded.plaintextCrc!(refOf(large, blobFile))).toEqual(expected);
    expect(await inThread.plaintextCrc!(refOf(large, blobFile))).toEqual(expected);
    const small = providerItems().find((item) => item.plaintext !== undefined && item.bytes > 0)!;
    expect(await threaded.plaintextCrc!(refOf(small))).toEqual({ crc32: crc32(small.plaintext!) >>> 0, bytes: small.bytes });
  });

  it('fails as the stream does for a blob altered, cut or grown, and for one that is not there', async () => {
    const grown = scratchBlob(Buffer.concat([blob, Buffer.from('x')]));
    const flipped = Buffer.from(blob);
    flipped[HEADER_BYTES + 9 * 1024 * 1024]! ^= 0x01;
    for (const file of [grown, scratchBlob(flipped), scratchBlob(blob.subarray(0, blob.length - 1))]) {
      const error = await failureOf(() => threaded.plaintextCrc!(refOf(large, file)));
      expect(`${(error as Error).constructor.name}:${(error as ScopexError<string>).code}`).toBe('IntegrityError:ITEM_AUTH_FAILED');
    }
    const missing = await failureOf(() => threaded.plaintextCrc!(refOf(large, path.join(scratch, 'absent'))));
    expect((missing as ScopexError<string>).code).toBe('ITEM_MISSING');
  });

  it('stops on the thread when its signal aborts, and the thread goes on serving', async () => {
    const reader = ThreadedBlobReader.startScript(SCRIPT);
    try {
      const controller = new AbortController();
      const reason = new Error('stop');
      const pending = reader.crcOf(refOf(large, blobFile), dataKeyOf(large.accountId), (error) => error, controller.signal);
      controller.abort(reason);
      await expect(pending).rejects.toBe(reason);
      expect(reader.reusable).toBe(true);
      expect(await reader.crcOf(refOf(large, blobFile), dataKeyOf(large.accountId), (error) => error)).toEqual({ crc32: crc32(plaintext) >>> 0, bytes: plaintext.length });
    } finally {
      await reader.close();
    }
  });
});

describe('a stream whose reader thread stops', () => {
  it('fails with STORE_UNREADABLE, and so does its digest', async () => {
    const reader = ThreadedBlobReader.startScript(SCRIPT);
    const large = providerItems().find((item) => item.id === 's-large')!;
    const stream = reader.openStream(refOf(large), dataKeyOf(large.accountId), (error) => error);
    const failed = new Promise<unknown>((resolve) => stream.once('error', resolve));
    await reader.close();
    expect(await failed).toMatchObject({ code: 'STORE_UNREADABLE' });
    await expect(stream.plaintextDigest).rejects.toMatchObject({ code: 'STORE_UNREADABLE' });
  });
});

describe('a reader thread given back by a closed key service', () => {
  it('is taken up by the next key service, which reads with its own keys (same account ids, other keys)', async () => {
    const other = await buildStoreFixture({ pki: false });
    try {
      const ours = providerItems()[0]!;
      const theirs = other.items.find((item) => item.encryption === 'provider-key' && item.accountId === ours.accountId && item.plaintext)!;
      expect(theirs).toBeDefined();
      const first = ThreadedBlobReader.startScript(SCRIPT);
      const key = (fixture: StoreFixture, accountId: string) => {
        const { accounts } = JSON.parse(readFileSync(fixture.dataKeysFile, 'utf8')) as { accounts: Record<string, { wrapped: string }> };
        return unwrapDataKey(loadMasterKey(fixture.masterKeyFile), accountId, accounts[accountId]!.wrapped);
      };
      expect((await first.read(refOf(ours), key(fx, ours.accountId), ours.bytes)).bytes.equals(ours.plaintext!)).toBe(true);
      await first.release();
      expect(first.threadId).toBeGreaterThan(0);
      const second = ThreadedBlobReader.startScript(SCRIPT);
      expect(second.threadId).toBe(first.threadId);
      // The same account id under another key: the thread must be sent the new key, not use the one it forgot.
      expect((await second.read(refOf(theirs), key(other, theirs.accountId), theirs.bytes)).bytes.equals(theirs.plaintext!)).toBe(true);
      await second.close();
      const third = ThreadedBlobReader.startScript(SCRIPT);
      expect(third.threadId).not.toBe(first.threadId);
      await third.close();
    } finally {
      other.cleanup();
    }
  });

  it('holds no data key once given back', async () => {
    // The real thread, with a listener of its own that notes every forget the thread is sent.
    const log = path.join(scratch, `forget-${counter++}.log`);
    const script = path.join(scratch, `noting-thread-${counter++}.mjs`);
    writeFileSync(
      script,
      `import { appendFileSync } from 'node:fs';
       import { parentPort } from 'node:worker_threads';
       import ${JSON.stringify(SCRIPT.href)};
       parentPort.on('message', (m) => { if (m.type === 'forget') appendFileSync(${JSON.stringify(log)}, 'forget\\n'); });`,
    );
    const service = createLocalKeyService({ masterKeyFile: fx.masterKeyFile, dataKeysFile: fx.dataKeysFile, readerThread: pathToFileURL(script) });
    const item = providerItems()[0]!;
    expect((await service.readItem(refOf(item), item.bytes)).crc32).toBe(crc32(item.plaintext!));
    await service.close?.();
    await expect.poll(() => (existsSync(log) ? readFileSync(log, 'utf8') : '')).toBe('forget\n');

    // And the thread itself drops every key it holds when told to forget: a read after that finds none.
    const arenas = [new SharedArrayBuffer(1 << 20)];
    const raw = new Worker(SCRIPT, { workerData: { arenas, ring: new SharedArrayBuffer(RING_SLOTS * STREAM_CHUNK_BYTES) } satisfies ReaderThreadData });
    try {
      const [ours] = providerItems();
      const { accounts } = JSON.parse(readFileSync(fx.dataKeysFile, 'utf8')) as { accounts: Record<string, { wrapped: string }> };
      const dataKey = unwrapDataKey(loadMasterKey(fx.masterKeyFile), ours!.accountId, accounts[ours!.accountId]!.wrapped);
      const job = encodeJobs([{ file: ours!.blobFile, service: ours!.service, accountId: ours!.accountId, itemId: ours!.id, maxBytes: ours!.bytes, mailHeaders: false }]);
      const reply = () => new Promise<ReaderReply>((resolve) => raw.once('message', resolve));
      raw.postMessage({ type: 'key', accountId: ours!.accountId, key: dataKey });
      raw.postMessage({ type: 'read', jobs: job, arena: 0 });
      expect((await reply()).exceptions).toEqual([]);
      raw.postMessage({ type: 'forget' });
      raw.postMessage({ type: 'read', jobs: job, arena: 0 });
      expect((await reply()).exceptions).toEqual([{ index: 0, failure: { kind: 'other', message: expect.stringContaining('no data key was sent') } }]);
    } finally {
      await raw.terminate();
    }
  });

  it('is stopped, not given back, when it failed', async () => {
    const script = path.join(scratch, `silent-thread-${counter++}.mjs`);
    // Answers every read with nothing: the reader fails, and its thread must not serve anyone again.
    writeFileSync(
      script,
      `import { parentPort } from 'node:worker_threads';
       parentPort.on('message', (m) => { if (m.type === 'read') parentPort.postMessage({ type: 'read', arena: m.arena, used: 0, digests: '', spans: new Int32Array(2 * JSON.parse(m.jobs).length / 6).fill(-1), crcs: new Int32Array(0), headers: '', exceptions: [] }); });`,
    );
    const failing = ThreadedBlobReader.startScript(pathToFileURL(script));
    expect(failing.reusable).toBe(true);
    const item = providerItems()[0]!;
    const { accounts } = JSON.parse(readFileSync(fx.dataKeysFile, 'utf8')) as { accounts: Record<string, { wrapped: string }> };
    const dataKey = unwrapDataKey(loadMasterKey(fx.masterKeyFile), item.accountId, accounts[item.accountId]!.wrapped);
    expect(await failureOf(() => failing.read(refOf(item), dataKey, 1 << 20))).toBeInstanceOf(SourceError);
    expect(failing.reusable).toBe(false);
    const id = failing.threadId;
    await failing.release();
    // Stopped: a thread no longer running has the id -1.
    expect(failing.threadId).toBe(-1);
    const next = ThreadedBlobReader.startScript(pathToFileURL(script));
    expect(next.threadId).not.toBe(id);
    await next.close();
  });
});

describe('the reader protocol', () => {
  it('carries any file name and id through a batch unchanged', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({ file: fc.string({ unit: 'grapheme' }), accountId: fc.string(), itemId: fc.string({ unit: 'binary' }), maxBytes: fc.nat(), mailHeaders: fc.boolean() }),
          { maxLength: 20 },
        ),
        (jobs) => {
          const full = jobs.map((job) => ({ ...job, service: 'mail' as const }));
          expect(decodeJobs(encodeJobs(full))).toEqual(full);
        },
      ),
    );
  });

  it('carries any header fields through a batch unchanged', () => {
    const value = fc.option(fc.string({ unit: 'binary' }), { nil: null });
    const fields: fc.Arbitrary<MailHeaderFields> = fc.record({ from: value, to: value, cc: value, date: value, messageId: value, headerTruncated: fc.boolean(), headerBytesReplaced: fc.boolean() });
    fc.assert(
      fc.property(fc.array(fc.option(fields, { nil: null }), { maxLength: 20 }), (batch) => {
        expect(decodeHeaders(encodeHeaders(batch), batch.length)).toEqual(batch.map((entry) => entry ?? undefined));
      }),
    );
  });

  it('gives no header fields, never wrong ones, for a reply of the wrong shape', () => {
    const good = ['a', 'b', null, 'd', '<e>', false, true];
    for (const encoded of ['', 'not json', '{}', '[1]', JSON.stringify([[...good.slice(0, 5)]]), JSON.stringify([[...good.slice(0, 6)]]), JSON.stringify([[...good.slice(0, 5), 'no', false]]), JSON.stringify([[...good.slice(0, 6), 'no']]), JSON.stringify([[1, ...good.slice(1)]])]) {
      expect(decodeHeaders(encoded, 1), encoded).toEqual([undefined]);
    }
    expect(decodeHeaders(JSON.stringify([good]), 2)).toEqual([{ from: 'a', to: 'b', cc: null, date: 'd', messageId: '<e>', headerTruncated: false, headerBytesReplaced: true }, undefined]);
  });

  it.each([
    ['one CRC per job', 'n', 0xffffffff],
    ['CRCs of the wrong count', 'n + 1', undefined],
  ])('a reply with %s gives %s', async (_what, count, expected) => {
    // A thread that answers every job with an empty plaintext and CRC -1 (0xffffffff unsigned).
    const script = path.join(scratch, `crc-thread-${counter++}.mjs`);
    writeFileSync(
      script,
      `import { parentPort } from 'node:worker_threads';
       parentPort.on('message', (m) => { if (m.type !== 'read') return; const n = JSON.parse(m.jobs).length / 6;
         parentPort.postMessage({ type: 'read', arena: m.arena, used: 0, digests: ' '.repeat(64 * n), spans: new Int32Array(2 * n), crcs: new Int32Array(${count}).fill(-1), headers: '', exceptions: [] }); });`,
    );
    const service = createLocalKeyService({ masterKeyFile: fx.masterKeyFile, dataKeysFile: fx.dataKeysFile, readerThread: pathToFileURL(script) });
    const read = await service.readItem(refOf(providerItems()[0]!), 1 << 20);
    expect(read.bytes.length).toBe(0);
    expect(read.crc32).toBe(expected);
    await service.close?.();
  });

  // Protocol faults, as a broken thread would make them: no plaintext and no failure, or a span past what it filled.
  it.each([
    ['leaves a read unanswered', '.fill(-1)'],
    ['points a read outside the bytes it filled', '.map((_, i) => (i % 2 === 0 ? 0 : 10))'],
  ])('a thread that %s fails that read and every later one, and never hangs', async (_what, spans) => {
    const script = path.join(scratch, `faulty-thread-${counter++}.mjs`);
    writeFileSync(
      script,
      `import { parentPort } from 'node:worker_threads';
       parentPort.on('message', (m) => { if (m.type === 'read') parentPort.postMessage({ type: 'read', arena: m.arena, used: 0, digests: '', spans: new Int32Array(2 * JSON.parse(m.jobs).length / 6)${spans}, headers: '', exceptions: [] }); });`,
    );
    const service = createLocalKeyService({ masterKeyFile: fx.masterKeyFile, dataKeysFile: fx.dataKeysFile, readerThread: pathToFileURL(script) });
    const item = providerItems()[0]!;
    const first = await failureOf(() => service.readItem(refOf(item), 1 << 20));
    expect(first).toBeInstanceOf(SourceError);
    expect((first as SourceError).code).toBe('STORE_UNREADABLE');
    expect(await failureOf(() => service.readItem(refOf(item), 1 << 20))).toBe(first);
    await service.close?.();
  });
});
