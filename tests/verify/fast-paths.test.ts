// The verifier's fast paths must decide exactly as the plain rules do: names, production records, streamed JSON and
// manifest lines cut anywhere, and entries hashed in place or across read windows.
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { open } from 'node:fs/promises';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeManifestPath, ManifestReader } from '../../src/verify/bag-files.js';
import { JsonArrayReader } from '../../src/verify/json-array-reader.js';
import { listZip, scanZip, type EntrySink } from '../../src/verify/safe-zip.js';
import { BagFolders, NameTwins, unsafeNameReason } from '../../src/verify/names.js';
import { collisionKey } from '../../src/seal/safe-names.js';
import { plainProductionRecord, productionRecordSchema } from '../../src/verify/record-checks.js';
import { tempDir, writeZipWithArchiver } from './fixtures.js';
import { splitAt } from '../helpers/split-at.js';

/** The name rules written the plain way, as the verifier first had them. */
function referenceUnsafeNameReason(name: string): string | null {
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

describe('NameTwins', () => {
  /** The plain rule: every distinct name's collision key (after the prefix) in one map, the first name with it stays. */
  function referenceTwins(names: readonly string[], prefix: string): (string | undefined)[] {
    const seen = new Set<string>();
    const byKey = new Map<string, string>();
    return names.map((name) => {
      if (seen.has(name)) return 'duplicate';
      seen.add(name);
      const key = name.startsWith(prefix) ? prefix + collisionKey(name.slice(prefix.length)) : collisionKey(name);
      const twin = byKey.get(key);
      if (twin === undefined) byKey.set(key, name);
      return twin;
    });
  }

  function fastTwins(names: readonly string[], prefix: string): (string | undefined)[] {
    const exact = new Set<string>();
    const twins = new NameTwins(exact, prefix);
    return names.map((name) => {
      if (exact.has(name)) return 'duplicate';
      exact.add(name);
      return twins.twinOf(name);
    });
  }

  it('reports the same first twin as one map of every collision key, for any names in any order', () => {
    // ASCII letters and their look-alikes: the Kelvin sign (NFC: K), an angstrom sign (NFC: Å), e with a combining
    // acute (NFC: é), precomposed é and Å, the sigmas (σ, final ς, capital Σ); and a prefix kept as it is.
    const piece = fc.constantFrom('K', 'k', '\u212a', 'e', '\u0301', '\u00e9', 'A', '\u030a', '\u00c5', '\u212b', '\u03c3', '\u03c2', '\u03a3', '/', 'x', 'T/');
    const name = fc.array(piece, { minLength: 1, maxLength: 4 }).map((pieces) => pieces.join(''));
    fc.assert(
      fc.property(fc.array(name, { maxLength: 30 }), fc.constantFrom('', 'T/'), (names, prefix) => {
        expect(fastTwins(names, prefix)).toEqual(referenceTwins(names, prefix));
      }),
      { numRuns: 3000 },
    );
  });
});

describe('unsafeNameReason fast path', () => {
  it('gives the same answer as the plain rules for any name', () => {
    const piece = fc.constantFrom('a', 'Z', '.', '..', '/', '//', '\\', 'C:', ':', '\n', '\u007f', '\u001f', 'é', ' ', '%2e', 'data');
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 10 }), (pieces) => {
        const name = pieces.join('');
        expect(unsafeNameReason(name)).toBe(referenceUnsafeNameReason(name));
      }),
      { numRuns: 3000 },
    );
  });
});

