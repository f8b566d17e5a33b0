// Append-only text file written in ~64 KiB blocks, so that manifests of any length never sit in memory.
import { open, type FileHandle } from 'node:fs/promises';

const FLUSH_AT = 64 * 1024;

export class LineSpool {
  readonly file: string;
  #handle: FileHandle | undefined;
  #pending = '';

  private constructor(file: string, handle: FileHandle) {
    this.file = file;
    this.#handle = handle;
  }

  static async create(file: string): Promise<LineSpool> {
    return new LineSpool(file, await open(file, 'wx', 0o600));
  }

  /** Adds text; writes to disk once enough has gathered. */
  async append(text: string): Promise<void> {
    this.#pending += text;
    if (this.#pending.length >= FLUSH_AT) await this.#flush();
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
    this.#pending = '';
    await handle?.close().catch(() => undefined);
  }

  async #flush(): Promise<void> {
    if (this.#pending === '') return;
    const handle = this.#handle;
    if (!handle) throw new Error(`spool ${this.file} is closed`);
    const text = this.#pending;
    this.#pending = '';
    await handle.appendFile(text, 'utf8');
  }
}
