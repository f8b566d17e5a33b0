// Skips archiver's and zip-stream's clean-up of entry names that it would leave as they are.
//
// Each entry's name goes through `sanitizePath` three times: in archiver's `_normalizeEntryData`, in zip-stream's
// `_normalizeFileData` and in compress-commons' `ZipArchiveEntry.setName`. Each time normalize-path splits it on a
// regular expression and joins it again, and two more regular expressions run. The sealer's names are already
// clean (checked safe relative paths under the order's folder), so for them the first two passes change nothing and
// are skipped here: the name is set aside, the engine's own method normalises the rest of the entry, and the name is
// put back. The third pass runs inside compress-commons' constructor and stays. Any name the clean-up could change
// (a backslash, "//", a leading "/" or "../", a drive prefix, a trailing "/" for a folder), a prefix, or an entry
// type other than a file goes through the engine's methods as before. If archiver's internals are not as expected,
// nothing is changed.

type Normalizer = (this: unknown, data: EntryData, ...rest: unknown[]) => EntryData;

interface EntryData {
  name?: unknown;
  type?: unknown;
  prefix?: unknown;
  [field: string]: unknown;
}

const DRIVE_PREFIX = /^\w+:/;
const SLASH = 0x2f;
const BACKSLASH = 0x5c;

/**
 * True when sanitizePath returns `name` unchanged and it names a file, not a folder: no backslash, no "//", no leading
 * "/" or "../", no drive prefix, no trailing "/".
 */
function sanitizedAsIs(name: string): boolean {
  const length = name.length;
  if (length < 2 || name.charCodeAt(0) === SLASH || name.charCodeAt(length - 1) === SLASH || name.startsWith('../')) return false;
  let previous = 0;
  for (let at = 0; at < length; at += 1) {
    const code = name.charCodeAt(at);
    if (code === BACKSLASH || (code === SLASH && previous === SLASH)) return false;
    previous = code;
  }
  return !DRIVE_PREFIX.test(name);
}

/**
 * `original` with the name set aside when it needs no clean-up. Archiver's pass and zip-stream's see the same name
 * one after the other: the last name found plain is remembered (`seen`, shared by both), so the second pass does not
 * scan it again.
 */
function skipping(original: Normalizer, seen: { lastPlain?: string }): Normalizer {
  return function normalizeKeepingName(this: unknown, data: EntryData, ...rest: unknown[]): EntryData {
    const name = data?.name;
    const plain =
      typeof name === 'string' &&
      (data.type === undefined || data.type === 'file') &&
      (data.prefix === undefined || data.prefix === null || data.prefix === '') &&
      (name === seen.lastPlain || sanitizedAsIs(name));
    if (!plain) return original.call(this, data, ...rest);
    seen.lastPlain = name;
    const normalized = original.call(this, { ...data, name: null }, ...rest);
    normalized.name = name;
    return normalized;
  };
}

/** Installs the name pass-through on one archiver ZipArchive; returns whether it could. */
export function keepPlainEntryNames(archive: object): boolean {
  const target = archive as { _normalizeEntryData?: unknown; _module?: { engine?: { _normalizeFileData?: unknown } } };
  const engine = target._module?.engine;
  if (typeof target._normalizeEntryData !== 'function' || !engine || typeof engine._normalizeFileData !== 'function') return false;
  const seen: { lastPlain?: string } = {};
  target._normalizeEntryData = skipping(target._normalizeEntryData as Normalizer, seen);
  engine._normalizeFileData = skipping(engine._normalizeFileData as Normalizer, seen);
  return true;
}
