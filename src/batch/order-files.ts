// Which order files a batch runs: files as given, folders as their *.json files in name order, each once.
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { describeFsError, InputError } from '../errors.js';
import { readInputFile } from '../util/read-input-file.js';

/** An order file is small; anything bigger is not parsed here (the exporter reports it). */
const MAX_ORDER_FILE_BYTES = 1024 * 1024;
const SAFE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export interface OrderFile {
  file: string;
  /** The order's id, or the file name when the file holds no readable order id. */
  orderId: string;
  /** Whether orderId came from the order itself (only then can an archive of that name be its archive). */
  idFromOrder: boolean;
  /** SHA-256 of the file's bytes, to tell a repeated order from a different one under the same id. */
  sha256: string | null;
  /** Why an argument names no order that can be run (missing, unreadable, an empty folder): its row fails with this. */
  unusable?: { code: 'FILE_UNREADABLE' | 'USAGE'; message: string };
}

/** An order argument as expanded: a file to run, or an argument that names none, with the reason. */
export type OrderArgument = Pick<OrderFile, 'file' | 'unusable'>;

/**
 * The order files the arguments name, each once, in the order given. An argument that names none (a path that is
 * missing or unreadable, a folder without *.json files) stays in the list with its reason, so that it fails as a row
 * of its own and does not stop the others; only when no argument names an order is that a usage error.
 */
export async function expandOrderArguments(args: readonly string[]): Promise<OrderArgument[]> {
  if (args.length === 0) throw new InputError('USAGE', 'name at least one order file or folder');
  const expanded: OrderArgument[] = [];
  const seen = new Set<string>();
  const add = (argument: OrderArgument) => {
    if (!seen.has(argument.file)) {
      seen.add(argument.file);
      expanded.push(argument);
    }
  };
  for (const arg of args) {
    const absolute = path.resolve(arg);
    let names: string[] | null = null;
    try {
      const stats = await fs.stat(absolute);
      if (stats.isDirectory()) {
        names = (await fs.readdir(absolute, { withFileTypes: true }))
          .filter((entry) => entry.isFile() && entry.name.endsWith('.json'))
          .map((entry) => entry.name)
          .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      }
    } catch (error) {
      add({ file: absolute, unusable: { code: 'FILE_UNREADABLE', message: `cannot read order ${arg}: ${describeFsError(error)}` } });
      continue;
    }
    if (names === null) add({ file: absolute });
    else if (names.length === 0) add({ file: absolute, unusable: { code: 'USAGE', message: `folder ${arg} holds no *.json order files` } });
    else for (const name of names) add({ file: path.join(absolute, name) });
  }
  const firstUnusable = expanded.find((argument) => argument.unusable)?.unusable;
  if (firstUnusable && expanded.every((argument) => argument.unusable)) {
    const others = expanded.length - 1;
    throw new InputError(firstUnusable.code, `${firstUnusable.message}${others > 0 ? ` (and none of the ${others} other order argument${others === 1 ? '' : 's'} names an order either)` : ''}`);
  }
  return expanded;
}

/** Reads just enough of an order file to know its id; never throws (a bad file is the exporter's to report). */
export async function identifyOrder(file: string): Promise<OrderFile> {
  const fallback: OrderFile = { file, orderId: path.basename(file), idFromOrder: false, sha256: null };
  let bytes: Buffer;
  try {
    const stats = await fs.stat(file);
    if (!stats.isFile() || stats.size > MAX_ORDER_FILE_BYTES) return fallback;
    bytes = await readInputFile(file);
  } catch {
    return fallback;
  }
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  try {
    const value = JSON.parse(bytes.toString('utf8').replace(/^\uFEFF/, '')) as unknown;
    const id = value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>)['id'] : undefined;
    if (typeof id === 'string' && SAFE_ID.test(id)) return { file, orderId: id, idFromOrder: true, sha256 };
  } catch {
    // not JSON: the file name stands for it
  }
  return { ...fallback, sha256 };
}
