// Reads the header section of an RFC 5322 message as it streams past, and keeps only the non-content fields
// (never Subject, never the body).

/** Headers larger than this are cut: a message with a huge header section cannot make the export hold it all. */
export const MAX_HEADER_BYTES = 64 * 1024;

/** The non-content header fields of one message, as written (unfolded, not decoded). */
export interface MailHeaderFields {
  from: string | null;
  to: string | null;
  cc: string | null;
  date: string | null;
  messageId: string | null;
  /** True when the header section was longer than MAX_HEADER_BYTES and only its start was read. */
  headerTruncated: boolean;
}

const WANTED: Record<string, keyof Omit<MailHeaderFields, 'headerTruncated'>> = {
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
      const end = findHeaderEnd(held, searchFrom);
      if (end >= 0) {
        headerEnd = end;
        done = true;
      } else if (held.length >= maxBytes) {
        truncated = true;
        done = true;
      }
    },
    fields() {
      return withTruncation(parseHeaderSection(held.toString('utf8', 0, headerEnd >= 0 ? headerEnd : held.length)), truncated);
    },
  };
}

/** The whole-Buffer form, for small messages read at once (no copy of the message is made). */
export function mailHeaderFields(message: Buffer, maxBytes: number = MAX_HEADER_BYTES): MailHeaderFields {
  const window = message.length > maxBytes ? message.subarray(0, maxBytes) : message;
  const end = findHeaderEnd(window, 0);
  const truncated = end < 0 && message.length >= maxBytes;
  return withTruncation(parseHeaderSection(window.toString('utf8', 0, end >= 0 ? end : window.length)), truncated);
}

const CRLF_CRLF = Buffer.from('\r\n\r\n', 'latin1');
const LF_LF = Buffer.from('\n\n', 'latin1');

/** Offset of the blank line that ends the header section (CRLF CRLF or LF LF), searched from `from`, or -1. */
function findHeaderEnd(bytes: Buffer, from: number): number {
  const crlf = bytes.indexOf(CRLF_CRLF, from);
  if (crlf < 0) return bytes.indexOf(LF_LF, from);
  // Only an LF LF starting before the CRLF CRLF can come first: the rest of the message need not be searched.
  for (let at = bytes.indexOf(0x0a, from); at >= 0 && at < crlf; at = bytes.indexOf(0x0a, at + 1)) {
    if (bytes[at + 1] === 0x0a) return at;
  }
  return crlf;
}

type HeaderValues = Omit<MailHeaderFields, 'headerTruncated'>;

function withTruncation(found: HeaderValues, headerTruncated: boolean): MailHeaderFields {
  return { from: found.from, to: found.to, cc: found.cc, date: found.date, messageId: found.messageId, headerTruncated };
}

/** Could this UTF-16 unit be trimmed by String#trim? (Every ASCII control or space, and anything beyond ASCII.) */
function mayBeTrimmed(unit: number): boolean {
  return unit <= 0x20 || unit >= 0x7f;
}

/**
 * The wanted fields of a header section: lines unfolded (a line break followed by spaces or tabs is one space),
 * split at line breaks, each "name: value" with the name compared trimmed and lower-cased. Done line by line, and a
 * line whose name cannot be a wanted one (its length is none of theirs and it has nothing to trim) is passed over
 * without being copied.
 */
function parseHeaderSection(text: string): HeaderValues {
  const found: HeaderValues = { from: null, to: null, cc: null, date: null, messageId: null };
  // A message that starts with a blank line has no headers.
  if (text.startsWith('\r\n') || text.startsWith('\n')) return found;
  const length = text.length;
  let start = 0;
  while (start < length) {
    // The logical line runs to the first line break not followed by a space or tab.
    let end = start;
    let folded = false;
    for (;;) {
      const newline = text.indexOf('\n', end);
      if (newline < 0) {
        end = length;
        break;
      }
      const next = text.charCodeAt(newline + 1);
      if (next === 0x20 || next === 0x09) {
        folded = true;
        end = newline + 1;
        continue;
      }
      end = newline;
      break;
    }
    // A \r before the line break stays on the line: the colon comes before it, and the value is trimmed.
    const lineStart = start;
    start = end + 1;
    const colon = text.indexOf(':', lineStart);
    if (colon < 0 || colon >= end) {
      // No colon on the physical lines; unfolding cannot add one.
      continue;
    }
    const rawNameLength = colon - lineStart;
    if (
      !folded &&
      rawNameLength !== 2 &&
      rawNameLength !== 4 &&
      rawNameLength !== 10 &&
      !mayBeTrimmed(text.charCodeAt(lineStart)) &&
      !mayBeTrimmed(text.charCodeAt(colon - 1))
    ) {
      continue;
    }
    const line = folded ? text.slice(lineStart, end).replace(/\r?\n[ \t]+/g, ' ') : text.slice(lineStart, end);
    addField(found, line);
  }
  return found;
}

function addField(found: HeaderValues, line: string): void {
  const colon = line.indexOf(':');
  if (colon <= 0) return;
  const name = line.slice(0, colon).trim().toLowerCase();
  const field = Object.hasOwn(WANTED, name) ? WANTED[name] : undefined;
  if (!field) return;
  const value = stripControls(line.slice(colon + 1).trim());
  const previous = found[field];
  // To and Cc may repeat; the others count once (the first, as mail readers show them).
  if (previous === null) found[field] = value;
  else if (field === 'to' || field === 'cc') found[field] = `${previous}, ${value}`;
}

function stripControls(value: string): string {
  for (let index = 0; index < value.length; index += 1) {
    const unit = value.charCodeAt(index);
    if ((unit < 0x20 && unit !== 0x09) || unit === 0x7f) {
      // eslint-disable-next-line no-control-regex
      return value.replace(/[\u0000-\u0008\u000b-\u001f\u007f]/g, '');
    }
  }
  return value;
}
