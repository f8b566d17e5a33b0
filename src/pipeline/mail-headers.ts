// Reads the header section of an RFC 5322 message as it streams past, and keeps only the non-content fields
// (never Subject, never the body).
import { isUtf8 } from 'node:buffer';

/** Headers larger than this are cut: a message with a huge header section cannot make the export hold it all. */
export const MAX_HEADER_BYTES = 64 * 1024;
/**
 * RFC 5322 2.1.1: a line of a message MUST be at most 998 characters (CR LF aside). A longer line is no header line
 * (the section ends before it): it is how a body reads when its line ends are ones this parser does not know.
 */
export const MAX_HEADER_LINE = 998;

/**
 * The non-content header fields of one message, as written (unfolded, not decoded): control characters too (the
 * metadata line is JSON, which writes them escaped, and nothing prints these values to a terminal).
 */
export interface MailHeaderFields {
  from: string | null;
  to: string | null;
  cc: string | null;
  date: string | null;
  messageId: string | null;
  /** True when the header section was longer than MAX_HEADER_BYTES and only its start was read. */
  headerTruncated: boolean;
  /**
   * True when a value given here held bytes that are not UTF-8 (a raw Latin-1 byte, or a character cut by the cap),
   * each given as U+FFFD: a JSON text can carry any character, but not bytes that are none.
   */
  headerBytesReplaced: boolean;
}

const WANTED: Record<string, keyof HeaderValues> = {
  from: 'from',
  to: 'to',
  cc: 'cc',
  date: 'date',
  'message-id': 'messageId',
};

/** Collects the start of a message until its blank line (or the cap); feed it every chunk, then call fields(). */
export interface MailHeaderCollector {
  /** Takes the next chunk of the message; cheap once the header section is complete. */
  push(chunk: Buffer): void;
  fields(): MailHeaderFields;
}

export function createMailHeaderCollector(maxBytes: number = MAX_HEADER_BYTES): MailHeaderCollector {
  // One buffer of at most maxBytes, filled as chunks arrive; the blank line is searched for only around new bytes.
  let held = Buffer.alloc(0);
  let done = false;
  let truncated = false;
  let headerEnd = -1;

  return {
    push(chunk) {
      if (done) return;
      const room = maxBytes - held.length;
      const part = chunk.length > room ? chunk.subarray(0, room) : chunk;
      const searchFrom = Math.max(0, held.length - 3);
      // Copy: the chunk may be a slice of a pooled buffer that is reused after this call.
      held = Buffer.concat([held, part]);
      // More may follow until the cap: a CR CR at the end may yet be a CR CR LF line end.
      const end = findHeaderEnd(held, searchFrom, held.length >= maxBytes);
      if (end >= 0) {
        headerEnd = end;
        done = true;
      } else if (held.length >= maxBytes) {
        truncated = true;
        done = true;
      }
    },
    fields() {
      return sectionFields(held.subarray(0, headerEnd >= 0 ? headerEnd : held.length), truncated);
    },
  };
}

/** The whole-Buffer form, for small messages read at once (no copy of the message is made). */
export function mailHeaderFields(message: Buffer, maxBytes: number = MAX_HEADER_BYTES): MailHeaderFields {
  const window = message.length > maxBytes ? message.subarray(0, maxBytes) : message;
  const end = findHeaderEnd(window, 0, true);
  const truncated = end < 0 && message.length >= maxBytes;
  return sectionFields(window.subarray(0, end >= 0 ? end : window.length), truncated);
}

/**
 * The fields of a header section. Text that is all UTF-8 is read as such; otherwise it is read a byte to a character
 * (latin1: every line break, blank, colon and field name is the ASCII byte it was), and each wanted field's lines are
 * decoded from their own bytes, so the values are the same (line breaks are ASCII: no character spans one) and it is
 * known which ones had bytes that are not UTF-8.
 */
function sectionFields(held: Buffer, cut: boolean): MailHeaderFields {
  const section = withUnicodeBreaksAsLf(withoutBom(held));
  const utf8 = isUtf8(section);
  const found = parseHeaderSection(section.toString(utf8 ? 'utf8' : 'latin1'), !utf8);
  return {
    from: found.from,
    to: found.to,
    cc: found.cc,
    date: found.date,
    messageId: found.messageId,
    // Cut at the cap, and no end of the section (an empty line, a line that is no field) was found before it.
    headerTruncated: cut && !found.ended,
    headerBytesReplaced: found.bytesReplaced,
  };
}

