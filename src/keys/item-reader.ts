// The main thread's side of the key service's reader thread: small-blob reads are queued, sent in batches, and
// answered in batches, so that reading and decrypting many small items uses the second core. Large items are
// streamed from it a chunk at a time (ThreadedBlobStream), with the SHA-256 the thread takes of them: a large
// export's main thread then only moves the bytes into the archive (1 GB: 2.51 s against 2.84 s, medians of 5
// alternating pairs). Their chunks are lent out of a ring of shared memory and returned by the archive's writer once
// it has copied them (util/lent-chunks.ts), rather than each moved over as a new buffer that the main thread's
// collector must free (1 GB: 2.54 -> 2.08 s with the CRC-32 taken on the main thread, medians of 3 rounds).
//
// A key service that closes with nothing outstanding gives its thread back rather than stopping it: the thread
// forgets every data key, and the next key service of this isolate (a batch worker runs export after export) takes it
// up, already started and compiled. A new thread per export cost a batch of 8 orders 13% of its time with one worker
// (3.33 s against 2.90 s, medians of 6 alternating pairs) and left native memory behind it (peak RSS 261 MiB against
// 240 MiB, means).
import type { KeyObject } from 'node:crypto';
import { existsSync } from 'node:fs';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { IntegrityError, SourceError } from '../errors.js';
import type { DigestingReadable, ItemPlaintext, ItemRef, PlaintextCrc, PlaintextDigest } from './key-service.js';
import {
  decodeHeaders,
  encodeJobs,
  IN_EXCEPTIONS,
  RING_SLOTS,
  STREAM_CHUNK_BYTES,
  type ReaderReply,
  type ReaderRequest,
  type ReaderThreadData,
  type ReadFailure,
  type ReadJob,
  type StreamReply,
} from './item-reader-protocol.js';
import { BlobOpenError } from './small-blob.js';
import { giveBackChunk, lendChunk } from '../util/lent-chunks.js';
import { stopWorker } from '../util/stop-worker.js';

/** Jobs queued in one turn of the event loop are sent together; a batch is sent at once when it reaches this size. */
const BATCH_JOBS = 128;
/** Shared memory that carries a batch's plaintexts back (one arena per batch in flight); bigger ones are moved. */
const ARENA_BYTES = 2 * 1024 * 1024;
const ARENA_COUNT = 4;
/** Idle threads kept per script; more than one only when key services closed side by side (in-process batches). */
const MAX_IDLE = 2;

/** Threads given back by closed key services, by script URL, waiting for the next one. */
const idleThreads = new Map<string, ThreadedBlobReader[]>();

/**
 * An idle thread of `script` that is still sound, taken out of the pool; undefined when there is none. An idle thread
 * can only stop being sound by stopping (an error or exit while it waited): such a one is dropped.
 */
function takeIdle(script: URL): ThreadedBlobReader | undefined {
  const idle = idleThreads.get(script.href);
  for (let reader = idle?.pop(); reader; reader = idle?.pop()) {
    if (reader.reusable) return reader;
  }
  return undefined;
}

interface Pending {
  resolve(plaintext: ItemPlaintext): void;
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
  readonly #script: URL;
  readonly #worker: Worker;
  readonly #keysSent = new Set<string>();
  readonly #arenas: Buffer[];
  readonly #freeArenas: number[] = [];
  /** The ring streamed chunks are lent from, and its slots lent to this side and not yet returned. */
  readonly #ring: Buffer;
  readonly #lentSlots = new Set<number>();
  #queue: ReadJob[] = [];
  #waiting: Pending[] = [];
  /** The callers of the batch in each arena, in job order. */
  readonly #inFlight = new Map<number, Pending[]>();
  #outstanding = 0;
  #flushScheduled = false;
  #failure: Error | undefined;
  /** Streams open on the thread, by id. */
  readonly #streams = new Map<number, ThreadedBlobStream>();
  /** CRC reads under way on the thread (crcOf), by id: ids are shared with the streams. */
  readonly #crcs = new Map<number, (error: Error | undefined, crc?: PlaintextCrc) => void>();
  #nextStreamId = 0;

