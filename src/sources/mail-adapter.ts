// The mail store (W/stores/mail/<account>/index.jsonl + blobs/): RFC 5322 messages, encrypted at rest.
import * as z from '../util/zod.js';
import { indexLineSchema, isIndexLine, listIndexedItems, requireRoot } from './jsonl-index.js';
import type { MailItem, SourceAdapter } from './source-adapter.js';

export interface MailAdapterOptions {
  /** The mail store's folder (W/stores/mail). */
  root: string;
}

export const mailIndexSchema = z.extend(indexLineSchema, {
  userEncryption: z.nullable(z.enum(['smime', 'pgp'])),
});

type MailIndexLine = z.infer<typeof mailIndexSchema>;

/** True only for lines mailIndexSchema accepts as they are (see isIndexLine). */
export function isMailIndexLine(raw: unknown): raw is MailIndexLine {
  if (!isIndexLine(raw)) return false;
  const line = raw as Partial<Record<keyof MailIndexLine, unknown>>;
  return (line.userEncryption === null || line.userEncryption === 'smime' || line.userEncryption === 'pgp');
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
          userEncryption: entry.userEncryption,
          ref,
        }),
      });
    },
  };
}
