// production.json's records as the record checks keep them: what the checks read of each record, in typed columns,
// rather than an object and six strings per record (the fields, path and timestamp as UTF-8 bytes, the hash as 32
// bytes). With the manifest's hashes kept as bytes too, a 200,517-entry archive's verify peaked ~49 MiB lower (README,
// `scopex verify`); see `RecordChecks` for what is read.
import { CATEGORIES, type Category } from '../order/schema.js';
import type { ProductionRecord } from '../pipeline/production-record.js';
import { digestHex, HEX_VALUE, sameDigest } from './digest-table.js';

/** The fields of a record the checks read (the rest of a valid record is not kept); sha256 in lower-case hex. */
export type KeptRecord = Pick<ProductionRecord, 'path' | 'sha256' | 'bytes' | 'account' | 'category' | 'sourceId' | 'timestamp'>;

const CATEGORY_INDEX = new Map<string, number>(CATEGORIES.map((category, index) => [category, index]));
const HAS_SOURCE_ID = 1;
const HAS_TIMESTAMP = 2;

/**
 * String.prototype.isWellFormed (Node 20 has it; it is ES2024, past this project's lib): no lone surrogate, which
 * UTF-8 would turn into U+FFFD.
 */
const isWellFormed = (text: string): boolean => (text as unknown as { isWellFormed(): boolean }).isWellFormed();

/** UTF-8 texts end to end in one growing buffer, each read back as a new string. */
class TextColumn {
  private bytes: Buffer;
  private ends: Float64Array;
  private used = 0;
  /** Texts with a lone surrogate (JSON can write one), kept as they are: UTF-8 cannot hold them. */
  private readonly unencodable = new Map<number, string>();
  length = 0;

  /** Room for `texts` texts of `bytesEach` bytes at first. */
  constructor(texts: number, bytesEach: number) {
    this.bytes = Buffer.allocUnsafe(texts * bytesEach);
    this.ends = new Float64Array(texts);
  }

  push(text: string): void {
    if (!isWellFormed(text)) {
      this.unencodable.set(this.length, text);
      text = '';
    }
    // At most 3 bytes of UTF-8 per UTF-16 unit: room for that means one pass that cannot cut the text short.
    const most = 3 * text.length;
    if (this.used + most > this.bytes.length) this.bytes = grow(this.bytes, this.used + most);
    this.used += this.bytes.write(text, this.used, 'utf8');
    if (this.length === this.ends.length) this.ends = growFloats(this.ends);
    this.ends[this.length++] = this.used;
  }

  is(index: number, text: string): boolean {
    if (this.unencodable.size > 0 && this.unencodable.has(index)) return this.unencodable.get(index) === text;
    const start = index === 0 ? 0 : (this.ends[index - 1] as number);
    const end = this.ends[index] as number;
    if (end - start !== text.length) return end - start > text.length && this.get(index) === text;
    const bytes = this.bytes;
    for (let i = 0; i < text.length; i++) {
      const code = text.charCodeAt(i);
      if (code >= 0x80) return this.get(index) === text;
      if (bytes[start + i] !== code) return false;
    }
    return true;
  }

  get(index: number): string {
    if (this.unencodable.size > 0) {
      const kept = this.unencodable.get(index);
      if (kept !== undefined) return kept;
    }
    const start = index === 0 ? 0 : (this.ends[index - 1] as number);
    return this.bytes.toString('utf8', start, this.ends[index]);
  }
}

function grow(bytes: Buffer, least: number): Buffer {
  const grown = Buffer.allocUnsafe(Math.max(least, bytes.length * 2));
  bytes.copy(grown);
  return grown;
}

function growFloats(values: Float64Array): Float64Array {
  const grown = new Float64Array(values.length * 2);
  grown.set(values);
  return grown;
}

