// The main thread's side of the key service's reader thread: small-blob reads are queued, sent in batches, and
// answered in batches, so that reading and decrypting many small items uses the second core.
import type { KeyObject } from 'node:crypto';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { IntegrityError, SourceError } from '../errors.js';
import type { ItemRef } from './key-service.js';
import type { ReaderReply, ReadFailure, ReadJob } from './item-reader-protocol.js';
import { BlobOpenError } from './small-blob.js';

/** Jobs queued in one turn of the event loop are sent together; a batch is sent at once when it reaches this size. */
const BATCH_JOBS = 32;

interface Pending {
  resolve(bytes: Buffer): void;
  reject(error: unknown): void;
}

/** Turns a failure reported by the thread back into the error an in-thread read would have thrown. */
function toError(failure: ReadFailure): Error {
  switch (failure.kind) {
    case 'integrity':
      return new IntegrityError(failure.code, failure.message);
    case 'open':
      return new BlobOpenError({ code: failure.code, message: failure.message });
    default:
      return new SourceError('STORE_UNREADABLE', failure.message);
  }
}

export class ThreadedBlobReader {
  readonly #worker: Worker;
  readonly #pending = new Map<number, Pending>();
  readonly #keysSent = new Set<string>();
  #queue: ReadJob[] = [];
  #flushScheduled = false;
  #nextId = 0;
  #failure: Error | undefined;

  /**
   * A reader thread running the built script beside this module, or undefined when that is not there (running from
   * the TypeScript sources) or cannot start: the caller then reads in its own thread.
   */
  static start(): ThreadedBlobReader | undefined {
    const script = new URL('./item-reader-thread.js', import.meta.url);
    if (!existsSync(fileURLToPath(script))) return undefined;
    try {
      return ThreadedBlobReader.startScript(script);
    } catch {
      return undefined;
    }
  }

  /** A reader thread running `script` (tests: the built one); throws if it cannot be started. */
  static startScript(script: URL): ThreadedBlobReader {
    if (script.protocol === 'file:' && !existsSync(fileURLToPath(script))) {
      throw new Error(`the reader thread's script ${fileURLToPath(script)} is not there`);
    }
    // A small heap: the thread holds one read buffer and the plaintexts of one batch at a time.
    return new ThreadedBlobReader(new Worker(script, { resourceLimits: { maxYoungGenerationSizeMb: 4, maxOldGenerationSizeMb: 64 } }));
  }

  private constructor(worker: Worker) {
    this.#worker = worker;
    // Referenced only while reads are outstanding: an idle reader never keeps the process alive.
    this.#worker.unref();
    this.#worker.on('message', (reply: ReaderReply) => this.#onReply(reply));
    this.#worker.on('error', (error: Error) => this.#stop(error.message));
    this.#worker.on('exit', () => this.#stop('it exited'));
  }

  /**
   * The authenticated plaintext of a small blob. Rejects as SmallBlobReader.read throws (BlobOpenError,
   * IntegrityError), or with a SourceError if the thread is gone.
   */
  read(ref: ItemRef, key: KeyObject, maxBytes: number): Promise<Buffer> {
    if (this.#failure) return Promise.reject(this.#failure);
    if (!this.#keysSent.has(ref.accountId)) {
      this.#worker.postMessage({ type: 'key', accountId: ref.accountId, key });
      this.#keysSent.add(ref.accountId);
    }
    const id = this.#nextId;
    this.#nextId += 1;
    const { service, accountId, itemId, blobFile: file } = ref;
    this.#queue.push({ id, file, service, accountId, itemId, maxBytes });
    const result = new Promise<Buffer>((resolve, reject) => this.#pending.set(id, { resolve, reject }));
    if (this.#pending.size === 1) this.#worker.ref();
    if (this.#queue.length >= BATCH_JOBS) {
      this.#flush();
    } else if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      setImmediate(() => this.#flush());
    }
    return result;
  }

  async close(): Promise<void> {
    this.#stop('the key service was closed');
    await this.#worker.terminate();
  }

  #flush(): void {
    this.#flushScheduled = false;
    if (this.#queue.length === 0 || this.#failure) return;
    const jobs = this.#queue;
    this.#queue = [];
    this.#worker.postMessage({ type: 'read', jobs });
  }

  #onReply(reply: ReaderReply): void {
    for (const result of reply.results) {
      const pending = this.#pending.get(result.id);
      if (!pending) continue;
      this.#pending.delete(result.id);
      if ('bytes' in result) pending.resolve(Buffer.from(result.bytes.buffer, result.bytes.byteOffset, result.bytes.byteLength));
      else pending.reject(toError(result.failure));
    }
    if (this.#pending.size === 0) this.#worker.unref();
  }

  #stop(why: string): void {
    this.#failure ??= new SourceError('STORE_UNREADABLE', `the key service's reader thread stopped: ${why}`);
    this.#queue = [];
    for (const pending of this.#pending.values()) pending.reject(this.#failure);
    this.#pending.clear();
    this.#worker.unref();
  }
}
