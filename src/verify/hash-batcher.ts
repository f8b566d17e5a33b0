// SHA-256 of the archive's entries on a worker thread, so that both cores hash while the main thread reads and
// checks the archive's structure, names and records.
//
// - Entries that lie in the main thread's read window are copied into 1 MiB batch buffers (the window is reused at
//   once); a full batch moves to the worker without another copy and comes back with one digest per entry. A large
//   entry may span batches. When every batch buffer is out, the entry is hashed here instead: memory stays bounded.
// - An entry larger than the window is either hashed here as it streams by, or handed over whole (`delegate`): the
//   worker reads it from the open archive itself, at its offset, while the main thread goes on with the next entry.
//   Handing over every other one, by bytes, keeps both cores hashing.
import { hash as hashOnce } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { stopWorker } from '../util/stop-worker.js';

const BATCH_BYTES = 1024 * 1024;
/** Batch buffers in all (in the worker, queued, or being filled): at most this many MiB are held. */
const MAX_BATCHES = 16;
/** Entries up to this size never span batches. */
export const MAX_BATCHED_ENTRY_BYTES = 256 * 1024;
/** The worker reads a handed-over entry in pieces of this size. */
const FILE_READ_BYTES = 4 * 1024 * 1024;
/** Piece flags: the first piece of an entry starts a new hash, the last one asks for its digest (both: one call). */
const START = 1;
const END = 2;

