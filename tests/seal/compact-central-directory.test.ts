// The compact central directory, the write coalescing and the one-Buffer headers must change nothing but memory and
// CPU: the same entries give the same archive, byte for byte, with every kind of entry the sealer writes (buffers, empty files, a folder, streams with data descriptors,
// non-ASCII names) and in ZIP64 form.
import { randomBytes } from 'node:crypto';
import { PassThrough, Readable } from 'node:stream';
import * as archiverModule from 'archiver';
import { describe, expect, it } from 'vitest';
import { coalesceZipWrites } from '../../src/seal/coalesced-zip-writes.js';
import { compactCentralDirectory } from '../../src/seal/compact-central-directory.js';
import { keepPlainEntryNames } from '../../src/seal/plain-entry-names.js';
import { writeZipHeadersWhole } from '../../src/seal/zip-headers.js';

interface ZipArchive extends NodeJS.EventEmitter {
  append(source: Buffer | Readable, data: { name: string; date: Date; mode: number; store: boolean }): this;
  finalize(): Promise<void>;
  pipe<T extends NodeJS.WritableStream>(destination: T): T;
  _module: { engine: { _entries: unknown[] } };
}
type ZipArchiveConstructor = new (options: { store: boolean; forceZip64?: boolean }) => ZipArchive;
const { ZipArchive: ZipArchiveClass } = archiverModule as unknown as { ZipArchive: ZipArchiveConstructor };

const DATE = new Date('2026-10-02T10:00:00Z');

interface Entry {
  name: string;
  data: Buffer;
  stream?: boolean;
  mode?: number;
}

function sampleEntries(): Entry[] {
  const entries: Entry[] = [{ name: 'ORDER/data/', data: Buffer.alloc(0), mode: 0o755 }];
  for (let index = 0; index < 3000; index += 1) {
    const name = index % 10 === 3 ? `ORDER/data/acct-${index % 7}/storage.content/Résumé-${index}.txt` : `ORDER/data/acct-${index % 7}/mail.content/m-${index}.eml`;
    entries.push({ name, data: randomBytes(index % 97 === 0 ? 0 : 1 + (index % 900)), stream: index % 500 === 1 });
  }
  entries.push({ name: 'ORDER/data/acct-1/storage.content/big.bin', data: randomBytes(3 * 1024 * 1024 + 5), stream: true });
  entries.push({ name: 'ORDER/manifest-sha256.txt', data: Buffer.from('x  y\n') });
  return entries;
}

interface Engine {
  _entries: unknown[];
  _afterAppend(entry: unknown): void;
}

async function zipOf(
  entries: readonly Entry[],
  options: {
    compact: boolean;
    coalesce?: boolean;
    wholeHeaders?: boolean;
    plainNames?: boolean;
    forceZip64?: boolean;
    keepObjectsAt?: readonly number[];
  },
): Promise<{ bytes: Buffer; kept: unknown[] }> {
  const archive = new ZipArchiveClass({ store: true, ...(options.forceZip64 ? { forceZip64: true } : {}) });
  if (options.coalesce ?? true) expect(coalesceZipWrites(archive)).toBe(true);
  if (options.wholeHeaders) expect(writeZipHeadersWhole(archive)).toBe(true);
  if (options.plainNames) expect(keepPlainEntryNames(archive)).toBe(true);
  if (options.compact) expect(compactCentralDirectory(archive)).toBe(true);
  if (options.keepObjectsAt) {
    // Some entries left as the engine's own objects (as if compaction had not applied to them), between records.
    const engine = archive._module.engine as unknown as Engine;
    const compacted = engine._afterAppend;
    const plain = (Object.getPrototypeOf(engine) as Engine)._afterAppend;
    const keep = new Set(options.keepObjectsAt);
    engine._afterAppend = (entry: unknown): void => (keep.has(engine._entries.length) ? plain.call(engine, entry) : compacted(entry));
  }
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (chunk: Buffer) => chunks.push(chunk));
  const ended = new Promise((resolve) => out.on('end', resolve));
  archive.pipe(out);
  for (const entry of entries) {
    const source = entry.stream ? Readable.from([entry.data.subarray(0, 7), entry.data.subarray(7)]) : entry.data;
    archive.append(source, { name: entry.name, date: DATE, mode: entry.mode ?? 0o644, store: true });
  }
  const kept = archive._module.engine._entries;
  await archive.finalize();
  await ended;
  return { bytes: Buffer.concat(chunks), kept };
}

