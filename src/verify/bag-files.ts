// Readers for the BagIt tag files (RFC 8493): bagit.txt, bag-info.txt and the SHA-256 manifests, streaming where
// they can be large.
import { digestHex, HEX_VALUE } from './digest-table.js';

const MAX_LINE_BYTES = 64 * 1024;

export interface LineProblem {
  line: number;
  expected: string;
  found: string;
  message: string;
}

/**
 * Splits a byte stream into LF- or CRLF-terminated lines without holding more than one line. Each line is handed over
 * as bytes `start` to `end` of `bytes`, its terminator left out, valid only during the call: a line wholly inside a
 * chunk is not copied.
 */
export class LineSplitter {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private overlong = false;
  private lineNumber = 0;

  constructor(
    private readonly onLine: (bytes: Buffer, start: number, end: number, lineNumber: number) => void,
    private readonly onOverlong: (lineNumber: number) => void,
  ) {}

  update(chunk: Buffer): void {
    let start = 0;
    for (;;) {
      const newline = chunk.indexOf(0x0a, start);
      if (newline < 0) {
        this.keep(chunk.subarray(start));
        return;
      }
      if (this.pendingBytes === 0 && !this.overlong && newline - start <= MAX_LINE_BYTES) {
        this.lineNumber++;
        const end = newline > start && chunk[newline - 1] === 0x0d ? newline - 1 : newline;
        this.onLine(chunk, start, end, this.lineNumber);
      } else {
        this.keep(chunk.subarray(start, newline));
        this.flush();
      }
      start = newline + 1;
    }
  }

  end(): void {
    if (this.pendingBytes > 0 || this.overlong) this.flush();
  }

  private keep(part: Buffer): void {
    if (part.length === 0 || this.overlong) return;
    if (this.pendingBytes + part.length > MAX_LINE_BYTES) {
      this.overlong = true;
      this.pending = [];
      this.pendingBytes = 0;
      return;
    }
    this.pending.push(Buffer.from(part));
    this.pendingBytes += part.length;
  }

  private flush(): void {
    this.lineNumber++;
    if (this.overlong) {
      this.onOverlong(this.lineNumber);
    } else {
      const line = Buffer.concat(this.pending, this.pendingBytes);
      const end = line.length > 0 && line[line.length - 1] === 0x0d ? line.length - 1 : line.length;
      this.onLine(line, 0, end, this.lineNumber);
    }
    this.pending = [];
    this.pendingBytes = 0;
    this.overlong = false;
  }
}

/**
 * A `manifest-sha256.txt` or `tagmanifest-sha256.txt`: `<sha256> <path>` per line, paths relative to the bag. Each
 * path is kept as a string of its own and each hash as 32 bytes: slices of the line kept the whole line alive.
 */
export class ManifestReader {
  /** Each listed path, in line order, and the slot of its hash: 0, 1, 2... in that same order. */
  readonly entries = new Map<string, number>();
  /** The first `maxProblems` problems, in line order... */
  readonly problems: LineProblem[] = [];
  /** ... and how many there were in all. */
  problemCount = 0;
  /** The hashes, 32 bytes per slot. */
  private hashes: Uint8Array;
  private readonly splitter: LineSplitter;
  private full = false;

  /**
   * `maxEntries` and `maxProblems` bound memory on a hostile manifest: lines beyond `maxEntries` are reported once,
   * not kept, and problems beyond `maxProblems` are only counted (a verifier lists no more failures than that anyway).
   * Room for `expectedEntries` hashes is made at first (more grow it by copying; untouched room costs no memory).
   */
  constructor(
    private readonly maxEntries: number = Number.MAX_SAFE_INTEGER,
    private readonly maxProblems: number = Number.MAX_SAFE_INTEGER,
    expectedEntries = 256,
  ) {
    this.hashes = new Uint8Array(32 * Math.max(16, Math.min(expectedEntries, maxEntries)));
    this.splitter = new LineSplitter(
      (bytes, start, end, lineNumber) => this.line(bytes, start, end, lineNumber),
      (lineNumber) => this.problem(() => ({ line: lineNumber, expected: `a line under ${MAX_LINE_BYTES} bytes`, found: 'a longer line', message: `line ${lineNumber} is too long` })),
    );
  }

