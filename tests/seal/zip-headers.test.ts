// The one-Buffer header writers against the engine's own, field by field: for any entry (names ASCII or not, comments,
// extra fields, sizes and offsets past 4 GiB, data descriptors, ZIP64), the same bytes, the same offsets recorded on
// the entry and the same changes to it.
import { PassThrough } from 'node:stream';
import * as archiverModule from 'archiver';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { writeZipHeadersWhole } from '../../src/seal/zip-headers.js';

interface Bits {
  useDataDescriptor(value: boolean): void;
  useUTF8ForNames(value: boolean): void;
  useEncryption(value: boolean): void;
  usesDataDescriptor(): boolean;
  usesUTF8ForNames(): boolean;
}

interface Entry {
  _offsets: { file: number; data: number; contents: number };
  getGeneralPurposeBit(): Bits;
  getVersionNeededToExtract(): number;
  getExtra(): Buffer;
  setName(name: string): void;
  setComment(comment: string): void;
  setMethod(method: number): void;
  setSize(size: number): void;
  setCompressedSize(size: number): void;
  setCrc(crc: number): void;
  setTime(time: Date): void;
  setUnixMode(mode: number): void;
  setExtra(extra: Buffer): void;
  setVersionNeededToExtract(version: number): void;
  setInternalAttributes(attributes: number): void;
}
type EntryConstructor = new () => Entry;

type Writer = (this: FakeEngine, entry: Entry) => void;

interface FakeEngine {
  offset: number;
  chunks: Buffer[];
  write(chunk: Buffer | string): boolean;
  _writeLocalFileHeader: Writer;
  _writeDataDescriptor: Writer;
  _writeCentralFileHeader: Writer;
}

interface ZipArchive {
  append(source: Buffer, data: { name: string; date: Date }): this;
  finalize(): Promise<void>;
  pipe<T extends NodeJS.WritableStream>(destination: T): T;
  _module: { engine: FakeEngine & { _entries: Entry[] } };
}
const { ZipArchive: ZipArchiveClass } = archiverModule as unknown as { ZipArchive: new (options: { store: boolean }) => ZipArchive };

/** The engine's prototype (its own writers) and its entry class, taken from a real archive. */
async function engineParts(): Promise<{ prototype: FakeEngine; Entry: EntryConstructor }> {
  const archive = new ZipArchiveClass({ store: true });
  archive.pipe(new PassThrough()).resume();
  archive.append(Buffer.from('x'), { name: 'x', date: new Date() });
  await archive.finalize();
  const engine = archive._module.engine;
  const entry = engine._entries[0]!;
  return { prototype: Object.getPrototypeOf(engine) as FakeEngine, Entry: entry.constructor as EntryConstructor };
}

/** An engine that keeps what is written and counts its offset as the engine's base stream does. */
function fakeEngine(prototype: FakeEngine, offset: number, whole: boolean): FakeEngine {
  const engine: FakeEngine = {
    offset,
    chunks: [],
    write(chunk) {
      this.chunks.push(Buffer.from(chunk));
      if (chunk) this.offset += chunk.length;
      return true;
    },
    _writeLocalFileHeader: prototype._writeLocalFileHeader,
    _writeDataDescriptor: prototype._writeDataDescriptor,
    _writeCentralFileHeader: prototype._writeCentralFileHeader,
  };
  if (whole) expect(writeZipHeadersWhole({ _module: { engine } })).toBe(true);
  return engine;
}

const SEGMENTS = ['mail', 'acct-0001', 'Résumé', 'Kelvin-\u212a', '日本語', 'a b', 'x.eml', 'e\u0301'];
const SIZE = fc.oneof(fc.integer({ min: 0, max: 70_000 }), fc.integer({ min: 0xffff_ff00, max: 0x1_0000_0100 }), fc.integer({ min: 0, max: 2 ** 40 }));

const entrySpec = fc.record({
  name: fc.array(fc.constantFrom(...SEGMENTS), { minLength: 1, maxLength: 4 }).map((parts) => parts.join('/')),
  folder: fc.boolean(),
  comment: fc.constantFrom('', 'note', 'café'),
  method: fc.constantFrom(0, 8),
  size: SIZE,
  compressedSize: SIZE,
  crc: fc.integer({ min: 0, max: 0xffff_ffff }),
  time: fc.date({ min: new Date('1980-01-02T00:00:00Z'), max: new Date('2107-12-30T00:00:00Z'), noInvalidDate: true }),
  mode: fc.constantFrom(0o644, 0o755, 0o600),
  extra: fc.option(fc.uint8Array({ minLength: 0, maxLength: 40 }).map((bytes) => Buffer.from(bytes)), { nil: undefined }),
  descriptor: fc.boolean(),
  utf8: fc.boolean(),
  encryption: fc.boolean(),
  version: fc.constantFrom(10, 20, 45),
  internal: fc.integer({ min: 0, max: 0x1_ffff }),
  fileOffset: SIZE,
});
type EntrySpec = typeof entrySpec extends fc.Arbitrary<infer T> ? T : never;