describe('BagFolders', () => {
  /**
   * The plain rule, as the verifier first had it: every folder above a file kept by its path, and each new one (top
   * down) with the first earlier folder whose path has its collision key.
   */
  function referenceFolders(files: readonly string[]): { news: [string, string | undefined][][]; folders: Set<string> } {
    const folders = new Set<string>();
    const byKey = new Map<string, string>();
    const news = files.map((file) => {
      const found: [string, string | undefined][] = [];
      const segments = file.split('/').slice(0, -1);
      for (let depth = 1; depth <= segments.length; depth++) {
        const folder = segments.slice(0, depth).join('/');
        if (folders.has(folder)) continue;
        folders.add(folder);
        const key = collisionKey(folder);
        const twin = byKey.get(key);
        if (twin === undefined) byKey.set(key, folder);
        found.push([folder, twin]);
      }
      return found;
    });
    return { news, folders };
  }

  it('finds the same new folders and twins as a set of every folder path, for any files in any order', () => {
    // Few segments, so that files share folders, and look-alikes (case, the Kelvin sign, NFC/NFD, the sigmas).
    const segment = fc.constantFrom('a', 'A', 'b', 'k', 'K', '\u212a', '\u00e9', 'e\u0301', '\u03c3', '\u03c2', '\u03a3', 'data', 'Data', 'x.y');
    const file = fc.array(segment, { minLength: 1, maxLength: 5 }).map((segments) => [...segments, 'f'].join('/'));
    fc.assert(
      fc.property(fc.array(file, { maxLength: 25 }), fc.array(fc.array(segment, { minLength: 1, maxLength: 4 }), { maxLength: 10 }), (files, probes) => {
        const reference = referenceFolders(files);
        const folders = new BagFolders();
        const news = files.map((relative) => {
          const found: [string, string | undefined][] = [];
          const cut = relative.lastIndexOf('/');
          const id = folders.addFoldersOf(relative, cut, (name, end, twinOf) => {
            expect(relative.slice(end - name.length, end)).toBe(name);
            found.push([relative.slice(0, end), twinOf < 0 ? undefined : folders.pathOf(twinOf)]);
          });
          expect(folders.pathOf(id)).toBe(relative.slice(0, Math.max(cut, 0)));
          return found;
        });
        expect(news).toEqual(reference.news);
        for (const folder of [...reference.folders, ...probes.map((segments) => segments.join('/'))]) {
          expect(folders.has(folder)).toBe(reference.folders.has(folder));
        }
      }),
      { numRuns: 3000 },
    );
  });
});

describe('plainProductionRecord', () => {
  const valid = {
    path: 'data/acct-0001/mail.content/m-000001.eml',
    sha256: 'a'.repeat(64),
    bytes: 7690,
    account: 'acct-0001',
    category: 'mail.content',
    sourceId: 'm-000001',
    originalName: 'm-000001.eml',
    timestamp: '2026-05-10T14:49:07Z',
    encryption: 'provider-decrypted',
  };
  const odd = fc.constantFrom<unknown>(
    undefined, null, '', 'x', 0, -1, 1.5, 2 ** 60, Number.NaN, true, [], {}, 'A'.repeat(64), 'a'.repeat(63), 'g'.repeat(64),
    '2026-02-30T00:00:00Z', '2026-05-10T14:49:07', '2026-05-10T14:49:07+02:00', '2026-05-10T14:49:07.123Z', 'mail.content', 'nonsense.category',
    'customer-key', 'plain',
  );
  const fields = ['path', 'sha256', 'bytes', 'account', 'category', 'sourceId', 'originalName', 'timestamp', 'encryption', 'items', 'extra'];

  it('takes the usual record', () => {
    expect(plainProductionRecord(valid)).not.toBeNull();
    expect(plainProductionRecord({ ...valid, timestamp: null, sourceId: null, items: 3 })).not.toBeNull();
  });

  it('takes only records the schema accepts, with the same values', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.constantFrom(...fields), odd), { maxLength: 4 }), fc.boolean(), (edits, remove) => {
        const record: Record<string, unknown> = { ...valid };
        for (const [field, value] of edits) {
          if (remove && value === undefined) delete record[field];
          else record[field] = value;
        }
        const fast = plainProductionRecord(record);
        const schema = productionRecordSchema.safeParse(record);
        if (fast !== null) {
          expect(schema.success).toBe(true);
          expect(fast.data).toEqual(schema.data);
        }
      }),
      { numRuns: 3000 },
    );
    expect(plainProductionRecord([valid])).toBeNull();
    expect(plainProductionRecord(null)).toBeNull();
  });
});

