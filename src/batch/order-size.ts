// How much work an order is, roughly, before it runs: so that a batch starts its biggest orders first and no worker
// is left alone with a big order at the end.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { ScopexConfig } from '../config.js';
import { TARGET_TYPES, type TargetType } from '../order/schema.js';
import type { AccountDirectory } from '../sources/account-directory.js';
import { createFileDirectory } from '../sources/file-directory.js';
import { readInputFile } from '../util/read-input-file.js';
import type { OrderFile } from './order-files.js';

/** The stores whose index lines are the items an export reads (subscriber records are one item per account). */
const INDEXED_STORES = ['mail', 'storage', 'im'] as const;

/**
 * Sizes the indexes of the accounts an order names (the bytes of their index.jsonl files: an item is one line), or
 * null when that cannot be told cheaply (unreadable order or directory, no exact targets). Never throws: the export
 * itself reports what is wrong with an order. The caller reads the directory once for the whole batch.
 */
export async function estimateOrderWork(order: OrderFile, config: ScopexConfig, directory: AccountDirectory | null): Promise<number | null> {
  if (!directory || !order.idFromOrder) return null;
  let targets: unknown;
  try {
    const value = JSON.parse((await readInputFile(order.file)).toString('utf8').replace(/^\uFEFF/, '')) as unknown;
    targets = value && typeof value === 'object' ? (value as Record<string, unknown>)['targets'] : undefined;
  } catch {
    return null;
  }
  if (!Array.isArray(targets)) return null;
  const accounts = new Set<string>();
  for (const target of targets as unknown[]) {
    if (!target || typeof target !== 'object') continue;
    const { type, value } = target as Record<string, unknown>;
    if (typeof value !== 'string' || typeof type !== 'string' || !(TARGET_TYPES as readonly string[]).includes(type)) continue;
    for (const account of directory.resolve({ type: type as TargetType, value })) accounts.add(account.id);
  }
  if (accounts.size === 0) return null;
  const sizes = await Promise.all(
    [...accounts].flatMap((id) =>
      INDEXED_STORES.map((store) =>
        fs.stat(path.join(config.storesRoot, store, id, 'index.jsonl')).then(
          (stats) => stats.size,
          () => 0,
        ),
      ),
    ),
  );
  return sizes.reduce((sum, size) => sum + size, 0);
}

/** The account directory for sizing orders, or null when it cannot be read (the exports will say why). */
export function directoryForSizing(config: ScopexConfig): AccountDirectory | null {
  try {
    return createFileDirectory({ file: path.join(config.storesRoot, 'directory.json') });
  } catch {
    return null;
  }
}

/** Biggest known first (longest processing time first), unknown sizes after them in their given order. */
export function biggestFirst<T>(items: readonly T[], sizes: readonly (number | null)[]): T[] {
  return items
    .map((item, index) => ({ item, index, size: sizes[index] ?? null }))
    .sort((a, b) => (b.size ?? -1) - (a.size ?? -1) || a.index - b.index)
    .map(({ item }) => item);
}
