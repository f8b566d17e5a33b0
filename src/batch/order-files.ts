// Which order files a batch runs: files as given, folders as their *.json entries in name order (links followed), each once.
import { createHash } from 'node:crypto';
import { promises as fs, type Dirent } from 'node:fs';
import path from 'node:path';
import { canonicalJson } from '../order/canonical.js';
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
  /**
   * SHA-256 of the order's canonical JSON (what its approval signs; the file's bytes when it is no JSON), to tell a
   * repeated order from a different one under the same id: the same order saved with other blanks or key order is the
   * same order, as verify and a re-run take it.
   */
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
/** A folder's order files: its *.json entries, the extension in any case. */
const ORDER_FILE_NAME = /\.json$/i;

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
    let entries: Dirent[] | null = null;
    try {
      const stats = await fs.stat(absolute);
      if (stats.isDirectory()) {
        entries = (await fs.readdir(absolute, { withFileTypes: true }))
          // A name ending .JSON or .Json is as much an order file as one ending .json: none is left out without a word.
          .filter((entry) => ORDER_FILE_NAME.test(entry.name))
          .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      }
    } catch (error) {
      add({ file: absolute, unusable: { code: 'FILE_UNREADABLE', message: `cannot read order ${arg}: ${describeFsError(error)}` } });
      continue;
    }
    if (entries === null) add({ file: absolute });
    else if (entries.length === 0) add({ file: absolute, unusable: { code: 'USAGE', message: `folder ${arg} holds no *.json order files` } });
    else for (const entry of entries) add(await folderEntry(path.join(absolute, entry.name), path.join(arg, entry.name), entry));
  }
  const firstUnusable = expanded.find((argument) => argument.unusable)?.unusable;
  if (firstUnusable && expanded.every((argument) => argument.unusable)) {
    const others = expanded.length - 1;
    throw new InputError(firstUnusable.code, `${firstUnusable.message}${others > 0 ? ` (and none of the ${others} other${others === 1 ? '' : 's'} names an order either)` : ''}`);
  }
  return expanded;
}

/**
 * A *.json entry of a folder: an order file to run when it is a regular file or a symbolic link to one (a staging
 * folder of links to the orders is common); anything else named so (a link to nothing or to a folder, a FIFO, a
 * folder) is an order that cannot be run, and fails as a row of its own rather than be left out without a word.
 */
async function folderEntry(file: string, shown: string, entry: Dirent): Promise<OrderArgument> {
  if (entry.isFile()) return { file };
  const unusable = (why: string): OrderArgument => ({ file, unusable: { code: 'FILE_UNREADABLE', message: `cannot read order ${shown}: ${why}` } });
  let target: string | null = null;
  try {
    if ((await fs.lstat(file)).isSymbolicLink()) target = await fs.readlink(file);
  } catch (error) {
    return unusable(describeFsError(error));
  }
  // What the entry is, or (for a link) what it leads to.
  const is = (what: string) => unusable(target === null ? `it is ${what}` : `it is a symbolic link to ${target}, which is ${what}`);
  try {
    const stats = await fs.stat(file);
    if (stats.isFile()) return { file };
    return is(stats.isDirectory() ? 'a folder' : 'not a regular file');
  } catch (error) {
    if (target === null) return unusable(describeFsError(error));
    const code = (error as NodeJS.ErrnoException).code;
    return unusable(`it is a symbolic link to ${target}, which ${code === 'ENOENT' ? 'does not exist' : `cannot be followed (${describeFsError(error)})`}`);
  }
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
  const digest = (content: Buffer | string) => createHash('sha256').update(content).digest('hex');
  try {
    const value = JSON.parse(bytes.toString('utf8').replace(/^\uFEFF/, '')) as unknown;
    const id = value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>)['id'] : undefined;
    if (typeof id === 'string' && SAFE_ID.test(id)) return { file, orderId: id, idFromOrder: true, sha256: digest(canonicalOrBytes(value, bytes)) };
  } catch {
    // not JSON: the file name stands for it
  }
  return { ...fallback, sha256: digest(bytes) };
}

/** The canonical JSON of an order, or its bytes when canonical JSON cannot hold it (a number too large for a double). */
function canonicalOrBytes(value: unknown, bytes: Buffer): string | Buffer {
  try {
    return canonicalJson(value);
  } catch {
    return bytes;
  }
}
