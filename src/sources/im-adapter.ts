// The instant-messaging store (W/stores/im/<account>/index.jsonl + blobs/): JSON chat messages, encrypted at rest.
import * as z from '../util/zod.js';
import { indexLineSchema, isIndexLine, listIndexedItems, requireRoot } from './jsonl-index.js';
import type { ImItem, SourceAdapter } from './source-adapter.js';

export interface ImAdapterOptions {
  /** The IM store's folder (W/stores/im). */
  root: string;
}

export const imIndexSchema = z.extend(indexLineSchema, {
  conversationId: z.string().check(z.minLength(1)),
  participants: z.array(z.string()),
});

type ImIndexLine = z.infer<typeof imIndexSchema>;

/** True only for lines imIndexSchema accepts as they are (see isIndexLine). */
export function isImIndexLine(raw: unknown): raw is ImIndexLine {
  if (!isIndexLine(raw)) return false;
  const line = raw as Partial<Record<keyof ImIndexLine, unknown>>;
  return (
    typeof line.conversationId === 'string' &&
    line.conversationId.length > 0 &&
    Array.isArray(line.participants) &&
    line.participants.every((participant) => typeof participant === 'string')
  );
}

export function createImAdapter(options: ImAdapterOptions): SourceAdapter {
  const root = requireRoot(options, 'im');
  return {
    service: 'im',
    list(accountId, range, signal) {
      return listIndexedItems({
        root,
        service: 'im',
        accountId,
        range,
        signal,
        schema: imIndexSchema,
        accepts: isImIndexLine,
        toItem: (entry, ref): ImItem => ({
          kind: 'im',
          accountId,
          id: entry.id,
          timestamp: entry.timestamp,
          bytes: entry.bytes,
          name: entry.name,
          conversationId: entry.conversationId,
          participants: entry.participants,
          ref,
        }),
      });
    },
  };
}
