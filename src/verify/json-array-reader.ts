// Reads a large top-level JSON array of objects (production.json) one element at a time, so memory is bounded by
// the largest record, not the file.
import { eachObjectKeyCount, objectKeyCount } from '../util/json-keys.js';
import { notValidJson } from '../util/json-position.js';

const MAX_ELEMENT_BYTES = 1024 * 1024;

type State = 'start' | 'first-or-end' | 'element-start' | 'element' | 'comma-or-end' | 'after' | 'dead';

const Byte = {
  Space: 0x20,
  Tab: 0x09,
  Lf: 0x0a,
  Cr: 0x0d,
  Quote: 0x22,
  Comma: 0x2c,
  Backslash: 0x5c,
  OpenBracket: 0x5b,
  CloseBracket: 0x5d,
  OpenBrace: 0x7b,
  CloseBrace: 0x7d,
} as const;

function isSpace(byte: number): boolean {
  return byte === Byte.Space || byte === Byte.Tab || byte === Byte.Lf || byte === Byte.Cr;
}

export class JsonArrayReader {
  private state: State = 'start';
  private depth = 0;
  private inString = false;
  private escaped = false;
  private parts: Buffer[] = [];
  private partBytes = 0;
  private index = 0;
  private offset = 0;
  /** Where in the current chunk the batch fast path may next be tried (past a stretch it could not take). */
  private batchFrom = 0;

  /**
   * `onElement` gets each element (an object), and how many keys its text writes: more than the object has when one is
   * written twice (JSON.parse kept the last value; a reader that keeps the first would read another element).
   */
  constructor(
    private readonly onElement: (value: unknown, index: number, writtenKeys: number) => void,
    private readonly onProblem: (message: string) => void,
  ) {}

  get failed(): boolean {
    return this.state === 'dead';
  }

  update(chunk: Buffer): void {
    this.batchFrom = 0;
    let elementFrom = this.state === 'element' ? 0 : -1;
    const length = chunk.length;
    for (let i = 0; i < length && this.state !== 'dead'; i++) {
      if (this.state === 'element') {
        // The hot loop: scan the record with its state in locals, up to its closing brace or the end of the chunk.
        let depth = this.depth;
        let inString = this.inString;
        let escaped = this.escaped;
        let closed = -1;
        for (; i < length; i++) {
          const byte = chunk[i] as number;
          if (inString) {
            if (escaped) escaped = false;
            else if (byte === Byte.Backslash) escaped = true;
            else if (byte === Byte.Quote) inString = false;
          } else if (byte === Byte.Quote) {
            inString = true;
          } else if (byte === Byte.OpenBrace || byte === Byte.OpenBracket) {
            depth++;
          } else if ((byte === Byte.CloseBrace || byte === Byte.CloseBracket) && --depth === 0) {
            closed = i;
            break;
          }
        }
        this.depth = depth;
        this.inString = inString;
        this.escaped = escaped;
        if (closed < 0) break;
        this.close(chunk, elementFrom, closed + 1);
        elementFrom = -1;
        if (this.state === 'element') this.state = 'comma-or-end';
        continue;
      }
      const byte = chunk[i] as number;
      switch (this.state) {
        case 'start':
          if (isSpace(byte)) continue;
          if (byte === Byte.OpenBracket) this.state = 'first-or-end';
          // RFC 8259 §8.1: no byte order mark; scopex writes none, and Python's json refuses the file.
          else if (this.offset + i === 0 && byte === 0xef) this.die('it starts with a UTF-8 byte order mark, which a JSON text may not have');
          else this.die(`expected "[" at byte ${this.offset + i}`);
          break;
        case 'first-or-end':
        case 'element-start':
          if (isSpace(byte)) continue;
          if (byte === Byte.CloseBracket && this.state === 'first-or-end') {
            this.state = 'after';
          } else if (byte === Byte.OpenBrace) {
            const batchEnd = i >= this.batchFrom ? this.batch(chunk, i) : -1;
            if (batchEnd >= 0) {
              i = batchEnd - 1;
              this.state = 'comma-or-end';
              continue;
            }
            this.state = 'element';
            this.depth = 1;
            this.inString = false;
            this.escaped = false;
            elementFrom = i;
          } else {
            this.die(`expected a record object at byte ${this.offset + i}`);
          }
          break;
        case 'comma-or-end':
          if (isSpace(byte)) continue;
          if (byte === Byte.Comma) this.state = 'element-start';
          else if (byte === Byte.CloseBracket) this.state = 'after';
          else this.die(`expected "," or "]" at byte ${this.offset + i}`);
          break;
        case 'after':
          if (!isSpace(byte)) this.die(`unexpected data after the closing "]" at byte ${this.offset + i}`);
          break;
        default:
          break;
      }
    }
    if (this.state === 'element' && elementFrom >= 0) this.keep(chunk.subarray(elementFrom));
    this.offset += chunk.length;
  }

