// Reading one account's index.jsonl a chunk at a time (never the whole file), each line checked against a schema.
import { createReadStream } from 'node:fs';
import { lstat, stat } from 'node:fs/promises';
import path from 'node:path';
import * as z from '../util/zod.js';
import { describeZodError } from '../config.js';
import { AbortedError, describeFsError, InputError, IntegrityError, SourceError } from '../errors.js';
import type { ItemRef, StoreService } from '../keys/key-service.js';
import { instant, isInstant } from '../order/schema.js';
import { jsonErrorOffset } from '../util/json-position.js';
import { ACCOUNT_ID_PATTERN } from './file-directory.js';
import type { Listing, TimeRange } from './source-adapter.js';
import { instantInRange } from '../util/in-range.js';

/** Item ids name blob files, so they are safe ASCII and never "." or "..". */
export const ITEM_ID_PATTERN = /^(?!\.{1,2}$)[A-Za-z0-9._-]{1,200}$/;

/** The fields every index line has; services add their own, and unknown fields are allowed. */
export const indexLineSchema = z.looseObject({
  id: z.string().check(z.regex(ITEM_ID_PATTERN, 'an item id of letters, digits, ".", "_" or "-"')),
  timestamp: instant,
  bytes: z.number().check(z.int(), z.nonnegative()),
  name: z.string(),
});

export type IndexLineFields = z.infer<typeof indexLineSchema>;

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
  schema: z.ZodMiniType<T>;
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

/** Lines are parsed and handed on in batches of at most this many (one batch per chunk read, usually fewer). */
const MAX_BATCH_LINES = 512;

/**
 * Yields the index's lines in file order, each validated, in batches (one per chunk read): a caller that handles
 * many lines pays the cost of an await once per batch, not once per line. A line that is not JSON or does not fit the
 * schema is a SourceError('INDEX_CORRUPT') naming the file and line, thrown after the good lines before it have been
 * yielded. Blank lines are skipped. Lines end as readline ends them: at "\n", "\r\n" or a lone "\r".
 */
export async function* readJsonlIndex<T>(options: ReadIndexOptions<T>): AsyncGenerator<IndexLine<T>[]> {
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
  let number = 0;
  let batch: IndexLine<T>[] = [];
  /** The first bad line, thrown once the lines before it are yielded. */
  let bad: SourceError | undefined;
  const take = (text: string): void => {
    number += 1;
    if (bad || text.trim() === '') return;
    let raw: unknown;
    try {
      raw = JSON.parse(text) as unknown;
    } catch (error) {
      // No cause: the parser's message quotes the line.
      const offset = jsonErrorOffset(error, text);
      bad = new SourceError('INDEX_CORRUPT', `index ${file} line ${number} is not valid JSON${offset === null ? '' : ` (at column ${offset + 1})`}`);
      return;
    }
    if (accepts?.(raw)) {
      batch.push({ line: number, entry: raw });
      return;
    }
    const parsed = schema.safeParse(raw);
    if (!parsed.success) {
      bad = new SourceError('INDEX_CORRUPT', `index ${file} line ${number} does not fit the index schema: ${describeZodError(parsed.error)}`);
      return;
    }
    batch.push({ line: number, entry: parsed.data });
  };
  const lines = new LineSplitter(take);
  try {
    for await (const chunk of stream as AsyncIterable<string>) {
      throwIfAborted(signal, `reading ${file}`);
      let paused = lines.push(chunk, () => batch.length >= MAX_BATCH_LINES || bad !== undefined);
      for (;;) {
        if (batch.length > 0) {
          const full = batch;
          batch = [];
          yield full;
          throwIfAborted(signal, `reading ${file}`);
        }
        if (bad) throw bad;
        if (!paused) break;
        paused = lines.resume();
      }
    }
    lines.end();
    if (batch.length > 0) yield batch;
    if (bad) throw bad;
  } catch (error) {
    if (error instanceof SourceError || error instanceof AbortedError || signal?.aborted) throw error;
    throw new SourceError('STORE_UNREADABLE', `cannot read the index ${file}: ${describeFsError(error)}`, { cause: error });
  } finally {
    stream.destroy();
  }
}

/**
 * Splits decoded text into lines the way readline does with an infinite crlfDelay: "\n", "\r\n" and a lone "\r" each
 * end a line; a "\r" at the end of a chunk waits for the next one; the last line needs no line break. After each line,
 * `push` stops early when `pause` says so, and `resume` goes on with the rest of that chunk.
 */
export class LineSplitter {
  #carry = '';
  #text = '';
  #at = 0;
  #pause: () => boolean = () => false;
  #paused = false;

  constructor(private readonly onLine: (text: string) => void) {}

  /** True when it paused before the chunk was used up (see `resume`). */
  push(chunk: string, pause: () => boolean = () => false): boolean {
    this.#text = this.#carry + chunk;
    this.#carry = '';
    this.#at = 0;
    this.#pause = pause;
    this.#paused = true;
    return this.resume();
  }

