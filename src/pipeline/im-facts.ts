// What an IM message says of itself (its conversationId, participants and sentAt), read as the message streams past,
// of any size: one pass over its bytes, a JSON grammar check, and only the three fields' values kept (each at most
// MAX_FIELD_BYTES). The message is delivered as stored; this only reads it.
//
// It reads what a careful JSON reader would: a UTF-8 byte order mark is skipped and a UTF-16 one is followed (RFC 8259
// lets a parser ignore the mark, and jq, Python and .NET do); a field stated twice is reported as such, not taken at its
// last value (a reader that keeps the first sees the other one).

import { TextDecoder } from 'node:util';

/** Longest value kept of one field: a long list of participants fits; a value longer is reported as too long. */
export const MAX_FIELD_BYTES = 1024 * 1024;
/** Deeper nesting than this is no message a JSON reader takes (V8's own limit is lower): not read as JSON. */
const MAX_DEPTH = 100_000;
/** A key longer than this, escapes and all, is none of the three fields ("conversationId" in \u escapes is 84 bytes). */
const MAX_KEY_BYTES = 256;

export const IM_FACT_FIELDS = ['conversationId', 'participants', 'sentAt'] as const;
export type ImFactField = (typeof IM_FACT_FIELDS)[number];

export interface ImFacts {
  /** The fields the message states once, with their values. */
  values: Partial<Record<ImFactField, unknown>>;
  /** Fields the message states more than once. */
  repeated: ImFactField[];
  /** Fields whose value is longer than MAX_FIELD_BYTES. */
  tooLong: ImFactField[];
}

export interface ImFactsCollector {
  /** Takes the next chunk of the message (it is not kept). */
  push(chunk: Buffer): void;
  /** What the message states, or null when it is not one JSON object (it is then not compared). */
  facts(): ImFacts | null;
}

const enum Mode {
  Value,
  AfterValue,
  KeyOrEnd,
  Key,
  Colon,
  String,
  Number,
  Literal,
  Done,
  Invalid,
}

const enum Num {
  Minus,
  Zero,
  Int,
  Dot,
  Frac,
  Exp,
  ExpSign,
  ExpDigits,
}

interface Capture {
  field: ImFactField;
  parts: Buffer[];
  bytes: number;
  tooLong: boolean;
}

const OBJECT = 0;
const ARRAY = 1;
const LITERALS = ['true', 'false', 'null'].map((word) => Buffer.from(word));