describe('streamed readers cut anywhere', () => {
  it('JsonArrayReader finds the same records in strings full of escapes and backslash runs', () => {
    const text = fc.array(fc.constantFrom('\\', '"', '{', '}', '[', ']', ',', 'a', 'é', '\n'), { maxLength: 12 }).map((parts) => parts.join(''));
    const record = fc.record({ path: text, nested: fc.array(fc.oneof(text, fc.dictionary(text, text, { maxKeys: 2 })), { maxLength: 3 }) });
    fc.assert(
      fc.property(fc.array(record, { maxLength: 8 }), fc.array(fc.nat(), { maxLength: 20 }), (records, cuts) => {
        const bytes = Buffer.from(JSON.stringify(records));
        const values: unknown[] = [];
        const problems: string[] = [];
        const reader = new JsonArrayReader((value) => values.push(value), (message) => problems.push(message));
        for (const chunk of splitAt(bytes, cuts)) reader.update(chunk);
        reader.end();
        expect(problems).toEqual([]);
        expect(values).toEqual(records);
      }),
      { numRuns: 500 },
    );
  });

  it('JsonArrayReader takes many records at once exactly as it takes them byte by byte, valid or not', () => {
    const text = fc.constantFrom('a', 'é', '\\n', '\\"', '}', '{', '\n', ']');
    const element = fc.oneof(
      fc.record({ path: fc.array(text, { maxLength: 4 }).map((parts) => parts.join('')), bytes: fc.nat() }).map((value) => JSON.stringify(value)),
      fc.record({ path: fc.string(), inner: fc.dictionary(fc.string(), fc.string(), { maxKeys: 2 }) }).map((value) => JSON.stringify(value, null, 2)),
      fc.constantFrom('{}', '[1]', 'null', '7', '"s"', '{"a":}', '{"a":1', '{"a":"\n"}', '{"a":1}}', '{"a":[}', '\u00ff', '{"\xff":1}'),
    );
    const separator = fc.constantFrom(',', ',\n', ' ,\n  ', '\n,', ',,', '\n', '');
    const document = fc
      .tuple(fc.array(fc.tuple(element, separator), { maxLength: 12 }), fc.constantFrom('[\n', '[', ' [ ', 'x['), fc.constantFrom('\n]\n', ']', '\n', '] x'))
      .map(([parts, open, close]) => open + parts.map(([value, sep], index) => (index === parts.length - 1 ? value : value + sep)).join('') + close);
    const read = (chunks: Buffer[]): { values: [number, unknown][]; problems: string[] } => {
      const values: [number, unknown][] = [];
      const problems: string[] = [];
      const reader = new JsonArrayReader((value, index) => values.push([index, value]), (message) => problems.push(message));
      for (const chunk of chunks) reader.update(chunk);
      reader.end();
      return { values, problems };
    };
    fc.assert(
      fc.property(document, fc.array(fc.nat(), { maxLength: 4 }), (doc, cuts) => {
        const bytes = Buffer.from(doc);
        const byByte = read([...bytes].map((byte) => Buffer.from([byte])));
        expect(read([bytes])).toEqual(byByte);
        expect(read(splitAt(bytes, cuts))).toEqual(byByte);
      }),
      { numRuns: 1500 },
    );
  });

  it('ManifestReader splits any line exactly as the manifest line expression does', () => {
    const hex = fc.array(fc.constantFrom(...'0123456789abcdefABCDEF'), { minLength: 62, maxLength: 66 }).map((digits) => digits.join(''));
    const odd = fc.constantFrom('g', 'G', '\u0010', '\u0019', '\u0040', '`', ' ', '\t', '\r', '\u2028', '\u2029', 'é', 'x', '%0A', '/');
    const line = fc.tuple(hex, fc.array(odd, { maxLength: 3 }), fc.array(fc.constantFrom(' ', '\t'), { maxLength: 3 }), fc.array(odd, { maxLength: 4 })).map((parts) => parts.flat().join(''));
    fc.assert(
      fc.property(line, (text) => {
        const reader = new ManifestReader();
        reader.update(Buffer.from(`${text}\n`));
        reader.end();
        const match = /^([0-9a-fA-F]{64})[ \t]+(.+)$/.exec(text.endsWith('\r') ? text.slice(0, -1) : text);
        if (text === '' || text === '\r') return;
        if (!match) {
          expect(reader.entries.size).toBe(0);
          expect(reader.problems).toHaveLength(1);
        } else {
          expect([...reader.entries].map(([path, slot]) => [path, reader.hash(slot)])).toEqual([[decodeManifestPath(match[2] as string), (match[1] as string).toLowerCase()]]);
          expect(reader.problems).toEqual([]);
        }
      }),
      { numRuns: 5000 },
    );
  });

  it('ManifestReader reads the same entries and problems however the bytes are cut', () => {
    const line = fc.oneof(
      fc.tuple(fc.array(fc.constantFrom(...'0123456789abcdefABCDEF'), { minLength: 64, maxLength: 64 }).map((digits) => digits.join('')), fc.constantFrom('  ', ' ', '\t'), fc.constantFrom('data/a', 'data/b%0A', 'data/é', 'data/c d'), fc.constantFrom('\n', '\r\n')).map((parts) => parts.join('')),
      fc.constantFrom('garbage\n', '\n', '\r\n', `${'f'.repeat(64)} data/a\n`),
    );
    fc.assert(
      fc.property(fc.array(line, { maxLength: 10 }), fc.array(fc.nat(), { maxLength: 20 }), (lines, cuts) => {
        const bytes = Buffer.from(lines.join(''));
        const whole = new ManifestReader();
        whole.update(bytes);
        whole.end();
        const cut = new ManifestReader();
        for (const chunk of splitAt(bytes, cuts)) cut.update(chunk);
        cut.end();
        expect([...cut.entries]).toEqual([...whole.entries]);
        expect(cut.problems).toEqual(whole.problems);
      }),
      { numRuns: 500 },
    );
  });
});

