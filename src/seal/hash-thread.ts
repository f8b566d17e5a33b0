// SHA-256 on a worker thread, for the archive as it is written and for streamed payload files: the main thread
// decrypts and computes the ZIP CRC, and the full hashes of those bytes go to the other core.
//
// One thread serves several hash channels. A channel's bytes reach the thread in one of two ways:
// - through a fixed ring of shared memory (`update`): the writer copies a batch into free slots and posts their
//   numbers; the thread hashes each slot in order and hands it back. Nothing is allocated per batch, and the memory a
//   channel needs is its ring, whatever the archive's size.
// - from a file (`updateFromFile`, or `written` for bytes just written): the thread reads bytes already written back
//   from the open file, at their position, into a buffer of its own. The archive is hashed this way: the main thread
//   copies none of it, and the digest is that of the bytes the file holds.
import { createHash, type Hash } from 'node:crypto';
import { readSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { stopWorker } from '../util/stop-worker.js';

/**
 * A slot is posted when full (or at the end of an update): 4 MiB rather than 1 MiB posts a quarter of the messages,
 * and each one wakes a thread, which on two busy cores can cost the waker its turn (large export: 3.86 against
 * 4.02 s, 6 alternating pairs).
 */
export const SLOT_BYTES = 4 * 1024 * 1024;
/**
 * Slots of a channel's ring unless it asks for another number: enough for a streamed payload file's read-ahead of
 * chunks (the archive's channel asks for none).
 */
export const SLOT_COUNT = 4;

/**
 * Written bytes are handed to the thread every this many bytes (and the rest at the digest): each message wakes a
 * thread, and on two busy cores a wake-up can cost the waker its turn.
 */
const READ_BACK_EVERY_BYTES = 8 * 1024 * 1024;
/** The thread reads a file's bytes back in pieces of this size. */
const FILE_READ_BYTES = 1024 * 1024;

const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const { readSync } = require('node:fs');
const channels = new Map();
let readBuffer = null;
function hashFromFile(channel, message) {
  readBuffer ??= Buffer.allocUnsafe(${FILE_READ_BYTES});
  let done = 0;
  while (done < message.length) {
    const read = readSync(message.fd, readBuffer, 0, Math.min(readBuffer.length, message.length - done), message.position + done);
    if (read === 0) throw new Error('the file ended ' + (message.length - done) + ' bytes before the bytes written to it');
    channel.hash.update(readBuffer.subarray(0, read));
    done += read;
  }
}
parentPort.on('message', (message) => {
  if (message.type === 'open') {
    channels.set(message.channel, { ring: new Uint8Array(message.ring), slotBytes: message.slotBytes, hash: createHash('sha256') });
    return;
  }
  const channel = channels.get(message.channel);
  if (!channel) return;
  if (message.type === 'update') {
    const start = message.slot * channel.slotBytes;
    channel.hash.update(channel.ring.subarray(start, start + message.length));
    parentPort.postMessage({ type: 'hashed', channel: message.channel, slot: message.slot });
  } else if (message.type === 'file') {
    try {
      hashFromFile(channel, message);
      parentPort.postMessage({ type: 'read', channel: message.channel });
    } catch (error) {
      const code = error && typeof error.code === 'string' ? error.code : undefined;
      parentPort.postMessage({ type: 'failed', channel: message.channel, message: String(error && error.message), code });
    }
  } else if (message.type === 'digest') {
    parentPort.postMessage({ type: 'digest', channel: message.channel, hex: channel.hash.digest('hex') });
    channel.hash = createHash('sha256');
  } else if (message.type === 'close') {
    channels.delete(message.channel);
  }
});
`;

export interface HashChannel {
  /**
   * Hashes `segments` after everything handed over before. The caller must leave the bytes alone until the returned
   * promise settles (they are copied by then); it settles late only when the hasher is behind by a whole ring.
   */
  update(segments: readonly Buffer[]): Promise<void>;
  /**
   * Hashes the `length` bytes at `position` of the open file `fd`, after everything handed over before. They must be
   * written already and stay as they are until the digest; the file must stay open until then. A read that fails or
   * finds the file shorter fails the digest.
   */
  updateFromFile(fd: number, position: number, length: number): void;
  /**
   * Hashes the `length` bytes just written at `position` of the open file `fd`, after everything handed over before;
   * `segments` holds them (valid only during the call). A hash thread reads them back from the file, several writes at
   * a time (as `updateFromFile`, whose rules apply); hashing in this thread takes them from `segments`.
   */
  written(segments: readonly Buffer[], fd: number, position: number, length: number): void;
  /** The SHA-256 of everything since the start or the previous digest; the next update starts a new hash. */
  digestHex(): Promise<string>;
  /** Gives the channel up (after digestHex, or on failure); its thread goes on serving the others. */
  close(): void;
}

/**
 * A hash channel over memory the caller owns and shares with the thread: the caller fills a slot, hands it over with
 * `hash`, and leaves it alone until that settles. Nothing is copied: the archive's direct-I/O writer hashes its own
 * staging slots this way, the same bytes it writes.
 */
export interface SlotHashChannel {
  /**
   * Hashes the first `length` bytes of slot `slot` after every slot handed over before; settles once the thread is done
   * with them (rejects if it stopped). A slot is handed over again only after that.
   */
  hash(slot: number, length: number): Promise<void>;
  /** The SHA-256 of everything handed over. */
  digestHex(): Promise<string>;
  /** Gives the channel up; its thread goes on serving the others. */
  close(): void;
}

export interface HashThread {
  /** A new, independent hash channel with a ring of `slots` slots (none: it hashes from files only). */
  channel(slots?: number): HashChannel;
  /** A new, independent hash channel over `memory`, cut into slots of `slotBytes` (see SlotHashChannel). */
  slotChannel(memory: SharedArrayBuffer, slotBytes: number): SlotHashChannel;
  /** Stops the thread: every channel's pending work fails. Safe to call more than once. */
  close(): Promise<void>;
}

class InThreadHasher implements HashChannel {
  #hash: Hash = createHash('sha256');

  #failure: Error | undefined;

  update(segments: readonly Buffer[]): Promise<void> {
    for (const segment of segments) this.#hash.update(segment);
    return Promise.resolve();
  }

  updateFromFile(fd: number, position: number, length: number): void {
    if (this.#failure) return;
    const buffer = Buffer.allocUnsafe(Math.min(FILE_READ_BYTES, Math.max(1, length)));
    try {
      for (let done = 0; done < length; ) {
        const read = readSync(fd, buffer, 0, Math.min(buffer.length, length - done), position + done);
        if (read === 0) throw new Error(`the file ended ${length - done} bytes before the bytes written to it`);
        this.#hash.update(buffer.subarray(0, read));
        done += read;
      }
    } catch (error) {
      this.#failure = readBackFailure(error instanceof Error ? error.message : String(error), (error as { code?: unknown }).code);
    }
  }

  written(segments: readonly Buffer[]): void {
    for (const segment of segments) this.#hash.update(segment);
  }

  digestHex(): Promise<string> {
    if (this.#failure) return Promise.reject(this.#failure);
    const hex = this.#hash.digest('hex');
    this.#hash = createHash('sha256');
    return Promise.resolve(hex);
  }

  close(): void {
    // Nothing to give back.
  }
}

class InThreadSlotHasher implements SlotHashChannel {
  readonly #memory: Buffer;
  readonly #slotBytes: number;
  #hash: Hash = createHash('sha256');

  constructor(memory: SharedArrayBuffer, slotBytes: number) {
    this.#memory = Buffer.from(memory);
    this.#slotBytes = slotBytes;
  }

  hash(slot: number, length: number): Promise<void> {
    const start = slot * this.#slotBytes;
    this.#hash.update(this.#memory.subarray(start, start + length));
    return Promise.resolve();
  }

  digestHex(): Promise<string> {
    const hex = this.#hash.digest('hex');
    this.#hash = createHash('sha256');
    return Promise.resolve(hex);
  }

  close(): void {
    // Nothing to give back.
  }
}

type WorkerReply =
  | { type: 'hashed'; channel: number; slot: number }
  | { type: 'read'; channel: number }
  | { type: 'failed'; channel: number; message: string; code?: string }
  | { type: 'digest'; channel: number; hex: string };

/** A read of written bytes that failed, with the file system's code (EIO, EBADF) when there is one. */
function readBackFailure(message: string, code: unknown): Error {
  const error = new Error(`reading back what was written, to hash it, failed: ${message}`);
  return typeof code === 'string' ? Object.assign(error, { code }) : error;
}

interface DigestWaiter {
  resolve(hex: string): void;
  reject(error: Error): void;
}

/** A channel of the worker thread, of either kind: what the thread's replies reach. */
abstract class ThreadChannel {
  protected readonly thread: WorkerHashThread;
  protected readonly id: number;
  /** Answers the thread owes this channel. */
  busy = 0;
  #digest: DigestWaiter | undefined;

  constructor(thread: WorkerHashThread, id: number) {
    this.thread = thread;
    this.id = id;
  }

  get waitingForDigest(): boolean {
    return this.#digest !== undefined;
  }

  close(): void {
    this.thread.forget(this.id);
  }

  onDigest(hex: string): void {
    this.#digest?.resolve(hex);
    this.#digest = undefined;
  }

  abstract onHashed(slot: number): void;
  abstract onRead(): void;
  abstract onReadFailed(error: Error): void;
  abstract fail(error: Error): void;

  /** Asks for the digest of everything posted before (the thread takes messages in order). */
  protected requestDigest(): Promise<string> {
    return new Promise<string>((resolve, reject) => {
      this.#digest = { resolve, reject };
      this.thread.post({ type: 'digest', channel: this.id });
    });
  }

  protected rejectDigest(error: Error): void {
    this.#digest?.reject(error);
    this.#digest = undefined;
  }
}

class Channel extends ThreadChannel implements HashChannel {
  readonly #ring: Buffer;
  /** Slots the thread has handed back, in the order they will be filled. */
  readonly #free: number[] = [];
  #waiters: (() => void)[] = [];
  /** A read back from a file failed: the channel's digest would not be of the bytes handed over. */
  #failure: Error | undefined;
  /** Written bytes not yet handed to the thread: one range of one file, handed over once it is large enough. */
  #unread: { fd: number; from: number; to: number } | undefined;
  /** update() calls run one after another, so that slots are posted in the order of the bytes. */
  #chain: Promise<void> = Promise.resolve();
  /**
   * The slot being filled: posted once full, or before a file range or the digest. Many small updates (a spooled
   * file streamed in 64 KiB chunks) then cost one message per slot, not one each: every message wakes the thread.
   */
  #filling: { slot: number; filled: number } | undefined;

  constructor(thread: WorkerHashThread, id: number, slots: number) {
    super(thread, id);
    const shared = new SharedArrayBuffer(SLOT_BYTES * slots);
    this.#ring = Buffer.from(shared);
    for (let slot = 0; slot < slots; slot += 1) this.#free.push(slot);
    thread.post({ type: 'open', channel: id, ring: shared, slotBytes: SLOT_BYTES });
  }

  update(segments: readonly Buffer[]): Promise<void> {
    this.#readUnread();
    const run = this.#chain.then(() => this.#copyIn(segments));
    this.#chain = run.catch(() => undefined);
    return run;
  }

  updateFromFile(fd: number, position: number, length: number): void {
    this.#readUnread();
    // After the copies of every earlier update() are posted: the thread takes messages in order.
    const run = this.#chain.then(() => {
      this.thread.check();
      this.#postFilling();
      this.busy += 1;
      this.thread.post({ type: 'file', channel: this.id, fd, position, length });
    });
    // A stopped thread fails the digest (digestHex checks it), as it does for update().
    this.#chain = run.catch(() => undefined);
  }

  written(_segments: readonly Buffer[], fd: number, position: number, length: number): void {
    const unread = this.#unread;
    if (unread && unread.fd === fd && unread.to === position) {
      unread.to += length;
    } else {
      this.#readUnread();
      this.#unread = { fd, from: position, to: position + length };
    }
    if (this.#unread && this.#unread.to - this.#unread.from >= READ_BACK_EVERY_BYTES) this.#readUnread();
  }

  #readUnread(): void {
    const unread = this.#unread;
    this.#unread = undefined;
    if (unread && unread.to > unread.from) this.updateFromFile(unread.fd, unread.from, unread.to - unread.from);
  }

  async digestHex(): Promise<string> {
    this.#readUnread();
    await this.#chain;
    this.thread.check();
    if (this.#failure) throw this.#failure;
    this.#postFilling();
    return this.requestDigest();
  }

  onHashed(slot: number): void {
    this.busy -= 1;
    this.#free.push(slot);
    this.wake();
  }

  onRead(): void {
    this.busy -= 1;
  }

  onReadFailed(error: Error): void {
    this.busy -= 1;
    this.#failure ??= error;
    this.rejectDigest(this.#failure);
  }

  override onDigest(hex: string): void {
    if (this.#failure) return;
    super.onDigest(hex);
  }

  fail(error: Error): void {
    this.rejectDigest(error);
    this.wake();
  }

  wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }

  async #copyIn(segments: readonly Buffer[]): Promise<void> {
    if (this.#ring.length === 0 && segments.some((segment) => segment.length > 0)) {
      throw new Error('this hash channel has no ring: it hashes bytes read back from files only');
    }
    for (const segment of segments) {
      let at = 0;
      while (at < segment.length) {
        this.#filling ??= { slot: await this.#takeSlot(), filled: 0 };
        const filling = this.#filling;
        const copied = segment.copy(this.#ring, filling.slot * SLOT_BYTES + filling.filled, at, at + Math.min(segment.length - at, SLOT_BYTES - filling.filled));
        at += copied;
        filling.filled += copied;
        if (filling.filled === SLOT_BYTES) this.#postFilling();
      }
    }
  }

  /** Hands the slot being filled to the thread, however full it is. */
  #postFilling(): void {
    const filling = this.#filling;
    this.#filling = undefined;
    if (filling) this.#post(filling.slot, filling.filled);
  }

  async #takeSlot(): Promise<number> {
    for (;;) {
      this.thread.check();
      const slot = this.#free.shift();
      if (slot !== undefined) return slot;
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
  }

  #post(slot: number, length: number): void {
    this.busy += 1;
    this.thread.post({ type: 'update', channel: this.id, slot, length });
  }
}

class SlotChannel extends ThreadChannel implements SlotHashChannel {
  readonly #slots: number;
  /** The caller waiting for each slot handed over, by slot. */
  readonly #handedOver = new Map<number, { resolve(): void; reject(error: Error): void }>();

  constructor(thread: WorkerHashThread, id: number, memory: SharedArrayBuffer, slotBytes: number) {
    super(thread, id);
    this.#slots = Math.floor(memory.byteLength / slotBytes);
    thread.post({ type: 'open', channel: id, ring: memory, slotBytes });
  }

  async hash(slot: number, length: number): Promise<void> {
    this.thread.check();
    if (!Number.isInteger(slot) || slot < 0 || slot >= this.#slots || this.#handedOver.has(slot)) {
      throw new Error(`hash slot ${slot} is not a free slot of this channel`);
    }
    const done = new Promise<void>((resolve, reject) => this.#handedOver.set(slot, { resolve, reject }));
    this.busy += 1;
    this.thread.post({ type: 'update', channel: this.id, slot, length });
    return done;
  }

  async digestHex(): Promise<string> {
    this.thread.check();
    return this.requestDigest();
  }

  onHashed(slot: number): void {
    this.busy -= 1;
    const waiter = this.#handedOver.get(slot);
    this.#handedOver.delete(slot);
    waiter?.resolve();
  }

  onRead(): void {
    // This channel never asks for file reads.
  }

  onReadFailed(error: Error): void {
    this.fail(error);
  }

  fail(error: Error): void {
    for (const waiter of this.#handedOver.values()) waiter.reject(error);
    this.#handedOver.clear();
    this.busy = 0;
    this.rejectDigest(error);
  }
}

class WorkerHashThread implements HashThread {
  readonly #worker: Worker;
  readonly #channels = new Map<number, ThreadChannel>();
  #nextId = 0;
  #failure: Error | undefined;
  #closed = false;

  constructor() {
    this.#worker = new Worker(WORKER_SOURCE, { eval: true });
    // Referenced only while it owes us an answer: an abandoned sealer must not keep the process alive.
    this.#worker.unref();
    this.#worker.on('message', (reply: WorkerReply) => {
      const channel = this.#channels.get(reply.channel);
      if (reply.type === 'hashed') channel?.onHashed(reply.slot);
      else if (reply.type === 'read') channel?.onRead();
      else if (reply.type === 'failed') channel?.onReadFailed(readBackFailure(reply.message, reply.code));
      else channel?.onDigest(reply.hex);
      this.#settle();
    });
    this.#worker.on('error', (error: Error) => this.#stop(error));
    this.#worker.on('exit', () => this.#stop(new Error('the hashing thread stopped')));
  }

  channel(slots: number = SLOT_COUNT): HashChannel {
    return this.#register((id) => new Channel(this, id, slots));
  }

  slotChannel(memory: SharedArrayBuffer, slotBytes: number): SlotHashChannel {
    return this.#register((id) => new SlotChannel(this, id, memory, slotBytes));
  }

  #register<T extends ThreadChannel>(make: (id: number) => T): T {
    this.check();
    const id = this.#nextId;
    this.#nextId += 1;
    const channel = make(id);
    this.#channels.set(id, channel);
    return channel;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await stopWorker(this.#worker);
  }

  check(): void {
    if (this.#failure) throw this.#failure;
  }

  post(message: Record<string, unknown>): void {
    this.#worker.ref();
    this.#worker.postMessage(message);
  }

  forget(id: number): void {
    if (!this.#channels.delete(id) || this.#failure) return;
    this.#worker.postMessage({ type: 'close', channel: id });
    this.#settle();
  }

  #stop(error: Error): void {
    this.#failure ??= error;
    for (const channel of this.#channels.values()) channel.fail(this.#failure);
    this.#settle();
  }

  #settle(): void {
    let owed = false;
    for (const channel of this.#channels.values()) if (channel.busy > 0 || channel.waitingForDigest) owed = true;
    if (!owed) this.#worker.unref();
  }
}

class InThreadHashing implements HashThread {
  channel(): HashChannel {
    return new InThreadHasher();
  }

  slotChannel(memory: SharedArrayBuffer, slotBytes: number): SlotHashChannel {
    return new InThreadSlotHasher(memory, slotBytes);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** A worker hash thread, or in-thread hashing if none is wanted or none can be started. */
export function createHashThread(wanted = true): HashThread {
  if (!wanted) return new InThreadHashing();
  try {
    return new WorkerHashThread();
  } catch {
    return new InThreadHashing();
  }
}
