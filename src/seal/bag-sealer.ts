// Writes one BagIt bag into a ZIP with archiver, one entry at a time, then signs it and renames it into place.
import { createPrivateKey, hash, X509Certificate, type KeyObject } from 'node:crypto';
import { constants as fsConstants, createReadStream, ReadStream } from 'node:fs';
import { link, lstat, mkdtemp, open, rename, rm, unlink, type FileHandle } from 'node:fs/promises';
import { makeOutputFolder, removeEmptyFolders } from './output-folder.js';
import path from 'node:path';
import { Transform, pipeline, type Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import * as archiverModule from 'archiver';
import { AbortedError, describeFsError, InputError, IntegrityError, KeyError, ScopexError } from '../errors.js';
import { refuseKeyFileOpenToOthers } from '../keys/key-file-mode.js';
import { ACCOUNT_ID_PATTERN } from '../sources/file-directory.js';
import { crcOfStream } from '../util/crc-of-stream.js';
import { readInputFile } from '../util/read-input-file.js';
import { createHashThread, type HashChannel, type HashThread } from './hash-thread.js';
import { BatchingFileSink, BATCH_BYTES } from './batching-file-sink.js';
import { alignedSharedMemory, DIRECT_SLOT_BYTES, DIRECT_SLOTS, DirectFileSink } from './direct-file-sink.js';
import {
  BAGIT_FILE,
  BAGIT_TXT,
  BAG_INFO_FILE,
  MANIFEST_FILE,
  SIGNATURE_FILE,
  TAG_MANIFEST_FILE,
  bagInfoText,
  isReservedTagName,
  manifestLine,
  isOneLineTagValue,
} from './bagit-text.js';
import { signDetached } from './cms-signature.js';
import { coalesceZipWrites } from './coalesced-zip-writes.js';
import { compactCentralDirectory } from './compact-central-directory.js';
import { LineSpool } from './line-spool.js';
import { rememberCrc32, useNativeCrc32 } from './native-crc.js';
import { removeDeadRunFiles, sealTempPrefix } from './dead-run-files.js';
import { acquireOrderLock, orderLockFile, type OrderLock } from './order-lock.js';
import { keepPlainEntryNames } from './plain-entry-names.js';
import { collisionKey, isSafeArchivePath, safeSegment } from './safe-names.js';
import { SealError } from './seal-error.js';
import { confirmDeclaredEntry, declareLargeEntry, declareWholeEntry, writeZipHeadersWhole } from './zip-headers.js';
import { signerCertificateProblems } from '../verify/cms-signature.js';
import type { BagSealer, HashedBytes, HashedStream, PayloadResult, SealResult, SealerOptions } from './sealer.js';

/** The part of archiver 8's ZipArchive we use (its bundled typings describe archiver 7's factory). */
interface ZipArchive extends NodeJS.EventEmitter {
  append(source: Buffer | Readable, data: { name: string; date: Date; mode: number; store: boolean }): this;
  finalize(): Promise<void>;
  abort(): this;
  pointer(): number;
  pipe<T extends NodeJS.WritableStream>(destination: T): T;
  unpipe(destination: NodeJS.WritableStream): this;
}
type ZipArchiveConstructor = new (options: { store: boolean; highWaterMark: number }) => ZipArchive;

const TAG_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;
const SHA256_HEX = /^[0-9a-f]{64}$/;
const FILE_MODE = 0o644;
/** The archive file's own mode on disk (not its entries'): read and write by its owner only, whatever the umask. */
export const ARCHIVE_FILE_MODE = 0o600;
const FOLDER_MODE = 0o755;
/**
 * Buffer entries may wait in archiver's queue up to these bounds, so that a caller awaiting each addPayload does not
 * pay an event-loop round trip per small item. A stream entry is always awaited until archiver has consumed it.
 */
const MAX_QUEUED_ENTRIES = 16;
const MAX_QUEUED_BYTES = 8 * 1024 * 1024;

interface QueuedEntry {
  name: string;
  bytes: number;
  done: Promise<void>;
  resolve(): void;
  reject(error: unknown): void;
}

function openedFailure(file: string, what: string, cause: unknown): InputError {
  // In words ("no such file"), as every other unreadable file is named; it was the bare errno, "(ENOENT)".
  return new InputError('FILE_UNREADABLE', `cannot read ${what} ${file}: ${describeFsError(cause)}.`);
}

type SignerFiles = Pick<SealerOptions, 'signerCertificateFile' | 'signerKeyFile' | 'now'>;

/**
 * Loads the signer as sealing does and lets the key go: a batch checks it once, before any order runs, so that a fault
 * of the config's signer files stops the run with one sentence (exit 2) rather than fail each order in turn.
 */
export async function checkSigner(options: SignerFiles): Promise<void> {
  await loadSigner(options);
}

/** Loads the signer's key into a KeyObject straight from the file's bytes and checks it matches the certificate. */
async function loadSigner(options: SignerFiles): Promise<{ certificatePem: string; key: KeyObject }> {
  let certificatePem: string;
  try {
    certificatePem = (await readInputFile(options.signerCertificateFile)).toString('utf8');
  } catch (error) {
    throw openedFailure(options.signerCertificateFile, 'the signer certificate', error);
  }
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(certificatePem);
  } catch {
    throw new InputError(
      'FILE_UNREADABLE',
      `signer certificate ${options.signerCertificateFile} is not a PEM X.509 certificate.`,
    );
  }
  let keyBytes: Buffer;
  try {
    // A signer key others may read could seal archives that verify accepts: refused as the master key is.
    keyBytes = await readInputFile(options.signerKeyFile, (stats) =>
      refuseKeyFileOpenToOthers(stats, 'the signer key file', options.signerKeyFile, 'KEY_FILE_NOT_PRIVATE'),
    );
  } catch (error) {
    if (error instanceof KeyError) throw error;
    throw openedFailure(options.signerKeyFile, 'the signer key', error);
  }
  let key: KeyObject;
  try {
    // Deliberately no `cause`: a parser's error has no business travelling with the key file's name.
    key = createPrivateKey({ key: keyBytes, format: 'pem' });
  } catch {
    throw new InputError('FILE_UNREADABLE', `signer key ${options.signerKeyFile} is not an unencrypted PEM private key.`);
  } finally {
    keyBytes.fill(0);
  }
  if (key.asymmetricKeyType !== 'rsa') {
    throw new InputError(
      'CONFIG_INVALID',
      `signer key ${options.signerKeyFile} is ${key.asymmetricKeyType ?? 'unknown'}, expected an RSA key.`,
    );
  }
  if (!certificate.checkPrivateKey(key)) {
    throw new InputError(
      'CONFIG_INVALID',
      `signer key ${options.signerKeyFile} does not belong to certificate ${options.signerCertificateFile}.`,
    );
  }
  // The checks verify makes of the signer certificate itself, made before any item is read: an archive signed with an
  // expired certificate, or one not certified to sign archives, would be sealed and delivered only to fail verify.
  const [problem] = signerCertificateProblems(certificate.raw, options.now ?? new Date());
  if (problem) {
    throw new InputError(
      'CONFIG_INVALID',
      `signer certificate ${options.signerCertificateFile} cannot sign archives: ${problem}; an archive signed with it would fail verify.`,
    );
  }
  return { certificatePem, key };
}

