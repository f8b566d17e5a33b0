// Strict JSON for signed documents: one UTF-8 text, no BOM, no duplicate or prototype-polluting keys.
// JSON.parse keeps the last of two equal keys silently, so a second "categories" could hide behind a signed first one.
import { jsonErrorOffset, lineAndColumn } from '../util/json-position.js';

/** Why a text was refused, and where (a byte-free character offset into the decoded text, or null). */
export class StrictJsonError extends Error {
  readonly position: number | null;
  readonly field: string | null;

  constructor(message: string, position: number | null, field: string | null = null) {
    super(message);
    this.name = new.target.name;
    this.position = position;
    this.field = field;
  }
}

/** The refusal and where it is: `key "x" appears twice in the same object (field a.x, at line 3, column 5)`. */
export function describeStrictJsonError(error: StrictJsonError, text: string): string {
  const place = error.position === null ? null : lineAndColumn(text, error.position);
  const where = [error.field === null ? null : `field ${error.field}`, place === null ? null : `at line ${place.line}, column ${place.column}`]
    .filter(Boolean)
    .join(', ');
  return `${error.message}${where ? ` (${where})` : ''}`;
}

/** Keys that reach Object.prototype through naive merging; no scopex document has a use for them. */
export const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

/** Deeper nesting than any scopex document needs; the limit also keeps hostile input from exhausting the stack. */
export const MAX_DEPTH = 32;

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Decodes UTF-8 strictly: a byte order mark (UTF-8 or UTF-16) or an invalid sequence is refused. */
export function decodeStrictUtf8(bytes: Uint8Array): string {
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) {
    throw new StrictJsonError('it starts with a UTF-8 byte order mark; save it as UTF-8 without BOM', 0);
  }
  if ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff)) {
    throw new StrictJsonError('it starts with a UTF-16 byte order mark; it must be UTF-8', 0);
  }
  try {
    return utf8.decode(bytes);
  } catch {
    throw new StrictJsonError('it is not valid UTF-8', null);
  }
}

/**
 * Parses a JSON text and refuses what JSON.parse lets through: duplicate keys, __proto__/constructor/prototype keys,
 * lone surrogates, and nesting deeper than MAX_DEPTH. Trailing garbage is refused by JSON.parse itself.
 */
export function parseStrictJson(text: string): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text) as unknown;
  } catch (error) {
    // The parser's message quotes the text (a key file given by mistake would be echoed): keep only where it stopped.
    throw new StrictJsonError('it is not valid JSON', jsonErrorOffset(error, text));
  }
  scanKeys(text);
  return value;
}

interface Frame {
  kind: 'object' | 'array';
  path: string;
  keys: Set<string>;
  /** In an object: the next string token is a key. */
  expectKey: boolean;
  /** In an array: the index of the next element. */
  index: number;
  /** The key or index the next value is stored under. */
  pending: string;
}

/** Walks a text JSON.parse has already accepted, so it only has to find token boundaries, not validate grammar. */
function scanKeys(text: string): void {
  const stack: Frame[] = [];
  const top = (): Frame | undefined => stack[stack.length - 1];
  const childPath = (frame: Frame | undefined): string => {
    if (!frame) return '';
    return frame.path === '' ? frame.pending : `${frame.path}.${frame.pending}`;
  };
  let i = 0;
  while (i < text.length) {
    const ch = text[i]!;
    switch (ch) {
      case '{':
      case '[': {
        const parent = top();
        if (parent?.kind === 'array') parent.pending = String(parent.index++);
        if (stack.length >= MAX_DEPTH) {
          throw new StrictJsonError(`it nests deeper than ${MAX_DEPTH} levels`, i, childPath(parent) || null);
        }
        stack.push({ kind: ch === '{' ? 'object' : 'array', path: childPath(parent), keys: new Set(), expectKey: true, index: 0, pending: '' });
        i++;
        break;
      }
      case '}':
      case ']':
        stack.pop();
        i++;
        break;
      case ',': {
        const frame = top();
        if (frame?.kind === 'object') frame.expectKey = true;
        i++;
        break;
      }
      case ':': {
        const frame = top();
        if (frame) frame.expectKey = false;
        i++;
        break;
      }
      case '"': {
        const end = stringEnd(text, i);
        const literal = text.slice(i, end);
        const decoded = JSON.parse(literal) as string;
        const frame = top();
        const where = frame?.kind === 'object' && frame.expectKey ? 'key' : 'value';
        if (/\p{Surrogate}/u.test(decoded)) {
          const field = where === 'key' ? frame!.path || null : childPath(frame) || null;
          throw new StrictJsonError(`a ${where} holds an unpaired UTF-16 surrogate`, i, field);
        }
        if (frame?.kind === 'object' && frame.expectKey) {
          const field = frame.path === '' ? decoded : `${frame.path}.${decoded}`;
          if (FORBIDDEN_KEYS.has(decoded)) {
            throw new StrictJsonError(`key "${decoded}" is not allowed`, i, field);
          }
          if (frame.keys.has(decoded)) {
            throw new StrictJsonError(`key "${decoded}" appears twice in the same object`, i, field);
          }
          frame.keys.add(decoded);
          frame.pending = decoded;
        } else if (frame?.kind === 'array') {
          frame.index++;
        }
        i = end;
        break;
      }
      default: {
        // A number, true, false, null or whitespace: scalar elements of an array still advance its index.
        const frame = top();
        if (frame?.kind === 'array' && /[-0-9tfn]/.test(ch)) {
          frame.index++;
          while (i < text.length && !/[,\]\s]/.test(text[i]!)) i++;
        } else {
          i++;
        }
      }
    }
  }
}

/** The index just after the closing quote of the string literal that opens at `start`. */
function stringEnd(text: string, start: number): number {
  let i = start + 1;
  while (i < text.length) {
    const ch = text[i];
    if (ch === '\\') i += 2;
    else if (ch === '"') return i + 1;
    else i++;
  }
  return text.length;
}
