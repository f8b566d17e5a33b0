// The SHA-256 of each entry read in full, by entry index: 32 bytes each in one buffer rather than a hex string each
// (~88 bytes of heap), held by the main thread and again by the records thread, which also had them posted as one
// joined string. For a 200,517-entry archive the table is 6.6 MB; it goes to the records thread as two typed arrays
// (peak RSS ~489 -> ~444 MiB, README, `scopex verify`).

/** The value of each hex digit by its character code (either case); 0 for anything else, which callers rule out first. */
export const HEX_VALUE = new Uint8Array(256);
for (let digit = 0; digit < 16; digit++) {
  HEX_VALUE[digit.toString(16).charCodeAt(0)] = digit;
  HEX_VALUE[digit.toString(16).toUpperCase().charCodeAt(0)] = digit;
}

/** The 32 bytes at `at` of `bytes` in lower-case hex. */
export function digestHex(bytes: Uint8Array, at: number): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset + at, 32).toString('hex');
}

/** Whether the 32 bytes at `aAt` of `a` are those at `bAt` of `b`. */
export function sameDigest(a: Uint8Array, aAt: number, b: Uint8Array, bAt: number): boolean {
  for (let i = 0; i < 32; i++) if (a[aAt + i] !== b[bAt + i]) return false;
  return true;
}

/** What the checks read: whether an entry was read in full, and its digest (lower-case hex). */
export interface DigestReader {
  has(index: number): boolean;
  /** The digest of entry `index` in lower-case hex; undefined when the entry was not read in full. */
  hex(index: number): string | undefined;
  /** Whether entry `index` has a digest, and it is the 32 bytes at `at` of `digest`. */
  is(index: number, digest: Uint8Array, at: number): boolean;
}

export class DigestTable implements DigestReader {
  /** `count` digests of 32 bytes, in entry order... */
  readonly bytes: Uint8Array;
  /** ... and 1 for each one that is set. */
  readonly present: Uint8Array;

  constructor(count: number);
  /** Over the arrays of another table (as posted to another thread): no copy. */
  constructor(bytes: Uint8Array, present: Uint8Array);
  constructor(countOrBytes: number | Uint8Array, present?: Uint8Array) {
    if (typeof countOrBytes === 'number') {
      this.bytes = new Uint8Array(countOrBytes * 32);
      this.present = new Uint8Array(countOrBytes);
      return;
    }
    if (present === undefined || countOrBytes.length !== present.length * 32) throw new Error('a digest table needs 32 bytes per entry');
    this.bytes = countOrBytes;
    this.present = present;
  }

  get count(): number {
    return this.present.length;
  }

  /** Sets entry `index` to the 32 bytes at `at` of `digest`. */
  set(index: number, digest: Uint8Array, at = 0): void {
    this.checkIndex(index);
    if (digest.length - at < 32) throw new Error('a SHA-256 digest is 32 bytes');
    // Copied byte by byte: a view per digest cost more than the copy.
    const bytes = this.bytes;
    const base = index * 32;
    for (let i = 0; i < 32; i++) bytes[base + i] = digest[at + i] as number;
    this.present[index] = 1;
  }

  /** Sets entry `index` to a digest given in hex (64 digits, as node:crypto gives it). */
  setHex(index: number, hex: string): void {
    if (!/^[0-9a-fA-F]{64}$/.test(hex)) throw new Error('a SHA-256 digest is 64 hex digits');
    this.set(index, Buffer.from(hex, 'hex'));
  }

  has(index: number): boolean {
    return this.present[index] === 1;
  }

  hex(index: number): string | undefined {
    return this.has(index) ? digestHex(this.bytes, index * 32) : undefined;
  }

  is(index: number, digest: Uint8Array, at: number): boolean {
    return this.has(index) && sameDigest(this.bytes, index * 32, digest, at);
  }

  private checkIndex(index: number): void {
    if (!(index >= 0 && index < this.present.length && index % 1 === 0)) throw new RangeError(`no entry ${index} in a table of ${this.present.length}`);
  }
}
