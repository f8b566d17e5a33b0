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
      return { ...parseHeaderSection(held.toString('utf8', 0, headerEnd >= 0 ? headerEnd : held.length)), headerTruncated: truncated };
    },
  };
}

/** The whole-Buffer form, for small messages read at once (no copy of the message is made). */
export function mailHeaderFields(message: Buffer, maxBytes: number = MAX_HEADER_BYTES): MailHeaderFields {
  const window = message.subarray(0, maxBytes);
  const end = findHeaderEnd(window, 0);
  const truncated = end < 0 && message.length >= maxBytes;
  return { ...parseHeaderSection(window.toString('utf8', 0, end >= 0 ? end : window.length)), headerTruncated: truncated };
}

/** Offset of the blank line that ends the header section (CRLF CRLF or LF LF), searched from `from`, or -1. */
function findHeaderEnd(bytes: Buffer, from: number): number {
  const crlf = bytes.indexOf('\r\n\r\n', from);
  if (crlf < 0) return bytes.indexOf('\n\n', from);
  // Only an LF LF before the CRLF CRLF can come first: the rest of the message need not be searched.
  const lf = bytes.subarray(0, crlf + 2).indexOf('\n\n', from);
  return lf < 0 ? crlf : Math.min(crlf, lf);
}

function parseHeaderSection(text: string): Omit<MailHeaderFields, 'headerTruncated'> {
  const found: Omit<MailHeaderFields, 'headerTruncated'> = { from: null, to: null, cc: null, date: null, messageId: null };
  // A message that starts with a blank line has no headers.
  if (text.startsWith('\r\n') || text.startsWith('\n')) return found;
  const unfolded = text.replace(/\r?\n[ \t]+/g, ' ');
  for (const line of unfolded.split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    const field = Object.hasOwn(WANTED, name) ? WANTED[name] : undefined;
    if (!field) continue;
    const value = stripControls(line.slice(colon + 1).trim());
    const previous = found[field];
    // To and Cc may repeat; the others count once (the first, as mail readers show them).
    if (previous === null) found[field] = value;
    else if (field === 'to' || field === 'cc') found[field] = `${previous}, ${value}`;
  }
  return found;
}

function stripControls(value: string): string {
  // eslint-disable-next-line no-control-regex
  return value.replace(/[\u0000-\u0008\u000b-\u001f\u007f]/g, '');
}
