// The archive's file writer: gathers archiver's many small chunks into ~1 MiB writes, and hashes and counts the
// bytes on the way so the archive's SHA-256 and size are known without reading it back.
import type { FileHandle } from 'node:fs/promises';
import { Writable } from 'node:stream';
import type { ArchiveHasher } from './archive-hasher.js';

export const BATCH_BYTES = 1024 * 1024;
/** Chunks smaller than this are copied into the current batch buffer; larger ones are written as they are. */
const COPY_BELOW = 64 * 1024;

export class BatchingFileSink extends Writable {
  readonly #handle: FileHandle;
  readonly #hasher: ArchiveHasher;
  #bytes = 0;
  /** Segments waiting to be written, in order. */
  #segments: Buffer[] = [];
  #pendingBytes = 0;
  #staging = Buffer.allocUnsafe(BATCH_BYTES);
  #stagingStart = 0;
  #stagingEnd = 0;

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
      if (this.#stagingEnd + chunk.length > this.#staging.length) this.#closeStaging(true);
      chunk.copy(this.#staging, this.#stagingEnd);
      this.#stagingEnd += chunk.length;
    } else {
      this.#closeStaging(false);
      this.#segments.push(chunk);
    }
    this.#pendingBytes += chunk.length;
    if (this.#pendingBytes >= BATCH_BYTES) {
      this.#flush().then(() => callback(), callback);
    } else {
      callback();
    }
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.#flush().then(() => callback(), callback);
  }

  /** Moves the staged small chunks into the segment list; a fresh staging buffer follows if the old one is full. */
  #closeStaging(full: boolean): void {
    if (this.#stagingEnd > this.#stagingStart) {
      this.#segments.push(this.#staging.subarray(this.#stagingStart, this.#stagingEnd));
      this.#stagingStart = this.#stagingEnd;
    }
    if (full || this.#stagingEnd === this.#staging.length) {
      this.#staging = Buffer.allocUnsafe(BATCH_BYTES);
      this.#stagingStart = 0;
      this.#stagingEnd = 0;
    }
  }

  async #flush(): Promise<void> {
    this.#closeStaging(false);
    let segments = this.#segments;
    this.#segments = [];
    this.#pendingBytes = 0;
    for (const segment of segments) this.#bytes += segment.length;
    // Copies the bytes before the first await, so the staging buffer's reuse below is safe.
    const hashed = this.#hasher.update(segments);
    hashed.catch(() => undefined); // awaited below, after the write; this only keeps it from counting as unhandled
    while (segments.length > 0) {
      const { bytesWritten } = await this.#handle.writev(segments);
      segments = remainderAfter(segments, bytesWritten);
    }
    await hashed;
    // Written: the staging buffer can take the next batch (Writable calls _write only after our callback).
    this.#stagingStart = 0;
    this.#stagingEnd = 0;
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
