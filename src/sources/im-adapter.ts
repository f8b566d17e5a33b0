// The instant-messaging store (W/stores/im/<account>/index.jsonl + blobs/): JSON chat messages, encrypted at rest.
import { z } from 'zod';
import { indexLineSchema, listIndexedItems, requireRoot } from './jsonl-index.js';
import type { ImItem, SourceAdapter } from './source-adapter.js';

export interface ImAdapterOptions {
  /** The IM store's folder (W/stores/im). */
  root: string;
}

export const imIndexSchema = indexLineSchema.extend({
  conversationId: z.string().min(1),
  participants: z.array(z.string()),
});

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
