// SHA-256 of many small entries on a worker thread, in batches: the main thread checks the archive's structure,
// names and records while the other core hashes. Each entry's bytes are copied into a batch buffer (the read window
// they lie in is reused at once), a full batch moves to the worker without another copy and comes back with one
// digest per entry. Memory stays bounded: when every batch buffer is out, the entry is hashed here instead.
import { hash as hashOnce } from 'node:crypto';
import { Worker } from 'node:worker_threads';

const BATCH_BYTES = 1024 * 1024;
/** Batch buffers in all (in the worker, queued, or being filled): at most this many MiB are held. */
const MAX_BATCHES = 16;
/** Entries above this size are hashed here: one copy per large entry buys nothing over hashing it in place. */
export const MAX_BATCHED_ENTRY_BYTES = 256 * 1024;

// CommonJS source run by `eval`, so the same worker works from the built CLI and from the TypeScript sources.
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { hash } = require('node:crypto');
parentPort.on('message', (batch) => {
  const bytes = new Uint8Array(batch.bytes);
  const ends = batch.ends;
  const digests = new Uint8Array(ends.length * 32);
  let start = 0;
  for (let i = 0; i < ends.length; i++) {
    digests.set(hash('sha256', bytes.subarray(start, ends[i]), 'buffer'), i * 32);
    start = ends[i];
  }
  parentPort.postMessage({ id: batch.id, bytes: batch.bytes, digests: digests.buffer }, [batch.bytes, digests.buffer]);
});
`;

interface Batch {
  bytes: Uint8Array;
  ends: number[];
  slots: number[];
  used: number;
}

interface BatchReply {
  id: number;
  bytes: ArrayBuffer;
  digests: ArrayBuffer;
}

/**
 * Hashes entries, identified by a caller's slot number, and hands each digest (lower-case hex) to `onDigest`,
 * possibly later: every digest has been delivered once `finish()` resolves. `close()` stops the worker.
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

  /** `useWorker: false` hashes everything in this thread (for few entries the worker's start-up is not worth it). */
  constructor(
    private readonly onDigest: (slot: number, sha256: string) => void,
    useWorker: boolean,
  ) {
    if (!useWorker) return;
    try {
      const worker = new Worker(WORKER_SOURCE, { eval: true });
      worker.unref(); // referenced only while it owes us digests
      worker.on('message', (reply: BatchReply) => this.received(reply));
      worker.on('error', (error: Error) => this.stop(error));
      worker.on('exit', () => this.stop(new Error('the hashing thread stopped')));
      this.worker = worker;
    } catch {
      this.worker = null;
    }
  }

  /** Hashes `data` (a view only valid during the call) as entry `slot`. */
  add(slot: number, data: Buffer): void {
    if (this.failure) throw this.failure;
    if (this.worker === null || data.length > MAX_BATCHED_ENTRY_BYTES) {
      this.onDigest(slot, hashOnce('sha256', data, 'hex'));
      return;
    }
    let batch = this.current;
    if (batch !== null && batch.used + data.length > batch.bytes.length) {
      this.post(batch);
      this.current = null;
      batch = null;
    }
    if (batch === null) {
      const bytes = this.takeBuffer();
      if (bytes === null) {
        this.onDigest(slot, hashOnce('sha256', data, 'hex'));
        return;
      }
      batch = { bytes, ends: [], slots: [], used: 0 };
      this.current = batch;
    }
    batch.bytes.set(data, batch.used);
    batch.used += data.length;
    batch.ends.push(batch.used);
    batch.slots.push(slot);
  }

  /** Resolves once every digest was delivered; rejects if the worker failed. */
  async finish(): Promise<void> {
    if (this.current !== null) {
      this.post(this.current);
      this.current = null;
    }
    while (this.inFlight.size > 0) {
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
    if (worker) await worker.terminate();
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
    worker.postMessage({ id, bytes: buffer, ends: batch.ends }, [buffer]);
  }

  private received(reply: BatchReply): void {
    const batch = this.inFlight.get(reply.id);
    if (!batch) return;
    this.inFlight.delete(reply.id);
    const digests = Buffer.from(reply.digests);
    const slots = batch.slots;
    for (let i = 0; i < slots.length; i++) this.onDigest(slots[i] as number, digests.toString('hex', i * 32, i * 32 + 32));
    this.free.push(new Uint8Array(reply.bytes));
    if (this.inFlight.size === 0) this.worker?.unref();
    this.wake();
  }

  private stop(error: Error): void {
    this.failure ??= error;
    this.wake();
  }

  private wake(): void {
    const waiter = this.waiter;
    this.waiter = null;
    waiter?.();
  }
}
