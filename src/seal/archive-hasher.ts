// SHA-256 of the archive as it is written, on a worker thread: the main thread already hashes every payload
// byte once and computes the ZIP CRC, so the second full hash goes to the other core.
import { createHash, type Hash } from 'node:crypto';
import { Worker } from 'node:worker_threads';

/** Bytes handed to the worker and not yet hashed before update() waits (bounds memory if the worker lags). */
const MAX_OUTSTANDING_BYTES = 16 * 1024 * 1024;

const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const hash = createHash('sha256');
parentPort.on('message', (message) => {
  if (message.type === 'update') {
    hash.update(new Uint8Array(message.bytes));
    parentPort.postMessage({ type: 'hashed', length: message.bytes.byteLength });
  } else if (message.type === 'digest') {
    parentPort.postMessage({ type: 'digest', hex: hash.digest('hex') });
  }
});
`;

export interface ArchiveHasher {
  /** Hashes `segments` in order. The bytes are copied before it returns, so the caller may reuse its buffers. */
  update(segments: readonly Buffer[]): Promise<void>;
  digestHex(): Promise<string>;
  /** Stops the worker (after digestHex, or on failure). Safe to call more than once. */
  close(): Promise<void>;
}

class InThreadHasher implements ArchiveHasher {
  readonly #hash: Hash = createHash('sha256');

  update(segments: readonly Buffer[]): Promise<void> {
    for (const segment of segments) this.#hash.update(segment);
    return Promise.resolve();
  }

  digestHex(): Promise<string> {
    return Promise.resolve(this.#hash.digest('hex'));
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

type WorkerReply = { type: 'hashed'; length: number } | { type: 'digest'; hex: string };

class WorkerHasher implements ArchiveHasher {
  readonly #worker: Worker;
  #outstanding = 0;
  #failure: Error | undefined;
  #waiters: (() => void)[] = [];
  #digest: { resolve(hex: string): void; reject(error: Error): void } | undefined;
  #closed = false;

  constructor() {
    this.#worker = new Worker(WORKER_SOURCE, { eval: true });
    // Referenced only while it owes us an answer: an abandoned sealer must not keep the process alive.
    this.#worker.unref();
    this.#worker.on('message', (reply: WorkerReply) => {
      if (reply.type === 'hashed') {
        this.#outstanding -= reply.length;
      } else {
        this.#digest?.resolve(reply.hex);
        this.#digest = undefined;
      }
      this.#settle();
    });
    this.#worker.on('error', (error: Error) => this.#stop(error));
    this.#worker.on('exit', () => this.#stop(new Error('the archive hashing thread stopped')));
  }

  async update(segments: readonly Buffer[]): Promise<void> {
    this.#check();
    let total = 0;
    for (const segment of segments) total += segment.length;
    if (total === 0) return;
    // One copy into a buffer of our own, whose memory then moves to the worker without another copy.
    const bytes = new Uint8Array(total);
    let at = 0;
    for (const segment of segments) {
      bytes.set(segment, at);
      at += segment.length;
    }
    this.#outstanding += total;
    this.#worker.ref();
    this.#worker.postMessage({ type: 'update', bytes: bytes.buffer }, [bytes.buffer]);
    while (this.#outstanding > MAX_OUTSTANDING_BYTES) {
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
      this.#check();
    }
  }

  digestHex(): Promise<string> {
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
    if (this.#outstanding === 0 && !this.#digest) this.#worker.unref();
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
