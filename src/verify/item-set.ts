// Which items a list names, as a count and a sum that does not depend on the list's order: a service's content records
// in production.json and the lines of its metadata file must name the same items (sourceId and timestamp, and what
// both say of each: its size, and mail's encryption or a file's path), since export writes one line for each item it
// delivers. Two sums of independent 32-bit hashes, so memory is the same for
// ten items as for ten million, and two lists agree by chance about once in 2^64. It is a check of the archive's
// consistency, not a seal: whoever could make the two lists agree on purpose could as well have edited both.

/** Marks no code unit of a string is: null (or absent) before a value, "not a string" before the JSON text of one, and
 * one between the two values (added to the second's mark), so that ("ab", "c") and ("a", "bc") differ. */
const NULL_MARK = 0x1_0000;
const NOT_TEXT_MARK = 0x2_0000;
const SEPARATOR = 0x10_0000;

export class ItemSet {
  count = 0;
  #sumA = 0;
  #sumB = 0;
  /** The same sums with each item's path (storage) added. */
  #pathSumA = 0;
  #pathSumB = 0;

  /**
   * Adds the item a record or line names, `facts` (the text of what else both say of it: itemFacts) and, for a file,
   * its path.
   */
  add(sourceId: unknown, timestamp: unknown, facts = '', path?: unknown): void {
    const idMark = markOf(sourceId);
    const idText = textOf(sourceId);
    const timeMark = SEPARATOR + markOf(timestamp);
    const timeText = textOf(timestamp);
    const a = fnv1a(fnv1a(fnv1a(0x811c9dc5, idMark, idText), timeMark, timeText), SEPARATOR, facts);
    const b = mulXorShift(mulXorShift(mulXorShift(0x9747b28c, idMark, idText), timeMark, timeText), SEPARATOR, facts);
    this.#sumA = (this.#sumA + finish(a)) >>> 0;
    this.#sumB = (this.#sumB + finish(b ^ 0x68e31da4)) >>> 0;
    const pathMark = SEPARATOR + markOf(path);
    const pathText = textOf(path);
    this.#pathSumA = (this.#pathSumA + finish(fnv1a(a, pathMark, pathText))) >>> 0;
    this.#pathSumB = (this.#pathSumB + finish(mulXorShift(b, pathMark, pathText) ^ 0x68e31da4)) >>> 0;
    this.count += 1;
  }

  /** Whether both name the same items, as many times each, and say the same of each. */
  equals(other: ItemSet): boolean {
    if (this.count !== other.count || this.#sumA !== other.#sumA || this.#sumB !== other.#sumB) return false;
    return this.#pathSumA === other.#pathSumA && this.#pathSumB === other.#pathSumB;
  }
}

/** The mark a value is hashed with before its text: none (0) for a string. */
function markOf(value: unknown): number {
  if (typeof value === 'string') return 0;
  return value === null || value === undefined ? NULL_MARK : NOT_TEXT_MARK;
}

/** The text a value is hashed as: a string itself, another value its JSON text, null nothing. */
function textOf(value: unknown): string {
  if (typeof value === 'string') return value;
  return value === null || value === undefined ? '' : (JSON.stringify(value) ?? '');
}

/** FNV-1a over the mark (if any) and the text's UTF-16 code units. */
function fnv1a(h: number, mark: number, text: string): number {
  if (mark !== 0) h = Math.imul(h ^ mark, 0x01000193);
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h;
}

/** A multiply-xorshift hash over the same. */
function mulXorShift(h: number, mark: number, text: string): number {
  if (mark !== 0) {
    h = Math.imul(h ^ mark, 0x5bd1e995);
    h ^= h >>> 15;
  }
  for (let i = 0; i < text.length; i++) {
    h = Math.imul(h ^ text.charCodeAt(i), 0x5bd1e995);
    h ^= h >>> 15;
  }
  return h;
}

/** MurmurHash3's finaliser: spreads every input bit over the word, so that sums of hashes of near texts differ. */
function finish(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * What a service's metadata line and the item's content record in production.json both say of the item, beside its
 * sourceId, timestamp and (a file's) path, as one text: its size (the record's bytes, less a customer-key blob's header
 * and tag), and for mail its encryption. A value of another type than a number size and a text encryption makes the
 * whole a JSON text, so that a size given as a string differs.
 */
export function itemFacts(service: string, size: unknown, encryption: unknown): string {
  const mail = service === 'mail';
  // The usual case without JSON: a number's text never holds a NUL, nor starts with "j", so each text has one reading.
  if (typeof size === 'number' && (!mail || typeof encryption === 'string')) return mail ? `${size}\u0000${encryption as string}` : `${size}`;
  return `j${mail ? JSON.stringify([size, encryption]) : JSON.stringify([size])}`;
}
