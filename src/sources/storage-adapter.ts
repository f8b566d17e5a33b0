// The file-storage store (W/stores/storage/<account>/index.jsonl + blobs/): users' files, encrypted at rest.
import { IntegrityError } from '../errors.js';
import * as z from '../util/zod.js';
import { instant, isInstant } from '../order/schema.js';
import { sameInstant } from '../util/in-range.js';
import { indexLineSchema, inRange, isIndexLine, listIndexedItems, requireRoot } from './jsonl-index.js';
import type { FileItem, SourceAdapter, TimeRange } from './source-adapter.js';

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

/**
 * A file is dated by its last modification: its index line's `timestamp` and `modified` must be the same instant, and
 * it cannot have been created after it. A line that says otherwise stops the export (exit 4) when either date is in
 * the range: the delivered bytes may be a version from outside it, or a file of the range may be left out unseen.
 */
function checkFileDates(entry: StorageIndexLine, range: TimeRange, accountId: string, where: { file: string; line: number }): void {
  const listed = inRange(entry.timestamp, range);
  const disagree = (problem: string): IntegrityError =>
    new IntegrityError(
      'INDEX_DISAGREES',
      `storage item ${JSON.stringify(entry.id)} of account ${accountId} (index ${where.file} line ${where.line}): ${problem} (a file is dated by its last modification); the export was stopped and nothing was delivered`,
    );
  if (!sameInstant(entry.modified, entry.timestamp) && (listed || inRange(entry.modified, range))) {
    throw disagree(`its modified time ${entry.modified} is not its timestamp ${entry.timestamp}`);
  }
  if (listed && Date.parse(entry.created) > Date.parse(entry.modified)) {
    throw disagree(`it was created at ${entry.created}, after its last modification at ${entry.modified}`);
  }
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
        check: (entry, checked, where) => checkFileDates(entry, checked, accountId, where),
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
