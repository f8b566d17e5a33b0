// How many keys each object of a JSON text writes. JSON.parse keeps the last of two equal keys without a word, and a
// reader that keeps the first (several do) would read another record from the same bytes: an archive's records and
// lines are held to one key each, as the custody log and orders are.

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;

/**
 * Calls `each` with the number of keys written in each outermost object of `text`, in order: one call for a text that
 * is one object, one per element for objects separated by commas (the inside of an array). `text` must be JSON that
 * parsed (JSON.parse takes it, alone or inside brackets); keys of objects nested deeper are not counted. A key is a
 * string at the object's own level followed by a colon.
 */
export function eachObjectKeyCount(text: string, each: (keys: number) => void): void {
  scanKeys(text, each);
}

/** The number of keys written in the object `text` is (JSON that parsed): its own, not those of objects inside it. */
export function objectKeyCount(text: string): number {
  return scanKeys(text, null);
}

/** Counts each outermost object's keys: hands each count to `each`, or without it returns the first one's. */
function scanKeys(text: string, each: ((keys: number) => void) | null): number {
  let depth = 0;
  let keys = 0;
  // A string just closed at the outermost object's level: a key when a colon comes next.
  let afterString = false;
  const length = text.length;
  for (let i = 0; i < length; i++) {
    const code = text.charCodeAt(i);
    if (code === QUOTE) {
      i = stringEnd(text, i);
      if (i < 0) break;
      afterString = depth === 1;
      continue;
    }
    if (code === COLON) {
      if (afterString) keys++;
    } else if (code === OPEN_BRACE || code === OPEN_BRACKET) {
      if (++depth === 1) keys = 0;
    } else if (code === CLOSE_BRACE || code === CLOSE_BRACKET) {
      if (depth-- === 1 && code === CLOSE_BRACE) {
        if (!each) return keys;
        each(keys);
      }
    } else if (code === 0x20 || code === 0x09 || code === 0x0a || code === 0x0d) {
      continue;
    }
    afterString = false;
  }
  return keys;
}

/** The index of the quote that closes the string opened at `open` (one not escaped), or -1. */
function stringEnd(text: string, open: number): number {
  let end = text.indexOf('"', open + 1);
  while (end > 0 && text.charCodeAt(end - 1) === BACKSLASH) {
    // Escaped when an odd number of backslashes stands before it.
    let before = end - 1;
    while (before > open && text.charCodeAt(before - 1) === BACKSLASH) before--;
    if ((end - before) % 2 === 0) break;
    end = text.indexOf('"', end + 1);
  }
  return end;
}

/** The number of own keys of `value` (an object JSON.parse made). */
export function keyCount(value: object): number {
  return Object.keys(value).length;
}