export function createImFactsCollector(): ImFactsCollector {
  let prelude: Buffer | null = Buffer.alloc(0);
  let utf16: TextDecoder | undefined;
  const stack: number[] = [];
  let mode = Mode.Value;
  let num = Num.Int;
  let literal: Buffer = LITERALS[0]!;
  let literalAt = 0;
  let inKey = false;
  let escape = 0; // 0: none; 1: after a backslash; 2..5: \u hex digits still to come (5 - escape + 1)
  // The key being read at the top level, and the field whose value comes next.
  let key: number[] | null = null;
  let pending: ImFactField | null = null;
  let capture: Capture | null = null;
  /** The capture whose value ended at the byte just read; `foreign`: that byte is no part of it (it ended a number). */
  let ended: Capture | null = null;
  let foreign = false;
  // Right after '[': ']' may close it at once.
  let arrayStart = false;
  /** The message is an object (not an array, a string, a number or a literal). */
  let anObject = false;
  const values: ImFacts['values'] = {};
  const seen = new Set<ImFactField>();
  const repeated: ImFactField[] = [];
  const tooLong: ImFactField[] = [];

  const fail = (): void => {
    mode = Mode.Invalid;
    capture = null;
  };

  /** A value ended (after its last byte, which was counted). */
  const valueDone = (): void => {
    if (stack.length === 0) {
      mode = Mode.Done;
      return;
    }
    mode = Mode.AfterValue;
    if (capture && stack.length === 1) {
      ended = capture;
      capture = null;
    }
  };

  const startValue = (byte: number): boolean => {
    if (pending && stack.length === 1) {
      capture = { field: pending, parts: [], bytes: 0, tooLong: false };
      pending = null;
    }
    switch (byte) {
      case 0x7b: // {
      case 0x5b: // [
        if (stack.length >= MAX_DEPTH) return false;
        if (stack.length === 0) anObject = byte === 0x7b;
        stack.push(byte === 0x7b ? OBJECT : ARRAY);
        mode = byte === 0x7b ? Mode.KeyOrEnd : Mode.Value;
        if (byte === 0x5b) arrayStart = true;
        return true;
      case 0x22: // "
        mode = Mode.String;
        inKey = false;
        return true;
      case 0x2d: // -
        mode = Mode.Number;
        num = Num.Minus;
        return true;
      case 0x74: // t
      case 0x66: // f
      case 0x6e: // n
        mode = Mode.Literal;
        literal = LITERALS[byte === 0x74 ? 0 : byte === 0x66 ? 1 : 2]!;
        literalAt = 1;
        return true;
      default:
        if (byte >= 0x30 && byte <= 0x39) {
          mode = Mode.Number;
          num = byte === 0x30 ? Num.Zero : Num.Int;
          return true;
        }
        return false;
    }
  };
  const close = (byte: number): boolean => {
    const top = stack[stack.length - 1];
    if (!((byte === 0x7d && top === OBJECT) || (byte === 0x5d && top === ARRAY))) return false;
    stack.pop();
    valueDone();
    return true;
  };

  /** Whether `byte` continues the number; a number that cannot take it ends before it. */
  const numberTakes = (byte: number): boolean => {
    const digit = byte >= 0x30 && byte <= 0x39;
    switch (num) {
      case Num.Minus:
        if (!digit) return false;
        num = byte === 0x30 ? Num.Zero : Num.Int;
        return true;
      case Num.Zero:
      case Num.Int:
        if (digit && num === Num.Int) return true;
        if (byte === 0x2e) num = Num.Dot;
        else if (byte === 0x65 || byte === 0x45) num = Num.Exp;
        else return false;
        return true;
      case Num.Dot:
        if (!digit) return false;
        num = Num.Frac;
        return true;
      case Num.Frac:
        if (digit) return true;
        if (byte === 0x65 || byte === 0x45) {
          num = Num.Exp;
          return true;
        }
        return false;
      case Num.Exp:
        if (byte === 0x2b || byte === 0x2d) num = Num.ExpSign;
        else if (digit) num = Num.ExpDigits;
        else return false;
        return true;
      case Num.ExpSign:
        if (!digit) return false;
        num = Num.ExpDigits;
        return true;
      case Num.ExpDigits:
        return digit;
    }
  };
  const numberComplete = (): boolean => num === Num.Zero || num === Num.Int || num === Num.Frac || num === Num.ExpDigits;

  const isBlank = (byte: number): boolean => byte === 0x20 || byte === 0x09 || byte === 0x0a || byte === 0x0d;

  /** Reads one byte; false when the message is no JSON (the caller stops reading). */
  const step = (byte: number): boolean => {
    switch (mode) {
      case Mode.Value:
        if (isBlank(byte)) return true;
        if (byte === 0x5d && arrayStart) {
          arrayStart = false;
          return close(byte);
        }
        arrayStart = false;
        return startValue(byte);
      case Mode.AfterValue: {
        if (isBlank(byte)) return true;
        if (byte === 0x2c) {
          mode = stack[stack.length - 1] === OBJECT ? Mode.Key : Mode.Value;
          return true;
        }
        return close(byte);
      }
      case Mode.KeyOrEnd:
        if (isBlank(byte)) return true;
        if (byte === 0x7d) return close(byte);
        return startKey(byte);
      case Mode.Key:
        if (isBlank(byte)) return true;
        return startKey(byte);
      case Mode.Colon:
        if (isBlank(byte)) return true;
        if (byte !== 0x3a) return false;
        mode = Mode.Value;
        return true;
      case Mode.String:
        return stringByte(byte);
      case Mode.Number:
        if (numberTakes(byte)) return true;
        if (!numberComplete()) return false;
        valueDone();
        // The captured value was this number: the byte that ended it is no part of it.
        if (ended) foreign = true;
        return step(byte);
      case Mode.Literal:
        if (byte !== literal[literalAt]) return false;
        literalAt += 1;
        if (literalAt === literal.length) valueDone();
        return true;
      case Mode.Done:
        return isBlank(byte);
      case Mode.Invalid:
        return false;
    }
  };

  const startKey = (byte: number): boolean => {
    if (byte !== 0x22) return false;
    mode = Mode.String;
    inKey = true;
    key = stack.length === 1 ? [byte] : null;
    return true;
  };

  const stringByte = (byte: number): boolean => {
    if (key && key.length <= MAX_KEY_BYTES) key.push(byte);
    if (escape === 1) {
      if (byte === 0x75) escape = 2;
      else if (byte === 0x22 || byte === 0x5c || byte === 0x2f || byte === 0x62 || byte === 0x66 || byte === 0x6e || byte === 0x72 || byte === 0x74) escape = 0;
      else return false;
      return true;
    }
    if (escape >= 2) {
      const hex = (byte >= 0x30 && byte <= 0x39) || ((byte | 0x20) >= 0x61 && (byte | 0x20) <= 0x66);
      if (!hex) return false;
      escape = escape === 5 ? 0 : escape + 1;
      return true;
    }
    if (byte === 0x5c) {
      escape = 1;
      return true;
    }
    if (byte < 0x20) return false;
    if (byte !== 0x22) return true;
    if (!inKey) {
      valueDone();
      return true;
    }
    mode = Mode.Colon;
    if (key && key.length <= MAX_KEY_BYTES) {
      const name = JSON.parse(Buffer.from(key).toString('utf8')) as string;
      const field = (IM_FACT_FIELDS as readonly string[]).includes(name) ? (name as ImFactField) : null;
      if (field) {
        if (seen.has(field)) {
          if (!repeated.includes(field)) repeated.push(field);
          delete values[field];
        } else {
          seen.add(field);
          pending = field;
        }
      }
    }
    key = null;
    return true;
  };

  /** Reads a UTF-8 chunk, keeping the bytes of a field's value as they pass. */
  const read = (chunk: Buffer): void => {
    let from = capture ? 0 : -1;
    for (let i = 0; i < chunk.length; i++) {
      if (mode === Mode.String && escape === 0 && !key) {
        // The text of a message is most of it: its plain bytes are passed over here, not one step each.
        let byte = chunk[i]!;
        while (byte !== 0x22 && byte !== 0x5c && byte >= 0x20 && i + 1 < chunk.length) byte = chunk[++i]!;
        if (byte !== 0x22 && byte !== 0x5c && byte >= 0x20) break;
      }
      const before = capture;
      if (!step(chunk[i]!)) {
        fail();
        return;
      }
      if (!before && capture) from = i;
      if (ended) {
        keep(ended, chunk, from, foreign ? i : i + 1);
        finish(ended);
        ended = null;
        from = -1;
      }
      foreign = false;
    }
    if (capture && from >= 0) keep(capture, chunk, from, chunk.length);
  };

  const finish = (done: Capture): void => {
    if (done.tooLong) {
      tooLong.push(done.field);
      return;
    }
    try {
      values[done.field] = JSON.parse(Buffer.concat(done.parts).toString('utf8')) as unknown;
    } catch {
      fail(); // not reached: the bytes were read as one JSON value
    }
  };

  const keep = (target: Capture, chunk: Buffer, from: number, to: number): void => {
    if (to <= from || target.tooLong) return;
    target.bytes += to - from;
    if (target.bytes > MAX_FIELD_BYTES) {
      target.tooLong = true;
      target.parts = [];
      return;
    }
    // Copied: the chunk may be a slice of a pooled buffer that is reused after this call.
    target.parts.push(Buffer.from(chunk.subarray(from, to)));
  };

  const feed = (chunk: Buffer): void => {
    if (mode === Mode.Invalid) return;
    if (utf16) {
      read(Buffer.from(utf16.decode(chunk, { stream: true }), 'utf8'));
      return;
    }
    read(chunk);
  };

  return {
    push(chunk) {
      if (prelude === null) {
        feed(chunk);
        return;
      }
      // The first bytes decide the encoding: held until there are three of them, or the message ends.
      prelude = Buffer.concat([prelude, chunk]);
      if (prelude.length >= 3) startReading();
    },
    facts() {
      if (prelude !== null) startReading();
      if (utf16) read(Buffer.from(utf16.decode(), 'utf8'));
      if (mode === Mode.Number && numberComplete()) valueDone();
      if (mode !== Mode.Done || !anObject) return null;
      return { values, repeated, tooLong };
    },
  };

  function startReading(): void {
    let first = prelude ?? Buffer.alloc(0);
    prelude = null;
    if (first[0] === 0xef && first[1] === 0xbb && first[2] === 0xbf) first = first.subarray(3);
    else if ((first[0] === 0xff && first[1] === 0xfe) || (first[0] === 0xfe && first[1] === 0xff)) {
      utf16 = new TextDecoder(first[0] === 0xff ? 'utf-16le' : 'utf-16be', { fatal: false, ignoreBOM: false });
    }
    feed(first);
  }
}
