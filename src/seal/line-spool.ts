// Append-only text file written in ~64 KiB blocks, so that manifests of any length never sit in memory.
import { open, type FileHandle } from 'node:fs/promises';
import { Utf8Stage } from '../util/utf8-stage.js';

const FLUSH_AT = 64 * 1024;
/** What an append that needs no waiting returns: one settled promise for all of them. */
const DONE: Promise<void> = Promise.resolve();

export class LineSpool {
  readonly file: string;
  #handle: FileHandle | undefined;
  readonly #pending = new Utf8Stage(FLUSH_AT);

  private constructor(file: string, handle: FileHandle) {
    this.file = file;
    this.#handle = handle;
  }

  static async create(file: string): Promise<LineSpool> {
    return new LineSpool(file, await open(file, 'wx', 0o600));
  }

  /** Adds text; writes to disk once enough has gathered. Not async: most lines only join the block being gathered. */
  append(text: string): Promise<void> {
    if (this.#pending.tryAppend(text)) return DONE;
    return this.#appendThrough(text);
  }

  async #appendThrough(text: string): Promise<void> {
    await this.#flush();
    // Longer than a whole block: written on its own.
    if (!this.#pending.tryAppend(text)) await this.#write(Buffer.from(text, 'utf8'));
  }

  /** Writes what is left and closes the file; it can then be read. */
  async close(): Promise<void> {
    await this.#flush();
    const handle = this.#handle;
    this.#handle = undefined;
    await handle?.close();
  }

  /** Closes without caring about errors (clean-up after a failure). */
  async discard(): Promise<void> {
    const handle = this.#handle;
    this.#handle = undefined;
    this.#pending.take();
    await handle?.close().catch(() => undefined);
  }

  async #flush(): Promise<void> {
    if (this.#pending.bytes === 0) return;
    await this.#write(this.#pending.take());
  }

  async #write(bytes: Buffer): Promise<void> {
    const handle = this.#handle;
    if (!handle) throw new Error(`spool ${this.file} is closed`);
    await handle.appendFile(bytes);
  }
}
