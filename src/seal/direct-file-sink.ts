// The archive's file writer where the file system takes direct I/O: archiver's chunks are copied into page-aligned
// slots of shared memory, and each full slot goes from that memory straight to the disk (O_DIRECT, past the page
// cache) while the hash thread takes the archive's SHA-256 of the same slot. Nothing is read back and nothing is
// copied twice; the last, partial slot goes through the page cache, as every write does where direct I/O is refused.
//
// Why: a write into the page cache copies each byte into pages the kernel must first find, and on this machine kind
// (a virtual machine) that is the slowest part of an export. Writing 1 GiB to a new file in 4 MiB pieces and then
// fsync took 3.1 s and 3.3-3.5 s of system CPU through the page cache, against 0.7 s and 0.06 s with O_DIRECT (node,
// 2 runs each, after a sync). `dd` shows the same: 2.8 s against 0.64-0.80 s. An export never reads its archive again,
// so the page cache gains it nothing either.
import type { FileHandle } from 'node:fs/promises';
import { Writable } from 'node:stream';
import { BackgroundFlush } from './batching-file-sink.js';
import type { HashThread, SlotHashChannel } from './hash-thread.js';
import { giveBackChunk } from '../util/lent-chunks.js';

/**
 * Bytes per slot: each full slot is one write and one message to the hash thread. 1 MiB slots were as fast as 2 and
 * 4 MiB ones (large export: 2.735 s against 2.725 s, medians of 4 pairs) and left a batch of 8 orders on one worker
 * ~10 MB lower (peak RSS 247,713 KB against 258,481 KB, means of 4).
 */
export const DIRECT_SLOT_BYTES = 1024 * 1024;
/** Slots filling, on their way to the disk or being hashed at once. */
export const DIRECT_SLOTS = 4;
/**
 * Direct I/O wants the memory, the file position and the length aligned to the device's block. Slots start on
 * 64 KiB pages and are multiples of this, so every full slot is aligned for any block up to it.
 */
export const DIRECT_ALIGN_BYTES = 4096;
const WASM_PAGE_BYTES = 65_536;

interface WasmMemoryConstructor {
  new (descriptor: { initial: number; maximum: number; shared: boolean }): { buffer: ArrayBuffer | SharedArrayBuffer };
}

/**
 * Page-aligned shared memory of `bytes` (a multiple of 64 KiB): a WebAssembly memory starts on a page of its own,
 * where a Buffer's memory need not. Undefined where WebAssembly is not there (`node --jitless`).
 */
export function alignedSharedMemory(bytes: number): SharedArrayBuffer | undefined {
  const wasm = (globalThis as { WebAssembly?: { Memory?: WasmMemoryConstructor } }).WebAssembly;
  if (!wasm?.Memory || bytes % WASM_PAGE_BYTES !== 0) return undefined;
  try {
    const pages = bytes / WASM_PAGE_BYTES;
    const { buffer } = new wasm.Memory({ initial: pages, maximum: pages, shared: true });
    return buffer instanceof SharedArrayBuffer ? buffer : undefined;
  } catch {
    return undefined;
  }
}

interface FullSlot {
  slot: number;
  length: number;
  /** Settles when the hash thread is done with the slot. */
  hashed: Promise<void>;
}

export interface DirectFileSinkFiles {
  /** The archive opened with O_DIRECT, for full slots. */
  direct: FileHandle;
  /** The same file through the page cache: the last slot, flushes, and every write once direct I/O is refused. */
  buffered: FileHandle;
}

export class DirectFileSink extends Writable {
  readonly #files: DirectFileSinkFiles;
  readonly #memory: Buffer;
  readonly #slotBytes: number;
  readonly #hasher: SlotHashChannel;
  readonly #flush: BackgroundFlush;
  /** Slots free to fill. */
  readonly #free: number[] = [];
  /** The slot being filled, and how much of it is. */
  #slot: number | undefined;
  #filled = 0;
  /** Where the next slot is written: the file holds exactly the bytes of the slots before it. */
  #writePosition = 0;
  /** Full slots waiting for the disk, oldest first. */
  readonly #queued: FullSlot[] = [];
  /** The loop that writes queued slots, while it runs. */
  #writer: Promise<void> | undefined;
  #failure: Error | undefined;
  /** A _write that waits for a slot to come back. */
  #waitingForSlot: (() => void) | undefined;
  /** False once the file system refused a direct write: the rest goes through the page cache. */
  #direct = true;

  /**
   * `memory`: page-aligned shared memory (alignedSharedMemory), cut into slots of `slotBytes` (a multiple of
   * DIRECT_ALIGN_BYTES). `syncEveryBytes` (tests): how often to flush in the background.
   */
  constructor(
    files: DirectFileSinkFiles,
    memory: SharedArrayBuffer,
    hashThread: HashThread,
    options: { slotBytes?: number; syncEveryBytes?: number } = {},
  ) {
    const slotBytes = options.slotBytes ?? DIRECT_SLOT_BYTES;
    super({ highWaterMark: slotBytes });
    if (slotBytes % DIRECT_ALIGN_BYTES !== 0 || memory.byteLength < 2 * slotBytes) {
      throw new Error(`direct I/O needs slots of a multiple of ${DIRECT_ALIGN_BYTES} bytes, and at least two of them`);
    }
    this.#files = files;
    this.#memory = Buffer.from(memory);
    this.#slotBytes = slotBytes;
    this.#hasher = hashThread.slotChannel(memory, slotBytes);
    this.#flush = new BackgroundFlush(files.buffered, options.syncEveryBytes, (error) => this.#fail(error));
    for (let slot = Math.floor(memory.byteLength / slotBytes) - 1; slot >= 0; slot -= 1) this.#free.push(slot);
  }