  /**
   * A reader thread running the built script beside this module (an idle one if a closed key service gave one back),
   * or undefined when that is not there (running from the TypeScript sources) or cannot start: the caller then reads
   * in its own thread.
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

  /**
   * A reader thread running `script` (tests: the built one), an idle one if there is one; throws if it cannot be
   * started.
   */
  static startScript(script: URL): ThreadedBlobReader {
    if (script.protocol === 'file:' && !existsSync(fileURLToPath(script))) {
      throw new Error(`the reader thread's script ${fileURLToPath(script)} is not there`);
    }
    const idle = takeIdle(script);
    if (idle) return idle;
    const arenas = Array.from({ length: ARENA_COUNT }, () => new SharedArrayBuffer(ARENA_BYTES));
    // Untouched (and so not resident) until large items stream.
    const ring = new SharedArrayBuffer(RING_SLOTS * STREAM_CHUNK_BYTES);
    const workerData: ReaderThreadData = { arenas, ring };
    // A small heap: the thread holds one read buffer and the plaintexts of one batch at a time.
    const worker = new Worker(script, { workerData, resourceLimits: { maxYoungGenerationSizeMb: 4, maxOldGenerationSizeMb: 64 } });
    return new ThreadedBlobReader(script, worker, arenas, ring);
  }

