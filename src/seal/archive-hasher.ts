// SHA-256 on a worker thread, for the archive as it is written and for streamed payload files: the main thread
// decrypts and computes the ZIP CRC, and the full hashes of those bytes go to the other core.
//
// The bytes travel through a fixed ring of shared memory (SLOT_COUNT slots of SLOT_BYTES): the writer copies a batch
// into free slots and posts their numbers; the worker hashes each slot in order and hands it back. Nothing is
// allocated per batch, and the memory the hash needs is the ring, whatever the archive's size.
import { createHash, type Hash } from 'node:crypto';
import { Worker } from 'node:worker_threads';

export const SLOT_BYTES = 1024 * 1024;
export const SLOT_COUNT = 8;

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const ring = new Uint8Array(workerData.ring);
const slotBytes = workerData.slotBytes;
let hash = createHash('sha256');
parentPort.on('message', (message) => {
  if (message.type === 'update') {
    const start = message.slot * slotBytes;
    hash.update(ring.subarray(start, start + message.length));
    parentPort.postMessage({ type: 'hashed', slot: message.slot });
  } else if (message.type === 'digest') {
    parentPort.postMessage({ type: 'digest', hex: hash.digest('hex') });
    hash = createHash('sha256');
  }
});
`;

export interface ArchiveHasher {
  /**
   * Hashes `segments` after everything handed over before. The caller must leave the bytes alone until the returned
   * promise settles (they are copied by then); it settles late only when the hasher is behind by a whole ring.
   */
  update(segments: readonly Buffer[]): Promise<void>;
  /** The SHA-256 of everything since the start or the previous digest; the next update starts a new hash. */
  digestHex(): Promise<string>;
  /** Stops the worker (after digestHex, or on failure). Safe to call more than once. */
  close(): Promise<void>;
}

class InThreadHasher implements ArchiveHasher {
  #hash: Hash = createHash('sha256');

  update(segments: readonly Buffer[]): Promise<void> {
    for (const segment of segments) this.#hash.update(segment);
    return Promise.resolve();
  }

  digestHex(): Promise<string> {
    const hex = this.#hash.digest('hex');
    this.#hash = createHash('sha256');
    return Promise.resolve(hex);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

type WorkerReply = { type: 'hashed'; slot: number } | { type: 'digest'; hex: string };

class WorkerHasher implements ArchiveHasher {
  readonly #worker: Worker;
  readonly #ring: Buffer;
  /** Slots the worker has handed back, in the order they will be filled. */
  readonly #free: number[] = [];
  #busy = 0;
  #failure: Error | undefined;
  #waiters: (() => void)[] = [];
  #digest: { resolve(hex: string): void; reject(error: Error): void } | undefined;
  #closed = false;
  /** update() calls run one after another, so that slots are posted in the order of the bytes. */
  #chain: Promise<void> = Promise.resolve();

  constructor() {
    const shared = new SharedArrayBuffer(SLOT_BYTES * SLOT_COUNT);
    this.#ring = Buffer.from(shared);
    for (let slot = 0; slot < SLOT_COUNT; slot += 1) this.#free.push(slot);
    this.#worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { ring: shared, slotBytes: SLOT_BYTES } });
    // Referenced only while it owes us an answer: an abandoned sealer must not keep the process alive.
    this.#worker.unref();
    this.#worker.on('message', (reply: WorkerReply) => {
      if (reply.type === 'hashed') {
        this.#busy -= 1;
        this.#free.push(reply.slot);
      } else {
        this.#digest?.resolve(reply.hex);
        this.#digest = undefined;
      }
      this.#settle();
    });
    this.#worker.on('error', (error: Error) => this.#stop(error));
    this.#worker.on('exit', () => this.#stop(new Error('the archive hashing thread stopped')));
  }

  update(segments: readonly Buffer[]): Promise<void> {
    const run = this.#chain.then(() => this.#copyIn(segments));
    this.#chain = run.catch(() => undefined);
    return run;
  }

  async #copyIn(segments: readonly Buffer[]): Promise<void> {
    let slot: number | undefined;
    let filled = 0;
    for (const segment of segments) {
      let at = 0;
      while (at < segment.length) {
        slot ??= await this.#takeSlot();
        const copied = segment.copy(this.#ring, slot * SLOT_BYTES + filled, at, at + Math.min(segment.length - at, SLOT_BYTES - filled));
        at += copied;
        filled += copied;
        if (filled === SLOT_BYTES) {
          this.#post(slot, filled);
          slot = undefined;
          filled = 0;
        }
      }
    }
    if (slot !== undefined) this.#post(slot, filled);
  }

  async #takeSlot(): Promise<number> {
    for (;;) {
      this.#check();
      const slot = this.#free.shift();
      if (slot !== undefined) return slot;
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
  }

  #post(slot: number, length: number): void {
    this.#busy += 1;
    this.#worker.ref();
    this.#worker.postMessage({ type: 'update', slot, length });
  }

  async digestHex(): Promise<string> {
    await this.#chain;
    this.#check();
    const hex = new Promise<string>((resolve, reject) => {
      this.#digest = { resolve, reject };
    });
    this.#worker.ref();
    this.#worker.postMessage({ type: 'digest' });
    return hex;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#worker.terminate();
  }

  #check(): void {
    if (this.#failure) throw this.#failure;
  }

  #stop(error: Error): void {
    this.#failure ??= error;
    this.#digest?.reject(this.#failure);
    this.#digest = undefined;
    this.#settle();
  }

  #settle(): void {
    if (this.#busy === 0 && !this.#digest) this.#worker.unref();
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }
}

/** A worker-thread hasher, or an in-thread one if no worker can be started. */
export function createArchiveHasher(): ArchiveHasher {
  try {
    return new WorkerHasher();
  } catch {
    return new InThreadHasher();
  }
}