export class ProductionTable {
  private readonly paths: TextColumn;
  /** The timestamps as written (the scope check quotes them); '' where there is none. */
  private readonly timestampTexts: TextColumn;
  private digests: Uint8Array;
  /** Sizes, timestamps (ms, as Date.parse reads them), and account, category and flags as account * 2^16 + category * 2^8 + flags. */
  private sizes: Float64Array;
  private times: Float64Array;
  private packed: Float64Array;
  private readonly accounts: string[] = [];
  private readonly accountIndex = new Map<string, number>();
  length = 0;

  /** Room for `capacity` records at first (it grows past that: the checks size it by the archive's entries). */
  constructor(capacity = 1024) {
    const rows = Math.max(16, capacity);
    this.paths = new TextColumn(rows, 64);
    this.timestampTexts = new TextColumn(rows, 24);
    this.digests = new Uint8Array(32 * rows);
    this.sizes = new Float64Array(rows);
    this.times = new Float64Array(rows);
    this.packed = new Float64Array(rows);
  }

  push(record: KeptRecord): void {
    const index = this.length;
    if (index === this.sizes.length) {
      this.sizes = growFloats(this.sizes);
      this.times = growFloats(this.times);
      this.packed = growFloats(this.packed);
    }
    if ((index + 1) * 32 > this.digests.length) {
      const grown = new Uint8Array(this.digests.length * 2);
      grown.set(this.digests);
      this.digests = grown;
    }
    const category = CATEGORY_INDEX.get(record.category);
    if (category === undefined) throw new Error(`not a category: ${record.category}`);
    // The schema (or its plain-record test) has checked it is 64 lower-case hex digits.
    if (record.sha256.length !== 64) throw new Error('a record sha256 is 64 hex digits');
    let account = this.accountIndex.get(record.account);
    if (account === undefined) {
      account = this.accounts.length;
      this.accounts.push(record.account);
      this.accountIndex.set(record.account, account);
    }
    this.paths.push(record.path);
    this.timestampTexts.push(record.timestamp ?? '');
    const digests = this.digests;
    const sha256 = record.sha256;
    for (let i = 0; i < 32; i++) digests[index * 32 + i] = ((HEX_VALUE[sha256.charCodeAt(2 * i)] as number) << 4) | (HEX_VALUE[sha256.charCodeAt(2 * i + 1)] as number);
    this.sizes[index] = record.bytes;
    this.times[index] = record.timestamp === null ? 0 : Date.parse(record.timestamp);
    const flags = (record.sourceId === null ? 0 : HAS_SOURCE_ID) | (record.timestamp === null ? 0 : HAS_TIMESTAMP);
    this.packed[index] = account * 65536 + category * 256 + flags;
    this.length++;
  }

  path(index: number): string {
    return this.paths.get(index);
  }

  /** Whether the record's path is `text` (compared on its bytes when `text` is ASCII, without reading the path out). */
  pathIs(index: number, text: string): boolean {
    return this.paths.is(index, text);
  }

  sha256(index: number): string {
    return digestHex(this.digests, index * 32);
  }

  /** Whether the record's sha256 is the 32 bytes at `at` of `digest`. */
  sha256Is(index: number, digest: Uint8Array, at: number): boolean {
    return sameDigest(this.digests, index * 32, digest, at);
  }

  bytes(index: number): number {
    return this.sizes[index] as number;
  }

  account(index: number): string {
    return this.accounts[Math.floor((this.packed[index] as number) / 65536)] as string;
  }

  category(index: number): Category {
    return CATEGORIES[Math.floor((this.packed[index] as number) / 256) % 256] as Category;
  }

  hasSourceId(index: number): boolean {
    return (this.flags(index) & HAS_SOURCE_ID) !== 0;
  }

  /** Date.parse of the timestamp; null for a record without one. */
  time(index: number): number | null {
    return (this.flags(index) & HAS_TIMESTAMP) !== 0 ? (this.times[index] as number) : null;
  }

  timestamp(index: number): string | null {
    return (this.flags(index) & HAS_TIMESTAMP) !== 0 ? this.timestampTexts.get(index) : null;
  }

  private flags(index: number): number {
    return (this.packed[index] as number) % 256;
  }
}
