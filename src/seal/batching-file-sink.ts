// The archive's file writer: gathers archiver's many small chunks into ~1 MiB writes, counts the bytes, and hands
// each written batch to the archive's hash channel, so that the archive's SHA-256 is known when the stream finishes.
// A hash thread reads the batches back from the file (this thread copies none of the archive), so the file must be
// open for reading too.
//
// Up to STAGING_BUFFERS batches can be on their way to the disk, written one after another in order, while the ZIP
// writer fills the next one: a write into the page cache can take several milliseconds per MiB on a busy host, and
// the writer should not sit idle meanwhile. The staging buffers are reused for the whole archive. What is written is
// flushed to the disk in the background as it goes, and the stream finishes only once such a flush is done.
import type { FileHandle } from 'node:fs/promises';
import { Writable } from 'node:stream';
import type { HashChannel } from './hash-thread.js';
import { giveBackChunk } from '../util/lent-chunks.js';

export const BATCH_BYTES = 1024 * 1024;
/** Chunks smaller than this are copied into the current batch buffer; larger ones are written as they are. */
const COPY_BELOW = 64 * 1024;
/** A batch is closed once it holds BATCH_BYTES, so its staging buffer never needs more than this. */
const STAGING_BYTES = BATCH_BYTES + COPY_BELOW;
/** Batches filling or queued at once (each with a staging buffer of its own). */
export const STAGING_BUFFERS = 4;
/**
 * Written bytes are flushed to the disk (fdatasync, in the background) every this many bytes, so that the sealer's
 * final fsync, which nothing can overlap, has little left to do: about 0.6 s per GB on a fresh file here.
 */
export const SYNC_EVERY_BYTES = 64 * 1024 * 1024;

interface Batch {
  segments: Buffer[];
  staging: Buffer;
}

export class BatchingFileSink extends Writable {
  readonly #handle: FileHandle;
  readonly #hasher: HashChannel;
  #bytes = 0;
  /** Where the next batch is written: the file holds exactly the bytes of the batches before it. */
  #writePosition = 0;
  /** Segments of the batch being filled, in order. */
  #segments: Buffer[] = [];
  #pendingBytes = 0;
  #staging: Buffer = Buffer.allocUnsafeSlow(STAGING_BYTES);
  #stagingStart = 0;
  #stagingEnd = 0;
  /** Staging buffers not in use (the one being filled is #staging). */
  readonly #spare: Buffer[] = [];
  /** Closed batches waiting for the disk, oldest first. */
  readonly #queued: Batch[] = [];
  /** The loop that writes queued batches, while it runs. */
  #writer: Promise<void> | undefined;
  #failure: Error | undefined;
  /** A _write that waits for a staging buffer to come back. */
  #waitingForBuffer: (() => void) | undefined;
  readonly #flush: BackgroundFlush;