describe('compactCentralDirectory', () => {
  it('writes exactly the bytes archiver writes on its own, and keeps numbers instead of entry objects', async () => {
    const entries = sampleEntries();
    const plain = await zipOf(entries, { compact: false });
    const compact = await zipOf(entries, { compact: true });
    expect(compact.bytes.length).toBe(plain.bytes.length);
    expect(compact.bytes.equals(plain.bytes)).toBe(true);
    expect(plain.kept.every((kept) => typeof kept === 'object')).toBe(true);
    expect(compact.kept.filter((kept) => typeof kept !== 'number')).toEqual([]);
    expect(compact.kept).toHaveLength(entries.length);
  });

  it('the same when some entries stay objects between records (runs are written up to each of them)', async () => {
    const entries = sampleEntries().slice(0, 600);
    const plain = await zipOf(entries, { compact: false });
    const mixed = await zipOf(entries, { compact: true, keepObjectsAt: [0, 1, 250, 251, 599] });
    expect(mixed.bytes.equals(plain.bytes)).toBe(true);
    expect(mixed.kept.filter((kept) => typeof kept !== 'number')).toHaveLength(5);
  });

  it('the same in ZIP64 form (every record with its ZIP64 extra field)', async () => {
    const entries = sampleEntries().slice(0, 400);
    const plain = await zipOf(entries, { compact: false, forceZip64: true });
    const compact = await zipOf(entries, { compact: true, forceZip64: true });
    expect(compact.bytes.equals(plain.bytes)).toBe(true);
    // ZIP64 end of central directory record present.
    expect(compact.bytes.includes(Buffer.from([0x50, 0x4b, 0x06, 0x06]))).toBe(true);
  });

  it('with the write coalescing too: the bytes of archiver alone, though every chunk is held until the end', async () => {
    // The consumer keeps every chunk it was given: a staged view whose bytes were later overwritten would show here.
    const entries = sampleEntries();
    const alone = await zipOf(entries, { compact: false, coalesce: false });
    const patched = await zipOf(entries, { compact: true, coalesce: true });
    expect(patched.bytes.equals(alone.bytes)).toBe(true);
    const alone64 = await zipOf(entries.slice(0, 300), { compact: false, coalesce: false, forceZip64: true });
    const patched64 = await zipOf(entries.slice(0, 300), { compact: true, coalesce: true, forceZip64: true });
    expect(patched64.bytes.equals(alone64.bytes)).toBe(true);
  });

  it('changes nothing when the engine is not the one it knows', () => {
    expect(compactCentralDirectory({})).toBe(false);
    expect(compactCentralDirectory({ _module: { engine: { write: () => true } } })).toBe(false);
  });
});

describe('writeZipHeadersWhole', () => {
  it('writes exactly the bytes archiver writes on its own, alone and with the sealer\'s other changes', async () => {
    const entries = sampleEntries();
    const alone = await zipOf(entries, { compact: false, coalesce: false });
    expect((await zipOf(entries, { compact: false, coalesce: false, wholeHeaders: true })).bytes.equals(alone.bytes)).toBe(true);
    expect((await zipOf(entries, { compact: true, coalesce: true, wholeHeaders: true })).bytes.equals(alone.bytes)).toBe(true);
  });

  it('with the name pass-through too (keepPlainEntryNames): still the bytes of archiver alone', async () => {
    // sampleEntries has a folder entry and non-ASCII names; these add names archiver's clean-up rewrites.
    const entries = [
      ...sampleEntries().slice(0, 500),
      { name: 'ORDER//data/twice.txt', data: Buffer.from('a') },
      { name: '/ORDER/data/rooted.txt', data: Buffer.from('b') },
      { name: 'ORDER\\data\\back.txt', data: Buffer.from('c') },
    ];
    const alone = await zipOf(entries, { compact: false, coalesce: false });
    const all = await zipOf(entries, { compact: true, coalesce: true, wholeHeaders: true, plainNames: true });
    expect(all.bytes.equals(alone.bytes)).toBe(true);
  });

  it('the same in ZIP64 form', async () => {
    const entries = sampleEntries().slice(0, 300);
    const alone = await zipOf(entries, { compact: false, coalesce: false, forceZip64: true });
    const whole = await zipOf(entries, { compact: true, coalesce: true, wholeHeaders: true, forceZip64: true });
    expect(whole.bytes.equals(alone.bytes)).toBe(true);
  });

  it('changes nothing when the engine is not the one it knows', () => {
    expect(writeZipHeadersWhole({})).toBe(false);
    expect(writeZipHeadersWhole({ _module: { engine: { offset: 0, write: () => true } } })).toBe(false);
  });
});

