// Reading one account's index.jsonl a line at a time (never the whole file), each line checked against a schema.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { z } from 'zod';
import { describeFsError, describeZodError } from '../config.js';
import { AbortedError, InputError, SourceError } from '../errors.js';
import type { ItemRef, StoreService } from '../keys/key-service.js';
import { instant } from '../order/schema.js';
import { ACCOUNT_ID_PATTERN } from './file-directory.js';
import type { TimeRange } from './source-adapter.js';

/** Item ids name blob files, so they are safe ASCII and never "." or "..". */
export const ITEM_ID_PATTERN = /^(?!\.{1,2}$)[A-Za-z0-9._-]{1,200}$/;

/** The fields every index line has; services add their own, and unknown fields are allowed. */
export const indexLineSchema = z.looseObject({
  id: z.string().regex(ITEM_ID_PATTERN, 'an item id of letters, digits, ".", "_" or "-"'),
  timestamp: instant,
  bytes: z.number().int().nonnegative(),
  name: z.string(),
});

/**
 * The pattern of `instant` (zod's ISO datetime with an offset), for the hand-written line check below; a test keeps
 * the two the same.
 */
export const INSTANT_PATTERN =
  /^(?:(?:\d\d[2468][048]|\d\d[13579][26]|\d\d0[48]|[02468][048]00|[13579][26]00)-02-29|\d{4}-(?:(?:0[13578]|1[02])-(?:0[1-9]|[12]\d|3[01])|(?:0[469]|11)-(?:0[1-9]|[12]\d|30)|(?:02)-(?:0[1-9]|1\d|2[0-8])))T(?:(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d+)?(?:Z|([+-](?:[01]\d|2[0-3]):[0-5]\d)))$/;

export type IndexLineFields = z.infer<typeof indexLineSchema>;

export function isInstant(value: unknown): value is string {
  return typeof value === 'string' && INSTANT_PATTERN.test(value);
}

/**
 * True only for what indexLineSchema accepts as it is (so the line needs no parse). Per line this is a few
 * comparisons where a schema parse costs ~20 us; a line it refuses still goes to the schema, for its verdict and
 * its message.
 */
export function isIndexLine(raw: unknown): raw is IndexLineFields {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return false;
  const line = raw as Record<string, unknown>;
  const { id, bytes } = line;
  return (
    typeof id === 'string' &&
    ITEM_ID_PATTERN.test(id) &&
    isInstant(line['timestamp']) &&
    typeof bytes === 'number' &&
    Number.isSafeInteger(bytes) &&
    bytes >= 0 &&
    typeof line['name'] === 'string'
  );
}

export interface IndexLine<T> {
  /** 1-based line number in the file, for error messages. */
  line: number;
  entry: T;
}

export interface ReadIndexOptions<T> {
  file: string;
  schema: z.ZodType<T>;
  /** A fast check that implies the schema accepts a line unchanged; lines it refuses are parsed by the schema. */
  accepts?: (raw: unknown) => raw is T;
  signal?: AbortSignal;
}

/** Throws the abort reason when it is an error, so a caller that aborts with its own error gets it back. */
export function throwIfAborted(signal: AbortSignal | undefined, what: string): void {
  if (!signal?.aborted) return;
  const reason: unknown = signal.reason;
  if (reason instanceof Error && reason.name !== 'AbortError') throw reason;
  throw new AbortedError('ABORTED', `${what} was interrupted`, { cause: reason });
}

/**
 * Yields the index's lines in file order, each validated; a line that is not JSON or does not fit the schema is a
 * SourceError('INDEX_CORRUPT') naming the file and line. Blank lines are skipped.
 */
