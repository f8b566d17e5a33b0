// The payload and production checks are planned ahead of the digests (`prepare`) and finished with them: the
// failures must come in the order one pass over the records gives them, and a forgotten file must not be checked.
import { describe, expect, it } from 'vitest';
import { DigestTable } from '../../src/verify/digest-table.js';
import { RecordChecks, type ReadResults } from '../../src/verify/record-checks.js';

const hex = (byte: number): string => byte.toString(16).padStart(2, '0').repeat(32);
const PATHS = ['bagit.txt', 'manifest-sha256.txt', 'production.json', 'data/a1/mail.content/m1.eml', 'data/a1/mail.content/m2.eml'];

function checks(manifest: string, records: object[], maxFailures = 10): RecordChecks {
  const checks = new RecordChecks({ topFolder: 'T', maxRecords: 10, maxFailures });
  const manifestSink = checks.sink('manifest');
  manifestSink.update(Buffer.from(manifest));
  manifestSink.end();
  const productionSink = checks.sink('production');
  productionSink.update(Buffer.from(JSON.stringify(records)));
  productionSink.end();
  checks.setLayout({ paths: PATHS, indexes: PATHS.map((_, index) => index), entryCount: PATHS.length });
  return checks;
}

function digestsOf(hexes: readonly string[]): DigestTable {
  const table = new DigestTable(hexes.length);
  hexes.forEach((digest, index) => table.setHex(index, digest));
  return table;
}

const read: ReadResults = { digests: digestsOf(PATHS.map((_, index) => hex(index))), sizes: PATHS.map((_, index) => 100 + index) };
const record = (path: string, index: number, changes: object = {}): object => ({
  path,
  sha256: hex(index),
  bytes: 100 + index,
  account: 'a1',
  category: 'mail.content',
  sourceId: `s${index}`,
  timestamp: '2025-01-01T00:00:00Z',
  encryption: 'provider-decrypted',
  ...changes,
});
const manifest = `${hex(3)}  ${PATHS[3]}\n${hex(4)}  ${PATHS[4]}\n`;

describe('record checks planned ahead of the digests', () => {
  it('report a record’s failures around its size check, in the order of one pass', () => {
    const records = [record(PATHS[3] as string, 3, { sha256: hex(9), bytes: 1, account: 'a2' }), record(PATHS[3] as string, 3), record(PATHS[4] as string, 4)];
    for (const early of [false, true]) {
      const planned = checks(manifest, records);
      if (early) planned.prepare();
      expect(planned.checkPayload(read).count).toBe(0);
      const messages = planned.checkProduction(read).failures.map((failure) => failure.message);
      expect(messages).toEqual([
        `production.json and the manifest disagree on ${PATHS[3]}`,
        `production.json gives the wrong size for ${PATHS[3]}`,
        'the record names another account than its path',
        `production.json lists ${PATHS[3]} twice`,
      ]);
    }
  });

  it('check only what the digests show, however early the plan was made', () => {
    const planned = checks(manifest, [record(PATHS[3] as string, 3), record(PATHS[4] as string, 4)]);
    planned.prepare();
    const tampered: ReadResults = { digests: digestsOf(PATHS.map((_, index) => hex(index === 4 ? 200 : index))), sizes: read.sizes };
    expect(planned.checkPayload(tampered).failures.map((failure) => failure.message)).toEqual([`${PATHS[4]} does not match its hash`]);
  });

  it('plan again after a file is forgotten', () => {
    const planned = checks(manifest, [record(PATHS[3] as string, 3), record(PATHS[4] as string, 4)]);
    planned.prepare();
    planned.discard('manifest');
    const messages = planned.checkPayload(read).failures.map((failure) => failure.message);
    expect(messages).toEqual([`${PATHS[3]} is not in the manifest (an added file)`, `${PATHS[4]} is not in the manifest (an added file)`]);
  });

  it('count every malformed manifest line while keeping only as many as they list', () => {
    const junk = `${'not a manifest line\n'.repeat(1000)}${manifest}${hex(9)}  ${PATHS[3]}\n`;
    const records = [record(PATHS[3] as string, 3), record(PATHS[4] as string, 4)];
    const few = checks(junk, records, 3).checkPayload(read);
    const all = checks(junk, records, 2000).checkPayload(read);
    expect(all.count).toBe(1001);
    expect(all.failures).toHaveLength(1001);
    expect(few.count).toBe(all.count);
    expect(few.failures).toEqual(all.failures.slice(0, 3));
  });
});
