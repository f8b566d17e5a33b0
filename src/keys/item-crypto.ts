// The at-rest item format: "SCXB" | version 1 | 12-byte nonce | AES-256-GCM ciphertext | 16-byte tag.
import { createCipheriv, createDecipheriv, type DecipherGCM, type KeyObject } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { IntegrityError } from '../errors.js';
import type { ItemRef, StoreService } from './key-service.js';

export const BLOB_MAGIC = Buffer.from('SCXB', 'ascii');
export const BLOB_VERSION = 1;
export const NONCE_BYTES = 12;
export const TAG_BYTES = 16;
export const HEADER_BYTES = BLOB_MAGIC.length + 1 + NONCE_BYTES;
export const BLOB_OVERHEAD = HEADER_BYTES + TAG_BYTES;

/** Binds the store, account and item into the tag, so a blob moved to another item or account fails to open. */
export function itemAad(service: StoreService, accountId: string, itemId: string): Buffer {
  return Buffer.from(`scopex.item/v1\n${service}\n${accountId}\n${itemId}`, 'utf8');
}

export function describeItem(ref: Pick<ItemRef, 'service' | 'accountId' | 'itemId'>): string {
  return `${ref.service} item ${ref.itemId} of account ${ref.accountId}`;
}

/** Encrypts a plaintext stream into the at-rest format (header first, tag last). Used by the sample world. */
export function createItemEncryptor(key: KeyObject, nonce: Buffer, aad: Buffer): Transform {
  if (nonce.length !== NONCE_BYTES) throw new Error(`nonce must be ${NONCE_BYTES} bytes`);
  const cipher = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES });
  cipher.setAAD(aad);
  let headerSent = false;
  const header = Buffer.concat([BLOB_MAGIC, Buffer.from([BLOB_VERSION]), nonce]);
  return new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      if (!headerSent) {
        this.push(header);
        headerSent = true;
      }
      callback(null, cipher.update(chunk));
    },
    flush(callback: TransformCallback) {
      if (!headerSent) this.push(header);
      const tail = cipher.final();
      if (tail.length > 0) this.push(tail);
      callback(null, cipher.getAuthTag());
    },
  });
}

/** Encrypts a whole small plaintext in one call. */
export function encryptItemBuffer(key: KeyObject, nonce: Buffer, aad: Buffer, plaintext: Buffer): Buffer {
  const cipher = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES });
  cipher.setAAD(aad);
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([BLOB_MAGIC, Buffer.from([BLOB_VERSION]), nonce, body, cipher.getAuthTag()]);
}

/** Checks the header of a blob and returns its nonce; `what` names the item in the error. */
export function parseHeader(header: Buffer, blobBytes: number, what: string): Buffer {
  if (blobBytes < BLOB_OVERHEAD || header.length < HEADER_BYTES) {
    throw new IntegrityError('ITEM_TRUNCATED', `${what} is truncated: ${blobBytes} bytes, at least ${BLOB_OVERHEAD} expected`);
  }
  if (!header.subarray(0, BLOB_MAGIC.length).equals(BLOB_MAGIC) || header[BLOB_MAGIC.length] !== BLOB_VERSION) {
    throw new IntegrityError('ITEM_FORMAT', `${what} is not a scopex v1 encrypted item (bad header)`);
  }
  return Buffer.from(header.subarray(BLOB_MAGIC.length + 1, HEADER_BYTES));
}

/** The decipher of one item: its tag is checked by final(), which throws if the blob was altered. */
export function itemDecipher(key: KeyObject, nonce: Buffer, aad: Buffer, tag: Buffer): DecipherGCM {
  const decipher = createDecipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES });
  decipher.setAAD(aad);
  decipher.setAuthTag(tag);
  return decipher;
}

/** Decrypts a whole blob held in memory (small items). */
export function decryptItemBuffer(key: KeyObject, blob: Buffer, aad: Buffer, what: string): Buffer {
  const nonce = parseHeader(blob, blob.length, what);
  const decipher = itemDecipher(key, nonce, aad, blob.subarray(blob.length - TAG_BYTES));
  try {
    const body = decipher.update(blob.subarray(HEADER_BYTES, blob.length - TAG_BYTES));
    const tail = decipher.final();
    // GCM has no tail: returning the body as it is saves a copy of every small item.
    return tail.length === 0 ? body : Buffer.concat([body, tail]);
  } catch (error) {
    throw authFailure(what, error);
  }
}

export function authFailure(what: string, cause: unknown): IntegrityError {
  return new IntegrityError(
    'ITEM_AUTH_FAILED',
    `${what} failed authentication: its blob was altered, truncated or belongs to another item`,
    { cause },
  );
}