function entryOf(Entry: EntryConstructor, spec: EntrySpec): Entry {
  const entry = new Entry();
  entry.setName(spec.folder ? `${spec.name}/` : spec.name);
  if (spec.comment !== '') entry.setComment(spec.comment);
  entry.setMethod(spec.method);
  entry.setSize(spec.size);
  entry.setCompressedSize(spec.compressedSize);
  entry.setCrc(spec.crc);
  entry.setTime(spec.time);
  entry.setUnixMode(spec.mode);
  if (spec.extra) entry.setExtra(spec.extra);
  entry.setVersionNeededToExtract(spec.version);
  entry.setInternalAttributes(spec.internal);
  const bits = entry.getGeneralPurposeBit();
  bits.useDataDescriptor(spec.descriptor);
  if (spec.utf8) bits.useUTF8ForNames(true);
  bits.useEncryption(spec.encryption);
  entry._offsets = { file: spec.fileOffset, data: 0, contents: 0 };
  return entry;
}

/** What a writer leaves behind: the bytes, the engine's offset, and the entry's state. */
function outcome(engine: FakeEngine, entry: Entry): unknown {
  const bits = entry.getGeneralPurposeBit();
  return {
    bytes: Buffer.concat(engine.chunks).toString('hex'),
    offset: engine.offset,
    offsets: { ...entry._offsets },
    version: entry.getVersionNeededToExtract(),
    extra: entry.getExtra().toString('hex'),
    descriptor: bits.usesDataDescriptor(),
    utf8: bits.usesUTF8ForNames(),
  };
}

describe('writeZipHeadersWhole, against the engine field by field', () => {
  it('writes the same local header, data descriptor and central record, and leaves the entry the same', async () => {
    const { prototype, Entry } = await engineParts();
    const writers = ['_writeLocalFileHeader', '_writeDataDescriptor', '_writeCentralFileHeader'] as const;
    fc.assert(
      fc.property(entrySpec, fc.integer({ min: 0, max: 2 ** 36 }), (spec, offset) => {
        // A value of exactly 0xffffffff is where the two part ways on purpose (see the test after this one).
        fc.pre(![spec.size, spec.compressedSize, spec.fileOffset].includes(0xffffffff));
        for (const writer of writers) {
          const own = fakeEngine(prototype, offset, false);
          const whole = fakeEngine(prototype, offset, true);
          const ownEntry = entryOf(Entry, spec);
          const wholeEntry = entryOf(Entry, spec);
          own[writer](ownEntry);
          whole[writer](wholeEntry);
          expect(outcome(whole, wholeEntry)).toEqual(outcome(own, ownEntry));
          // One Buffer per header: what makes it cheaper.
          expect(whole.chunks).toHaveLength(1);
        }
      }),
      { numRuns: 2000 },
    );
  });

  // Round 9 interop I1: the engine gives a value of exactly 0xffffffff as it is, which APPNOTE reads as "in the ZIP64
  // field", and writes none: an item of 4,294,967,295 bytes made an archive libzip refuses.
  it('gives a size or offset of exactly 0xffffffff in a ZIP64 field, with a 24-byte descriptor and version 4.5', async () => {
    const { prototype, Entry } = await engineParts();
    const spec = (size: number, fileOffset: number): EntrySpec => ({
      name: 'storage.content/exact.bin', folder: false, comment: '', method: 0, size, compressedSize: size, crc: 0x12345678,
      time: new Date('2026-10-02T10:00:00Z'), mode: 0o600, extra: undefined, descriptor: true, utf8: false, encryption: false,
      version: 20, internal: 0, fileOffset,
    });
    for (const [size, fileOffset] of [[0xffffffff, 100], [100, 0xffffffff], [0xffffffff, 0xffffffff]] as const) {
      const central = fakeEngine(prototype, 0, true);
      const entry = entryOf(Entry, spec(size, fileOffset));
      central._writeCentralFileHeader(entry);
      const record = Buffer.concat(central.chunks);
      expect(record.readUInt16LE(6)).toBe(45);
      expect([record.readUInt32LE(20), record.readUInt32LE(24), record.readUInt32LE(42)]).toEqual([0xffffffff, 0xffffffff, 0xffffffff]);
      const extra = record.subarray(46 + 'storage.content/exact.bin'.length, 46 + 'storage.content/exact.bin'.length + record.readUInt16LE(30));
      expect(extra.readUInt16LE(0)).toBe(0x0001);
      expect([Number(extra.readBigUInt64LE(4)), Number(extra.readBigUInt64LE(12)), Number(extra.readBigUInt64LE(20))]).toEqual([size, size, fileOffset]);
      const descriptor = fakeEngine(prototype, 0, true);
      descriptor._writeDataDescriptor(entryOf(Entry, spec(size, fileOffset)));
      expect(Buffer.concat(descriptor.chunks)).toHaveLength(size === 0xffffffff ? 24 : 16);
    }
  });

  it('leaves a name the engine would write inconsistently to the engine', async () => {
    const { prototype, Entry } = await engineParts();
    const entry = new Entry();
    entry.setName('plain.txt');
    entry.setMethod(0);
    // Set behind setName's back: non-ASCII without the UTF-8 flag (the length field counts UTF-16 units).
    (entry as unknown as { name: string }).name = 'é.txt';
    entry._offsets = { file: 0, data: 0, contents: 0 };
    const own = fakeEngine(prototype, 0, false);
    const whole = fakeEngine(prototype, 0, true);
    const twin = new Entry();
    twin.setName('plain.txt');
    twin.setMethod(0);
    (twin as unknown as { name: string }).name = 'é.txt';
    twin._offsets = { file: 0, data: 0, contents: 0 };
    own._writeLocalFileHeader(entry);
    whole._writeLocalFileHeader(twin);
    expect(Buffer.concat(whole.chunks).equals(Buffer.concat(own.chunks))).toBe(true);
    expect(whole.chunks.length).toBe(own.chunks.length);
  });
});