/** A UTF-8 byte order mark before the first header is no part of it (a field name is printable ASCII). */
function withoutBom(section: Buffer): Buffer {
  return section[0] === 0xef && section[1] === 0xbb && section[2] === 0xbf ? section.subarray(3) : section;
}

/**
 * The section with each Unicode line break (NEL U+0085, LINE SEPARATOR U+2028, PARAGRAPH SEPARATOR U+2029, as UTF-8)
 * made an LF. A message whose lines end in them has no CR or LF: read as one line, its first field's value would
 * hold every line after it, Subject and body too. No header value holds one. Only when there is one (a scan for
 * their last bytes, 0x85, 0xa8 and 0xa9), as a new Buffer.
 */
function withUnicodeBreaksAsLf(section: Buffer): Buffer {
  if (section.indexOf(0x85) < 0 && section.indexOf(0xa8) < 0 && section.indexOf(0xa9) < 0) return section;
  const out = Buffer.allocUnsafe(section.length);
  let used = 0;
  for (let at = 0; at < section.length; at++) {
    const byte = section[at]!;
    if (byte === 0xc2 && section[at + 1] === 0x85) {
      out[used++] = 0x0a;
      at += 1;
    } else if (byte === 0xe2 && section[at + 1] === 0x80 && (section[at + 2] === 0xa8 || section[at + 2] === 0xa9)) {
      out[used++] = 0x0a;
      at += 2;
    } else {
      out[used++] = byte;
    }
  }
  return out.subarray(0, used);
}

/**
 * Offset of the first empty line (where the header section ends), searched from `from`, or -1. A line break is CR LF,
 * LF or a lone CR, as mail readers take them, so an empty line is LF LF, LF CR (CR LF CR LF among them) or CR CR;
 * and CR CR LF, what a CR LF becomes when a tool converts line ends twice, is one line break, not a line and an empty
 * one (only its first header was read). A message whose header section ends in a way this did not see is still cut at
 * its first line that is no header field (parseHeaderSection): a body is never read as headers. `complete`: no byte
 * follows these (a CR CR at their end is an empty line, not the start of a CR CR LF).
 */
function findHeaderEnd(bytes: Buffer, from: number, complete: boolean): number {
  // A message that starts with a line break starts with its empty line: it has no headers.
  if (from === 0 && (bytes[0] === 0x0a || bytes[0] === 0x0d)) return 0;
  const last = bytes.length - 1;
  for (let at = from; at < last; at++) {
    const byte = bytes[at];
    if (byte === 0x0a) {
      const next = bytes[at + 1];
      if (next === 0x0a || next === 0x0d) return at;
    } else if (byte === 0x0d && bytes[at + 1] === 0x0d) {
      if (at + 2 > last) return complete ? at : -1;
      if (bytes[at + 2] !== 0x0a) return at;
      // CR CR LF: one line break; the LF is looked at next (an LF CR after it is the empty line).
      at += 1;
    }
  }
  return -1;
}

type HeaderValues = Omit<MailHeaderFields, 'headerTruncated' | 'headerBytesReplaced'>;

/**
 * The wanted fields of a header section. Lines end at CR LF, LF or a lone CR; a line that starts with a space or a tab
 * continues the field before it (unfolded: one space for the break and the blanks); the section ends at the first
 * empty line, or at the first line that is neither a field (a name of printable ASCII without a colon, maybe blanks,
 * then a colon) nor a continuation: a body that follows the headers with no empty line between. So no line of a body
 * is ever taken for a header. Only the lines of wanted fields are copied out of the text. With `bytes`, the text holds
 * a byte per character, and each copied line is decoded as UTF-8 (`bytesReplaced`: a value given had bytes that are
 * not UTF-8).
 */