export async function* readJsonlIndex<T>(options: ReadIndexOptions<T>): AsyncGenerator<IndexLine<T>> {
  const { file, schema, accepts, signal } = options;
  throwIfAborted(signal, `reading ${file}`);
  const stream = createReadStream(file, { encoding: 'utf8', highWaterMark: 64 * 1024 });
  const opened = new Promise<void>((resolve, reject) => {
    stream.once('open', () => resolve());
    stream.once('error', reject);
  });
  try {
    await opened;
  } catch (error) {
    stream.destroy();
    throw new SourceError('STORE_UNREADABLE', `cannot read the index ${file}: ${describeFsError(error)}`, { cause: error });
  }
  const lines = createInterface({ input: stream, crlfDelay: Infinity });
  let number = 0;
  try {
    for await (const text of lines) {
      number += 1;
      throwIfAborted(signal, `reading ${file}`);
      if (text.trim() === '') continue;
      let raw: unknown;
      try {
        raw = JSON.parse(text) as unknown;
      } catch (error) {
        throw new SourceError('INDEX_CORRUPT', `index ${file} line ${number} is not valid JSON: ${(error as Error).message}`, {
          cause: error,
        });
      }
      if (accepts?.(raw)) {
        yield { line: number, entry: raw };
        continue;
      }
      const parsed = schema.safeParse(raw);
      if (!parsed.success) {
        throw new SourceError('INDEX_CORRUPT', `index ${file} line ${number} does not fit the index schema: ${describeZodError(parsed.error)}`);
      }
      yield { line: number, entry: parsed.data };
    }
  } catch (error) {
    if (error instanceof SourceError || error instanceof AbortedError || signal?.aborted) throw error;
    throw new SourceError('STORE_UNREADABLE', `cannot read the index ${file}: ${describeFsError(error)}`, { cause: error });
  } finally {
    lines.close();
    stream.destroy();
  }
}

/**
 * The folder of one account in one service's store. An id that could not be a folder name, or a folder that does
 * not exist, is an unknown account; a store root that is missing altogether is an unreadable store.
 */
export async function accountFolder(root: string, service: string, accountId: string): Promise<string> {
  if (!ACCOUNT_ID_PATTERN.test(accountId)) {
    throw new SourceError('UNKNOWN_ACCOUNT', `the ${service} store has no account ${JSON.stringify(accountId)}: not a valid account id`);
  }
  const folder = path.join(root, accountId);
  const found = await stat(folder).catch(() => undefined);
  if (found?.isDirectory()) return folder;
  await assertStoreReadable(root, service);
  throw new SourceError('UNKNOWN_ACCOUNT', `the ${service} store has no account ${accountId} (no folder ${folder})`);
}

export async function assertStoreReadable(root: string, service: string): Promise<void> {
  try {
    const rootStat = await stat(root);
    if (!rootStat.isDirectory()) throw Object.assign(new Error('not a folder'), { code: 'ENOTDIR' });
  } catch (error) {
    throw new SourceError('STORE_UNREADABLE', `cannot read the ${service} store ${root}: ${describeFsError(error)}`, { cause: error });
  }
}

/** Both ends inclusive: from <= timestamp <= to. */
export function inRange(timestamp: string, range: TimeRange): boolean {
  const at = Date.parse(timestamp);
  return at >= range.from.getTime() && at <= range.to.getTime();
}

export function checkRange(range: TimeRange, service: string): void {
  if (Number.isNaN(range.from.getTime()) || Number.isNaN(range.to.getTime())) {
    throw new InputError('USAGE', `the ${service} store was asked for items in a time range whose ends are not valid dates`);
  }
}

export interface ListIndexedOptions<T extends z.infer<typeof indexLineSchema>, Item> {
  /** The service folder (W/stores/<service>). */
  root: string;
  service: Exclude<StoreService, 'subscriber'>;
  accountId: string;
  range: TimeRange;
  signal?: AbortSignal | undefined;
  schema: z.ZodType<T>;
  /** See ReadIndexOptions.accepts. */
  accepts?: (raw: unknown) => raw is T;
  toItem: (entry: T, ref: ItemRef) => Item;
}

/** What the mail, storage and IM adapters share: read only this account's index, keep the lines in range. */
export async function* listIndexedItems<T extends z.infer<typeof indexLineSchema>, Item>(
  options: ListIndexedOptions<T, Item>,
): AsyncGenerator<Item> {
  const { root, service, accountId, range, signal } = options;
  checkRange(range, service);
  throwIfAborted(signal, `listing ${service} items of account ${accountId}`);
  const folder = await accountFolder(root, service, accountId);
  const file = path.join(folder, 'index.jsonl');
  for await (const { entry } of readJsonlIndex({ file, schema: options.schema, ...(options.accepts ? { accepts: options.accepts } : {}), signal })) {
    if (!inRange(entry.timestamp, range)) continue;
    const ref: ItemRef = { service, accountId, itemId: entry.id, blobFile: path.join(folder, 'blobs', entry.id) };
    yield options.toItem(entry, ref);
    throwIfAborted(signal, `listing ${service} items of account ${accountId}`);
  }
}

/** Required adapter options are checked when the adapter is built, not when it is first used. */
export function requireRoot(options: { root?: unknown } | undefined, adapter: string): string {
  const root = options?.root;
  if (typeof root !== 'string' || root === '') {
    throw new InputError('CONFIG_INVALID', `the ${adapter} adapter needs options.root, the folder of its store`);
  }
  return path.resolve(root);
}