describe('scanZip hashing', () => {
  const dir = tempDir();
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('hashes entries in place and across 4 MiB read windows alike', async () => {
    // Sizes chosen so that entries straddle the window boundaries (streamed) and others lie inside one (in place).
    const sizes = [10, 3 * 1024 * 1024, 2 * 1024 * 1024 + 7, 0, 5000, 4 * 1024 * 1024 + 1, 1, 700 * 1024];
    const items = sizes.map((size, index) => ({ name: `x/data/f${index}`, data: randomBytes(size) }));
    const file = path.join(dir, 'windows.zip');
    await writeZipWithArchiver(file, items);
    const handle = await open(file, 'r');
    try {
      const listing = await listZip(handle, (await handle.stat()).size);
      expect(listing.problems).toEqual([]);
      const seen = new Map<string, { sha256: string; whole: boolean }>();
      const problems = await scanZip(handle, listing, (entry): EntrySink => {
        const hash = createHash('sha256');
        return {
          update: (chunk) => hash.update(chunk),
          end: () => seen.set(entry.name, { sha256: hash.digest('hex'), whole: false }),
          whole: (data) => seen.set(entry.name, { sha256: createHash('sha256').update(data).digest('hex'), whole: true }),
        };
      });
      expect(problems).toEqual([]);
      for (const item of items) expect(seen.get(item.name)?.sha256).toBe(createHash('sha256').update(item.data).digest('hex'));
      const ways = new Set([...seen.values()].map((value) => value.whole));
      expect(ways).toEqual(new Set([true, false]));
    } finally {
      await handle.close();
    }
  });
});

describe('central directory names', () => {
  const dir = tempDir();
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  /** The end record's central directory size field (the last 22 bytes of an archive without a comment). */
  function declareDirectorySize(zip: Buffer, change: (size: number) => number): void {
    const end = zip.length - 22;
    expect(zip.readUInt32LE(end)).toBe(0x06054b50);
    zip.writeUInt32LE(change(zip.readUInt32LE(end + 12)), end + 12);
  }

  it('are read and checked alike in the directory and past its declared end', async () => {
    const items = ['x/data/a.eml', 'x/data/b.eml', 'x/data/ümlaut-c.eml'].map((name, index) => ({ name, data: randomBytes(100 + index) }));
    const file = path.join(dir, 'short-directory.zip');
    await writeZipWithArchiver(file, items);
    const zip = fs.readFileSync(file);
    // Declared 20 bytes short: the last record's name lies past the directory read at once, and is read from the file.
    declareDirectorySize(zip, (size) => size - 20);
    // The last entry's local header names another file (same length): the check must compare with the name read late.
    const last = zip.lastIndexOf(Buffer.from('ümlaut-c.eml'), zip.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02])));
    zip.write('x', last + Buffer.byteLength('ümlaut-c.eml') - 5, 'latin1');
    fs.writeFileSync(file, zip);
    const handle = await open(file, 'r');
    try {
      const listing = await listZip(handle, zip.length);
      expect(listing.entries.map((entry) => [entry.name, entry.nameIsUtf8])).toEqual(items.map((item) => [item.name, true]));
      expect(listing.problems.map((problem) => problem.message)).toContain('the central directory size does not match its entries (hidden or missing records)');
      const problems = await scanZip(handle, listing, () => null);
      expect(problems.map((problem) => [problem.entry, problem.message])).toEqual([
        ['x/data/ümlaut-c.eml', 'the local header names a different file than the central directory'],
      ]);
    } finally {
      await handle.close();
    }
  });
});