  private constructor(script: URL, worker: Worker, arenas: SharedArrayBuffer[], ring: SharedArrayBuffer) {
    this.#script = script;
    this.#worker = worker;
    this.#arenas = arenas.map((shared) => Buffer.from(shared));
    this.#ring = Buffer.from(ring);
    for (let index = 0; index < arenas.length; index += 1) this.#freeArenas.push(index);
    // Referenced only while reads are outstanding: an idle reader never keeps the process alive.
    this.#worker.unref();
    this.#worker.on('message', (reply: ReaderReply | StreamReply) => {
      if (reply.type === 'read') this.#onReply(reply);
      else this.#onStreamReply(reply);
    });
    this.#worker.on('error', (error: Error) => this.#stop(error.message));
    this.#worker.on('exit', () => this.#stop('it exited'));
  }

  /**
   * The authenticated plaintext of a small blob, with its header fields when `mailHeaders` (unless the thread's
   * answer lacked them: callers read them from the plaintext then). Rejects as SmallBlobReader.read throws
   * (BlobOpenError, IntegrityError), or with a SourceError if the thread is gone.
   */
  read(ref: ItemRef, key: KeyObject, maxBytes: number, mailHeaders = false): Promise<ItemPlaintext> {
    if (this.#failure) return Promise.reject(this.#failure);
    this.#sendKey(ref.accountId, key);
    const { service, accountId, itemId, blobFile: file } = ref;
    this.#queue.push({ file, service, accountId, itemId, maxBytes, mailHeaders });
    const result = new Promise<ItemPlaintext>((resolve, reject) => this.#waiting.push({ resolve, reject }));
    this.#outstanding += 1;
    if (this.#outstanding === 1) this.#worker.ref();
    if (this.#queue.length >= BATCH_JOBS) {
      this.#flush();
    } else if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      setImmediate(() => this.#flush());
    }
    return result;
  }

  /**
   * The plaintext of a stored item as a stream, read, decrypted, hashed and CRC'd on the thread a chunk at a time
   * (moved over, not copied); `plaintextDigest` gives the SHA-256, CRC-32 and size once it has ended. Fails as
   * BlobPlaintextStream does (an altered blob at the end); an unopenable blob fails with `openFailure(BlobOpenError)`.
   */
  openStream(ref: ItemRef, key: KeyObject, openFailure: (error: BlobOpenError) => Error): ThreadedBlobStream {
    const id = this.#nextStreamId;
    this.#nextStreamId += 1;
    const stream = new ThreadedBlobStream({
      more: () => this.#post({ type: 'more', id }),
      cancel: () => this.#endStream(id, { type: 'cancel', id }),
      openFailure,
    });
    if (this.#failure) {
      stream.fail(this.#failure);
      return stream;
    }
    this.#sendKey(ref.accountId, key);
    this.#streams.set(id, stream);
    this.#outstanding += 1;
    if (this.#outstanding === 1) this.#worker.ref();
    const { service, accountId, itemId, blobFile: file } = ref;
    this.#post({ type: 'stream', id, file, service, accountId, itemId });
    return stream;
  }

  /**
   * The CRC-32 and size of a stored item's plaintext, read to its end and authenticated on the thread, none of it sent
   * over. Rejects as openStream's stream fails, and with the signal's reason when it aborts (the thread stops reading).
   */
  crcOf(ref: ItemRef, key: KeyObject, openFailure: (error: BlobOpenError) => Error, signal?: AbortSignal): Promise<PlaintextCrc> {
    if (this.#failure) return Promise.reject(this.#failure);
    if (signal?.aborted) return Promise.reject(signal.reason as Error);
    const id = this.#nextStreamId;
    this.#nextStreamId += 1;
    return new Promise<PlaintextCrc>((resolve, reject) => {
      const onAbort = () => {
        this.#endCrc(id, { type: 'cancel', id });
        reject(signal?.reason as Error);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      const settle = (error: Error | undefined, crc?: PlaintextCrc) => {
        signal?.removeEventListener('abort', onAbort);
        if (error) reject(error instanceof BlobOpenError ? openFailure(error) : error);
        else resolve(crc!);
      };
      this.#sendKey(ref.accountId, key);
      this.#crcs.set(id, settle);
      this.#outstanding += 1;
      if (this.#outstanding === 1) this.#worker.ref();
      const { service, accountId, itemId, blobFile: file } = ref;
      this.#post({ type: 'crc', id, file, service, accountId, itemId });
    });
  }

  /** Forgets CRC read `id` (answered, failed or cancelled), telling the thread `request` if given. */
  #endCrc(id: number, request?: ReaderRequest): ((error: Error | undefined, crc?: PlaintextCrc) => void) | undefined {
    const settle = this.#crcs.get(id);
    if (!settle) return undefined;
    this.#crcs.delete(id);
    if (request && !this.#failure) this.#post(request);
    this.#outstanding -= 1;
    if (this.#outstanding === 0) this.#worker.unref();
    return settle;
  }

  /** The thread's id (tests: whether a thread was taken up again). */
  get threadId(): number {
    return this.#worker.threadId;
  }

  /**
   * Sound, and owing no answer: the thread can serve another key service. Chunks may still be lent (the archive being
   * finished is still copying the last ones): their slots stay out of use until those very chunks are given back,
   * whichever key service reads next.
   */
  get reusable(): boolean {
    return (
      this.#failure === undefined && this.#outstanding === 0 && this.#queue.length === 0 && this.#inFlight.size === 0 && this.#streams.size === 0 && this.#crcs.size === 0
    );
  }

  /**
   * Ends this key service's use of the thread. A thread that is sound and owes no answer forgets every data key and
   * waits, unreferenced, for the next key service of this isolate; any other is stopped, as close() does.
   */
  async release(): Promise<void> {
    const idle = idleThreads.get(this.#script.href) ?? [];
    if (!this.reusable || idle.length >= MAX_IDLE) {
      await this.close();
      return;
    }
    // Before any key a later key service sends: the thread takes messages in order.
    this.#worker.postMessage({ type: 'forget' } satisfies ReaderRequest);
    this.#keysSent.clear();
    idle.push(this);
    idleThreads.set(this.#script.href, idle);
  }

  async close(): Promise<void> {
    this.#stop('the key service was closed');
    await stopWorker(this.#worker);
  }

  #sendKey(accountId: string, key: KeyObject): void {
    if (this.#keysSent.has(accountId)) return;
    this.#post({ type: 'key', accountId, key });
    this.#keysSent.add(accountId);
  }

  #post(request: ReaderRequest): void {
    this.#worker.postMessage(request);
  }

  #onStreamReply(reply: StreamReply): void {
    if (this.#crcs.has(reply.id) && (reply.type === 'crc' || reply.type === 'failed')) {
      const settle = this.#endCrc(reply.id);
      if (reply.type === 'crc') settle?.(undefined, { crc32: reply.crc32 >>> 0, bytes: reply.bytes });
      else settle?.(toError(reply.failure));
      return;
    }
    const stream = this.#streams.get(reply.id);
    if (reply.type === 'lent') {
      const chunk = this.#borrow(reply.slot, reply.length);
      if (!chunk) {
        this.#stop(`it lent slot ${reply.slot} (${reply.length} bytes), which is not a free slot of its ring`);
      } else if (stream) {
        stream.onChunk(chunk);
      } else {
        // A chunk of a stream cancelled meanwhile: nobody will read it.
        this.#returnSlot(reply.slot);
      }
      return;
    }
    if (!stream) return;
    if (reply.type === 'chunk') {
      stream.onChunk(Buffer.from(reply.bytes.buffer, reply.bytes.byteOffset, reply.bytes.byteLength));
    } else if (reply.type === 'end') {
      this.#endStream(reply.id);
      stream.onEnd({ sha256: reply.sha256, bytes: reply.bytes });
    } else if (reply.type === 'failed') {
      this.#endStream(reply.id);
      stream.fail(toError(reply.failure));
    } else {
      this.#stop(`it answered stream ${reply.id} with a CRC-32 it was not asked for`);
    }
  }

  /**
   * The chunk lent in ring slot `slot`, marked for its last reader to give back (which returns the slot to the thread);
   * undefined when the thread named a slot that is not in the ring, already lent, or too short.
   */
  #borrow(slot: number, length: number): Buffer | undefined {
    if (!Number.isInteger(slot) || slot < 0 || slot >= RING_SLOTS || this.#lentSlots.has(slot)) return undefined;
    if (!Number.isInteger(length) || length <= 0 || length > STREAM_CHUNK_BYTES) return undefined;
    this.#lentSlots.add(slot);
    const start = slot * STREAM_CHUNK_BYTES;
    const chunk = this.#ring.subarray(start, start + length);
    lendChunk(chunk, () => this.#returnSlot(slot));
    return chunk;
  }

  #returnSlot(slot: number): void {
    if (!this.#lentSlots.delete(slot) || this.#failure) return;
    this.#post({ type: 'return', slot });
  }

  /** Forgets stream `id` (ended, failed or cancelled), telling the thread `request` if given. */
  #endStream(id: number, request?: ReaderRequest): void {
    if (!this.#streams.delete(id)) return;
    if (request && !this.#failure) this.#post(request);
    this.#outstanding -= 1;
    if (this.#outstanding === 0) this.#worker.unref();
  }

  /** Sends the queued jobs if an arena is free; otherwise the next reply sends them. */
  #flush(): void {
    this.#flushScheduled = false;
    if (this.#queue.length === 0 || this.#failure) return;
    const arena = this.#freeArenas.shift();
    if (arena === undefined) return;
    this.#inFlight.set(arena, this.#waiting);
    const jobs = encodeJobs(this.#queue);
    this.#queue = [];
    this.#waiting = [];
    this.#worker.postMessage({ type: 'read', jobs, arena });
  }

  #onReply(reply: ReaderReply): void {
    const waiting = this.#inFlight.get(reply.arena);
    const arena = this.#arenas[reply.arena];
    if (!waiting || !arena) return;
    this.#inFlight.delete(reply.arena);
    // One copy of the batch's plaintexts, of which each item is a view: the arena takes the next batch at once.
    const copy = Buffer.allocUnsafeSlow(reply.used);
    arena.copy(copy, 0, 0, reply.used);
    const { spans, digests } = reply;
    const headers = decodeHeaders(typeof reply.headers === 'string' ? reply.headers : '', waiting.length);
    // Without a CRC for every job, none is used: the ZIP writer then takes them itself.
    const crcs = reply.crcs instanceof Int32Array && reply.crcs.length === waiting.length ? reply.crcs : undefined;
    const answer = (index: number, bytes: Buffer, sha256: string): ItemPlaintext => {
      const plaintext: ItemPlaintext = { bytes, sha256 };
      if (crcs) plaintext.crc32 = crcs[index]! >>> 0;
      const mailHeaders = headers[index];
      if (mailHeaders) plaintext.mailHeaders = mailHeaders;
      return plaintext;
    };
    const settled = new Array<boolean>(waiting.length).fill(false);
    for (let index = 0; index < waiting.length; index += 1) {
      const at = spans[2 * index] ?? IN_EXCEPTIONS;
      const end = at + (spans[2 * index + 1] ?? 0);
      // A span outside what the thread filled is no answer (it would hand over some other item's bytes).
      if (at === IN_EXCEPTIONS || at < 0 || end > reply.used) continue;
      waiting[index]!.resolve(answer(index, copy.subarray(at, end), digests.slice(64 * index, 64 * index + 64)));
      settled[index] = true;
    }
    for (const exception of reply.exceptions) {
      const pending = waiting[exception.index];
      if (!pending || settled[exception.index]) continue;
      if ('failure' in exception) pending.reject(toError(exception.failure));
      else pending.resolve(answer(exception.index, Buffer.from(exception.bytes.buffer, exception.bytes.byteOffset, exception.bytes.byteLength), exception.sha256));
      settled[exception.index] = true;
    }
    this.#outstanding -= waiting.length;
    this.#freeArenas.push(reply.arena);
    const unanswered = settled.indexOf(false);
    if (unanswered >= 0) {
      this.#stop(`it gave no answer for read ${unanswered + 1} of a batch of ${waiting.length}`);
      waiting.forEach((pending, index) => {
        if (!settled[index]) pending.reject(this.#failure);
      });
      return;
    }
    if (this.#outstanding === 0) this.#worker.unref();
    this.#flush();
  }

  #stop(why: string): void {
    this.#failure ??= new SourceError('STORE_UNREADABLE', `the key service's reader thread stopped: ${why}`);
    const all = [...this.#waiting, ...[...this.#inFlight.values()].flat()];
    const streams = [...this.#streams.values()];
    const crcs = [...this.#crcs.values()];
    this.#queue = [];
    this.#waiting = [];
    this.#inFlight.clear();
    this.#streams.clear();
    this.#crcs.clear();
    for (const settle of crcs) settle(this.#failure);
    this.#outstanding = 0;
    for (const pending of all) pending.reject(this.#failure);
    for (const stream of streams) stream.fail(this.#failure);
    this.#worker.unref();
  }
}

/** Chunks asked of the thread ahead of the consumer. */
const STREAM_CHUNKS_AHEAD = 2;

/** What a stream asks of the reader that opened it. */
interface StreamOwner {
  /** Asks the thread for one chunk more. */
  more(): void;
  /** Tells the thread to close the stream, which is not wanted any more. */
  cancel(): void;
  /** The error for a blob that cannot be opened. */
  openFailure(error: BlobOpenError): Error;
}

/** A streamed item's plaintext, as the reader thread sends it (ThreadedBlobReader.openStream). */
export class ThreadedBlobStream extends Readable implements DigestingReadable {
  readonly plaintextDigest: Promise<PlaintextDigest>;
  readonly #owner: StreamOwner;
  #settle!: { resolve(digest: PlaintextDigest): void; reject(error: Error): void };
  /** Chunks asked for and not yet come (the open asks for the first). */
  #asked = 1;
  #ended = false;

  constructor(owner: StreamOwner) {
    super({ highWaterMark: 1024 * 1024 });
    this.#owner = owner;
    this.plaintextDigest = new Promise<PlaintextDigest>((resolve, reject) => {
      this.#settle = { resolve, reject };
    });
    // Whoever wants the digest awaits it; a stream that fails must not leave an unhandled rejection behind.
    this.plaintextDigest.catch(() => undefined);
  }

  override _read(): void {
    while (!this.#ended && this.#asked < STREAM_CHUNKS_AHEAD) {
      this.#asked += 1;
      this.#owner.more();
    }
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (!this.#ended) {
      this.#ended = true;
      this.#owner.cancel();
      this.#settle.reject(error ?? new Error('the stream was closed before its end'));
    }
    callback(error);
  }

  onChunk(chunk: Buffer): void {
    if (this.#ended) {
      // Nobody reads it: a lent chunk goes back at once.
      giveBackChunk(chunk);
      return;
    }
    this.#asked -= 1;
    this.push(chunk);
  }

  onEnd(digest: PlaintextDigest): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#settle.resolve(digest);
    this.push(null);
  }

  fail(error: Error): void {
    if (this.#ended) return;
    this.#ended = true;
    const failure = error instanceof BlobOpenError ? this.#owner.openFailure(error) : error;
    this.#settle.reject(failure);
    this.destroy(failure);
  }
}
