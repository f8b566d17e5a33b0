// Text that may be key material: a PEM block, a long run of hex (a raw key, 32 bytes as 64 characters), or a long run
// of base64, written in one piece or in groups (hex bytes as `openssl -text`, xxd or a KMS console print them, base64
// wrapped or grouped). scopex never shows such text back: a key pasted into the wrong place (a config path, an order
// field) must not reach the terminal, --json output or the custody log through the error that refuses it.

const PEM = /-----BEGIN [^-\r\n]{1,64}-----[\s\S]*?(?:-----END [^-\r\n]{1,64}-----|$)/g;
/** 16 bytes or more as hex. */
const HEX_RUN = /[0-9A-Fa-f]{32,}/g;
/** 30 bytes or more as base64 or base64url (told from a path by its mix of characters: see isBase64Like). */
const BASE64_RUN = /[A-Za-z0-9+/_=-]{40,}/g;
/**
 * 20 bytes or more as base32 (RFC 4648: capitals or small letters and 2 to 7, as TOTP secrets and some KMS print keys),
 * or as capitals and digits of another alphabet (bech32, as age prints a secret key; base36). See isBase32Like.
 */
const BASE32_RUN = /[A-Z0-9]{32,}=*|[a-z2-7]{32,}=*/g;

/** Hex digits, in groups, that make 16 bytes: as many as HEX_RUN asks of one piece. */
const GROUPED_HEX_DIGITS = 32;
/** Base64 characters, in groups, that make 30 bytes: as many as BASE64_RUN asks of one piece. */
const GROUPED_BASE64_CHARACTERS = 40;
/** Base32 characters, in groups, that make 20 bytes: as many as BASE32_RUN asks of one piece. */
const GROUPED_BASE32_CHARACTERS = 32;
/**
 * Hex digits in groups of mixed width joined by single dashes that are more than one UUID holds (32): a 32-byte key
 * written as two UUID-shaped halves (`5cfbdc0f-...-...-0badc0de5ca1-ab1e0...`). One UUID stays as it is.
 */
const DASHED_HEX_DIGITS = 33;

export const NOT_SHOWN = '[not shown: it may be key material]';

/** True when `text` holds anything `redactKeyMaterial` would hide. */
export function looksLikeKeyMaterial(text: string): boolean {
  return redactKeyMaterial(text) !== text;
}

/**
 * `text` with every PEM block, long hex, base64 or base32 run, whole or in groups, and long list of decimal bytes
 * replaced by NOT_SHOWN. Fullwidth forms (`０-９`, `Ａ-Ｆ`, what an East Asian input method types) are read as the
 * ASCII characters they stand for: a key typed so is the same key.
 */
export function redactKeyMaterial(text: string): string {
  if (text.length < 32) return text;
  const read = foldFullwidth(text);
  // Every span is found in the whole text and they are hidden at once: a run that HEX_RUN or BASE64_RUN finds alone
  // lies within the groups around it (the last line of a wrapped base64 key), and the merged span hides them all.
  const spans = matchSpans(read, PEM).concat(
    keyGroupSpans(read, HEX_SYNTAX),
    keyGroupSpans(read, BASE64_SYNTAX),
    keyGroupSpans(read, BASE32_SYNTAX),
    decimalByteSpans(read),
    matchSpans(read, HEX_RUN),
    matchSpans(read, BASE64_RUN, isBase64Like),
    matchSpans(read, BASE32_RUN, isBase32Like),
  );
  return redactSpans(text, mergeSpans(spans));
}

/** Where `pattern` (global) matches in `text`, the matches `keep` refuses left out. */
function matchSpans(text: string, pattern: RegExp, keep?: (match: string) => boolean): Array<[number, number]> {
  const spans: Array<[number, number]> = [];
  for (const match of text.matchAll(pattern)) if (!keep || keep(match[0])) spans.push([match.index, match.index + match[0].length]);
  return spans;
}

/** The fullwidth forms of ASCII characters (U+FF01 to U+FF5E) as those characters: one code unit each, so indexes hold. */
function foldFullwidth(text: string): string {
  return /[\uff01-\uff5e]/.test(text) ? text.replace(/[\uff01-\uff5e]/g, (wide) => String.fromCharCode(wide.charCodeAt(0) - 0xfee0)) : text;
}

