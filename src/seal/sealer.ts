// The sealing boundary: the pipeline hands payload and tag files to a BagSealer, which writes one signed
// BagIt-in-ZIP archive (DESIGN.md "The sealed archive") atomically, or nothing at all.
import type { Readable } from 'node:stream';

export interface SealerOptions {
  /** Folder of the archive: `<outDir>/<orderId>.zip`, with a single top folder `<orderId>/` inside. */
  outDir: string;
  orderId: string;
  /** Overwrite an existing final archive; without it, an existing one is an InputError('OUTPUT_EXISTS'). */
  force?: boolean;
  /** bag-info.txt Source-Organization. */
  organization: string;
  /**
   * bag-info.txt Scopex-Account, one line each: every account the order's targets resolved to, whether or not it has
   * data in the bag, so that verify can tell an account left out whole from one that had nothing in the order's range.
   */
  accounts?: readonly string[];
  /** PEM files: the archive signer's certificate and its private key (loaded into a KeyObject, never a string). */
  signerCertificateFile: string;
  signerKeyFile: string;
  /** Bagging-Date, entry times and the CMS signing time; defaults to the time the sealer is created. */
  now?: Date;
  /** Aborting it aborts the sealer: the partial output is deleted and pending calls reject. */
  signal?: AbortSignal;
  /** Hash the archive and streamed files on a thread of its own (default true); false: on the calling thread. */
  hashThread?: boolean;
  /**
   * Write the archive with direct I/O, past the page cache, where the file system allows it (default true); false:
   * through the page cache, as it is written anyway where direct I/O is refused.
   */
  directIo?: boolean;
}

/**
 * Bytes whose SHA-256 (lower-case hex) was already taken where they were made (the key service hashes a small item
 * on the thread that decrypts it): the sealer writes `bytes` and records `sha256` without hashing them again.
 */
export interface HashedBytes {
  bytes: Buffer;
  sha256: string;
  /** The CRC-32 of `bytes` (unsigned), when it was taken with the hash: the ZIP writer then does not take it again. */
  crc32?: number;
}

/**
 * A stream whose SHA-256 and size were taken where it was made (the key service's reader thread takes them of the
 * very chunks it sends): the sealer appends it without hashing it again. `digest` settles once the stream has ended
 * cleanly, and rejects if it fails.
 */
export interface HashedStream {
  stream: Readable;
  digest: Promise<{ sha256: string; bytes: number }>;
}

export interface PayloadResult {
  /** Path relative to the bag root, e.g. `data/acct-1/mail.content/m1.eml`. */
  path: string;
  sha256: string;
  bytes: number;
}

export interface SealResult {
  /** Absolute path of the final archive. */
  archive: string;
  /** SHA-256 (hex) and size of the archive file. */
  sha256: string;
  bytes: number;
  payloadFiles: number;
  payloadBytes: number;
}

export interface BagSealer {
  /**
   * Adds `data/<relPath>` (a path made by safe-names.ts: `/`-separated, safe segments). Hashes (SHA-256) while
   * writing. A stream resolves once archiver has consumed it; a Buffer once it is queued, and at most 16 entries /
   * 8 MiB are ever queued, so awaiting each call keeps memory bounded. Calls are taken in order, one at a time.
   * Rejects with SealError 'UNSAFE_PATH' / 'DUPLICATE_PATH' (names compared case-insensitively after NFC; a file
   * may not sit where a folder is), with the source's own error if a body stream fails (the sealer then aborts),
   * and with the first error once the sealer has failed. A body stream belongs to the sealer from then on: it is
   * destroyed if the call fails. `streamBytes` is the size a stream body will have, when it is known before it is
   * read (an item's declared size): an entry over 4 GiB then carries its ZIP64 fields in its local header as well.
   * `streamCrc32`, with it, is the CRC-32 of those bytes, read once before (an item's plaintext, or its stored blob):
   * the entry is then written as a whole one is, its CRC-32 and sizes before its data and no data descriptor after
   * it, so that no reader has to find where it ends by looking in its bytes; if the bytes then written differ, the
   * call rejects with IntegrityError 'ITEM_FORMAT' and the archive is not sealed.
   */
  addPayload(relPath: string, body: Buffer | Readable | HashedBytes | HashedStream, streamBytes?: number, streamCrc32?: number): Promise<PayloadResult>;
  /** Adds a tag file at the bag root (order.json, production.json); hashed into tagmanifest-sha256.txt. */
  addTagFile(name: string, body: Buffer | Readable): Promise<PayloadResult>;
  /**
   * Writes bagit.txt, bag-info.txt, manifest-sha256.txt, tagmanifest-sha256.txt and signature.p7s, finalises the
   * zip, fsyncs it and its folder, and renames `<orderId>.zip.partial` to `<orderId>.zip`. `beforePublish` runs once
   * the archive is whole and on the disk, just before that rename (the export records it in the custody log there):
   * if it throws, nothing is published and the partial output goes. From then on the seal is not interrupted: an
   * abort signal that comes during `beforePublish` or the rename is left to the caller.
   */
  seal(beforePublish?: (sealed: SealResult) => Promise<void>): Promise<SealResult>;
  /** Deletes the partial output. Never hides the first error; safe to call twice or after seal failed. */
  abort(reason?: unknown): Promise<void>;
  /**
   * The first error, once the sealer has failed: the cause of what a caller saw next (a body stream it destroyed
   * reports only "premature close").
   */
  failure(): unknown;
}

export { createBagSealer } from './bag-sealer.js';