/**
 * Whether the name is taken, by anything: lstat, so that a symbolic link to nothing counts (stat took it for no file;
 * the whole export ran, and only its final link() found the name taken, or a rename replaced the link).
 */
async function exists(file: string): Promise<boolean> {
  try {
    await lstat(file);
    return true;
  } catch (error) {
    if ((error as { code?: unknown }).code === 'ENOENT') return false;
    throw error;
  }
}

function outputExists(archive: string): InputError {
  return new InputError('OUTPUT_EXISTS', `archive ${archive} already exists; use --force to replace it.`);
}

/** A folder where the archive goes: --force replaces an archive, never a folder (rename would fail at the very end). */
async function refuseFolderInTheWay(archive: string): Promise<void> {
  const stats = await lstat(archive).catch(() => undefined);
  if (stats?.isDirectory()) throw archiveIsFolder(archive);
}

function archiveIsFolder(archive: string): InputError {
  return new InputError('OUTPUT_UNWRITABLE', `cannot write archive ${archive}: it is a folder, which --force does not replace; move it away.`);
}

/** The sealer's error for a failed write of `what`, naming the system's code once (Node's messages often start with it). */
export function writeFailure(what: string, cause: unknown): SealError {
  const code = (cause as { code?: unknown } | null)?.code;
  const detail = cause instanceof Error ? cause.message : String(cause);
  const prefix = typeof code === 'string' && !detail.startsWith(`${code}:`) ? `${code}: ` : '';
  return new SealError('WRITE_FAILED', `writing ${what} failed: ${prefix}${detail}`, { cause });
}

function isHashedStream(body: Buffer | Readable | HashedBytes | HashedStream): body is HashedStream {
  return !Buffer.isBuffer(body) && (body as Partial<HashedStream>).digest instanceof Promise && (body as Partial<HashedStream>).stream !== undefined;
}

function isHashedBytes(body: Buffer | Readable | HashedBytes | HashedStream): body is HashedBytes {
  return !Buffer.isBuffer(body) && Buffer.isBuffer((body as Partial<HashedBytes>).bytes) && typeof (body as Partial<HashedBytes>).sha256 === 'string';
}

/**
 * The file behind `body` when it is a read stream of a whole file not yet read (a spooled metadata.jsonl, the
 * manifest, production.json): such a file can be read once more for its CRC-32 and size, so that its entry is whole.
 */
function unreadWholeFile(body: Readable): string | undefined {
  if (!(body instanceof ReadStream) || typeof body.path !== 'string') return undefined;
  const { start, end } = body as ReadStream & { start?: number; end?: number };
  const wholeFile = (start === undefined || start === 0) && (end === undefined || end === Infinity);
  return wholeFile && body.bytesRead === 0 && !body.readableDidRead && body.readableEncoding === null ? body.path : undefined;
}