  /** Bytes written to the file so far (all of them once the stream has finished). */
  get bytes(): number {
    return this.#writePosition;
  }

  /** False if the file system refused a direct write and the archive went on through the page cache. */
  get wroteDirect(): boolean {
    return this.#direct;
  }

  /** The SHA-256 of every byte written, once the stream has finished. */
  digestHex(): Promise<string> {
    return this.#hasher.digestHex();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    // Most chunks (archiver's headers, small items) fit in the slot being filled: no closure for those.
    if (this.#slot !== undefined && !this.#failure && chunk.length < this.#slotBytes - this.#filled) {
      chunk.copy(this.#memory, this.#slot * this.#slotBytes + this.#filled);
      this.#filled += chunk.length;
      // Copied: this is the chunk's last reader (util/lent-chunks.ts).
      giveBackChunk(chunk);
      callback();
      return;
    }
    let at = 0;
    const copyOn = (): void => {
      while (at < chunk.length) {
        if (this.#failure) {
          callback(this.#failure);
          return;
        }
        if (this.#slot === undefined) {
          const slot = this.#free.pop();
          if (slot === undefined) {
            // Every slot is full and on its way: go on when the oldest is written and hashed.
            this.#waitingForSlot = () => {
              this.#waitingForSlot = undefined;
              copyOn();
            };
            return;
          }
          this.#slot = slot;
          this.#filled = 0;
        }
        const start = this.#slot * this.#slotBytes;
        const copied = chunk.copy(this.#memory, start + this.#filled, at, Math.min(chunk.length, at + this.#slotBytes - this.#filled));
        at += copied;
        this.#filled += copied;
        if (this.#filled === this.#slotBytes) this.#queueSlot();
      }
      giveBackChunk(chunk);
      callback(this.#failure ?? null);
    };
    copyOn();
  }

  override _final(callback: (error?: Error | null) => void): void {
    if (this.#failure) {
      callback(this.#failure);
      return;
    }
    if (this.#slot !== undefined && this.#filled > 0) this.#queueSlot();
    const done = this.#writer ?? Promise.resolve();
    done
      .then(() => this.#flush.settled())
      .then(() => callback(this.#failure ?? null), callback);
  }

  /** Hands the slot being filled to the hash thread and queues it for the disk. */
  #queueSlot(): void {
    const slot = this.#slot;
    if (slot === undefined) return;
    const length = this.#filled;
    this.#slot = undefined;
    this.#filled = 0;
    const hashed = this.#hasher.hash(slot, length);
    // Its failure is taken up by the writer, once the slot is written.
    hashed.catch(() => undefined);
    this.#queued.push({ slot, length, hashed });
    this.#writer ??= this.#writeQueued().finally(() => {
      this.#writer = undefined;
    });
  }

  /** Writes queued slots in order until none is left; a failure stops it and is kept for every later call. */
  async #writeQueued(): Promise<void> {
    for (let full = this.#queued.shift(); full; full = this.#queued.shift()) {
      try {
        await this.#writeSlot(full.slot, full.length);
      } catch (error) {
        this.#fail(error);
        return;
      }
      this.#flush.wrote(full.length);
      full.hashed.then(
        () => this.#release(full.slot),
        (error: unknown) => {
          this.#fail(error);
          this.#release(full.slot);
        },
      );
    }
  }

  async #writeSlot(slot: number, length: number): Promise<void> {
    const start = slot * this.#slotBytes;
    let done = 0;
    if (this.#direct && length % DIRECT_ALIGN_BYTES === 0 && this.#writePosition % DIRECT_ALIGN_BYTES === 0) {
      try {
        done = (await this.#files.direct.write(this.#memory, start, length, this.#writePosition)).bytesWritten;
      } catch (error) {
        // The file system took the O_DIRECT open but not the write (an alignment it wants): the rest goes through
        // the page cache, this slot included. Any other failure is the archive's.
        if ((error as { code?: unknown }).code !== 'EINVAL') throw error;
        this.#direct = false;
      }
    }
    while (done < length) {
      const { bytesWritten } = await this.#files.buffered.write(this.#memory, start + done, length - done, this.#writePosition + done);
      if (bytesWritten === 0) throw new Error(`the file took none of ${length - done} bytes`);
      done += bytesWritten;
    }
    this.#writePosition += length;
  }

  #release(slot: number): void {
    this.#free.push(slot);
    this.#waitingForSlot?.();
  }

  #fail(error: unknown): void {
    this.#failure ??= error instanceof Error ? error : new Error(String(error));
    this.#queued.length = 0;
    this.#waitingForSlot?.();
    if (!this.destroyed) this.destroy(this.#failure);
  }
}
