// The mail store (W/stores/mail/<account>/index.jsonl + blobs/): RFC 5322 messages, encrypted at rest.
import * as z from '../util/zod.js';
import { indexLineSchema, isIndexLine, listIndexedItems, requireRoot } from './jsonl-index.js';
import type { MailEnvelope, MailItem, SourceAdapter } from './source-adapter.js';

export interface MailAdapterOptions {
  /** The mail store's folder (W/stores/mail). */
  root: string;
}

// DESIGN.md's index line is id, timestamp, bytes and name: a mail line without userEncryption is a plain message (as
// null says), not a corrupt index.
export const mailIndexSchema = z.extend(indexLineSchema, {
  userEncryption: z.optional(z.nullable(z.enum(['smime', 'pgp']))),
});

type MailIndexLine = z.infer<typeof mailIndexSchema>;

/** True only for lines mailIndexSchema accepts as they are (see isIndexLine). */
export function isMailIndexLine(raw: unknown): raw is MailIndexLine {
  if (!isIndexLine(raw)) return false;
  const line = raw as Partial<Record<keyof MailIndexLine, unknown>>;
  return (
    !Object.hasOwn(line, 'userEncryption') || line.userEncryption === null || line.userEncryption === 'smime' || line.userEncryption === 'pgp'
  );
}

export function createMailAdapter(options: MailAdapterOptions): SourceAdapter {
  const root = requireRoot(options, 'mail');
  return {
    service: 'mail',
    list(accountId, range, signal) {
      return listIndexedItems({
        root,
        service: 'mail',
        accountId,
        range,
        signal,
        schema: mailIndexSchema,
        accepts: isMailIndexLine,
        toItem: (entry, ref): MailItem => ({
          kind: 'mail',
          accountId,
          id: entry.id,
          timestamp: entry.timestamp,
          bytes: entry.bytes,
          name: entry.name,
          userEncryption: entry.userEncryption ?? null,
          indexLine: entry,
          ref,
        }),
      });
    },
  };
}

/**
 * The envelope fields of an index line (from, to, cc, messageId: fields the format allows beyond the required ones),
 * each taken only when it has the expected type (a string; to and cc a list of strings); null when the line has none.
 */
export function indexEnvelope(entry: Record<string, unknown>): MailEnvelope | null {
  const text = (value: unknown) => (typeof value === 'string' ? value : null);
  const list = (value: unknown) =>
    Array.isArray(value) && value.length > 0 && value.every((address) => typeof address === 'string') ? value.join(', ') : text(value);
  const envelope = { from: text(entry['from']), to: list(entry['to']), cc: list(entry['cc']), messageId: text(entry['messageId']) };
  return envelope.from === null && envelope.to === null && envelope.cc === null && envelope.messageId === null ? null : envelope;
}
