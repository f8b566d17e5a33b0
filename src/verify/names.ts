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