  /** Goes on with the chunk after a pause; true when it paused again, false once the chunk is used up. */
  resume(): boolean {
    if (!this.#paused) return false;
    const text = this.#text;
    let at = this.#at;
    const plain = text.indexOf('\r', at) < 0;
    for (;;) {
      let end = text.indexOf('\n', at);
      let next = end + 1;
      if (!plain) {
        const cr = text.indexOf('\r', at);
        if (cr >= 0 && (end < 0 || cr < end)) {
          if (cr === text.length - 1) end = -1; // a "\r" that may be half of a "\r\n": wait for the next chunk
          else {
            end = cr;
            next = text.charCodeAt(cr + 1) === 0x0a ? cr + 2 : cr + 1;
          }
        }
      }
      if (end < 0) {
        this.#carry = text.slice(at);
        break;
      }
      this.onLine(text.slice(at, end));
      at = next;
      if (at < text.length && this.#pause()) {
        this.#at = at;
        return true;
      }
    }
    this.#text = '';
    this.#at = 0;
    this.#paused = false;
    return false;
  }

  /** The last line, when the text did not end with a line break. */
  end(): void {
    const rest = this.#carry;
    this.#carry = '';
    if (rest === '') return;
    this.onLine(rest.endsWith('\r') ? rest.slice(0, -1) : rest);
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
  // Only "there is none" makes an unknown account: a store folder that cannot be searched (no permission) is an
  // unreadable store, or the sentence sends the operator looking for an account that is there.
  const found = await lstat(folder).catch((error: unknown) => {
    const code = (error as { code?: unknown }).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw new SourceError('STORE_UNREADABLE', `cannot read the ${service} store ${root}: ${describeFsError(error)}`, { cause: error });
  });
  if (found?.isDirectory()) return folder;
  if (found?.isSymbolicLink()) throw linkInStore(folder, `the ${service} folder of account ${accountId}`);
  await assertStoreReadable(root, service);
  throw new SourceError('UNKNOWN_ACCOUNT', `the ${service} store has no account ${accountId} (no folder ${folder})`);
}

/**
 * A store keeps each account's folders and files as its own: a symbolic link inside it (the store's root may be one)
 * could hand over another account's data or a key file under this account's name. Store tampering: exit 4.
 */
export function linkInStore(file: string, what: string): IntegrityError {
  return new IntegrityError('ITEM_FORMAT', `${what} (${file}) is a symbolic link; a store holds its folders and files as its own`);
}

/** The account's blobs folder, which must not be a symbolic link (a missing one is an account without blobs). */
async function checkBlobsFolder(blobs: string, service: string, accountId: string): Promise<void> {
  const found = await lstat(blobs).catch(() => undefined);
  if (found?.isSymbolicLink()) throw linkInStore(blobs, `the ${service} blobs folder of account ${accountId}`);
}

export async function assertStoreReadable(root: string, service: string): Promise<void> {
  try {
    const rootStat = await stat(root);
    if (!rootStat.isDirectory()) throw Object.assign(new Error('not a folder'), { code: 'ENOTDIR' });
  } catch (error) {
    throw new SourceError('STORE_UNREADABLE', `cannot read the ${service} store ${root}: ${describeFsError(error)}`, { cause: error });
  }
}

/** Both ends inclusive: from <= timestamp <= to, compared past the millisecond (see util/in-range.ts). */
export function inRange(timestamp: string, range: TimeRange): boolean {
  return instantInRange(timestamp, Date.parse(timestamp), range.from.getTime(), range.to.getTime());
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
  schema: z.ZodMiniType<T>;
  /** See ReadIndexOptions.accepts. */
  accepts?: (raw: unknown) => raw is T;
  toItem: (entry: T, ref: ItemRef) => Item;
  /**
   * Throws when a line contradicts itself where that decides whether its item is in the range: called for every line,
   * in the range or not, before the range is applied (a line whose other dates put it in the range must not be left
   * out without a word because its timestamp does not).
   */
  check?: (entry: T, range: TimeRange, where: { file: string; line: number }) => void;
}

/** What the mail, storage and IM adapters share: read only this account's index, keep the lines in range. */
export function listIndexedItems<T extends z.infer<typeof indexLineSchema>, Item>(options: ListIndexedOptions<T, Item>): Listing<Item> {
  return {
    batches: () => listIndexedBatches(options),
    async *[Symbol.asyncIterator]() {
      for await (const batch of listIndexedBatches(options)) {
        for (const item of batch) {
          yield item;
          throwIfAborted(options.signal, `listing ${options.service} items of account ${options.accountId}`);
        }
      }
    },
  };
}

async function* listIndexedBatches<T extends z.infer<typeof indexLineSchema>, Item>(options: ListIndexedOptions<T, Item>): AsyncGenerator<Item[]> {
  const { root, service, accountId, range, signal } = options;
  checkRange(range, service);
  throwIfAborted(signal, `listing ${service} items of account ${accountId}`);
  const folder = await accountFolder(root, service, accountId);
  const file = path.join(folder, 'index.jsonl');
  const blobs = path.join(folder, 'blobs');
  await checkBlobsFolder(blobs, service, accountId);
  // An item listed twice would be delivered twice (under a `~2` name) and counted twice: the index is inconsistent.
  // The ids of one account's index are kept while it is read (~50 bytes each).
  const seen = new Set<string>();
  for await (const lines of readJsonlIndex({ file, schema: options.schema, ...(options.accepts ? { accepts: options.accepts } : {}), signal })) {
    const items: Item[] = [];
    for (const { line, entry } of lines) {
      if (seen.size === seen.add(entry.id).size) {
        throw new SourceError('INDEX_CORRUPT', `index ${file} line ${line} lists item ${entry.id} again; an index lists each item once`);
      }
      options.check?.(entry, range, { file, line });
      if (!inRange(entry.timestamp, range)) continue;
      const ref: ItemRef = { service, accountId, itemId: entry.id, blobFile: path.join(blobs, entry.id) };
      items.push(options.toItem(entry, ref));
    }
    if (items.length > 0) yield items;
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
