import path from 'node:path';

// One error base class with string codes; one subclass per domain. Only src/cli/main.ts maps them to exit codes.

export class ScopexError<Code extends string = string> extends Error {
  readonly code: Code;

  constructor(code: Code, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** Bad flags, unreadable files, malformed JSON, schema violations, bad config: exit 2. */
export type InputErrorCode =
  | 'USAGE'
  | 'FILE_UNREADABLE'
  | 'JSON_MALFORMED'
  | 'SCHEMA_VIOLATION'
  | 'CONFIG_INVALID'
  | 'OUTPUT_EXISTS'
  /** `order approve` of an order whose approval still matches it: an approval is never replaced silently. */
  | 'ALREADY_APPROVED'
  /** A folder cannot take what scopex writes there (the archive, a sample world, the custody log, an approved order):
   * no permission, no space, read-only (outputWriteError below). */
  | 'OUTPUT_UNWRITABLE'
  /** Another export of the same order into the same folder is running (seal/order-lock.ts). */
  | 'OUTPUT_BUSY';
export class InputError extends ScopexError<InputErrorCode> {}

/** The order is refused on legal or approval grounds: exit 3. */
export type OrderErrorCode =
  | 'ORDER_REFUSED'
  | 'UNAPPROVED'
  | 'APPROVAL_INVALID'
  | 'APPROVAL_UNTRUSTED'
  | 'EXPIRED'
  | 'NOT_YET_VALID'
  | 'CATEGORY_NOT_PERMITTED'
  | 'BLANKET_TARGET'
  | 'TARGET_UNRESOLVED'
  /** A target names another account than when this very order file was first checked (order/earlier-resolution.ts). */
  | 'TARGETS_MOVED'
  | 'ENTERPRISE_REDIRECT';
export class OrderError extends ScopexError<OrderErrorCode> {
  /** Every reason the order was refused, not only the first. */
  readonly reasons: readonly { code: OrderErrorCode; message: string }[];

  constructor(reasons: readonly { code: OrderErrorCode; message: string }[], options?: { cause?: unknown }) {
    const first = reasons[0] ?? { code: 'ORDER_REFUSED' as const, message: 'order refused' };
    const message =
      reasons.length <= 1 ? first.message : `${first.message} (and ${reasons.length - 1} more reason${reasons.length > 2 ? 's' : ''})`;
    super(first.code, message, options);
    this.reasons = reasons;
  }
}

/** A source produced an item outside the order: exit 5. */
export type ScopeErrorCode = 'OUT_OF_SCOPE';
export class ScopeError extends ScopexError<ScopeErrorCode> {}

/** An archive or a stored item failed an integrity or authenticity check: exit 4. */
export type IntegrityErrorCode =
  | 'VERIFY_FAILED'
  | 'ITEM_AUTH_FAILED'
  | 'ITEM_TRUNCATED'
  | 'ITEM_FORMAT'
  /** The account directory and the key store disagree on whose keys an account's data is under. */
  | 'STORE_INCONSISTENT'
  /** An item's index line says one thing (its conversation, its parties, its time) and the item itself another. */
  | 'INDEX_DISAGREES'
  | 'AUDIT_LOG_BROKEN';
export class IntegrityError extends ScopexError<IntegrityErrorCode> {}

/** The key service could not provide a key or open an item. Never carries key material. */
export type KeyErrorCode =
  | 'MASTER_KEY_UNAVAILABLE'
  | 'DATA_KEY_UNAVAILABLE'
  | 'UNWRAP_FAILED'
  | 'CUSTOMER_HELD_KEY'
  /** The signer's or a reviewer's private key, or the data-keys file, is open to other users (keys/key-file-mode.ts). */
  | 'KEY_FILE_NOT_PRIVATE';
export class KeyError extends ScopexError<KeyErrorCode> {}

/** Key failures that are about a key file named on the command line or in the config, not about the key service. */
const KEY_FILE_CODES: ReadonlySet<KeyErrorCode> = new Set(['MASTER_KEY_UNAVAILABLE', 'KEY_FILE_NOT_PRIVATE']);

/** A store could not be read. */
export type SourceErrorCode = 'UNKNOWN_ACCOUNT' | 'INDEX_CORRUPT' | 'ITEM_MISSING' | 'STORE_UNREADABLE';
export class SourceError extends ScopexError<SourceErrorCode> {}

/** A batch finished with at least one failed order: exit 6. */
export type BatchErrorCode = 'BATCH_FAILED';
export class BatchError extends ScopexError<BatchErrorCode> {}

/** The operation was interrupted (Ctrl-C) and cleaned up. */
export type AbortedErrorCode = 'ABORTED';
export class AbortedError extends ScopexError<AbortedErrorCode> {}

export const EXIT = {
  ok: 0,
  internal: 1,
  input: 2,
  refused: 3,
  verification: 4,
  scope: 5,
  batch: 6,
  interrupted: 130,
} as const;

/** File-system failures that mean the user named a path that cannot be used: treated as bad input (exit 2). */
const PATH_ERRNOS = new Set(['ENOENT', 'EACCES', 'EPERM', 'ENOTDIR', 'EISDIR', 'EROFS', 'EEXIST', 'ENAMETOOLONG', 'ELOOP']);

/** A Node system error about a path (fs), which escaped without a scopex error around it. */
export function pathErrorOf(error: unknown): { code: string; path: string; syscall: string } | undefined {
  const candidate = error as NodeJS.ErrnoException | undefined;
  if (!(candidate instanceof Error) || typeof candidate.code !== 'string' || typeof candidate.path !== 'string') return undefined;
  return { code: candidate.code, path: candidate.path, syscall: candidate.syscall ?? 'access' };
}

/**
 * A path the user named that exists but is not a regular file (a folder, a FIFO, a device, a socket), found before it
 * was read (util/read-input-file.ts). Like a Node system error it is wrapped by the caller, which names the file.
 */
export class NotRegularFileError extends Error {
  readonly path: string;
  readonly folder: boolean;

  constructor(file: string, folder: boolean) {
    super(`${file} is not a regular file`);
    this.name = new.target.name;
    this.path = file;
    this.folder = folder;
  }
}

/** The one mapping from an error to a process exit code (DESIGN.md, "Exit codes"). */
export function exitCodeFor(error: unknown): number {
  // Too few file descriptors is the environment's fault, as a key service or store failure is (below): not the input's.
  if (openFilesExhausted(error)) return EXIT.internal;
  if (error instanceof InputError) return EXIT.input;
  const pathError = pathErrorOf(error);
  if (pathError && PATH_ERRNOS.has(pathError.code)) return EXIT.input;
  if (error instanceof OrderError) return EXIT.refused;
  if (error instanceof IntegrityError) return EXIT.verification;
  if (error instanceof ScopeError) return EXIT.scope;
  if (error instanceof BatchError) return EXIT.batch;
  if (error instanceof AbortedError) return EXIT.interrupted;
  // A key file the user or the config names that cannot be used as it is (missing, unreadable, malformed, or open to
  // other users) is input, as any other named file is: DESIGN.md's 2 ("unreadable file"), where 1 would say "a bug".
  if (error instanceof KeyError && KEY_FILE_CODES.has(error.code)) return EXIT.input;
  // Other key and source failures are environment faults, not bugs, but the contract has no closer code than 1.
  return EXIT.internal;
}

/** A file-system failure in words, without Node's own message (which repeats the path and the syscall). */
export function describeFsError(error: unknown): string {
  if (error instanceof NotRegularFileError) return error.folder ? 'it is a folder' : 'it is not a regular file';
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case 'ENOENT':
      return 'no such file';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EISDIR':
      return 'it is a folder';
    case 'ENOTDIR':
      return 'a parent is not a folder';
    case 'EEXIST':
      return 'a file of that name is in the way';
    case 'ENOSPC':
      return 'no space left on the device';
    case 'EDQUOT':
      return 'the disk quota is used up';
    case 'EFBIG':
      return 'the file system cannot hold a file this large';
    case 'EROFS':
      return 'the file system is read-only';
    case 'ENAMETOOLONG':
      return 'the name is too long';
    case 'ELOOP':
      return 'it is a symbolic link (or a loop of them), where a file of its own was expected';
    case 'EFTYPE':
      return 'it is not a regular file';
    case 'EMFILE':
      return 'too many open files';
    case 'ENFILE':
      return 'too many open files on the system';
    default:
      return code ?? (error instanceof Error ? error.message : String(error));
  }
}

/** Failures that mean a folder cannot take what is written into it, as Node names them. */
const OUTPUT_ERRNOS = new Set(['ENOSPC', 'EDQUOT', 'EFBIG', 'EROFS', 'EACCES', 'EPERM']);

/**
 * A disk that filled up or a folder that refuses writes is the user's to fix (another --out), not a bug: one sentence
 * naming the folder, exit 2. Only errors without a path (a write) or with one inside `folder` qualify, so that an
 * input file that cannot be read keeps its own message.
 */
export function outputWriteError(error: unknown, folder: string, sentence: (folder: string, why: string) => string): InputError | undefined {
  // The sealer wraps a failed write of the archive (seal/seal-error.ts, WRITE_FAILED): its cause is the system's.
  const system = error instanceof ScopexError ? (error.code === 'WRITE_FAILED' ? error.cause : undefined) : error;
  if (system instanceof ScopexError) return undefined;
  const { code, path: file } = (system ?? {}) as NodeJS.ErrnoException;
  if (typeof code !== 'string' || !OUTPUT_ERRNOS.has(code)) return undefined;
  const absolute = path.resolve(folder);
  if (typeof file === 'string' && path.relative(absolute, path.resolve(file)).startsWith('..')) return undefined;
  return new InputError('OUTPUT_UNWRITABLE', sentence(absolute, describeFsError(system)), { cause: error });
}

/**
 * Whether the error comes from too many open files: this process's limit (EMFILE, `ulimit -n`) or the system's
 * (ENFILE), in the error or its causes; an error that crossed a thread or was put into words keeps only its text.
 * Verdicts (a refused order, a scope violation, a failed verification, a batch's or an interrupt's summary) are never
 * taken for one, whatever text they quote.
 */
export function openFilesExhausted(error: unknown): 'EMFILE' | 'ENFILE' | undefined {
  const verdicts = [OrderError, ScopeError, IntegrityError, BatchError, AbortedError];
  let current: unknown = error;
  for (let depth = 0; depth < 8 && current instanceof Error; depth += 1) {
    if (verdicts.some((kind) => current instanceof kind)) return undefined;
    const code = (current as NodeJS.ErrnoException).code;
    if (code === 'EMFILE' || code === 'ENFILE') return code;
    const named = /\b(EMFILE|ENFILE)\b/.exec(current.message)?.[1] ?? (/\btoo many open files\b/.test(current.message) ? 'EMFILE' : undefined);
    if (named === 'EMFILE' || named === 'ENFILE') return named;
    current = current.cause;
  }
  return undefined;
}

/**
 * The one sentence for an error that comes from too many open files (openFilesExhausted), what failed in brackets;
 * undefined for any other error.
 */
export function openFilesSentence(error: unknown): string | undefined {
  const exhausted = openFilesExhausted(error);
  if (!exhausted) return undefined;
  const failed = pathErrorOf(error);
  const detail =
    error instanceof ScopexError ? error.message : failed ? `${failed.syscall} ${failed.path}` : error instanceof Error ? error.message : String(error);
  return exhausted === 'EMFILE'
    ? `too many open files: raise the limit on open files (ulimit -n) and run again (${detail})`
    : `the system has too many open files: close some or raise its limit (fs.file-max) and run again (${detail})`;
}
