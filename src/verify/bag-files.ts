// Readers for the BagIt tag files (RFC 8493): bagit.txt, bag-info.txt and the SHA-256 manifests, streaming where
// they can be large.

const MAX_LINE_BYTES = 64 * 1024;

export interface LineProblem {
  line: number;
  expected: string;
  found: string;
  message: string;
}

/** Splits a byte stream into LF- or CRLF-terminated lines without holding more than one line. */
export class LineSplitter {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private overlong = false;
  private lineNumber = 0;

  constructor(private readonly onLine: (line: string, lineNumber: number) => void, private readonly onOverlong: (lineNumber: number) => void) {}

  update(chunk: Buffer): void {
    let start = 0;
    for (;;) {
      const newline = chunk.indexOf(0x0a, start);
      if (newline < 0) {
        this.keep(chunk.subarray(start));
        return;
      }
      if (this.pendingBytes === 0 && !this.overlong && newline - start <= MAX_LINE_BYTES) {
        // The whole line is in this chunk: decode it in place, no copy.
        this.lineNumber++;
        const end = newline > start && chunk[newline - 1] === 0x0d ? newline - 1 : newline;
        this.onLine(chunk.toString('utf8', start, end), this.lineNumber);
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
      let line = Buffer.concat(this.pending, this.pendingBytes).toString('utf8');
      if (line.endsWith('\r')) line = line.slice(0, -1);
      this.onLine(line, this.lineNumber);
    }
    this.pending = [];
    this.pendingBytes = 0;
    this.overlong = false;
  }
}

/** A `manifest-sha256.txt` or `tagmanifest-sha256.txt`: `<sha256> <path>` per line, paths relative to the bag. */
export class ManifestReader {
  readonly entries = new Map<string, string>();
  /** The first `maxProblems` problems, in line order... */
  readonly problems: LineProblem[] = [];
  /** ... and how many there were in all. */
  problemCount = 0;
  private readonly splitter: LineSplitter;
  private full = false;

  /**
   * `maxEntries` and `maxProblems` bound memory on a hostile manifest: lines beyond `maxEntries` are reported once,
   * not kept, and problems beyond `maxProblems` are only counted (a verifier lists no more failures than that anyway).
   */
  constructor(
    private readonly maxEntries: number = Number.MAX_SAFE_INTEGER,
    private readonly maxProblems: number = Number.MAX_SAFE_INTEGER,
  ) {
    this.splitter = new LineSplitter(
      (line, lineNumber) => this.line(line, lineNumber),
      (lineNumber) => this.problem(() => ({ line: lineNumber, expected: `a line under ${MAX_LINE_BYTES} bytes`, found: 'a longer line', message: `line ${lineNumber} is too long` })),
    );
  }

  update(chunk: Buffer): void {
    this.splitter.update(chunk);
  }

  end(): void {
    this.splitter.end();
  }

  private line(line: string, lineNumber: number): void {
    if (line === '') return;
    const pathAt = plainManifestPathAt(line);
    const match = pathAt < 0 ? MANIFEST_LINE.exec(line) : null;
    if (pathAt < 0 && !match) {
      this.problem(() => ({ line: lineNumber, expected: '"<sha256 hex> <path>"', found: JSON.stringify(line.slice(0, 120)), message: `line ${lineNumber} is not a SHA-256 manifest line` }));
      return;
    }
    if (this.entries.size >= this.maxEntries) {
      if (!this.full) this.problem(() => ({ line: lineNumber, expected: `at most ${this.maxEntries} lines`, found: 'more', message: `the manifest lists more files than the archive holds (from line ${lineNumber})` }));
      this.full = true;
      return;
    }
    const path = decodeManifestPath(match ? (match[2] as string) : line.slice(pathAt));
    if (this.entries.has(path)) {
      this.problem(() => ({ line: lineNumber, expected: 'each path listed once', found: `${path} again`, message: `line ${lineNumber} lists ${path} a second time` }));
      return;
    }
    this.entries.set(path, (match ? (match[1] as string) : line.slice(0, 64)).toLowerCase());
  }

  /** Keeps the problem while there is room (only then is it written out); counts it in any case. */
  private problem(describe: () => LineProblem): void {
    this.problemCount++;
    if (this.problems.length < this.maxProblems) this.problems.push(describe());
  }
}

const MANIFEST_LINE = /^([0-9a-fA-F]{64})[ \t]+(.+)$/;

/**
 * The usual manifest line, read without the regular expression: 64 hex digits, spaces or tabs, then a path with no
 * line terminator (what `.` refuses). Returns where the path starts, exactly as `MANIFEST_LINE` would split the
 * line, or -1 for anything else (the expression then decides).
 */
function plainManifestPathAt(line: string): number {
  const length = line.length;
  if (length < 66) return -1;
  for (let i = 0; i < 64; i++) {
    const code = line.charCodeAt(i);
    const letter = code | 0x20; // A-F onto a-f; nothing else lands there
    if (!((code >= 0x30 && code <= 0x39) || (letter >= 0x61 && letter <= 0x66))) return -1;
  }
  let at = 64;
  while (at < length && (line.charCodeAt(at) === 0x20 || line.charCodeAt(at) === 0x09)) at++;
  if (at === 64 || at === length) return -1;
  for (let i = at; i < length; i++) {
    const code = line.charCodeAt(i);
    if (code === 0x0a || code === 0x0d || code === 0x2028 || code === 0x2029) return -1;
  }
  return at;
}

/** RFC 8493 2.1.3: only LF, CR and % itself are percent-encoded in manifest paths. */
export function decodeManifestPath(path: string): string {
  if (!path.includes('%')) return path;
  return path.replace(/%(0A|0D|25)/gi, (code) => String.fromCharCode(Number.parseInt(code.slice(1), 16)));
}

/** bagit.txt must declare BagIt 1.0 (or 0.97) in UTF-8. */
export function checkBagitDeclaration(text: string): string | null {
  const lines = text.replace(/\r\n/g, '\n').split('\n').filter((line) => line !== '');
  const version = /^BagIt-Version: (\d+\.\d+)$/.exec(lines[0] ?? '');
  if (!version || !['1.0', '0.97'].includes(version[1] as string)) return 'line 1 is not "BagIt-Version: 1.0"';
  if (lines[1] !== 'Tag-File-Character-Encoding: UTF-8') return 'line 2 is not "Tag-File-Character-Encoding: UTF-8"';
  if (lines.length !== 2) return `${lines.length} lines instead of 2`;
  return null;
}

/** bag-info.txt labels and their values (continuation lines start with white space). */
export function parseBagInfo(text: string): Map<string, string[]> {
  const labels = new Map<string, string[]>();
  let last: { label: string; index: number } | null = null;
  for (const raw of text.replace(/\r\n/g, '\n').split('\n')) {
    if (raw === '') continue;
    if (/^[ \t]/.test(raw) && last) {
      const values = labels.get(last.label) as string[];
      values[last.index] = `${values[last.index] ?? ''} ${raw.trim()}`;
      continue;
    }
    const colon = raw.indexOf(':');
    if (colon <= 0) continue;
    const label = raw.slice(0, colon).trim();
    const value = raw.slice(colon + 1).trim();
    const values = labels.get(label) ?? [];
    values.push(value);
    labels.set(label, values);
    last = { label, index: values.length - 1 };
  }
  return labels;
}
