// Errors of the sealer's own making. They are bugs or environment faults (exit 1), never a verdict on the data:
// a source's error (scope, integrity, key) is passed on unchanged instead.
import { ScopexError } from '../errors.js';

export type SealErrorCode =
  /** The caller handed over a path that is not a safe relative path, or one already in the bag. */
  | 'UNSAFE_PATH'
  | 'DUPLICATE_PATH'
  /** The caller handed over bytes with a SHA-256 that is not 64 lower-case hex digits. */
  | 'BAD_DIGEST'
  /** A call out of order: after seal() or abort(), or a second seal(). */
  | 'SEALER_CLOSED'
  /** archiver, the file system or the signature failed. */
  | 'WRITE_FAILED'
  | 'SIGNING_FAILED';

export class SealError extends ScopexError<SealErrorCode> {}
