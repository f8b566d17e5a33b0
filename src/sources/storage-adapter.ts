// The file-storage store (W/stores/storage/<account>/index.jsonl + blobs/): users' files, encrypted at rest.
import * as z from '../util/zod.js';
import { instant, isInstant } from '../order/schema.js';
import { indexLineSchema, isIndexLine, listIndexedItems, requireRoot } from './jsonl-index.js';
import type { FileItem, SourceAdapter } from './source-adapter.js';

export interface StorageAdapterOptions {
  /** The storage store's folder (W/stores/storage). */
  root: string;
}

export const storageIndexSchema = z.extend(indexLineSchema, {
  created: instant,
  modified: instant,
});

type StorageIndexLine = z.infer<typeof storageIndexSchema>;

/** True only for lines storageIndexSchema accepts as they are (see isIndexLine). */
export function isStorageIndexLine(raw: unknown): raw is StorageIndexLine {
  if (!isIndexLine(raw)) return false;
  const line = raw as Partial<Record<keyof StorageIndexLine, unknown>>;
  return isInstant(line.created) && isInstant(line.modified);
}

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
        accepts: isStorageIndexLine,
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
