// Subscriber records (W/stores/subscriber/<account>.json): one encrypted JSON record per account.
import { lstat } from 'node:fs/promises';
import path from 'node:path';
import { SourceError } from '../errors.js';
import { BLOB_OVERHEAD } from '../keys/item-crypto.js';
import type { ItemRef } from '../keys/key-service.js';
import { ACCOUNT_ID_PATTERN } from './file-directory.js';
import { assertStoreReadable, checkRange, linkInStore, requireRoot, throwIfAborted } from './jsonl-index.js';
import type { SourceAdapter, SubscriberItem } from './source-adapter.js';

export interface SubscriberAdapterOptions {
  /** The subscriber store's folder (W/stores/subscriber). */
  root: string;
}

export const SUBSCRIBER_ITEM_ID = 'subscriber';

export function createSubscriberAdapter(options: SubscriberAdapterOptions): SourceAdapter {
  const root = requireRoot(options, 'subscriber');
  return {
    service: 'subscriber',
    // A subscriber record describes the account, not an event in time: it is listed whatever the range, and
    // its timestamp (the record file's modification time) says as of when it holds.
    async *list(accountId, range, signal): AsyncGenerator<SubscriberItem> {
      checkRange(range, 'subscriber');
      throwIfAborted(signal, `listing the subscriber record of account ${accountId}`);
      if (!ACCOUNT_ID_PATTERN.test(accountId)) {
        throw new SourceError('UNKNOWN_ACCOUNT', `the subscriber store has no account ${JSON.stringify(accountId)}: not a valid account id`);
      }
      const blobFile = path.join(root, `${accountId}.json`);
      const found = await lstat(blobFile).catch(() => undefined);
      if (found?.isSymbolicLink()) throw linkInStore(blobFile, `the subscriber record of account ${accountId}`);
      if (!found?.isFile()) {
        await assertStoreReadable(root, 'subscriber');
        throw new SourceError('UNKNOWN_ACCOUNT', `the subscriber store has no record for account ${accountId} (no file ${blobFile})`);
      }
      throwIfAborted(signal, `listing the subscriber record of account ${accountId}`);
      const ref: ItemRef = { service: 'subscriber', accountId, itemId: SUBSCRIBER_ITEM_ID, blobFile };
      yield {
        kind: 'subscriber',
        accountId,
        id: SUBSCRIBER_ITEM_ID,
        timestamp: found.mtime.toISOString(),
        bytes: Math.max(0, found.size - BLOB_OVERHEAD),
        name: `${accountId}.json`,
        ref,
      };
    },
  };
}
