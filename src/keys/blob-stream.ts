// A stored item's plaintext as a stream: the blob is read into one reused buffer and decrypted as it goes, and the
// tag is checked at the end, so the stream errors (and never ends cleanly) if the blob was altered or cut.
//
// One reused read buffer instead of a new one per chunk (fs.ReadStream) halves the 1 MiB buffers a large export
// allocates; each of those counts as external memory, and every 64 MB of it starts a full collection.
import type { DecipherGCM, KeyObject } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { authFailure, HEADER_BYTES, itemDecipher, parseHeader, TAG_BYTES } from './item-crypto.js';
import { BLOB_OPEN_FLAGS, checkRegularBlob } from './small-blob.js';

export const BLOB_READ_BYTES = 1024 * 1024;

export interface BlobStreamOptions {
  file: string;
  key: KeyObject;
  aad: Buffer;
  /** Names the item in errors. */
  what: string;
  /** The error for a blob that cannot be opened (missing, unreadable). */
  openFailure: (error: unknown) => Error;
}

export class BlobPlaintextStream extends Readable {
  readonly #options: BlobStreamOptions;
  #handle: FileHandle | undefined;
  #decipher: DecipherGCM | undefined;
  #buffer: Buffer | undefined;
  /** Next ciphertext byte to read, and the end of the ciphertext (where the tag starts). */
  #position = HEADER_BYTES;
  #end = HEADER_BYTES;

  constructor(options: BlobStreamOptions) {
    super({ highWaterMark: BLOB_READ_BYTES });
    this.#options = options;
  }

  override _construct(callback: (error?: Error | null) => void): void {
    this.#open().then(
      () => callback(),
      (error: unknown) => callback(error instanceof Error ? error : new Error(String(error))),
    );
  }

  override _read(): void {
    this.#readNext().catch((error: unknown) => this.destroy(error instanceof Error ? error : new Error(String(error))));
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    const handle = this.#handle;
    this.#handle = undefined;
    if (!handle) {
      callback(error);
      return;
    }
    handle.close().then(
      () => callback(error),
      () => callback(error),
    );
  }

  async #open(): Promise<void> {
    const { file, key, aad, what } = this.#options;
    this.#handle = await open(file, BLOB_OPEN_FLAGS).catch((error: unknown) => {
      throw this.#options.openFailure(error);
    });
    const stats = await this.#handle.stat();
    try {
      checkRegularBlob(stats);
    } catch (error) {
      throw this.#options.openFailure(error);
    }
    const size = stats.size;
    const header = Buffer.alloc(HEADER_BYTES);
    await this.#read(header, HEADER_BYTES, 0);
    const nonce = parseHeader(header, size, what);
    const tag = Buffer.alloc(TAG_BYTES);
    await this.#read(tag, TAG_BYTES, size - TAG_BYTES);
    this.#decipher = itemDecipher(key, nonce, aad, tag);
    this.#end = size - TAG_BYTES;
  }

  async #readNext(): Promise<void> {
    const handle = this.#handle;
    const decipher = this.#decipher;
    if (!handle || !decipher) return;
    const want = Math.min(BLOB_READ_BYTES, this.#end - this.#position);
    if (want <= 0) {
      this.#finish(decipher);
      return;
    }
    this.#buffer ??= Buffer.allocUnsafeSlow(Math.min(BLOB_READ_BYTES, this.#end - HEADER_BYTES));
    const bytesRead = await this.#read(this.#buffer, want, this.#position);
    if (this.destroyed) return;
    if (bytesRead === 0) {
      // The file got shorter since it was opened: the tag check below fails.
      this.#finish(decipher);
      return;
    }
    this.#position += bytesRead;
    // update() copies: the read buffer can take the next chunk once this returns.
    this.push(decipher.update(this.#buffer.subarray(0, bytesRead)));
  }

  /** A read of the blob, whose failure (a folder where the blob should be: EISDIR) is the blob's, as an open's is. */
  async #read(buffer: Buffer, length: number, position: number): Promise<number> {
    try {
      return (await this.#handle!.read(buffer, 0, length, position)).bytesRead;
    } catch (error) {
      throw this.#options.openFailure(error);
    }
  }

  #finish(decipher: DecipherGCM): void {
    let tail: Buffer;
    try {
      tail = decipher.final();
    } catch (error) {
      this.destroy(authFailure(this.#options.what, error));
      return;
    }
    if (tail.length > 0) this.push(tail);
    this.push(null);
  }
}
