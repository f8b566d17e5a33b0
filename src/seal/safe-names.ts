// Turns hostile store names into safe, stable, unique archive paths; the sealer re-checks every path it is given.
import { createHash } from 'node:crypto';
import { LONE_SURROGATE } from '../util/well-formed.js';

/** Longest segment kept as is, in UTF-8 bytes (most file systems allow 255; room is left for suffixes). */
export const MAX_SEGMENT_BYTES = 150;
const SUFFIX_ROOM = 8;
/**
 * Longest path the allocator gives (folders and file name, in UTF-8 bytes). With `<order>/data/<account>/<category>/`
 * in front, an archive path stays within macOS's PATH_MAX (1,024 bytes) with room for the folder it is unpacked in; a
 * store's folders nested deeper than that were delivered as paths no unzip on macOS, and past 4,096 bytes none on
 * Linux, could write. The folders past the limit become one (`collapsedFolder`); production.json keeps the name.
 */
export const MAX_RELATIVE_PATH_BYTES = 600;
/** The longest name `collapsedFolder` gives. */
const COLLAPSED_FOLDER_BYTES = 48;
/** Name used when nothing printable is left of a file name. */
export const UNNAMED = 'unnamed';

// C0 and C1 controls, DEL, bidi overrides/isolates/marks, line/paragraph separators and the BOM: invisible or
// spoofing characters that have no place in a file name.
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const INVISIBLE = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]/gu;
// Characters Windows refuses in names, and separators: a segment never holds `/` or `\`. Nor `%`: RFC 8493 has a
// manifest write it as `%25`, which bagit.py (1.8) does not decode, so a bag holding one fails `bagit.py --validate`.
// Without it (and without CR and LF, removed above) a manifest path is the file's path as it is, for every reader.
const FORBIDDEN = /[<>:"|?*\\/%]/g;
// A `$` before an ASCII word character or `{`: bagit.py refuses a manifest path that os.path.expandvars changes
// ("unsafe"), so `$HOME.txt` failed `bagit.py --validate` wherever HOME is set. The `$` becomes `_` (so does one
// before another `$`, or `$$0` would become `$_0`); a lone one stays.
const SHELL_VARIABLE = /\$(?=[$A-Za-z0-9_{])/g;
const WINDOWS_DEVICE = /^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³])(\..*)?$/iu;
const EXTENSION = /\.[^.\s]{1,16}$/u;

export interface SafeNameOptions {
  /** Treat `/` and `\` as folder separators (storage paths). When false they become `_` (default true). */
  folders?: boolean;
}

export interface AllocateOptions extends SafeNameOptions {
  /**
   * Appended to the file name once it is made safe and unique (`.scxb`): the name keeps its own extension, and a twin's
   * `~2` goes before that extension, as it does for names without the suffix.
   */
  suffix?: string;
}