/** A SHA-256 digest as scopex's own reports write one: `sha256 ` and 64 small hex digits, with nothing joined to it. */
const WRITTEN_DIGEST = /(?<![0-9A-Za-z+/_=-])sha256 [0-9a-f]{64}(?![0-9A-Za-z+/_=-])/g;

/**
 * `text` redacted as redactKeyMaterial does, except the digests a report writes as `sha256 <hex>` (a verify failure's
 * expected and found hashes): a file's digest is what the reader of the report needs, and no key is written so.
 */
export function redactKeyMaterialKeepingDigests(text: string): string {
  if (text.length < 32) return text;
  let shown = '';
  let from = 0;
  for (const match of text.matchAll(WRITTEN_DIGEST)) {
    shown += redactKeyMaterial(text.slice(from, match.index)) + match[0];
    from = match.index + match[0].length;
  }
  return shown + redactKeyMaterial(text.slice(from));
}

/**
 * A run that mixes cases and digits as encoded random bytes do: about 40% capitals, 40% small letters and 15% digits.
 * A path or a name (`/tmp/scopex-J7PbuA/w/stores/mail/acct-0001`) is mostly small letters.
 */
function isBase64Like(run: string): boolean {
  let upper = 0;
  let lower = 0;
  let digits = 0;
  for (let i = 0; i < run.length; i++) {
    const code = run.charCodeAt(i);
    if (code >= 0x41 && code <= 0x5a) upper += 1;
    else if (code >= 0x61 && code <= 0x7a) lower += 1;
    else if (code >= 0x30 && code <= 0x39) digits += 1;
  }
  return upper >= run.length * 0.2 && lower >= run.length * 0.2 && digits > 0;
}

/**
 * A run of capitals and digits, or of small letters and 2 to 7, as encoded random bytes are: letters at least half, and
 * digits at least a sixteenth (random base32 has three in sixteen) or, in small letters, a tenth; a word or a host
 * name of small letters with a digit or two in it is not. Padding does not count.
 */
function isBase32Like(run: string): boolean {
  const body = run.replace(/=+$/, '');
  let letters = 0;
  let digits = 0;
  let small = false;
  for (let i = 0; i < body.length; i++) {
    const code = body.charCodeAt(i);
    if (code >= 0x30 && code <= 0x39) digits += 1;
    else letters += 1;
    if (code >= 0x61) small = true;
  }
  return letters * 2 >= body.length && digits > 0 && digits * (small ? 10 : 16) >= body.length;
}

// ---------------------------------------------------------------------------------------------------------------------
// Keys written in groups.
//
// A group is a whole token: a word of hex digits (`5c`, `5cfbdc0f`, `0x5c`), of base64 characters, or of base32
// capitals (`JBSW Y3DP`). Groups are joined by one separator: blanks, then for hex an optional `:`, `,`, `-`, `.`,
// `_`, `;`, `/`, `%` or `\`, for base64 an optional `.` or `,`, for base32 an optional `-` or `.`, and then blanks
// (a no-break space among them), with at most one line break (`5c:fb`, `5c fb`, `5c - fb`, `0x5c, 0xfb`, `\x5c\xfb`,
// `%5C%FB`, `c8:\n    49` as openssl -text wraps). Each group may be quoted (`"5cfbdc0f", "1a2b3c4d"`, a list in
// JSON). A line break may be written as the escape `\n` (a quoted value). Keys are printed in groups of one
// width, the last one maybe shorter, so a candidate is a run of groups of equal length with at most a shorter last
// one. That keeps ordinary text out: a UUID (8-4-4-4-12), dates and times (`2026-01-31`, `12 Feb 2026`), phone numbers
// and words between groups break a run. A run is key material when it holds:
// - hex: at least GROUPED_HEX_DIGITS digits, among them a decimal digit and a letter (32 random hex digits lack
//   either with a chance under one in a million; a list of numbers or of words like "bad cafe" lacks one); groups of
//   mixed width joined by single dashes too, past DASHED_HEX_DIGITS (more than one UUID);
// - base64: at least GROUPED_BASE64_CHARACTERS characters that, leaving out the first of each group, pass
//   isBase64Like (a capital that only starts each word, as in Title Case, does not count);
// - base32: at least GROUPED_BASE32_CHARACTERS characters that pass isBase32Like.
// The scan is one pass over the text, each group looked at at most twice: no backtracking whatever the input.

interface Group {
  start: number;
  end: number;
  /** Hex digits (after a 0x), base64 or base32 characters. */
  length: number;
  /** Joined to the group before it by one `-` and nothing else. */
  dashJoined: boolean;
}

