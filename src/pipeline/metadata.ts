// The lines of a `<service>.metadata/metadata.jsonl` file: non-content fields only (DESIGN.md "The sealed archive").
import { indexEnvelope } from '../sources/mail-adapter.js';
import type { FileItem, ImItem, MailItem } from '../sources/source-adapter.js';
import type { MailHeaderFields } from './mail-headers.js';

/**
 * How a delivered file stands with respect to encryption (production.json `encryption`): an item the provider
 * decrypted, the ciphertext of a customer-key account as stored, mail its user encrypted end to end as stored, or
 * `none` for a metadata file, plain text scopex wrote (from the index and, for mail the provider can read, the
 * messages' headers; each line gives its item's own state where it matters).
 */
export type DeliveredEncryption = 'provider-decrypted' | 'customer-key' | 'user-encrypted' | 'none';

/**
 * Mail: the envelope headers (from, to, cc, date, message-id) read from the authenticated message, and its size;
 * never the subject or the body. The provider cannot read a customer-key account's messages, so for those the
 * envelope comes from what the mail system recorded in the index (from, to, cc, message-id; no Date header there,
 * the item's timestamp stands for it), and `headersFrom` says which source each line quotes: "message", "index", or
 * null when neither had them. `headerBytesReplaced` says a value read from the message had bytes that are not UTF-8,
 * given as U+FFFD; every other value is the message's (control characters included, escaped by JSON).
 */
export function mailMetadata(item: MailItem, encryption: DeliveredEncryption, headers: MailHeaderFields | null): Record<string, unknown> {
  const indexed = headers ? null : indexEnvelope(item.indexLine);
  const envelope = headers ?? indexed;
  return {
    sourceId: item.id,
    timestamp: item.timestamp,
    from: envelope?.from ?? null,
    to: envelope?.to ?? null,
    cc: envelope?.cc ?? null,
    date: headers?.date ?? null,
    messageId: envelope?.messageId ?? null,
    size: item.bytes,
    encryption,
    headersRead: headers !== null,
    headersFrom: headers ? 'message' : indexed ? 'index' : null,
    headerTruncated: headers?.headerTruncated ?? false,
    headerBytesReplaced: headers?.headerBytesReplaced ?? false,
  };
}

/** Storage: the path as the store names it, size and times (all from the index: no content is opened). */
export function storageMetadata(item: FileItem): Record<string, unknown> {
  return {
    sourceId: item.id,
    timestamp: item.timestamp,
    path: item.name,
    size: item.bytes,
    created: item.created,
    modified: item.modified,
  };
}

/** IM: participants, time and size of each message (from the index: no message text). */
export function imMetadata(item: ImItem): Record<string, unknown> {
  return {
    sourceId: item.id,
    timestamp: item.timestamp,
    conversationId: item.conversationId,
    participants: item.participants,
    time: item.timestamp,
    size: item.bytes,
  };
}