function utf8Bytes(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

/** Cuts `text` to at most `maxBytes` UTF-8 bytes without splitting a code point. */
function cutToBytes(text: string, maxBytes: number): string {
  let out = '';
  let used = 0;
  for (const ch of text) {
    const size = utf8Bytes(ch);
    if (used + size > maxBytes) break;
    out += ch;
    used += size;
  }
  return out;
}

function splitExtension(name: string): { stem: string; ext: string } {
  const match = EXTENSION.exec(name);
  if (!match || match.index === 0) return { stem: name, ext: '' };
  return { stem: name.slice(0, match.index), ext: match[0] };
}

/** Appends `suffix` to the stem of `name` (before its extension), keeping the result within the segment limit. */
export function withSuffix(name: string, suffix: string, maxBytes = MAX_SEGMENT_BYTES): string {
  const { stem, ext } = splitExtension(name);
  const room = maxBytes - utf8Bytes(ext) - utf8Bytes(suffix);
  return `${cutToBytes(stem, room).trimEnd()}${suffix}${ext}`;
}

/**
 * One path segment made safe: NFC, well-formed, no invisible or Windows-forbidden characters nor `%` nor `$NAME`, no leading or
 * trailing blanks or trailing dots, no device names, at most `maxBytes` (longer ones are cut and get a short hash of
 * the original so that they stay unique and stable). Returns '' when nothing is left, and for `.` and `..`.
 * Idempotent: a safe segment comes back unchanged.
 */
export function safeSegment(raw: string, maxBytes = MAX_SEGMENT_BYTES): string {
  if (isPlainSegment(raw) && raw.length <= maxBytes) return raw;
  // Invisible characters go before NFC: between a letter and a combining mark, one removed after it left the two side
  // by side, a name that is not NFC, which the sealer refused (an export failed on `e`, U+200E, U+0301).
  let name = raw.replace(LONE_SURROGATE, '\ufffd').replace(INVISIBLE, '').normalize('NFC').replace(FORBIDDEN, '_').replace(SHELL_VARIABLE, '_');
  name = name.trim().replace(/[.\s]+$/u, '');
  if (name === '' || name === '.' || name === '..') return '';
  if (WINDOWS_DEVICE.test(name)) name = `_${name}`;
  if (utf8Bytes(name) > maxBytes) {
    const digest = createHash('sha256').update(raw.normalize('NFC'), 'utf8').digest('hex').slice(0, 8);
    // Room is left for a uniqueness suffix (`~2`) so that it never eats into the hash.
    name = withSuffix(name, `~${digest}`, maxBytes - SUFFIX_ROOM);
  }
  return name;
}

const PLAIN = /^[A-Za-z0-9._-]{1,150}$/;

/**
 * The common case, decided without the clean-up chain: ASCII letters, digits, `.`, `_` and `-` only, at most
 * MAX_SEGMENT_BYTES, not ending in a dot, not a device name. Such a segment is already what safeSegment makes of it.
 */
function isPlainSegment(raw: string): boolean {
  return PLAIN.test(raw) && !raw.endsWith('.') && !WINDOWS_DEVICE.test(raw);
}

/**
 * A store name as safe path segments (last one the file name; never empty). With folders, `a/b\c.txt` keeps
 * `a` and `b` as folders; empty, `.` and `..` segments and leading slashes disappear.
 */
export function safeArchivePath(storeName: string, options: SafeNameOptions = {}, fileNameBytes = MAX_SEGMENT_BYTES): string[] {
  const folders = options.folders ?? true;
  const parts = folders ? storeName.split(/[/\\]/) : [storeName];
  const last = parts.length - 1;
  // The last part is the file name, which may have to leave room for a suffix.
  const segments = parts.map((part, index) => safeSegment(part, index === last ? fileNameBytes : MAX_SEGMENT_BYTES)).filter((segment) => segment !== '');
  if (segments.length === 0 || !folders) return [segments[0] ?? UNNAMED];
  // A name that ended in `/` or `..` (or a blank) names a folder, not a file: keep what is left, its last part as the
  // file, cut to the file name's room (a 150-byte folder name with `.scxb` after it was an unsafe path).
  segments.push(safeSegment(segments.pop() as string, fileNameBytes));
  return segments;
}

/** True when `relPath` is `/`-separated safe segments, as safeArchivePath and createNameAllocator produce. */
export function isSafeArchivePath(relPath: string): boolean {
  if (relPath === '' || relPath.normalize('NFC') !== relPath) return false;
  return relPath.split('/').every((segment) => segment !== '' && safeSegment(segment) === segment);
}

/**
 * The key two names clash under on case-insensitive or normalising file systems: NFC, then a case fold. The fold is
 * upper then lower case, code point by code point, with the final sigma as sigma: a whole-string toLowerCase keeps ς
 * and σ apart (exFAT, NTFS and APFS do not) and lower-cases ΟΔΟΣ and οδοσ differently (its final-sigma rule looks at
 * the context). It folds more than some file systems do (ß as ss), which only costs a `~2` now and then. A character
 * whose fold folds again is folded twice: ẞ (U+1E9E) folds to ß, and ß to ss. Folded once, `ẞ.txt` and `ß.txt` kept
 * their names, which APFS takes for one, and verify, which looks up a key among the names too, refused the archive.
 */
export function collisionKey(segment: string): string {
  // ASCII is its own NFC, before and after lower-casing.
  if (ASCII.test(segment)) return segment.toLowerCase();
  return foldCodePoints(foldCodePoints(segment.normalize('NFC'))).replaceAll('\u03c2', '\u03c3').normalize('NFC');
}

function foldCodePoints(text: string): string {
  let folded = '';
  for (const char of text) folded += char.toUpperCase().toLowerCase();
  return folded;
}

// eslint-disable-next-line no-control-regex -- the whole ASCII range, controls included
const ASCII = /^[\u0000-\u007f]*$/;

interface FolderNode {
  /** Every name taken in this folder (files and folders), by collision key. */
  taken: Set<string>;
  /** Folders by the collision key of their original (safe) name, so later items land in the same folder. */
  folders: Map<string, { name: string; node: FolderNode }>;
}

export interface NameAllocator {
  /**
   * A unique safe relative path (`a/b/c.txt`) for a store name. The same sequence of names always gives the same
   * paths; twins (NFC/NFD, case, names cleaned to the same text, a file where a folder is) get `~2`, `~3`, ...
   */
  allocate(storeName: string, options?: AllocateOptions): string;
}

function newFolder(): FolderNode {
  return { taken: new Set(), folders: new Map() };
}

function unique(folder: FolderNode, name: string, suffix = ''): string {
  if (!folder.taken.has(collisionKey(name + suffix))) return name + suffix;
  for (let n = 2; ; n += 1) {
    const candidate = withSuffix(name, `~${n}`, MAX_SEGMENT_BYTES - utf8Bytes(suffix)) + suffix;
    if (!folder.taken.has(collisionKey(candidate))) return candidate;
  }
}

/**
 * The folders `segments` (safe) as kept within `maxBytes` (a "/" after each, and room for a twin's `~n`): as they are
 * while they fit, and the rest as one folder named after the first of them and a hash of them all (by collision key,
 * so that names one folder takes for one collapse alike): the same deep folder always gives the same name, and other
 * ones other names.
 */
function foldersWithin(segments: readonly string[], maxBytes: number): readonly string[] {
  let used = 0;
  for (let index = 0; index < segments.length; index++) {
    // Room for a twin's `~n` too (a folder's name grows by it, up to MAX_SEGMENT_BYTES).
    const bytes = Math.min(utf8Bytes(segments[index] as string) + SUFFIX_ROOM, MAX_SEGMENT_BYTES) + 1;
    const last = index === segments.length - 1;
    // A folder is kept when it fits and leaves room for the collapsed one, unless it is the last.
    if (used + bytes <= maxBytes - (last ? 0 : COLLAPSED_FOLDER_BYTES + SUFFIX_ROOM + 1)) {
      used += bytes;
      continue;
    }
    const rest = segments.slice(index);
    return [...segments.slice(0, index), collapsedFolder(rest)];
  }
  return segments;
}

/**
 * The one folder that stands for `rest`: the first one's name cut, then `~` and a hash of them all; at most
 * COLLAPSED_FOLDER_BYTES. A folder's "extension" is not kept whole (one of 16 emoji made it 82 bytes, and a path 618
 * bytes below its category folder, past the 600 the README promises).
 */
function collapsedFolder(rest: readonly string[]): string {
  const digest = createHash('sha256').update(rest.map(collisionKey).join('/'), 'utf8').digest('hex').slice(0, 16);
  const suffix = `~${digest}`;
  return `${cutToBytes(rest[0] as string, COLLAPSED_FOLDER_BYTES - suffix.length).trimEnd()}${suffix}`;
}

export function createNameAllocator(): NameAllocator {
  const root = newFolder();
  return {
    allocate(storeName, options) {
      const suffix = options?.suffix ?? '';
      const named = safeArchivePath(storeName, options, MAX_SEGMENT_BYTES - utf8Bytes(suffix));
      const fileName = named.pop() ?? UNNAMED;
      // The file name, with a twin's `~n` and the suffix, is at most MAX_SEGMENT_BYTES.
      const segments = foldersWithin(named, MAX_RELATIVE_PATH_BYTES - MAX_SEGMENT_BYTES);
      const out: string[] = [];
      let folder = root;
      for (const segment of segments) {
        const key = collisionKey(segment);
        let child = folder.folders.get(key);
        if (!child) {
          const name = unique(folder, segment);
          child = { name, node: newFolder() };
          folder.taken.add(collisionKey(name));
          folder.folders.set(key, child);
        }
        out.push(child.name);
        folder = child.node;
      }
      const name = unique(folder, fileName, suffix);
      folder.taken.add(collisionKey(name));
      out.push(name);
      return out.join('/');
    },
  };
}