interface GroupSyntax {
  /** A character of a token (a whole token is a longest run of them). */
  isPart(code: number): boolean;
  /** Where a group token at `start` ends (start when the token there is no group), and how many characters count. */
  token(text: string, start: number): { end: number; length: number };
  /** Separator characters allowed before the blanks, as char codes. */
  punctuation: ReadonlySet<number>;
  isKey(text: string, run: readonly Group[]): boolean;
  /** Whether groups of any width joined by single dashes are key material (see DASHED_HEX_DIGITS). */
  isDashedKey?(text: string, run: readonly Group[]): boolean;
}

const HEX_SYNTAX: GroupSyntax = {
  isPart: isWordCode,
  token(text, start) {
    const end = wordEnd(text, start, isWordCode);
    let digitsFrom = start;
    if (end - start > 2 && text.charCodeAt(start) === 0x30 && (text.charCodeAt(start + 1) | 0x20) === 0x78) digitsFrom = start + 2;
    // A C or Python escape, `\x5c`: the backslash is no part of a token, the x is.
    else if (end - start > 1 && (text.charCodeAt(start) | 0x20) === 0x78 && text.charCodeAt(start - 1) === 0x5c) digitsFrom = start + 1;
    for (let i = digitsFrom; i < end; i++) if (!isHexCode(text.charCodeAt(i))) return { end: start, length: 0 };
    return { end, length: end - digitsFrom };
  },
  // `:`, `,`, `-` as consoles print bytes; `.`, `_`, `;`, `/`; `%` (URL encoding) and `\` (escapes) before a byte.
  punctuation: new Set([0x3a, 0x2c, 0x2d, 0x2e, 0x5f, 0x3b, 0x2f, 0x25, 0x5c]),
  isKey(text, run) {
    const { decimal, letters } = hexDigits(text, run);
    return decimal + letters >= GROUPED_HEX_DIGITS && decimal > 0 && letters > 0;
  },
  // Random hex digits are three in eight letters: a case or docket number (`000123-ABC-0001-0002-...`) is mostly decimal.
  isDashedKey(text, run) {
    const { decimal, letters } = hexDigits(text, run);
    return decimal + letters >= DASHED_HEX_DIGITS && decimal * 6 >= decimal + letters && letters * 6 >= decimal + letters;
  },
};

/** How many decimal digits and hex letters the groups of `run` hold. */
function hexDigits(text: string, run: readonly Group[]): { decimal: number; letters: number } {
  let decimal = 0;
  let letters = 0;
  for (const group of run) {
    for (let i = group.end - group.length; i < group.end; i++) {
      if (text.charCodeAt(i) <= 0x39) decimal += 1;
      else letters += 1;
    }
  }
  return { decimal, letters };
}

const BASE64_SYNTAX: GroupSyntax = {
  isPart: isBase64Code,
  token(text, start) {
    const end = wordEnd(text, start, isBase64Code);
    return { end, length: end - start };
  },
  // A dot, as a JWT or a key cut to fit a field joins its pieces; a comma, as a list does.
  punctuation: new Set([0x2e, 0x2c]),
  isKey(text, run) {
    let characters = 0;
    for (const group of run) characters += group.length;
    return characters >= GROUPED_BASE64_CHARACTERS && isBase64Like(run.map((group) => text.slice(group.start + 1, group.end)).join(''));
  },
};

const BASE32_SYNTAX: GroupSyntax = {
  isPart: isWordCode,
  token(text, start) {
    const end = wordEnd(text, start, isWordCode);
    for (let i = start; i < end; i++) if (!isBase32Code(text.charCodeAt(i))) return { end: start, length: 0 };
    return { end, length: end - start };
  },
  // Dashes, as TOTP secrets and recovery keys are printed (`JBSW-Y3DP`), and dots.
  punctuation: new Set([0x2d, 0x2e]),
  isKey(text, run) {
    let characters = 0;
    for (const group of run) characters += group.length;
    return characters >= GROUPED_BASE32_CHARACTERS && isBase32Like(run.map((group) => text.slice(group.start, group.end)).join(''));
  },
};

/** 16 bytes or more written as decimal numbers. */
const DECIMAL_BYTES = 16;

/**
 * Where bytes are written as a list of decimal numbers (`[32,248,51,…]`, `32 248 51 …`, a Buffer's JSON): at least
 * DECIMAL_BYTES numbers of 0 to 255, each joined to the next by a comma, blanks, or both, and a quarter of them 100 or
 * more (random bytes: three in five), which a list of counts or line numbers is not. One pass, no backtracking.
 */