// CommonJS source run by `eval`, so the same worker works from the built CLI and from the TypeScript sources.
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createHash, hash } = require('node:crypto');
const { readSync } = require('node:fs');
const { crc32 } = require('node:zlib');
let running = null;
let readBuffer = null;
function hashFile(job) {
  readBuffer ??= Buffer.allocUnsafe(${FILE_READ_BYTES});
  const sha = createHash('sha256');
  let crc = 0;
  let done = 0;
  while (done < job.length) {
    const read = readSync(job.fd, readBuffer, 0, Math.min(readBuffer.length, job.length - done), job.position + done);
    if (read === 0) break;
    const piece = readBuffer.subarray(0, read);
    sha.update(piece);
    crc = crc32(piece, crc);
    done += read;
  }
  return { type: 'file', slot: job.slot, digest: sha.digest(), crc };
}
parentPort.on('message', (batch) => {
  if (batch.type === 'file') {
    let reply;
    try {
      reply = hashFile(batch);
    } catch (error) {
      reply = { type: 'file-failed', message: String(error && error.message), code: error && typeof error.code === 'string' ? error.code : undefined };
    }
    parentPort.postMessage(reply);
    return;
  }
  const bytes = new Uint8Array(batch.bytes);
  const ends = batch.ends;
  const flags = batch.flags;
  const digests = new Uint8Array(ends.length * 32);
  let start = 0;
  for (let i = 0; i < ends.length; i++) {
    const piece = bytes.subarray(start, ends[i]);
    const flag = flags[i];
    if (flag === ${START | END}) {
      digests.set(hash('sha256', piece, 'buffer'), i * 32);
    } else {
      if (flag & ${START}) running = createHash('sha256');
      running.update(piece);
      if (flag & ${END}) digests.set(running.digest(), i * 32);
    }
    start = ends[i];
  }
  parentPort.postMessage({ type: 'batch', id: batch.id, bytes: batch.bytes, digests: digests.buffer }, [batch.bytes, digests.buffer]);
});
`;

interface Batch {
  bytes: Uint8Array;
  ends: number[];
  /** START | END for an entry in one piece; an entry spanning batches has a START piece, middle ones and an END one. */
  flags: number[];
  /** The entry of each piece that ends one (its digest comes back), -1 for the others. */
  slots: number[];
  used: number;
}

type WorkerReply =
  | { type: 'batch'; id: number; bytes: ArrayBuffer; digests: ArrayBuffer }
  | { type: 'file'; slot: number; digest: Uint8Array; crc: number }
  | { type: 'file-failed'; message: string; code?: string };

/**
 * Hashes entries, identified by a caller's slot number, and hands each digest to `onDigest` as the 32 bytes at `at` of
 * `digest` (valid only during the call), possibly later: every digest has been delivered once `finish()` resolves.
 * `close()` stops the worker.
 */
export class HashBatcher {
  private worker: Worker | null = null;
  private failure: Error | null = null;
  private readonly free: Uint8Array[] = [];
  private allocated = 0;
  private current: Batch | null = null;
  private readonly inFlight = new Map<number, Batch>();
  private nextId = 0;
  private waiter: (() => void) | null = null;
  private filesInFlight = 0;
  /** The CRC-32 owed for each entry handed over, by slot: no one else reads its bytes. */
  private readonly crcs = new Map<number, { resolve(crc: number): void; reject(error: Error): void }>();
  /** Bytes of large entries handed to the worker, and hashed here as they streamed by. */
  private delegatedBytes = 0;
  private streamedHereBytes = 0;

  /** `useWorker: false` hashes everything in this thread (for few entries the worker's start-up is not worth it). */
  constructor(
    private readonly onDigest: (slot: number, digest: Uint8Array, at: number) => void,
    useWorker: boolean,
  ) {
    if (!useWorker) return;
    try {
      const worker = new Worker(WORKER_SOURCE, { eval: true });
      worker.unref(); // referenced only while it owes us digests
      worker.on('message', (reply: WorkerReply) => this.received(reply));
      worker.on('error', (error: Error) => this.stop(error));
      worker.on('exit', () => this.stop(new Error('the hashing thread stopped')));
      this.worker = worker;
    } catch {
      this.worker = null;
    }
  }

  /**
   * Hashes `data` (a view only valid during the call) as entry `slot`: copied into the batches when they have room
   * (a large entry across several), else hashed here and now.
   */
  add(slot: number, data: Buffer): void {
    if (this.failure) throw this.failure;
    if (this.worker === null || !this.hasRoomFor(Math.max(1, data.length))) {
      this.onDigest(slot, hashOnce('sha256', data, 'buffer'), 0);
      return;
    }
    if (data.length > MAX_BATCHED_ENTRY_BYTES) {
      this.pushPieces(slot, data);
      return;
    }
    // A small entry is never split: it is hashed in one call on the other side.
    const current = this.current;
    if (current !== null && current.used + data.length > current.bytes.length) {
      this.post(current);
      this.current = null;
      if (!this.hasRoomFor(Math.max(1, data.length))) {
        this.onDigest(slot, hashOnce('sha256', data, 'buffer'), 0);
        return;
      }
    }
    this.pushPieces(slot, data);
  }

  /**
   * Whether the next large entry, `bytes` long, should go to the worker (`delegate`) rather than be hashed here: yes
   * while the worker has been handed no more bytes than this thread has hashed itself. Never without a worker.
   */
  shouldDelegate(bytes: number): boolean {
    return this.worker !== null && bytes > 0 && this.delegatedBytes <= this.streamedHereBytes;
  }

  /** Counts bytes of a large entry hashed here as it streamed by (for `shouldDelegate`). */
  countStreamedHere(bytes: number): void {
    this.streamedHereBytes += bytes;
  }

  /**
   * Hands entry `slot` over to the worker: it reads `length` bytes at `position` of the open file `fd` itself, and
   * its digest comes back like any other. The file must stay open until `finish()` resolves. A file that shrank
   * meanwhile gives the digest of what was there, which the manifest then refuses. Resolves to the CRC-32 of the
   * bytes read (rejects when the worker fails, as `finish()` does).
   */
  delegate(slot: number, fd: number, position: number, length: number): Promise<number> {
    const worker = this.worker;
    if (this.failure) throw this.failure;
    if (worker === null) throw new Error('the hashing thread was closed');
    const crc = new Promise<number>((resolve, reject) => this.crcs.set(slot, { resolve, reject }));
    crc.catch(() => undefined); // the failure is also finish()'s: a caller that does not ask for the CRC must not see it unhandled
    this.filesInFlight++;
    this.delegatedBytes += length;
    worker.ref();
    worker.postMessage({ type: 'file', slot, fd, position, length });
    return crc;
  }

  /** Bytes that fit without waiting: the rest of the batch being filled and every buffer not out. */
  private hasRoomFor(bytes: number): boolean {
    return this.roomInCurrent() + (this.free.length + MAX_BATCHES - this.allocated) * BATCH_BYTES >= bytes;
  }

  private roomInCurrent(): number {
    return this.current === null ? 0 : this.current.bytes.length - this.current.used;
  }

  /** Copies entry `slot` into the batches, in one piece or across several (the caller made sure there is room). */
  private pushPieces(slot: number, data: Buffer): void {
    let at = 0;
    do {
      let batch = this.current;
      // A full batch goes; an empty piece still fits in it.
      if (batch !== null && batch.used === batch.bytes.length && at < data.length) {
        this.post(batch);
        batch = this.current = null;
      }
      if (batch === null) {
        const bytes = this.takeBuffer();
        if (bytes === null) throw new Error('unreachable: the batcher ran out of the room it counted');
        batch = this.current = { bytes, ends: [], flags: [], slots: [], used: 0 };
      }
      const take = Math.min(data.length - at, batch.bytes.length - batch.used);
      const ending = at + take === data.length;
      this.push(batch, data.subarray(at, at + take), (at === 0 ? START : 0) | (ending ? END : 0), ending ? slot : -1);
      at += take;
    } while (at < data.length);
  }

  private push(batch: Batch, data: Buffer, flags: number, slot: number): void {
    batch.bytes.set(data, batch.used);
    batch.used += data.length;
    batch.ends.push(batch.used);
    batch.flags.push(flags);
    batch.slots.push(slot);
  }

  /** Resolves once every digest was delivered; rejects if the worker failed. */
  async finish(): Promise<void> {
    if (this.current !== null) {
      this.post(this.current);
      this.current = null;
    }
    while (this.inFlight.size > 0 || this.filesInFlight > 0) {
      if (this.failure) throw this.failure;
      await new Promise<void>((resolve) => {
        this.waiter = resolve;
      });
    }
    if (this.failure) throw this.failure;
  }

  /** Stops the worker (safe to call more than once, and after a failure). */
  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = null;
    this.failure ??= new Error('the hashing thread was closed');
    if (worker) await stopWorker(worker);
  }

  private takeBuffer(): Uint8Array | null {
    const reused = this.free.pop();
    if (reused) return reused;
    if (this.allocated >= MAX_BATCHES) return null;
    this.allocated++;
    return new Uint8Array(BATCH_BYTES);
  }

  private post(batch: Batch): void {
    const worker = this.worker;
    if (worker === null) throw this.failure ?? new Error('the hashing thread was closed');
    const id = this.nextId++;
    this.inFlight.set(id, batch);
    worker.ref();
    const buffer = batch.bytes.buffer as ArrayBuffer;
    worker.postMessage({ id, bytes: buffer, ends: batch.ends, flags: batch.flags }, [buffer]);
  }

  private received(reply: WorkerReply): void {
    if (reply.type === 'file-failed') {
      // With the file system's code, so that the caller can tell an unreadable archive from a bug.
      this.stop(Object.assign(new Error(`the hashing thread could not read the archive: ${reply.message}`), { code: reply.code }));
      return;
    }
    if (reply.type === 'file') {
      this.filesInFlight--;
      this.onDigest(reply.slot, reply.digest, 0);
      this.crcs.get(reply.slot)?.resolve(reply.crc);
      this.crcs.delete(reply.slot);
      this.settle();
      return;
    }
    const batch = this.inFlight.get(reply.id);
    if (!batch) return;
    this.inFlight.delete(reply.id);
    const digests = new Uint8Array(reply.digests);
    const slots = batch.slots;
    for (let i = 0; i < slots.length; i++) {
      const slot = slots[i] as number;
      if (slot >= 0) this.onDigest(slot, digests, i * 32);
    }
    this.free.push(new Uint8Array(reply.bytes));
    this.settle();
  }

  private settle(): void {
    if (this.inFlight.size === 0 && this.filesInFlight === 0) this.worker?.unref();
    this.wake();
  }

  private stop(error: Error): void {
    this.failure ??= error;
    for (const owed of this.crcs.values()) owed.reject(this.failure);
    this.crcs.clear();
    this.wake();
  }

  private wake(): void {
    const waiter = this.waiter;
    this.waiter = null;
    waiter?.();
  }
}