  /** `syncEveryBytes` (tests): how often to flush in the background; the default is SYNC_EVERY_BYTES. */
  constructor(handle: FileHandle, hasher: HashChannel, options: { syncEveryBytes?: number } = {}) {
    super({ highWaterMark: BATCH_BYTES });
    this.#handle = handle;
    this.#hasher = hasher;
    this.#flush = new BackgroundFlush(handle, options.syncEveryBytes, (error) => {
      this.#failure ??= error;
      this.destroy(this.#failure);
    });
    for (let index = 1; index < STAGING_BUFFERS; index += 1) this.#spare.push(Buffer.allocUnsafeSlow(STAGING_BYTES));
  }

  /** Bytes written so far and, once finished, their SHA-256. */
  get bytes(): number {
    return this.#bytes;
  }

  digestHex(): Promise<string> {
    return this.#hasher.digestHex();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (this.#failure) {
      callback(this.#failure);
      return;
    }
    if (chunk.length < COPY_BELOW) {
      chunk.copy(this.#staging, this.#stagingEnd);
      this.#stagingEnd += chunk.length;
      giveBackChunk(chunk);
    } else {
      this.#closeStaging();
      this.#segments.push(chunk);
    }
    this.#pendingBytes += chunk.length;
    if (this.#pendingBytes < BATCH_BYTES) {
      callback();
      return;
    }
    this.#queueBatch();
    const next = this.#spare.pop();
    if (next) {
      this.#staging = next;
      callback();
      return;
    }
    // Every staging buffer is queued: wait for the oldest batch to reach the disk.
    this.#waitingForBuffer = () => {
      this.#waitingForBuffer = undefined;
      const freed = this.#spare.pop();
      if (this.#failure || !freed) {
        callback(this.#failure ?? new Error('the archive writer lost a staging buffer'));
        return;
      }
      this.#staging = freed;
      callback();
    };
  }

  override _final(callback: (error?: Error | null) => void): void {
    if (this.#pendingBytes > 0) this.#queueBatch();
    const done = this.#writer ?? Promise.resolve();
    done
      .then(() => this.#flush.settled())
      .then(() => callback(this.#failure ?? null), callback);
  }

  /** Moves the staged small chunks into the segment list. */
  #closeStaging(): void {
    if (this.#stagingEnd > this.#stagingStart) {
      this.#segments.push(this.#staging.subarray(this.#stagingStart, this.#stagingEnd));
      this.#stagingStart = this.#stagingEnd;
    }
  }

  /** Closes the batch being filled and queues it for the disk; the caller supplies the next staging buffer. */
  #queueBatch(): void {
    this.#closeStaging();
    const batch: Batch = { segments: this.#segments, staging: this.#staging };
    this.#segments = [];
    this.#pendingBytes = 0;
    this.#stagingStart = 0;
    this.#stagingEnd = 0;
    for (const segment of batch.segments) this.#bytes += segment.length;
    this.#queued.push(batch);
    this.#writer ??= this.#writeQueued().finally(() => {
      this.#writer = undefined;
    });
  }

  /** Writes queued batches in order until none is left; a failure stops it and is kept for every later call. */
  async #writeQueued(): Promise<void> {
    for (let batch = this.#queued.shift(); batch; batch = this.#queued.shift()) {
      try {
        await this.#writeBatch(batch.segments);
      } catch (error) {
        this.#failure ??= error instanceof Error ? error : new Error(String(error));
        this.#queued.length = 0;
        this.#waitingForBuffer?.();
        return;
      }
      // Written and handed to the hasher: its staging buffer can take another batch.
      this.#spare.push(batch.staging);
      this.#waitingForBuffer?.();
    }
  }

  async #writeBatch(segments: Buffer[]): Promise<void> {
    const start = this.#writePosition;
    let rest = segments;
    while (rest.length > 0) {
      const { bytesWritten } = await this.#handle.writev(rest, this.#writePosition);
      this.#writePosition += bytesWritten;
      rest = remainderAfter(rest, bytesWritten);
    }
    this.#hasher.written(segments, this.#handle.fd, start, this.#writePosition - start);
    // Written, and hashed or to be read back from the file: this is each chunk's last reader (util/lent-chunks.ts).
    for (const segment of segments) giveBackChunk(segment);
    this.#flush.wrote(this.#writePosition - start);
  }
}

/**
 * Flushes a file being written to the disk in the background (fdatasync), once every `everyBytes` written and never
 * two at once, so that the final fsync, which nothing can overlap, has little left to do.
 */
export class BackgroundFlush {
  readonly #handle: Pick<FileHandle, 'datasync'>;
  readonly #everyBytes: number;
  readonly #onError: (error: Error) => void;
  /** Bytes written since the last flush started, and that flush while it runs. */
  #unflushed = 0;
  #flushing: Promise<void> | undefined;

  constructor(handle: Pick<FileHandle, 'datasync'>, everyBytes: number | undefined, onError: (error: Error) => void) {
    this.#handle = handle;
    this.#everyBytes = everyBytes ?? SYNC_EVERY_BYTES;
    this.#onError = onError;
  }

  /** Counts `bytes` just written and starts a flush if enough have gathered and none is running. */
  wrote(bytes: number): void {
    this.#unflushed += bytes;
    if (this.#unflushed < this.#everyBytes || this.#flushing) return;
    this.#unflushed = 0;
    this.#flushing = this.#handle.datasync().then(
      () => {
        this.#flushing = undefined;
      },
      (error: unknown) => {
        this.#flushing = undefined;
        this.#onError(error instanceof Error ? error : new Error(String(error)));
      },
    );
  }

  /** Settles when no flush is running (a failed one has been reported to onError by then). */
  async settled(): Promise<void> {
    await this.#flushing;
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