  update(chunk: Buffer): void {
    this.splitter.update(chunk);
  }

  end(): void {
    this.splitter.end();
  }

  /** The hash of `slot` in lower-case hex. */
  hash(slot: number): string {
    return digestHex(this.hashes, slot * 32);
  }

  /** The hashes, 32 bytes per slot. */
  get hashBytes(): Uint8Array {
    return this.hashes;
  }

  private line(bytes: Buffer, start: number, end: number, lineNumber: number): void {
    if (start === end) return;
    const pathAt = plainManifestPathAt(bytes, start, end);
    let path: string;
    let hash = bytes;
    let hashAt = start;
    if (pathAt >= 0) {
      path = bytes.toString('utf8', pathAt, end);
    } else {
      const line = bytes.toString('utf8', start, end);
      const match = MANIFEST_LINE.exec(line);
      if (!match) {
        this.problem(() => ({ line: lineNumber, expected: '"<sha256 hex> <path>"', found: JSON.stringify(line.slice(0, 120)), message: `line ${lineNumber} is not a SHA-256 manifest line` }));
        return;
      }
      path = match[2] as string;
      hash = Buffer.from(match[1] as string, 'latin1');
      hashAt = 0;
    }
    if (this.entries.size >= this.maxEntries) {
      if (!this.full) this.problem(() => ({ line: lineNumber, expected: `at most ${this.maxEntries} lines`, found: 'more', message: `the manifest lists more files than the archive holds (from line ${lineNumber})` }));
      this.full = true;
      return;
    }
    path = decodeManifestPath(path);
    if (this.entries.has(path)) {
      this.problem(() => ({ line: lineNumber, expected: 'each path listed once', found: `${path} again`, message: `line ${lineNumber} lists ${path} a second time` }));
      return;
    }
    const slot = this.entries.size;
    if ((slot + 1) * 32 > this.hashes.length) {
      const grown = new Uint8Array(this.hashes.length * 2);
      grown.set(this.hashes);
      this.hashes = grown;
    }
    const hashes = this.hashes;
    // 64 hex digits, either case (checked above).
    for (let i = 0; i < 32; i++) hashes[slot * 32 + i] = ((HEX_VALUE[hash[hashAt + 2 * i] as number] as number) << 4) | (HEX_VALUE[hash[hashAt + 2 * i + 1] as number] as number);
    this.entries.set(path, slot);
  }

  /** Keeps the problem while there is room (only then is it written out); counts it in any case. */
  private problem(describe: () => LineProblem): void {
    this.problemCount++;
    if (this.problems.length < this.maxProblems) this.problems.push(describe());
  }
}

const MANIFEST_LINE = /^([0-9a-fA-F]{64})[ \t]+(.+)$/;

/**
 * The usual manifest line, read on its bytes without the regular expression: 64 hex digits, spaces or tabs, then a
 * path with no line terminator (what `.` refuses: CR, and U+2028 and U+2029, E2 80 A8 and E2 80 A9 in UTF-8). Returns
 * where the path starts, exactly as `MANIFEST_LINE` would split the decoded line (all before it is ASCII), or -1 for
 * anything else (the expression then decides).
 */
function plainManifestPathAt(bytes: Buffer, start: number, end: number): number {
  if (end - start < 66) return -1;
  for (let i = start; i < start + 64; i++) {
    const code = bytes[i] as number;
    const letter = code | 0x20; // A-F onto a-f; nothing else lands there
    if (!((code >= 0x30 && code <= 0x39) || (letter >= 0x61 && letter <= 0x66))) return -1;
  }
  let at = start + 64;
  while (at < end && (bytes[at] === 0x20 || bytes[at] === 0x09)) at++;
  if (at === start + 64 || at === end) return -1;
  for (let i = at; i < end; i++) {
    const code = bytes[i] as number;
    if (code === 0x0a || code === 0x0d) return -1;
    if (code === 0xe2 && i + 2 < end && bytes[i + 1] === 0x80 && (bytes[i + 2] === 0xa8 || bytes[i + 2] === 0xa9)) return -1;
  }
  return at;
}