function decimalByteSpans(text: string): Array<[number, number]> {
  const spans: Array<[number, number]> = [];
  let runStart = -1;
  let runEnd = -1;
  let count = 0;
  let large = 0;
  const close = (): void => {
    if (count >= DECIMAL_BYTES && large * 4 >= count) spans.push([runStart, runEnd]);
    runStart = -1;
    count = 0;
    large = 0;
  };
  let i = 0;
  while (i < text.length) {
    const code = text.charCodeAt(i);
    if (code < 0x30 || code > 0x39 || isWordCode(text.charCodeAt(i - 1)) || text.charCodeAt(i - 1) === 0x2e) {
      i += 1;
      continue;
    }
    let end = i;
    while (end < text.length && text.charCodeAt(end) >= 0x30 && text.charCodeAt(end) <= 0x39) end += 1;
    const value = end - i <= 3 ? Number(text.slice(i, end)) : 256;
    if (value > 255 || isWordCode(text.charCodeAt(end)) || text.charCodeAt(end) === 0x2e) {
      close();
      i = end;
      continue;
    }
    // Joined to the run before it only across a comma and blanks.
    if (runStart >= 0 && !joinsNumbers(text, runEnd, i)) close();
    if (runStart < 0) runStart = i;
    runEnd = end;
    count += 1;
    if (value >= 100) large += 1;
    i = end;
  }
  close();
  return spans;
}

/** Whether only blanks with at most one comma among them lie between `from` and `to`, and something does. */
function joinsNumbers(text: string, from: number, to: number): boolean {
  if (to <= from) return false;
  let commas = 0;
  for (let i = from; i < to; i++) {
    const code = text.charCodeAt(i);
    if (code === 0x2c) commas += 1;
    else if (code !== 0x20 && code !== 0x09 && code !== 0xa0) return false;
  }
  return commas <= 1;
}

/** `text` with `spans` (in order, not overlapping) replaced by NOT_SHOWN. */
function redactSpans(text: string, spans: ReadonlyArray<readonly [number, number]>): string {
  if (spans.length === 0) return text;
  let shown = '';
  let from = 0;
  for (const [start, end] of spans) {
    shown += `${text.slice(from, start)}${NOT_SHOWN}`;
    from = end;
  }
  return shown + text.slice(from);
}

/** Where runs of groups that are key material start and end, in text order. */
function keyGroupSpans(text: string, syntax: GroupSyntax): Array<[number, number]> {
  const spans: Array<[number, number]> = [];
  let chain: Group[] = [];
  let dashJoined = false;
  let i = 0;
  while (i < text.length) {
    const escape = escapedBreakLength(text, i);
    if (escape > 0 || !syntax.isPart(text.charCodeAt(i))) {
      i += escape > 0 ? escape : 1;
      continue;
    }
    // A token starts here (the character before it is no part of one): read it and the groups joined to it.
    const token = syntax.token(text, i);
    if (token.end === i) {
      i = wordEnd(text, i, syntax.isPart);
      continue;
    }
    chain.push({ start: i, end: token.end, length: token.length, dashJoined });
    const next = separatorEnd(text, i, token.end, syntax.punctuation);
    dashJoined = next === token.end + 1 && text.charCodeAt(token.end) === 0x2d;
    if (next > token.end && next < text.length && syntax.isPart(text.charCodeAt(next)) && syntax.token(text, next).end > next) {
      i = next;
      continue;
    }
    addKeyRuns(text, chain, syntax, spans);
    chain = [];
    dashJoined = false;
    i = Math.max(token.end, i + 1);
  }
  return spans;
}

/** Adds to `spans` the runs of equal-length groups (at most one shorter group last) in a chain that are key material. */
function addKeyRuns(text: string, chain: readonly Group[], syntax: GroupSyntax, spans: Array<[number, number]>): void {
  let start = 0;
  while (start < chain.length) {
    const width = chain[start]!.length;
    let end = start + 1;
    while (end < chain.length && chain[end]!.length === width) end += 1;
    // A shorter group ends this run, and may also start the next one.
    const last = end < chain.length && chain[end]!.length < width ? end + 1 : end;
    const run = chain.slice(start, last);
    if (run.length >= 2 && syntax.isKey(text, run)) spans.push([run[0]!.start, run[run.length - 1]!.end]);
    start = end;
  }
  if (!syntax.isDashedKey) return;
  for (let from = 0; from < chain.length; ) {
    let to = from + 1;
    while (to < chain.length && chain[to]!.dashJoined) to += 1;
    const run = chain.slice(from, to);
    if (run.length >= 2 && syntax.isDashedKey(text, run)) spans.push([run[0]!.start, run[run.length - 1]!.end]);
    from = to;
  }
}