/** The sealer owns a body stream once handed over: a refused or failed one is destroyed, not left open. */
async function releaseOnFailure<T>(body: Buffer | Readable, work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (error) {
    if (!Buffer.isBuffer(body)) body.destroy();
    throw error;
  }
}

/**
 * A pass-through that counts what flows through it and has `hasher` (on another thread) hash it. A chunk goes on
 * once the hasher has its copy, so a hasher that falls behind slows the stream instead of growing memory.
 */
function hashingStream(hasher: HashChannel): { stream: Transform; result(): Promise<{ sha256: string; bytes: number }> } {
  let bytes = 0;
  const stream = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      bytes += chunk.length;
      hasher.update([chunk]).then(() => callback(null, chunk), callback);
    },
  });
  return { stream, result: async () => ({ sha256: await hasher.digestHex(), bytes }) };
}

async function fsyncFolder(folder: string): Promise<void> {
  const handle = await open(folder, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

class ZipBagSealer implements BagSealer {
  readonly #orderId: string;
  readonly #organization: string;
  readonly #accounts: readonly string[];
  readonly #force: boolean;
  readonly #now: Date;
  readonly #archivePath: string;
  readonly #partialPath: string;
  readonly #tempDir: string;
  readonly #signer: { certificatePem: string; key: KeyObject };
  readonly #handle: FileHandle;
  /** The same file opened for direct I/O, when the file system takes it (see DirectFileSink). */
  readonly #directHandle: FileHandle | undefined;
  /** Hashes the archive and streamed payload files on the other core. */
  readonly #hashThread: HashThread;
  /** Hashes streamed payload files, one after another; started with the first one (Buffers are hashed here). */
  #streamHasher: HashChannel | undefined;
  readonly #sink: BatchingFileSink | DirectFileSink;
  readonly #archive: ZipArchive;
  readonly #manifest: LineSpool;
  readonly #signal: AbortSignal | undefined;
  /** The order's lock when the sealer took it itself (released once its output is published or removed). */
  readonly #ownLock: OrderLock | undefined;
  readonly #onAbortSignal = (): void => void this.abort(this.#signal?.reason);

  #state: 'open' | 'sealing' | 'sealed' | 'failed' = 'open';
  #firstError: unknown;
  #cleanup: Promise<void> | undefined;
  /** Calls are taken one after another, in the order they were made. */
  #appendChain: Promise<unknown> = Promise.resolve();
  /** Entries handed to archiver and not yet consumed, oldest first ('entry' events come in this order). */
  readonly #queued: QueuedEntry[] = [];
  #queuedBytes = 0;
  /** Folders already checked by isSafeArchivePath: only the file name is checked for later entries. */
  readonly #safeFolders = new Set<string>();
  #currentBody: Readable | undefined;
  /** Folder (collision key, '' for the bag root) -> collision keys of the file names in it. */
  readonly #folders = new Map<string, Set<string>>([['', new Set<string>()]]);
  readonly #tagLines: { path: string; line: string }[] = [];
  #payloadFiles = 0;
  #payloadBytes = 0;

  constructor(init: {
    options: SealerOptions;
    archivePath: string;
    partialPath: string;
    tempDir: string;
    signer: { certificatePem: string; key: KeyObject };
    handle: FileHandle;
    directHandle: FileHandle | undefined;
    manifest: LineSpool;
    ownLock: OrderLock | undefined;
  }) {
    this.#orderId = init.options.orderId;
    this.#organization = init.options.organization;
    this.#accounts = [...(init.options.accounts ?? [])];
    this.#force = init.options.force ?? false;
    this.#now = init.options.now ?? new Date();
    this.#archivePath = init.archivePath;
    this.#partialPath = init.partialPath;
    this.#tempDir = init.tempDir;
    this.#signer = init.signer;
    this.#handle = init.handle;
    this.#directHandle = init.directHandle;
    this.#manifest = init.manifest;
    this.#signal = init.options.signal;
    this.#ownLock = init.ownLock;

    const { ZipArchive: ZipArchiveClass } = archiverModule as unknown as { ZipArchive: ZipArchiveConstructor };
    this.#hashThread = createHashThread(init.options.hashThread ?? true);
    const memory = init.directHandle ? alignedSharedMemory(DIRECT_SLOT_BYTES * DIRECT_SLOTS) : undefined;
    this.#sink =
      init.directHandle && memory
        ? new DirectFileSink({ direct: init.directHandle, buffered: this.#handle }, memory, this.#hashThread)
        : // The archive is read back from the file by the thread: its channel needs no ring.
          new BatchingFileSink(this.#handle, this.#hashThread.channel(0));
    this.#archive = new ZipArchiveClass({ store: true, highWaterMark: BATCH_BYTES });
    coalesceZipWrites(this.#archive);
    // Before compactCentralDirectory, which renders each record with the engine's writer as installed then.
    writeZipHeadersWhole(this.#archive);
    compactCentralDirectory(this.#archive);
    keepPlainEntryNames(this.#archive);
    this.#archive.on('entry', (data: { name?: unknown }) => this.#onEntry(data));
    this.#archive.on('warning', (error: unknown) => this.#fail(writeFailure(this.#whereWriting(), error)));
    this.#archive.on('error', (error: unknown) => this.#fail(writeFailure(this.#whereWriting(), error)));
    this.#sink.on('error', (error: unknown) => this.#fail(writeFailure(this.#whereWriting(), error)));
    this.#archive.pipe(this.#sink);
    this.#signal?.addEventListener('abort', this.#onAbortSignal, { once: true });
  }

  addPayload(relPath: string, body: Buffer | Readable | HashedBytes | HashedStream, streamBytes?: number, streamCrc32?: number): Promise<PayloadResult> {
    if (isHashedStream(body)) {
      // Awaited only once the stream is consumed: a failure before that must not leave its rejection unhandled.
      body.digest.catch(() => undefined);
      return releaseOnFailure(body.stream, this.#addPayload(relPath, body, undefined, streamBytes, streamCrc32));
    }
    if (isHashedBytes(body)) {
      if (!SHA256_HEX.test(body.sha256)) {
        return Promise.reject(new SealError('BAD_DIGEST', `the SHA-256 given for payload path ${JSON.stringify(relPath)} is not 64 lower-case hex digits.`));
      }
      if (body.crc32 !== undefined) rememberCrc32(body.bytes, body.crc32);
      return this.#addPayload(relPath, body.bytes, body.sha256);
    }
    return releaseOnFailure(body, this.#addPayload(relPath, body, undefined, streamBytes, streamCrc32));
  }

  addTagFile(name: string, body: Buffer | Readable): Promise<PayloadResult> {
    return releaseOnFailure(body, this.#addTagFile(name, body));
  }

  #addPayload(relPath: string, body: Buffer | Readable | HashedStream, sha256?: string, streamBytes?: number, streamCrc32?: number): Promise<PayloadResult> {
    try {
      this.#checkOpen();
      if (!this.#isSafePayloadPath(relPath)) {
        throw new SealError('UNSAFE_PATH', `payload path ${JSON.stringify(relPath)} is not a safe relative path.`);
      }
      this.#reservePath(`data/${relPath}`);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#enqueue(async () => {
      const bagPath = `data/${relPath}`;
      const name = `${this.#orderId}/${bagPath}`;
      const whole = streamBytes !== undefined && streamCrc32 !== undefined && !Buffer.isBuffer(body) && declareWholeEntry(this.#archive, name, streamCrc32, streamBytes);
      if (!whole && streamBytes !== undefined && !Buffer.isBuffer(body)) declareLargeEntry(this.#archive, name, streamBytes);
      const result = await this.#appendHashed(bagPath, body, sha256, whole);
      if (whole) this.#confirmWhole(name, `payload file ${bagPath} changed while it was exported`);
      await this.#manifest.append(manifestLine(result.sha256, bagPath));
      this.#payloadFiles += 1;
      this.#payloadBytes += result.bytes;
      return result;
    });
  }

  #addTagFile(name: string, body: Buffer | Readable): Promise<PayloadResult> {
    try {
      this.#checkOpen();
      if (!TAG_NAME.test(name) || isReservedTagName(name)) {
        throw new SealError('UNSAFE_PATH', `tag file name ${JSON.stringify(name)} is not allowed at the bag root.`);
      }
      this.#reservePath(name);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#enqueue(async () => {
      const result = await this.#appendHashed(name, body);
      this.#tagLines.push({ path: name, line: manifestLine(result.sha256, name) });
      return result;
    });
  }

  async seal(beforePublish?: (sealed: SealResult) => Promise<void>): Promise<SealResult> {
    this.#checkOpen();
    this.#state = 'sealing';
    try {
      await this.#appendChain;
      this.#throwIfFailed();
      await this.#writeTagFiles();
      await this.#drain();
      // Both at once: a sink that fails while finalize() runs (a full disk at the central directory) rejects sinkDone
      // then, and a rejection with no handler yet ended the process (a stack trace, exit 1, nothing cleaned up); and
      // finalize() need not settle once its destination is gone.
      await Promise.all([this.#archive.finalize(), finished(this.#sink)]);
      this.#throwIfFailed();
      if (this.#sink.bytes !== this.#archive.pointer()) {
        throw writeFailure(
          `archive ${this.#partialPath}`,
          `${this.#archive.pointer()} bytes produced but ${this.#sink.bytes} written`,
        );
      }
      const sha256 = await this.#sink.digestHex().catch((error: unknown) => {
        throw writeFailure(`archive ${this.#partialPath}`, error);
      });
      await this.#hashThread.close();
      await this.#directHandle?.close();
      await this.#handle.sync();
      await this.#handle.close();
      const result: SealResult = {
        archive: this.#archivePath,
        sha256,
        bytes: this.#sink.bytes,
        payloadFiles: this.#payloadFiles,
        payloadBytes: this.#payloadBytes,
      };
      // Not interrupted from here: an interrupt between the custody record and the rename, or between the rename's
      // link and unlink, would say "nothing was delivered" of an archive that is recorded, or in place.
      this.#signal?.removeEventListener('abort', this.#onAbortSignal);
      this.#throwIfFailed();
      if (beforePublish) await beforePublish(result);
      await this.#publish();
      this.#state = 'sealed';
      // Delivered: a temp folder that will not go is the next run's to remove, not a failure of this one.
      await rm(this.#tempDir, { recursive: true, force: true }).catch(() => undefined);
      await this.#ownLock?.release();
      return result;
    } catch (error) {
      this.#fail(error);
      await this.#cleanup;
      throw this.#firstError;
    }
  }

  async abort(reason?: unknown): Promise<void> {
    if (this.#state === 'sealed') return;
    this.#fail(reason ?? new AbortedError('ABORTED', `the archive for order ${this.#orderId} was abandoned.`));
    await this.#cleanup;
  }

  failure(): unknown {
    return this.#state === 'failed' ? this.#firstError : undefined;
  }

  #checkOpen(): void {
    if (this.#state === 'failed') throw this.#firstError;
    if (this.#state !== 'open') {
      throw new SealError('SEALER_CLOSED', `the archive for order ${this.#orderId} is already ${this.#state}.`);
    }
  }

  #throwIfFailed(): void {
    if (this.#state === 'failed') throw this.#firstError;
  }

  /**
   * A path must be new (compared case-insensitively after NFC, as extraction to such file systems would), must not
   * be an earlier file's folder, and none of its folders may be an earlier file. Kept per folder: the folder map
   * holds each folder once and each file as its short name only, so the check stays small for 200k files.
   */
  #reservePath(bagPath: string): void {
    const key = collisionKey(bagPath);
    const slash = key.lastIndexOf('/');
    const folder = slash < 0 ? '' : key.slice(0, slash);
    const name = key.slice(slash + 1);
    if (this.#folders.has(key)) {
      throw new SealError('DUPLICATE_PATH', `path ${JSON.stringify(bagPath)} is already a folder in the bag.`);
    }
    let files = this.#folders.get(folder);
    if (!files) {
      // A new folder: neither it nor any new parent may already be a file.
      const created: string[] = [];
      for (let at = folder.indexOf('/'); ; at = folder.indexOf('/', at + 1)) {
        const prefix = at < 0 ? folder : folder.slice(0, at);
        if (!this.#folders.has(prefix)) {
          const cut = prefix.lastIndexOf('/');
          const parentFiles = this.#folders.get(cut < 0 ? '' : prefix.slice(0, cut));
          if (parentFiles?.has(prefix.slice(cut + 1))) {
            throw new SealError('DUPLICATE_PATH', `folder ${JSON.stringify(prefix)} of ${JSON.stringify(bagPath)} is already a file in the bag.`);
          }
          created.push(prefix);
        }
        if (at < 0) break;
      }
      for (const prefix of created) this.#folders.set(prefix, new Set());
      files = this.#folders.get(folder) ?? new Set();
    }
    if (files.has(name)) {
      throw new SealError('DUPLICATE_PATH', `path ${JSON.stringify(bagPath)} is already in the bag (names compared case-insensitively).`);
    }
    files.add(name);
  }

  #enqueue<T>(task: () => Promise<T>): Promise<T> {
    const run = this.#appendChain.then(() => {
      this.#throwIfFailed();
      return task();
    });
    this.#appendChain = run.catch(() => undefined);
    return run;
  }

  /**
   * Appends one entry under `<orderId>/` with its hash and size. A Buffer is hashed at once and may stay queued
   * (within the bounds above); a stream is hashed as archiver reads it, and awaited until consumed.
   */
  async #appendHashed(bagPath: string, body: Buffer | Readable | HashedStream, knownSha256?: string, declaredWhole = false): Promise<PayloadResult> {
    const name = `${this.#orderId}/${bagPath}`;
    if (isHashedStream(body)) return this.#appendPrehashed(bagPath, name, body);
    if (Buffer.isBuffer(body)) {
      const sha256 = knownSha256 ?? hash('sha256', body, 'hex');
      const room = this.#waitForRoom(body.length);
      if (room) await room;
      this.#append(name, body, body.length);
      return { path: bagPath, sha256, bytes: body.length };
    }
    // Java's ZipInputStream (and `jar x <`) refuses a stored entry with a data descriptor and reads nothing after it:
    // a spooled file is read once more for its CRC-32 and size, so that its entry too is whole (bit 3 clear).
    const spooled = declaredWhole ? undefined : unreadWholeFile(body);
    const whole = spooled !== undefined && (await this.#declareWholeFile(name, spooled, body));
    const hasher = (this.#streamHasher ??= this.#hashThread.channel());
    const hashing = hashingStream(hasher);
    this.#currentBody = body;
    pipeline(body, hashing.stream, (error) => {
      // The source's own error (a failed decryption, a vanished file) is the first error: pass it on unchanged.
      if (error) this.#fail(error);
    });
    try {
      await this.#append(name, hashing.stream, 0);
    } catch (error) {
      // The stream hasher holds part of this body: it must not carry into another file's hash.
      this.#streamHasher = undefined;
      hasher.close();
      throw error;
    } finally {
      this.#currentBody = undefined;
    }
    if (whole) this.#confirmWhole(name, `${bagPath.startsWith('data/') ? 'payload' : 'tag'} file ${bagPath} changed while it was sealed`);
    return { path: bagPath, ...(await hashing.result()) };
  }

  /** Reads `file` for its CRC-32 and size and declares the entry `name` whole with them; false if the engine cannot. */
  async #declareWholeFile(name: string, file: string, body: Readable): Promise<boolean> {
    let measured: { crc32: number; bytes: number };
    try {
      measured = await crcOfStream(createReadStream(file), this.#signal);
      this.#throwIfFailed();
    } catch (error) {
      body.destroy();
      throw error;
    }
    return declareWholeEntry(this.#archive, name, measured.crc32, measured.bytes);
  }

  /** Fails the seal when the entry `name`, declared whole, was not written with the CRC-32 and size declared. */
  #confirmWhole(name: string, what: string): void {
    const mismatch = confirmDeclaredEntry(this.#archive, name);
    if (mismatch === undefined) return;
    const error = new IntegrityError('ITEM_FORMAT', `${what}: ${mismatch}; nothing was delivered`);
    this.#fail(error);
    throw error;
  }

  /** Appends a stream hashed where it was made, and takes its digest once archiver has consumed it. */
  async #appendPrehashed(bagPath: string, name: string, body: HashedStream): Promise<PayloadResult> {
    this.#currentBody = body.stream;
    // archiver does not see a source's error (it reads it through a pipe): the source's own error is the first error.
    body.stream.once('error', (error: unknown) => this.#fail(error));
    try {
      await this.#append(name, body.stream, 0);
    } finally {
      this.#currentBody = undefined;
    }
    const { sha256, bytes } = await body.digest;
    if (!SHA256_HEX.test(sha256) || !Number.isSafeInteger(bytes) || bytes < 0) {
      throw new SealError('BAD_DIGEST', `the digest given for payload path ${JSON.stringify(bagPath)} is not a SHA-256 and a size.`);
    }
    return { path: bagPath, sha256, bytes };
  }

  /** Waits until archiver's queue has room for `bytes` more; undefined (no promise to wait on) when it has room now. */
  #waitForRoom(bytes: number): Promise<void> | undefined {
    this.#throwIfFailed();
    return this.#hasRoom(bytes) ? undefined : this.#roomLater(bytes);
  }

  async #roomLater(bytes: number): Promise<void> {
    for (;;) {
      await this.#queued[0]?.done;
      this.#throwIfFailed();
      if (this.#hasRoom(bytes)) return;
    }
  }

  #hasRoom(bytes: number): boolean {
    return this.#queued.length === 0 || (this.#queued.length < MAX_QUEUED_ENTRIES && this.#queuedBytes + bytes <= MAX_QUEUED_BYTES);
  }

  /** Waits until archiver has consumed every entry handed to it. */
  async #drain(): Promise<void> {
    for (;;) {
      this.#throwIfFailed();
      const newest = this.#queued.at(-1);
      if (!newest) return;
      await newest.done;
    }
  }

  #append(name: string, source: Buffer | Readable, bytes: number, mode: number = FILE_MODE): Promise<void> {
    let settle: Pick<QueuedEntry, 'resolve' | 'reject'> | undefined;
    const done = new Promise<void>((resolve, reject) => {
      settle = { resolve, reject };
    });
    // Failures are reported through #fail to whoever calls next; a queued entry's own promise must not go unhandled.
    done.catch(() => undefined);
    if (!settle) throw new Error('unreachable: Promise executors run synchronously');
    this.#queued.push({ name, bytes, done, ...settle });
    this.#queuedBytes += bytes;
    this.#archive.append(source, { name, date: this.#now, mode, store: true });
    return done;
  }

  #onEntry(data: { name?: unknown }): void {
    const entry = this.#queued.shift();
    if (!entry) return;
    this.#queuedBytes -= entry.bytes;
    if (data.name !== entry.name) {
      const error = writeFailure(`entry ${entry.name}`, `archiver reported entry ${String(data.name)} instead`);
      this.#fail(error);
      entry.reject(this.#firstError);
      return;
    }
    entry.resolve();
  }

  /** Names what was being written when something failed: the oldest entry archiver has not finished, if any. */
  #whereWriting(): string {
    const entry = this.#queued[0];
    return entry ? `entry ${entry.name} of archive ${this.#partialPath}` : `archive ${this.#partialPath}`;
  }

  #isSafePayloadPath(relPath: string): boolean {
    const slash = relPath.lastIndexOf('/');
    if (slash >= 0) {
      const folder = relPath.slice(0, slash);
      if (!this.#safeFolders.has(folder)) {
        if (!isSafeArchivePath(folder)) return false;
        this.#safeFolders.add(folder);
      }
    }
    const name = relPath.slice(slash + 1);
    return name !== '' && safeSegment(name) === name;
  }

  async #writeTagFiles(): Promise<void> {
    await this.#enqueue(async () => {
      // A bag with no payload still needs its data/ folder (RFC 8493 §2.1.2; bagit.py refuses a bag without one),
      // and a ZIP only has the folders its entries name: an order that found nothing gets an explicit folder entry.
      if (this.#payloadFiles === 0) await this.#append(`${this.#orderId}/data/`, Buffer.alloc(0), 0, FOLDER_MODE);
      const bagit = await this.#appendHashed(BAGIT_FILE, Buffer.from(BAGIT_TXT, 'utf8'));
      const info = bagInfoText({
        sourceOrganization: this.#organization,
        baggingDate: this.#now,
        externalIdentifier: this.#orderId,
        payloadBytes: this.#payloadBytes,
        payloadFiles: this.#payloadFiles,
        accounts: this.#accounts,
      });
      const bagInfo = await this.#appendHashed(BAG_INFO_FILE, Buffer.from(info, 'utf8'));
      await this.#manifest.close();
      const manifest = await this.#appendHashed(MANIFEST_FILE, createReadStream(this.#manifest.file));
      const lines = [
        ...[bagit, bagInfo, manifest].map((result) => ({ path: result.path, line: manifestLine(result.sha256, result.path) })),
        ...this.#tagLines,
      ].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
      const tagManifest = Buffer.from(lines.map((entry) => entry.line).join(''), 'utf8');
      let signature: Buffer;
      try {
        signature = signDetached({
          content: tagManifest,
          certificatePem: this.#signer.certificatePem,
          key: this.#signer.key,
          signingTime: this.#now,
        });
      } catch (error) {
        // forge's and OpenSSL's messages name algorithms and structures, never key bytes.
        const detail = error instanceof Error ? error.message : String(error);
        throw new SealError('SIGNING_FAILED', `signing ${TAG_MANIFEST_FILE} of order ${this.#orderId} failed: ${detail}`);
      }
      await this.#appendHashed(TAG_MANIFEST_FILE, tagManifest);
      await this.#appendHashed(SIGNATURE_FILE, signature);
    });
  }

  /** Moves the flushed partial file to its final name without ever replacing an archive unless forced. */
  async #publish(): Promise<void> {
    const folder = path.dirname(this.#archivePath);
    if (this.#force) {
      await rename(this.#partialPath, this.#archivePath).catch((error: unknown) => {
        // A folder that appeared under the archive's name while the archive was written.
        throw (error as { code?: unknown }).code === 'EISDIR' ? archiveIsFolder(this.#archivePath) : error;
      });
    } else {
      try {
        // link() fails if the name is taken: an atomic "create, never replace".
        await link(this.#partialPath, this.#archivePath);
        await unlink(this.#partialPath);
      } catch (error) {
        const code = (error as { code?: unknown }).code;
        if (code === 'EEXIST') throw outputExists(this.#archivePath);
        if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'EXDEV') throw error;
        // No hard links on this file system: check, then rename.
        if (await exists(this.#archivePath)) throw outputExists(this.#archivePath);
        await rename(this.#partialPath, this.#archivePath);
      }
    }
    await fsyncFolder(folder);
  }

  /** Records the first error and starts the clean-up; later errors are consequences and are dropped. */
  #fail(error: unknown): void {
    if (this.#state === 'sealed') return;
    if (this.#state !== 'failed') {
      this.#state = 'failed';
      this.#firstError = toSealerError(error, this.#orderId);
      this.#signal?.removeEventListener('abort', this.#onAbortSignal);
      this.#cleanup = this.#removeOutput();
    }
    for (const entry of this.#queued.splice(0)) entry.reject(this.#firstError);
    this.#queuedBytes = 0;
  }

  async #removeOutput(): Promise<void> {
    this.#currentBody?.destroy();
    this.#archive.abort();
    this.#archive.unpipe(this.#sink);
    this.#sink.destroy();
    await this.#hashThread.close().catch(() => undefined);
    await this.#manifest.discard();
    await this.#directHandle?.close().catch(() => undefined);
    await this.#handle.close().catch(() => undefined);
    await rm(this.#partialPath, { force: true }).catch(() => undefined);
    await rm(this.#tempDir, { recursive: true, force: true }).catch(() => undefined);
    await this.#ownLock?.release();
  }
}

/** Errors from scopex keep their class (and exit code); an abort signal's DOMException becomes an AbortedError. */
function toSealerError(error: unknown, orderId: string): unknown {
  if (error instanceof ScopexError) return error;
  if (error instanceof Error && error.name === 'AbortError') {
    return new AbortedError('ABORTED', `the export of order ${orderId} was interrupted; no archive was written.`, {
      cause: error,
    });
  }
  if (error instanceof Error) return error;
  return new AbortedError('ABORTED', `the export of order ${orderId} was abandoned: ${String(error)}`);
}

/**
 * The file open as `handle`, opened again for writing with O_DIRECT (through /proc/self/fd, so that it is the same
 * file whatever happens to its name meanwhile); undefined where the platform, /proc or the file system does not allow
 * it: the archive then goes through the page cache.
 */
async function reopenDirect(handle: FileHandle): Promise<FileHandle | undefined> {
  const direct = fsConstants.O_DIRECT as number | undefined;
  if (typeof direct !== 'number' || process.platform !== 'linux') return undefined;
  try {
    return await open(`/proc/self/fd/${handle.fd}`, fsConstants.O_WRONLY | direct);
  } catch {
    return undefined;
  }
}

function checkOrderId(orderId: string): void {
  if (orderId === '' || safeSegment(orderId) !== orderId || orderId.includes('%')) {
    throw new InputError('USAGE', `order id ${JSON.stringify(orderId)} cannot name an archive file.`);
  }
}

/**
 * Makes the output folder and takes the order's lock in it (order-lock.ts), for a caller that keeps files of its own
 * there (the export's temp folder): it hands the lock to createBagSealer and releases it once its own files are gone.
 */
export async function lockOrderOutput(outDir: string, orderId: string): Promise<OrderLock> {
  checkOrderId(orderId);
  const folder = path.resolve(outDir);
  return inOutputFolder(folder, async (made) => removingEmptyFolders(await acquireOrderLock(folder, orderId), made));
}

/**
 * The lock, releasing which also removes the folders this run made for its output when they are left empty (a run
 * that failed before anything was sealed): rmdir removes only an empty folder, so an archive, or another export's
 * files, keep theirs.
 */
function removingEmptyFolders(lock: OrderLock, made: string[]): OrderLock {
  if (made.length === 0) return lock;
  return {
    file: lock.file,
    release: async () => {
      await lock.release();
      await removeEmptyFolders(made);
    },
  };
}

/** What `start` gives, once the output folders it needs exist; the folders this made go again if it throws. */
async function inOutputFolder<T>(outDir: string, start: (made: string[]) => Promise<T>): Promise<T> {
  const made = await makeOutputFolder(outDir);
  try {
    return await start(made);
  } catch (error) {
    await removeEmptyFolders(made);
    throw error;
  }
}

/**
 * Without `heldLock`, the sealer takes the order's lock itself and releases it once the archive is published or its
 * partial output removed; with one (lockOrderOutput's, for the same folder and order), the caller releases it.
 */
export async function createBagSealer(options: SealerOptions, heldLock?: OrderLock): Promise<BagSealer> {
  checkOrderId(options.orderId);
  if (!isOneLineTagValue(options.organization)) {
    throw new InputError('CONFIG_INVALID', 'the source organization must be one non-empty line, without control characters or blanks at either end.');
  }
  const badAccount = options.accounts?.find((account) => !ACCOUNT_ID_PATTERN.test(account));
  if (badAccount !== undefined) throw new TypeError(`bag-info.txt cannot list account ${JSON.stringify(badAccount)}: not an account id`);
  options.signal?.throwIfAborted();
  const outDir = path.resolve(options.outDir);
  const archivePath = path.join(outDir, `${options.orderId}.zip`);
  const partialPath = `${archivePath}.partial`;
  if (heldLock && heldLock.file !== orderLockFile(outDir, options.orderId)) {
    throw new TypeError(`lock ${heldLock.file} is not the lock of order ${options.orderId} in ${outDir}`);
  }
  const { signer, ownLock } = await inOutputFolder(outDir, async (made) => {
    await refuseFolderInTheWay(archivePath);
    // Under a lock held already, what dead runs of the order left goes first, whether or not this run goes on: one
    // killed after publishing its archive left a second name of it (.partial) and temp folders of decrypted metadata,
    // and every later run of the order, refused for the archive, used to leave them there.
    if (heldLock) await removeDeadRunFiles(outDir, options.orderId);
    if (!options.force && (await exists(archivePath))) throw outputExists(archivePath);
    const loaded = await loadSigner(options);
    useNativeCrc32();
    const lock = heldLock ? undefined : removingEmptyFolders(await acquireOrderLock(outDir, options.orderId), made);
    return { signer: loaded, ownLock: lock };
  });
  let tempDir: string | undefined;
  let handle: FileHandle | undefined;
  let directHandle: FileHandle | undefined;
  try {
    // Under the lock, a .partial and temp folders of this order are what a dead run left: they never count as output,
    // so they go.
    if (!heldLock) await removeDeadRunFiles(outDir, options.orderId);
    tempDir = await mkdtemp(path.join(outDir, sealTempPrefix(options.orderId)));
    try {
      // Read and write: where direct I/O is refused, the hash thread reads the archive back as it is written. The
      // owner's only (ARCHIVE_FILE_MODE): it holds the decrypted data of the order's accounts.
      handle = await open(partialPath, 'wx+', ARCHIVE_FILE_MODE);
      directHandle = options.directIo === false ? undefined : await reopenDirect(handle);
      const manifest = await LineSpool.create(path.join(tempDir, MANIFEST_FILE));
      return new ZipBagSealer({ options, archivePath, partialPath, tempDir, signer, handle, directHandle, manifest, ownLock });
    } catch (error) {
      throw writeFailure(`archive ${partialPath}`, error);
    }
  } catch (error) {
    await directHandle?.close().catch(() => undefined);
    await handle?.close().catch(() => undefined);
    if (handle) await rm(partialPath, { force: true }).catch(() => undefined);
    if (tempDir) await rm(tempDir, { recursive: true, force: true }).catch(() => undefined);
    await ownLock?.release();
    throw error;
  }
}
