// Skipping archiver's name clean-up must change nothing: for any entry data (clean names and names the clean-up
// rewrites, folders, prefixes, other types), archiver's and zip-stream's normalisers give the same result with the
// pass-through installed as without it.
import { PassThrough } from 'node:stream';
import * as archiverModule from 'archiver';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { keepPlainEntryNames } from '../../src/seal/plain-entry-names.js';

type Normalize = (data: Record<string, unknown>) => Record<string, unknown>;

interface ZipArchive {
  pipe<T extends NodeJS.WritableStream>(destination: T): T;
  _normalizeEntryData: Normalize;
  _module: { engine: { _normalizeFileData: Normalize } };
}
const { ZipArchive: ZipArchiveClass } = archiverModule as unknown as { ZipArchive: new (options: { store: boolean }) => ZipArchive };

const DATE = new Date('2026-10-02T10:00:00Z');
const SEGMENTS = ['ORDER', 'data', 'acct-0001', 'mail.content', 'm-1.eml', 'Résumé.txt', '..', '.', '', 'C:', 'x:y', 'a\\b', '_w:'];

const entryData = fc.record(
  {
    name: fc
      .tuple(
        fc.constantFrom('', '/', '../', '//', 'C:', '\\'),
        fc.array(fc.constantFrom(...SEGMENTS), { minLength: 0, maxLength: 5 }),
        fc.constantFrom('/', '\\', '//'),
        fc.constantFrom('', '/', '\\'),
      )
      .map(([lead, segments, separator, tail]) => `${lead}${segments.join(separator)}${tail}`),
    type: fc.constantFrom(undefined, 'file', 'directory', 'symlink'),
    prefix: fc.constantFrom(undefined, null, '', 'pre', 'a/b'),
    mode: fc.constantFrom(0o644, 0o755),
    date: fc.constant(DATE),
    store: fc.constant(true),
  },
  { requiredKeys: ['name', 'date'] },
);

function pair(): { plain: ZipArchive; patched: ZipArchive } {
  const plain = new ZipArchiveClass({ store: true });
  const patched = new ZipArchiveClass({ store: true });
  for (const archive of [plain, patched]) archive.pipe(new PassThrough()).resume();
  expect(keepPlainEntryNames(patched)).toBe(true);
  return { plain, patched };
}

describe('keepPlainEntryNames', () => {
  it("gives archiver's and zip-stream's normalised entry data for any name, type and prefix", () => {
    const { plain, patched } = pair();
    fc.assert(
      fc.property(entryData, (data) => {
        const archived = patched._normalizeEntryData({ ...data });
        expect(archived).toEqual(plain._normalizeEntryData({ ...data }));
        // zip-stream sees what archiver's normaliser made of the entry.
        expect(patched._module.engine._normalizeFileData({ ...archived })).toEqual(plain._module.engine._normalizeFileData({ ...archived }));
      }),
      { numRuns: 3000 },
    );
  });

  it('keeps a clean name as the same string and a rewritten one as archiver rewrites it', () => {
    const { plain, patched } = pair();
    const clean = 'ORDER/data/acct-0001/mail.content/m-1.eml';
    expect(patched._normalizeEntryData({ name: clean, date: DATE })['name']).toBe(clean);
    for (const name of ['ORDER//data/x', '/ORDER/x', '../x', 'C:x/y', 'a\\b', 'ORDER/data/']) {
      const expected = plain._normalizeEntryData({ name, date: DATE });
      expect(patched._normalizeEntryData({ name, date: DATE })).toEqual(expected);
    }
  });

  it('changes nothing when archiver is not the one it knows', () => {
    expect(keepPlainEntryNames({})).toBe(false);
    expect(keepPlainEntryNames({ _normalizeEntryData: () => ({}), _module: { engine: {} } })).toBe(false);
  });
});