function parseHeaderSection(text: string, bytes: boolean): HeaderValues & { bytesReplaced: boolean; ended: boolean } {
  const found: HeaderValues & { bytesReplaced: boolean; ended: boolean } = { from: null, to: null, cc: null, date: null, messageId: null, bytesReplaced: false, ended: false };
  /** Whether a line of the wanted field being gathered had bytes that are not UTF-8 (no closure: `text` stays local). */
  const gathering = { replaced: false };
  const length = text.length;
  let nextLf = -1;
  let nextCr = -1;
  /** The wanted field being gathered, unfolded so far; null within a field that is not wanted. */
  let field: string | null = null;
  let inField = false;
  let start = 0;
  while (start < length) {
    // The next LF and CR at or after the line's start (-2: none left), looked up again only once passed.
    if (nextLf !== -2 && nextLf < start) nextLf = nextAt(text, '\n', start);
    if (nextCr !== -2 && nextCr < start) nextCr = nextAt(text, '\r', start);
    const end = Math.min(nextLf < 0 ? length : nextLf, nextCr < 0 ? length : nextCr);
    const lineStart = start;
    start = end + lineBreakLength(text, end);
    const first = text.charCodeAt(lineStart);
    if (end - lineStart > MAX_HEADER_LINE) {
      // No header line (RFC 5322's limit): the section ends before it, and a field it would continue is not given
      // (never one cut short). Not an end found: what follows it is not read, as past the cap.
      if (first === 0x20 || first === 0x09) field = null;
      break;
    }
    if (end > lineStart && (first === 0x20 || first === 0x09)) {
      if (!inField) {
        found.ended = true;
        break;
      }
      if (field !== null) field = `${field} ${(bytes ? utf8Line(text.slice(lineStart, end), gathering) : text.slice(lineStart, end)).trimStart()}`;
      continue;
    }
    if (field !== null && addField(found, field) && gathering.replaced) found.bytesReplaced = true;
    field = null;
    gathering.replaced = false;
    const nameEnd = fieldNameEnd(text, lineStart, end);
    if (nameEnd < 0) {
      found.ended = true;
      break;
    }
    inField = true;
    const nameLength = nameEnd - lineStart;
    if (nameLength === 2 || nameLength === 4 || nameLength === 10) {
      const name = text.slice(lineStart, nameEnd).toLowerCase();
      if (Object.hasOwn(WANTED, name)) field = bytes ? utf8Line(text.slice(lineStart, end), gathering) : text.slice(lineStart, end);
    }
  }
  if (field !== null && addField(found, field) && gathering.replaced) found.bytesReplaced = true;
  return found;
}

/** The length of the line break at `at`: CR CR LF (a CR LF converted twice), CR LF, a lone CR or LF, or the end. */
function lineBreakLength(text: string, at: number): number {
  if (text.charCodeAt(at) !== 0x0d) return 1;
  if (text.charCodeAt(at + 1) === 0x0a) return 2;
  return text.charCodeAt(at + 1) === 0x0d && text.charCodeAt(at + 2) === 0x0a ? 3 : 1;
}

/** A line read a byte per character, decoded as UTF-8; `gathering.replaced` is set when it had bytes that are not. */
function utf8Line(latin1: string, gathering: { replaced: boolean }): string {
  const raw = Buffer.from(latin1, 'latin1');
  if (!isUtf8(raw)) gathering.replaced = true;
  return raw.toString('utf8');
}

function nextAt(text: string, char: string, from: number): number {
  const at = text.indexOf(char, from);
  return at < 0 ? -2 : at;
}

/**
 * Where the name of the field on the line from `start` to `end` ends (its last character, printable ASCII other
 * than a colon, plus one), when blanks and a colon follow it; -1 when the line is empty or no field.
 */
function fieldNameEnd(text: string, start: number, end: number): number {
  let at = start;
  while (at < end) {
    const unit = text.charCodeAt(at);
    if (unit < 0x21 || unit > 0x7e || unit === 0x3a) break;
    at++;
  }
  if (at === start) return -1;
  const nameEnd = at;
  while (at < end && (text.charCodeAt(at) === 0x20 || text.charCodeAt(at) === 0x09)) at++;
  return at < end && text.charCodeAt(at) === 0x3a ? nameEnd : -1;
}

/** Adds the field's value to what was found; false when it is not given (a repeated From, Date or Message-ID). */
function addField(found: HeaderValues, line: string): boolean {
  const colon = line.indexOf(':');
  if (colon <= 0) return false;
  const name = line.slice(0, colon).trim().toLowerCase();
  const field = Object.hasOwn(WANTED, name) ? WANTED[name] : undefined;
  if (!field) return false;
  const value = line.slice(colon + 1).trim();
  const previous = found[field];
  // To and Cc may repeat; the others count once (the first, as mail readers show them).
  if (previous === null) found[field] = value;
  else if (field === 'to' || field === 'cc') found[field] = `${previous}, ${value}`;
  else return false;
  return true;
}
