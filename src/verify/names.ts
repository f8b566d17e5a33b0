// Entry names and bag paths that are safe to extract: shared by the archive checks and the record checks.

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
 * Finds Unicode twins: names that differ but have the same NFC form (an NFD "é" and an NFC one, a Kelvin sign and a
 * K). `exact` is the caller's set of the distinct names seen, the one asked about included. Only non-ASCII names are
 * kept here, by NFC form: an ASCII name is its own NFC form, so two ASCII names are never twins, and an earlier name
 * equal to a later one's NFC form is found in `exact`.
 */
export class NfcTwins {
  readonly #exact: ReadonlySet<string>;
  /** The NFC form of each non-ASCII name that was not a twin, to that name. */
  readonly #nonAscii = new Map<string, string>();

  constructor(exact: ReadonlySet<string>) {
    this.#exact = exact;
  }

  /**
   * The first earlier name with the NFC form of `name`, or undefined (a twin is not remembered: the first one is
   * what later twins are reported against).
   */
  twinOf(name: string): string | undefined {
    if (isAscii(name)) return this.#nonAscii.get(name);
    const nfc = name.normalize('NFC');
    const twin = this.#nonAscii.get(nfc) ?? (nfc !== name && this.#exact.has(nfc) ? nfc : undefined);
    if (twin === undefined) this.#nonAscii.set(nfc, name);
    return twin;
  }
}

function isAscii(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0x7f) return false;
  return true;
}
