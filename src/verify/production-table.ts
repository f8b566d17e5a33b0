// production.json's records as the record checks keep them: what the checks read of each record, in typed columns,
// rather than an object and six strings per record. A 200,517-record production.json held ~70 MB of them on the
// records thread; see `RecordChecks` for what is read.
import { CATEGORIES, type Category } from '../order/schema.js';

/** The fields of a record the checks read (the rest of a valid record is not kept). */
export interface KeptRecord {
  path: string;
  /** Lower-case hex, as the schema requires. */
  sha256: string;
  bytes: number;
  account: string;
  category: Category;
  sourceId: string | null;
  timestamp: string | null;
}

const CATEGORY_INDEX = new Map<string, number>(CATEGORIES.map((category, index) => [category, index]));
const HAS_SOURCE_ID = 1;
const HAS_TIMESTAMP = 2;

/** UTF-8 texts end to end in one growing buffer, each read back as a new string. */
class TextColumn {
  private bytes: Buffer = Buffer.allocUnsafe(64 * 1024);
  private ends: Float64Array = new Float64Array(1024);
  private used = 0;
  length = 0;

  push(text: string): void {
    const most = Buffer.byteLength(text, 'utf8');
    if (this.used + most > this.bytes.length) this.bytes = grow(this.bytes, this.used + most);
    this.used += this.bytes.write(text, this.used, 'utf8');
    if (this.length === this.ends.length) this.ends = growFloats(this.ends);
    this.ends[this.length++] = this.used;
  }

  get(index: number): string {
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
  private readonly paths = new TextColumn();
  /** The timestamps as written (the scope check quotes them); '' where there is none. */
  private readonly timestampTexts = new TextColumn();
  private digests: Uint8Array = new Uint8Array(32 * 1024);
  /** Sizes, timestamps (ms, as Date.parse reads them), and account, category and flags as account * 2^16 + category * 2^8 + flags. */
  private sizes: Float64Array = new Float64Array(1024);
  private times: Float64Array = new Float64Array(1024);
  private packed: Float64Array = new Float64Array(1024);
  private readonly accounts: string[] = [];
  private readonly accountIndex = new Map<string, number>();
  length = 0;

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
    this.digests.set(Buffer.from(record.sha256, 'hex'), index * 32);
    this.sizes[index] = record.bytes;
    this.times[index] = record.timestamp === null ? 0 : Date.parse(record.timestamp);
    const flags = (record.sourceId === null ? 0 : HAS_SOURCE_ID) | (record.timestamp === null ? 0 : HAS_TIMESTAMP);
    this.packed[index] = account * 65536 + category * 256 + flags;
    this.length++;
  }

  path(index: number): string {
    return this.paths.get(index);
  }

  sha256(index: number): string {
    return Buffer.from(this.digests.buffer, this.digests.byteOffset + index * 32, 32).toString('hex');
  }

  /** Whether the record's sha256 is the 32 bytes at `at` of `digest`. */
  sha256Is(index: number, digest: Uint8Array, at: number): boolean {
    const base = index * 32;
    for (let i = 0; i < 32; i++) if (this.digests[base + i] !== digest[at + i]) return false;
    return true;
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
