// Entry names and bag paths that are safe to extract: shared by the archive checks and the record checks.
import { collisionKey, safeSegment } from '../seal/safe-names.js';

/** Why a ZIP entry name (or a bag path) is unsafe, or null. */
export function unsafeNameReason(name: string): string | null {
  if (plainlySafeName(name)) return null;
  if (name === '') return 'an empty name';
  if (name.includes('\\')) return 'a backslash';
  if (name.startsWith('/') || /^[A-Za-z]:/.test(name)) return 'an absolute path';
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
  if (/[\u0000-\u001f\u007f]/.test(name)) return 'a control character';
  const segments = (name.endsWith('/') ? name.slice(0, -1) : name).split('/');
  if (segments.includes('..')) return 'a ".." segment';
  if (segments.includes('.')) return 'a "." segment';
  if (segments.includes('')) return 'an empty segment';
  return null;
}

/**
 * One scan accepting only names that pass every rule of `unsafeNameReason` (non-empty; no backslash, control
 * character, drive letter or leading "/"; no ".", ".." or empty segment, one trailing "/" allowed).
 */
function plainlySafeName(name: string): boolean {
  const length = name.length;
  if (length === 0) return false;
  const first = name.charCodeAt(0);
  if (length >= 2 && name.charCodeAt(1) === 0x3a && ((first >= 0x41 && first <= 0x5a) || (first >= 0x61 && first <= 0x7a))) return false;
  const end = name.charCodeAt(length - 1) === 0x2f ? length - 1 : length;
  let segmentStart = 0;
  for (let i = 0; i <= end; i++) {
    const code = i === end ? 0x2f : name.charCodeAt(i);
    if (code === 0x2f) {
      const segment = i - segmentStart;
      if (segment === 0) return false;
      if (segment <= 2 && name.charCodeAt(segmentStart) === 0x2e && (segment === 1 || name.charCodeAt(segmentStart + 1) === 0x2e)) return false;
      segmentStart = i + 1;
    } else if (code < 0x20 || code === 0x7f || code === 0x5c) {
      return false;
    }
  }
  return true;
}

/**
 * Finds twins: names that differ but that a case-insensitive or normalising file system (Windows, macOS, exFAT) takes
 * for one, so that extracting one overwrites the other: the same collision key (seal/safe-names.ts, what the sealer
 * keeps names apart by). `exact` is the caller's set of the distinct names seen, the one asked about included. Names
 * are keyed after `prefix` (the bag's top folder, kept as it is). Only names that are not their own key are kept
 * here: an earlier name that is its own key is found in `exact`.
 */
export class NameTwins {
  readonly #exact: ReadonlySet<string>;
  readonly #prefix: string;
  /** The key of each name that is not its own key and was not a twin, to that name. */
  readonly #folded = new Map<string, string>();

  constructor(exact: ReadonlySet<string>, prefix = '') {
    this.#exact = exact;
    this.#prefix = prefix;
  }

  /**
   * The first earlier name with the key of `name`, or undefined (a twin is not remembered: the first one is what
   * later twins are reported against).
   */
  twinOf(name: string): string | undefined {
    const prefixed = this.#prefix !== '' && name.startsWith(this.#prefix);
    const from = prefixed ? this.#prefix.length : 0;
    // Most names are ASCII without capitals after the prefix: their own key, found without building it.
    const key = isOwnKey(name, from) ? name : prefixed ? this.#prefix + collisionKey(name.slice(from)) : collisionKey(name);
    if (key === name) return this.#folded.get(key);
    const twin = this.#folded.get(key) ?? (this.#exact.has(key) ? key : undefined);
    if (twin === undefined) this.#folded.set(key, name);
    return twin;
  }
}

/**
 * The folders above the files of a bag, each kept once as (its parent folder, its own name): no folder's path is
 * built. Keyed by path, every new folder of a file cost its path's length to build, hash and fold, so a file under
 * thousands of new nested folders cost the square of its name's length (a 7 MB archive of 60 files, each under 9,000
 * new folders, kept verify busy for over a minute); so each segment of a name costs its own length, once. Twins are
 * kept the same way: a folder's class is (its parent's class, its name's collision key), so two folders share a
 * class exactly when their paths share a collision key (collisionKey works segment by segment, "/" is never folded).
 */
export class BagFolders {
  /** `${parent id}/${name}` to the folder's id; the bag itself is folder 0. */
  readonly #ids = new Map<string, number>();
  /** Each folder's key in #ids, by id (its parent and name are read back from it for a report). */
  readonly #keys: string[] = [''];
  /** Each folder's class: the id of the first folder whose path has its collision key. */
  readonly #classOf: number[] = [0];
  /** 1 for each folder that holds folders (most hold only files), by id. */
  #hasFolders = new Uint8Array(1024);
  /**
   * `${parent's class}/${collision key of the name}` to the class, for the folders whose class key is not their own
   * key in #ids: an ASCII name without capitals in a folder that is its own class is found there (as NameTwins does).
   */
  readonly #classes = new Map<string, number>();
  /**
   * The folder of each file met so far, by its path, to its id: a file in a known folder costs one look-up of its
   * folder's path (each file's own, once), and only a file in a new folder walks its path from the top.
   */
  readonly #fileFolders = new Map<string, number>();
  #lastFolder = '';
  #lastId = 0;

