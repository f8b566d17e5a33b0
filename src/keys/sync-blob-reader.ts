// A stored item's plaintext chunk by chunk, read and decrypted synchronously on whichever thread holds it (the key
// service's reader thread streams large items with it). The tag is checked when the last chunk has been read: the
// chunks before it are not yet authenticated, and whoever takes them must fail if `next` throws at the end.
import type { DecipherGCM, KeyObject } from 'node:crypto';
import { closeSync } from 'node:fs';
import { authFailure, HEADER_BYTES, itemDecipher, parseHeader, TAG_BYTES } from './item-crypto.js';
import { openBlobSync, readBlob } from './small-blob.js';

export class SyncBlobReader {
  readonly #fd: number;
  readonly #decipher: DecipherGCM;
  readonly #what: string;
  /** Next ciphertext byte to read, and the end of the ciphertext (where the tag starts). */
  #position = HEADER_BYTES;
  readonly #end: number;
  /** The tag is checked: nothing more to read. */
  #done = false;
  #closed = false;

  /**
   * Opens the blob at `file`. Throws BlobOpenError when it cannot be opened, IntegrityError when its header is not a
   * scopex item's.
   */
  static open(file: string, key: KeyObject, aad: Buffer, what: string): SyncBlobReader {
    const { fd, size } = openBlobSync(file);
    try {
      const header = Buffer.alloc(HEADER_BYTES);
      readBlob(fd, header, 0, HEADER_BYTES, 0);
      const nonce = parseHeader(header, size, what);
      const tag = Buffer.alloc(TAG_BYTES);
      readBlob(fd, tag, 0, TAG_BYTES, size - TAG_BYTES);
      return new SyncBlobReader(fd, itemDecipher(key, nonce, aad, tag), size - TAG_BYTES, what);
    } catch (error) {
      closeSync(fd);
      throw error;
    }
  }

  private constructor(fd: number, decipher: DecipherGCM, end: number, what: string) {
    this.#fd = fd;
    this.#decipher = decipher;
    this.#end = end;
    this.#what = what;
  }

  /**
   * The next chunk of plaintext (a new buffer), read through `scratch`; null once the blob is used up and its tag
   * checked. Throws an IntegrityError (ITEM_AUTH_FAILED) at the end if the blob was altered or cut. Closes the file
   * when it returns null or throws.
   */
  next(scratch: Buffer): Buffer | null {
    if (this.#done) return null;
    try {
      const want = Math.min(scratch.length, this.#end - this.#position);
      const bytesRead = want > 0 ? readBlob(this.#fd, scratch, 0, want, this.#position) : 0;
      if (bytesRead > 0) {
        this.#position += bytesRead;
        return this.#decipher.update(scratch.subarray(0, bytesRead));
      }
      // Used up (or the file got shorter since it was opened, which the tag check fails).
      let tail: Buffer;
      try {
        tail = this.#decipher.final();
      } catch (error) {
        throw authFailure(this.#what, error);
      }
      this.#done = true;
      this.close();
      // GCM has no tail; should it ever have one, it is the last chunk and null comes next time.
      return tail.length > 0 ? tail : null;
    } catch (error) {
      this.close();
      throw error;
    }
  }

  /** Every ciphertext byte has been read: the next call checks the tag. */
  get exhausted(): boolean {
    return this.#position >= this.#end;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    closeSync(this.#fd);
  }
}