  /**
   * The fast path: many whole records at once. The records from `from` (a "{") to the last "}" before the chunk's
   * last line break (within `MAX_ELEMENT_BYTES`) are parsed as one JSON array. When that parses and every element is
   * an object, they are exactly the records the byte scan would find there, so they are handed on, and the end
   * is returned. Otherwise -1, and the byte scan takes this stretch (and reports what is wrong with it).
   */
  private batch(chunk: Buffer, from: number): number {
    const limit = Math.min(chunk.length, from + MAX_ELEMENT_BYTES);
    const lineBreak = chunk.lastIndexOf(Byte.Lf, limit - 1);
    const close = lineBreak > from ? chunk.lastIndexOf(Byte.CloseBrace, lineBreak) : -1;
    if (close <= from) return -1;
    let values: unknown;
    const text = chunk.toString('utf8', from, close + 1);
    try {
      values = JSON.parse(`[${text}]`);
    } catch {
      values = null;
    }
    if (!Array.isArray(values) || !values.every((value) => typeof value === 'object' && value !== null && !Array.isArray(value))) {
      this.batchFrom = close + 1; // the byte scan takes this stretch
      return -1;
    }
    const objects = values as object[];
    let element = 0;
    eachObjectKeyCount(text, (keys) => {
      this.onElement(objects[element++], this.index++, keys);
    });
    return close + 1;
  }

  /** The record ends at `end` in this chunk; it began at `from` here, or in earlier chunks (`from` is then 0). */
  private close(chunk: Buffer, from: number, end: number): void {
    if (this.parts.length === 0 && this.state !== 'dead') {
      // The whole record is in this chunk: decode it in place, no copy.
      if (end - from > MAX_ELEMENT_BYTES) {
        this.die(`record ${this.index + 1} is larger than ${MAX_ELEMENT_BYTES} bytes`);
        return;
      }
      this.parse(chunk.toString('utf8', from, end));
      return;
    }
    this.keep(chunk.subarray(from, end));
    this.emit();
  }

  end(): void {
    if (this.state !== 'after' && this.state !== 'dead') this.die('the JSON array is not closed (truncated file)');
  }

  private keep(part: Buffer): void {
    if (this.state === 'dead') return;
    this.partBytes += part.length;
    if (this.partBytes > MAX_ELEMENT_BYTES) {
      this.die(`record ${this.index + 1} is larger than ${MAX_ELEMENT_BYTES} bytes`);
      return;
    }
    this.parts.push(Buffer.from(part));
  }

  private emit(): void {
    if (this.state === 'dead') return;
    const text = Buffer.concat(this.parts, this.partBytes).toString('utf8');
    this.parts = [];
    this.partBytes = 0;
    this.parse(text);
  }

  private parse(text: string): void {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      this.die(`record ${this.index + 1} ${notValidJson(error, text, 'of the record')}`);
      return;
    }
    this.onElement(value, this.index++, objectKeyCount(text));
  }

  private die(message: string): void {
    if (this.state === 'dead') return;
    this.state = 'dead';
    this.parts = [];
    this.partBytes = 0;
    this.onProblem(message);
  }
}