  /**
   * Adds every folder above the file at bag path `relative` (`cut`: where its folder part ends, the last "/"; -1 for
   * none) and calls `onNew` for each folder new to the bag, top down, with its name, where its path ends in `relative`
   * and the id of an earlier folder it is a twin of (by case or Unicode normalisation; -1 for none). Returns the id
   * of the file's folder.
   */
  addFoldersOf(relative: string, cut: number, onNew: (name: string, end: number, twinOf: number) => void): number {
    if (cut <= 0) return 0;
    if (cut === this.#lastFolder.length && relative.startsWith(this.#lastFolder)) return this.#lastId;
    const folder = relative.slice(0, cut);
    let parent = this.#fileFolders.get(folder);
    if (parent === undefined) {
      parent = 0;
      for (let start = 0; start < cut; ) {
        let end = relative.indexOf('/', start);
        if (end < 0 || end > cut) end = cut;
        const name = relative.slice(start, end);
        const key = `${parent}/${name}`;
        let id = this.#ids.get(key);
        if (id === undefined) {
          id = this.#keys.length;
          this.#ids.set(key, id);
          this.#keys.push(key);
          const twin = this.#twinOf(id, parent, name, key);
          this.#classOf.push(twin === undefined ? id : (this.#classOf[twin] as number));
          this.#markHasFolders(parent);
          onNew(name, end, twin ?? -1);
        }
        parent = id;
        start = end + 1;
      }
      this.#fileFolders.set(folder, parent);
    }
    this.#lastFolder = folder;
    this.#lastId = parent;
    return parent;
  }

  /**
   * The first earlier folder in the class of the new folder `id`, or undefined (the folder then starts its class).
   * Most folders have an ASCII name without capitals in a folder that starts its class: their class key is their key,
   * and they are found in #ids. Any other folder's class key is built and kept in #classes.
   */
  #twinOf(id: number, parent: number, name: string, key: string): number | undefined {
    const parentClass = this.#classOf[parent] as number;
    if (parentClass === parent && isOwnKey(name, 0)) return this.#classes.get(key);
    const folded = collisionKey(name);
    const classKey = `${parentClass}/${folded}`;
    // A folder whose key is this class key took the path above, and is in #ids only.
    const twin = this.#classes.get(classKey) ?? (classKey !== key && isOwnKey(folded, 0) ? this.#ids.get(classKey) : undefined);
    if (twin === undefined) this.#classes.set(classKey, id);
    return twin;
  }

  #markHasFolders(id: number): void {
    if (id >= this.#hasFolders.length) {
      const grown = new Uint8Array(Math.max(id + 1, this.#hasFolders.length * 2));
      grown.set(this.#hasFolders);
      this.#hasFolders = grown;
    }
    this.#hasFolders[id] = 1;
  }

  /** The id of the folder named `name` in folder `parent`, or undefined. */
  childOf(parent: number, name: string): number | undefined {
    return this.#hasFolders[parent] === 1 ? this.#ids.get(`${parent}/${name}`) : undefined;
  }

  /** Whether the folder path `folder` ("a/b", no trailing "/") is a folder above some file. */
  has(folder: string): boolean {
    let id: number | undefined = 0;
    for (let start = 0; id !== undefined && start <= folder.length; ) {
      let end = folder.indexOf('/', start);
      if (end < 0) end = folder.length;
      id = this.childOf(id, folder.slice(start, end));
      start = end + 1;
    }
    return id !== undefined;
  }

  /** The path of folder `id` (built: for a report only). */
  pathOf(id: number): string {
    const names: string[] = [];
    for (let at = id; at > 0; ) {
      const key = this.#keys[at] as string;
      const slash = key.indexOf('/');
      names.push(key.slice(slash + 1));
      at = Number(key.slice(0, slash));
    }
    return names.reverse().join('/');
  }
}

/**
 * Why one segment of a name is not one scopex writes (Windows-forbidden characters, a trailing dot or blank, a device
 * name, invisible characters, not NFC, too long), or null: such a name extracts differently, or not at all, on some
 * systems, and bagit.py strips the trailing blanks of a manifest path.
 */
export function unportableSegment(segment: string): string | null {
  const safe = safeSegment(segment);
  return safe === segment ? null : `"${segment}" is not a portable name (scopex would write it as "${safe}")`;
}

/** True when `name` from `from` on is ASCII without capital letters: its collision key is itself. */
function isOwnKey(name: string, from: number): boolean {
  for (let at = from; at < name.length; at++) {
    const unit = name.charCodeAt(at);
    if (unit > 0x7f || (unit >= 0x41 && unit <= 0x5a)) return false;
  }
  return true;
}
