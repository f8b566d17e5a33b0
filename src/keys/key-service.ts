// The only boundary that holds keys: it opens stored items, and never hands a key to anyone.
import type { Readable } from 'node:stream';
import type { MailHeaderFields } from '../pipeline/mail-headers.js';

/** Which store an item lives in; bound into every item's additional authenticated data. */
export type StoreService = 'mail' | 'storage' | 'im' | 'subscriber';

/** Where one encrypted item is, and which account and item it must authenticate as. */
export interface ItemRef {
  service: StoreService;
  accountId: string;
  itemId: string;
  /** Absolute path of the encrypted blob. */
  blobFile: string;
}

/** A small item's whole plaintext, with its SHA-256 (lower-case hex) taken where it was decrypted. */
export interface ItemPlaintext {
  bytes: Buffer;
  sha256: string;
  /** Its CRC-32 (unsigned), taken with the hash when the reader thread decrypted it (for the ZIP entry). */
  crc32?: number;
  /** The message's non-content header fields, read where it was decrypted; only when asked for (ReadOptions). */
  mailHeaders?: MailHeaderFields;
}

/** The SHA-256 (hex) and size of a streamed plaintext, taken where it was decrypted. */
export interface PlaintextDigest {
  sha256: string;
  bytes: number;
}

/** The CRC-32 (unsigned) and size of an item's whole plaintext (KeyService.plaintextCrc). */
export interface PlaintextCrc {
  crc32: number;
  bytes: number;
}

/**
 * A plaintext stream (openItem) that also gives its digest once it has ended cleanly: the key service's reader thread
 * takes it of the very bytes it sends, so that the caller need not hash them again. The promise rejects if the
 * stream fails or is destroyed first.
 */
export interface DigestingReadable extends Readable {
  readonly plaintextDigest: Promise<PlaintextDigest>;
}

export function isDigesting(stream: Readable): stream is DigestingReadable {
  return (stream as Partial<DigestingReadable>).plaintextDigest instanceof Promise;
}

/** What readItem takes from a plaintext besides its hash, on the thread that decrypted it. */
export interface ReadOptions {
  /** The item is an RFC 5322 message whose header fields (mail-headers.ts) are wanted. */
  mailHeaders?: boolean;
}

/** Whether the provider can decrypt an account's items, or only its customer can. */
export type EncryptionState = 'provider-key' | 'customer-key';

export interface KeyService {
  /** 'customer-key' for tenants that hold their own keys; their items can only be delivered as stored. */
  encryptionState(accountId: string): EncryptionState;
  /**
   * The plaintext of an item as a stream. The GCM tag is checked when the stream ends: a swapped, truncated or
   * altered blob makes the stream fail with an IntegrityError naming the item, so consumers must treat the
   * bytes as provisional until 'end'. Throws KeyError('CUSTOMER_HELD_KEY') for customer-key accounts.
   */
  openItem(ref: ItemRef): Readable;
  /**
   * The whole plaintext of a small item (at most maxBytes), authenticated before it is returned, and its SHA-256:
   * hashed on the thread that decrypted it, so that the caller need not hash it again.
   */
  readItem(ref: ItemRef, maxBytes: number, options?: ReadOptions): Promise<ItemPlaintext>;
  /** The item exactly as stored (ciphertext with its header and tag), for customer-key accounts. */
  openStored(ref: ItemRef): Readable;
  /**
   * The CRC-32 and size of an item's plaintext, read to its end and authenticated, without handing it over: the
   * sealer writes a large entry's CRC-32 before its data. Optional: without it the caller reads openItem for it.
   */
  plaintextCrc?(ref: ItemRef, signal?: AbortSignal): Promise<PlaintextCrc>;
  /**
   * Starts now what reads will need (a reader thread), so that its start-up overlaps the caller's own work before the
   * first read instead of delaying it. Never throws: whatever fails here fails again, and is reported, at the first
   * read. Optional.
   */
  prepare?(): void;
  /**
   * Ends the service's use of what it started: its reader thread forgets every data key and is left for the next key
   * service of this isolate to take up (or stopped, if it failed). Later reads run on the calling thread. Optional.
   */
  close?(): Promise<void>;
}