/**
 * Where the separator after the group from `start` to `from` ends: blanks, optional punctuation, then blanks with at
 * most one line break. A quoted group (`"5cfbdc0f"`) is joined only to another quoted with the same mark, the quotes
 * being part of the separator; a word after a quoted key is not taken for its last group.
 */
function separatorEnd(text: string, start: number, from: number, punctuation: ReadonlySet<number>): number {
  const quote = text.charCodeAt(start - 1);
  const quoted = isQuoteCode(quote) && text.charCodeAt(from) === quote;
  let i = quoted ? from + 1 : from;
  const punctuationAt = blanksEnd(text, i);
  if (punctuation.has(text.charCodeAt(punctuationAt))) i = punctuationAt + 1;
  i = blanksEnd(text, i);
  const code = text.charCodeAt(i);
  if (code === 0x0d && text.charCodeAt(i + 1) === 0x0a) i += 2;
  else if (code === 0x0a || code === 0x0d) i += 1;
  else i += escapedBreakLength(text, i);
  i = blanksEnd(text, i);
  if (quoted) return text.charCodeAt(i) === quote ? i + 1 : from;
  // After blanks, the mark a byte is written with (`\x5c \xfb`, `%5C %FB`), where the syntax takes it.
  const mark = text.charCodeAt(i);
  if (i > from && ((mark === 0x25 && punctuation.has(0x25)) || (mark === 0x5c && punctuation.has(0x5c) && (text.charCodeAt(i + 1) | 0x20) === 0x78))) i += 1;
  return i;
}

function blanksEnd(text: string, from: number): number {
  let i = from;
  // A no-break space too: what a copy from a web console gives.
  while (text.charCodeAt(i) === 0x20 || text.charCodeAt(i) === 0x09 || text.charCodeAt(i) === 0xa0) i += 1;
  return i;
}

/** The length of a line break or tab written as an escape (`\n`, `\r\n`, `\r`, `\t`) at `i`, or 0. */
function escapedBreakLength(text: string, i: number): number {
  if (text.charCodeAt(i) !== 0x5c) return 0;
  const letter = text.charCodeAt(i + 1);
  if (letter === 0x72 && text.charCodeAt(i + 2) === 0x5c && text.charCodeAt(i + 3) === 0x6e) return 4;
  return letter === 0x6e || letter === 0x72 || letter === 0x74 ? 2 : 0;
}

function wordEnd(text: string, from: number, isPart: (code: number) => boolean): number {
  let i = from;
  while (i < text.length && isPart(text.charCodeAt(i))) i += 1;
  return i;
}

function mergeSpans(spans: Array<[number, number]>): Array<[number, number]> {
  spans.sort((a, b) => a[0] - b[0]);
  const merged: Array<[number, number]> = [];
  for (const span of spans) {
    const last = merged[merged.length - 1];
    if (last && span[0] <= last[1]) last[1] = Math.max(last[1], span[1]);
    else merged.push([span[0], span[1]]);
  }
  return merged;
}

function isQuoteCode(code: number): boolean {
  return code === 0x22 || code === 0x27;
}

/** A base32 character as RFC 4648 writes them: a capital or 2 to 7. */
function isBase32Code(code: number): boolean {
  return (code >= 0x41 && code <= 0x5a) || (code >= 0x32 && code <= 0x37);
}

function isHexCode(code: number): boolean {
  return (code >= 0x30 && code <= 0x39) || (code >= 0x41 && code <= 0x46) || (code >= 0x61 && code <= 0x66);
}

/** A letter or a digit: what a group token is made of, and what may not touch it. */
function isWordCode(code: number): boolean {
  return (code >= 0x30 && code <= 0x39) || (code >= 0x41 && code <= 0x5a) || (code >= 0x61 && code <= 0x7a);
}

/** A base64 or base64url character. */
function isBase64Code(code: number): boolean {
  return isWordCode(code) || code === 0x2b || code === 0x2f || code === 0x3d || code === 0x5f || code === 0x2d;
}
