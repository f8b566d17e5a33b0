// Reads and authenticates one small blob in a single synchronous open/read/close, on whichever thread calls it (the
// key service's reader thread, or the main thread when no thread can be started).
import type { KeyObject } from 'node:crypto';
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { IntegrityError } from '../errors.js';
import { decryptItemBuffer, HEADER_BYTES, TAG_BYTES } from './item-crypto.js';

/** The largest read buffer kept between small items (a little over the export's 1 MiB small-item bound). */
const SCRATCH_KEEP_BYTES = 2 << 20;

/** A blob that could not be opened: the caller names the item (the message here names only the file system's code). */
export class BlobOpenError extends Error {
  readonly code: string | undefined;

  constructor(cause: unknown) {
    const code = (cause as { code?: unknown } | null)?.code;
    super(typeof code === 'string' ? code : cause instanceof Error ? cause.message : String(cause));
    this.name = 'BlobOpenError';
    this.code = typeof code === 'string' ? code : undefined;
  }
}

/**
 * How a blob is opened: read-only, never through a symbolic link (a store holds its blobs as files of its own: a link
 * could hand over a key file or another account's blob), and never waiting for a FIFO's writer.
 */
export const BLOB_OPEN_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;

/**
 * The code a blob that is not a regular file (a FIFO, a socket, a device) fails with. Not an errno Linux uses; it
 * crosses from the reader thread as a string, like the others, and describeFsError words it.
 */
export const NOT_REGULAR_CODE = 'EFTYPE';

/** The stats of an open blob, which must be a regular file (BlobOpenError: EISDIR, EFTYPE). */
export function checkRegularBlob(stats: { isFile(): boolean; isDirectory(): boolean }): void {
  if (stats.isFile()) return;
  const code = stats.isDirectory() ? 'EISDIR' : NOT_REGULAR_CODE;
  throw new BlobOpenError({ code, message: code });
}

/** Opens the blob at `file` (BLOB_OPEN_FLAGS) as a regular file: its descriptor and size. Throws BlobOpenError. */
export function openBlobSync(file: string): { fd: number; size: number } {
  let fd: number;
  try {
    fd = openSync(file, BLOB_OPEN_FLAGS);
  } catch (error) {
    throw new BlobOpenError(error);
  }
  try {
    const stats = fstatSync(fd);
    checkRegularBlob(stats);
    return { fd, size: stats.size };
  } catch (error) {
    closeSync(fd);
    throw error instanceof BlobOpenError ? error : new BlobOpenError(error);
  }
}

/** readSync, whose failure (a folder where the blob should be: EISDIR) is the blob's, as an open's is. */
export function readBlob(fd: number, buffer: Buffer, offset: number, length: number, position: number): number {
  try {
    return readSync(fd, buffer, offset, length, position);
  } catch (error) {
    throw new BlobOpenError(error);
  }
}

/**
 * Reads small blobs with one reused read buffer (reads are synchronous, so it is never shared): a fresh one per item
 * was most of an export's garbage. Synchronous on purpose: a small blob is one open, one read and one close of a
 * cached file (~10 us), where the promise API costs ~50 us of CPU per item in thread-pool hand-offs.
 */
export class SmallBlobReader {
  #scratch: Buffer | undefined;

  /**
   * The authenticated plaintext of the blob at `file` (a new buffer). Throws BlobOpenError when the file cannot be
   * opened, IntegrityError when it is larger than `maxBytes` of plaintext or fails authentication.
   */
  read(file: string, maxBytes: number, key: KeyObject, aad: Buffer, what: string): Buffer {
    let fd: number;
    try {
      fd = openSync(file, BLOB_OPEN_FLAGS);
    } catch (error) {
      throw new BlobOpenError(error);
    }
    let blob: Buffer;
    try {
      // One read of at most the expected size plus one byte (no stat): a larger blob is refused, never buffered.
      const capacity = maxBytes + HEADER_BYTES + TAG_BYTES + 1;
      blob = this.#buffer(capacity);
      let filled = 0;
      try {
        for (;;) {
          const bytesRead = readBlob(fd, blob, filled, capacity - filled, filled);
          if (bytesRead === 0) break;
          filled += bytesRead;
          if (filled === capacity) {
            throw new IntegrityError('ITEM_FORMAT', `${what} is larger than the ${maxBytes} bytes expected`);
          }
        }
      } catch (error) {
        // A positioned read of a FIFO fails with ESPIPE: say what the file is instead.
        if (error instanceof BlobOpenError && error.code === 'ESPIPE') checkRegularBlob(fstatSync(fd));
        throw error;
      }
      // No fstat on the way (a system call and a Stats object per item): only a blob whose read failed or came up
      // too short to be an item is looked at.
      if (filled < HEADER_BYTES + TAG_BYTES) checkRegularBlob(fstatSync(fd));
      blob = blob.subarray(0, filled);
    } finally {
      closeSync(fd);
    }
    // The plaintext is a new buffer: the blob's bytes (in the reused buffer) do not outlive this call.
    return decryptItemBuffer(key, blob, aad, what);
  }

  #buffer(bytes: number): Buffer {
    if (this.#scratch && this.#scratch.length >= bytes) return this.#scratch;
    const fresh = Buffer.allocUnsafeSlow(Math.max(bytes, 64 * 1024));
    if (bytes <= SCRATCH_KEEP_BYTES) this.#scratch = fresh;
    return fresh;
  }
}