/** RFC 8493 2.1.3: only LF, CR and % itself are percent-encoded in manifest paths. */
export function decodeManifestPath(path: string): string {
  if (!path.includes('%')) return path;
  return path.replace(/%(0A|0D|25)/gi, (code) => String.fromCharCode(Number.parseInt(code.slice(1), 16)));
}

/**
 * bagit.txt must declare BagIt 1.0 in UTF-8: the one version scopex writes (RFC 8493). An earlier one, such as 0.97,
 * is refused, though bagit.py would validate it: an archive declaring it was not sealed by scopex.
 */
export function checkBagitDeclaration(text: string): string | null {
  const lines = text.replace(/\r\n/g, '\n').split('\n').filter((line) => line !== '');
  const first = lines[0] ?? '';
  if (first !== 'BagIt-Version: 1.0') {
    // Only a version made of digits and dots is repeated: the line comes from the archive.
    const declared = /^BagIt-Version: (\d+(?:\.\d+)*)$/.exec(first)?.[1];
    return declared ? `line 1 declares BagIt ${declared}, not "BagIt-Version: 1.0"` : 'line 1 is not "BagIt-Version: 1.0"';
  }
  if (lines[1] !== 'Tag-File-Character-Encoding: UTF-8') return 'line 2 is not "Tag-File-Character-Encoding: UTF-8"';
  if (lines.length !== 2) return `${lines.length} lines instead of 2`;
  return null;
}

/** RFC 8493's white space around a tag's label and value: space and tab, not every Unicode blank. */
function trimBlanks(text: string): string {
  return text.replace(/^[ \t]+|[ \t]+$/g, '');
}

/**
 * bag-info.txt labels and their values (continuation lines start with a space or tab). Only spaces and tabs are
 * trimmed: a value ending in a no-break space is not the value without it for a byte-exact reader, so `acct-0002`
 * followed by U+00A0 is no account id here either.
 */
export function parseBagInfo(text: string): Map<string, string[]> {
  const labels = new Map<string, string[]>();
  let last: { label: string; index: number } | null = null;
  for (const raw of text.replace(/\r\n/g, '\n').split('\n')) {
    if (raw === '') continue;
    if (/^[ \t]/.test(raw) && last) {
      const values = labels.get(last.label) as string[];
      values[last.index] = `${values[last.index] ?? ''} ${trimBlanks(raw)}`;
      continue;
    }
    const colon = raw.indexOf(':');
    if (colon <= 0) continue;
    const label = trimBlanks(raw.slice(0, colon));
    const value = trimBlanks(raw.slice(colon + 1));
    const values = labels.get(label) ?? [];
    values.push(value);
    labels.set(label, values);
    last = { label, index: values.length - 1 };
  }
  return labels;
}

/**
 * What makes bag-info.txt other than RFC 8493 §2.2.2 tags, or null: a byte order mark (bagit.py reads the first label
 * with it), a line that is neither `Label: value` nor the continuation of one, a label with blanks or other than
 * printable ASCII in it.
 */
export function bagInfoProblem(text: string): string | null {
  if (text.startsWith('\ufeff')) return 'it starts with a byte order mark, which would be part of its first label';
  let lineNumber = 0;
  let tagged = false;
  for (const line of text.replace(/\r\n/g, '\n').split('\n')) {
    lineNumber += 1;
    if (line === '') continue;
    if (/^[ \t]/.test(line)) {
      if (!tagged) return `line ${lineNumber} continues a value, but no label comes before it`;
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) return `line ${lineNumber} is not "Label: value"`;
    // The labels scopex writes are printable ASCII without blanks; so is every label RFC 8493 names.
    if (!/^[\x21-\x7e]+$/.test(line.slice(0, colon))) return `line ${lineNumber} has a label that is not printable ASCII without blanks`;
    tagged = true;
  }
  return null;
}
