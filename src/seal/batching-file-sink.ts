// The archive's file writer: gathers archiver's many small chunks into ~1 MiB writes, and hashes and counts the
// bytes on the way so the archive's SHA-256 and size are known without reading it back.
//
// Double-buffered: while one batch is being written (and hashed), the next one fills the other staging buffer, so
// the ZIP writer does not sit idle waiting for the disk. At most one write is in flight; the two staging buffers are
// reused for the whole archive.
import type { FileHandle } from 'node:fs/promises';
import { Writable } from 'node:stream';
import type { ArchiveHasher } from './archive-hasher.js';

export const BATCH_BYTES = 1024 * 1024;
/** Chunks smaller than this are copied into the current batch buffer; larger ones are written as they are. */
const COPY_BELOW = 64 * 1024;
/** A batch is closed once it holds BATCH_BYTES, so its staging buffer never needs more than this. */
const STAGING_BYTES = BATCH_BYTES + COPY_BELOW;

export class BatchingFileSink extends Writable {
  readonly #handle: FileHandle;
  readonly #hasher: ArchiveHasher;
  #bytes = 0;
  /** Segments of the batch being filled, in order. */
  #segments: Buffer[] = [];
  #pendingBytes = 0;
  #staging = Buffer.allocUnsafeSlow(STAGING_BYTES);
  /** The staging buffer of the batch in flight (or free). */
  #spare = Buffer.allocUnsafeSlow(STAGING_BYTES);
  #stagingStart = 0;
  #stagingEnd = 0;
  /** The batch being written, if any; it rejects with the write's or the hash's error. */
  #inFlight: Promise<void> | undefined;

  constructor(handle: FileHandle, hasher: ArchiveHasher) {
    super({ highWaterMark: BATCH_BYTES });
    this.#handle = handle;
    this.#hasher = hasher;
  }

  /** Bytes written so far and, once finished, their SHA-256. */
  get bytes(): number {
    return this.#bytes;
  }

  digestHex(): Promise<string> {
    return this.#hasher.digestHex();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (chunk.length < COPY_BELOW) {
      chunk.copy(this.#staging, this.#stagingEnd);
      this.#stagingEnd += chunk.length;
    } else {
      this.#closeStaging();
      this.#segments.push(chunk);
    }
    this.#pendingBytes += chunk.length;
    if (this.#pendingBytes < BATCH_BYTES) {
      callback();
      return;
    }
    // The previous batch must be out (its buffer is the next staging buffer) before this one goes.
    const previous = this.#inFlight ?? Promise.resolve();
    previous.then(() => {
      this.#startBatch();
      callback();
    }, callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    const previous = this.#inFlight ?? Promise.resolve();
    previous
      .then(() => {
        this.#startBatch();
        return this.#inFlight;
      })
      .then(() => callback(), callback);
  }

  /** Moves the staged small chunks into the segment list. */
  #closeStaging(): void {
    if (this.#stagingEnd > this.#stagingStart) {
      this.#segments.push(this.#staging.subarray(this.#stagingStart, this.#stagingEnd));
      this.#stagingStart = this.#stagingEnd;
    }
  }

  /** Hands the current batch to the disk and the hasher and swaps the staging buffers (the spare is free). */
  #startBatch(): void {
    this.#closeStaging();
    const segments = this.#segments;
    this.#segments = [];
    this.#pendingBytes = 0;
    [this.#staging, this.#spare] = [this.#spare, this.#staging];
    this.#stagingStart = 0;
    this.#stagingEnd = 0;
    if (segments.length === 0) {
      this.#inFlight = undefined;
      return;
    }
    for (const segment of segments) this.#bytes += segment.length;
    this.#inFlight = this.#writeBatch(segments);
    // Awaited by the next batch or by _final; this only keeps a failure from counting as unhandled meanwhile.
    this.#inFlight.catch(() => undefined);
  }

  async #writeBatch(segments: Buffer[]): Promise<void> {
    const hashed = this.#hasher.update(segments);
    hashed.catch(() => undefined); // awaited below, after the write
    let rest = segments;
    while (rest.length > 0) {
      const { bytesWritten } = await this.#handle.writev(rest);
      rest = remainderAfter(rest, bytesWritten);
    }
    await hashed;
  }
}

/** What is left of `segments` after the first `written` bytes (writev may write less than asked). */
function remainderAfter(segments: Buffer[], written: number): Buffer[] {
  let left = written;
  let index = 0;
  while (index < segments.length && left >= (segments[index]?.length ?? 0)) {
    left -= segments[index]?.length ?? 0;
    index += 1;
  }
  const rest = segments.slice(index);
  const first = rest[0];
  if (first && left > 0) rest[0] = first.subarray(left);
  return rest;
}
