// Text gathered as UTF-8 bytes in one buffer until it is written out in a block.
//
// Gathering the strings themselves (an array joined later, or a string grown with +=) keeps every line alive until
// the block is written: on a 52,428-item export that is some 40 MB of strings outliving young-generation
// collections. Copied into bytes at once, each string dies young.

export class Utf8Stage {
  readonly #size: number;
  #buffer: Buffer | undefined;
  #used = 0;

  constructor(size: number) {
    this.#size = size;
  }

  /** Bytes staged so far. */
  get bytes(): number {
    return this.#used;
  }

  /** Copies `text` in if it fits in what is left; false (and nothing copied) if it does not. */
  tryAppend(text: string): boolean {
    const room = this.#size - this.#used;
    // A UTF-16 unit takes at most 3 UTF-8 bytes: the exact length is counted only when that bound does not fit.
    if (text.length * 3 > room && Buffer.byteLength(text, 'utf8') > room) return false;
    this.#buffer ??= Buffer.allocUnsafeSlow(this.#size);
    this.#used += this.#buffer.write(text, this.#used, 'utf8');
    return true;
  }

  /** The staged bytes, which now belong to the caller; the stage starts again in a new buffer. */
  take(): Buffer {
    const taken = (this.#buffer ?? Buffer.alloc(0)).subarray(0, this.#used);
    this.#buffer = undefined;
    this.#used = 0;
    return taken;
  }
}
