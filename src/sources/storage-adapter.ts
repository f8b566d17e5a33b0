// The file-storage store (W/stores/storage/<account>/index.jsonl + blobs/): users' files, encrypted at rest.
import { instant } from '../order/schema.js';
import { indexLineSchema, listIndexedItems, requireRoot } from './jsonl-index.js';
import type { FileItem, SourceAdapter } from './source-adapter.js';

export interface StorageAdapterOptions {
  /** The storage store's folder (W/stores/storage). */
  root: string;
}

export const storageIndexSchema = indexLineSchema.extend({
  created: instant,
  modified: instant,
});

export function createStorageAdapter(options: StorageAdapterOptions): SourceAdapter {
  const root = requireRoot(options, 'storage');
  return {
    service: 'storage',
    list(accountId, range, signal) {
      return listIndexedItems({
        root,
        service: 'storage',
        accountId,
        range,
        signal,
        schema: storageIndexSchema,
        toItem: (entry, ref): FileItem => ({
          kind: 'file',
          accountId,
          id: entry.id,
          timestamp: entry.timestamp,
          bytes: entry.bytes,
          name: entry.name,
          created: entry.created,
          modified: entry.modified,
          ref,
        }),
      });
    },
  };
}
