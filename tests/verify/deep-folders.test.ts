// Entries under thousands of nested folders, each new to the bag: the folder walk once built, hashed and folded every
// ancestor path of every file, the square of each name's length, and held the event loop (and Ctrl-C) all the while.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_ENTRY_NAME_BYTES, verifyArchive } from '../../src/verify/verify.js';
import { MAX_RELATIVE_PATH_BYTES, MAX_SEGMENT_BYTES } from '../../src/seal/safe-names.js';
import { createPki, ORDER_ID, tempDir, writeZip, type Pki } from './fixtures.js';

let dir: string;
let pki: Pki;

beforeAll(() => {
  dir = tempDir();
  pki = createPki(dir);
});

afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

/** `files` entries, each under `depth` folders of its own ("e<i>/0/0/.../0/f.txt"; a name of about 2 × depth bytes). */
function deepArchive(files: number, depth: number): string {
  const file = path.join(dir, `deep-${files}-${depth}.zip`);
  const items = Array.from({ length: files }, (_, i) => ({
    name: `${ORDER_ID}/data/acc-0001/storage.content/e${i}/${'0/'.repeat(depth)}f.txt`,
    data: Buffer.from('x'),
  }));
  writeZip(file, items);
  return file;
}

describe('an archive of deeply nested folders', () => {
  it('gets its verdict in a fraction of a second of CPU (bound: 4 s, on a loaded machine too), and never holds the event loop for long', { timeout: 60_000 }, async () => {
    // 8 names of ~64 KB (the ZIP limit), each under 32,000 new folders: the old walk took about 13 s of CPU here.
    const archive = deepArchive(8, 32_000);
    let longestGap = 0;
    let last = performance.now();
    const heartbeat = setInterval(() => {
      const now = performance.now();
      longestGap = Math.max(longestGap, now - last);
      last = now;
    }, 5);
    const cpu = process.cpuUsage();
    let report;
    try {
      report = await verifyArchive({ archive, trustFile: pki.caFile, recordsThread: 'never', hashThread: 'never' });
    } finally {
      clearInterval(heartbeat);
    }
    const used = process.cpuUsage(cpu);
    expect((used.user + used.system) / 1e6).toBeLessThan(4);
    // A signal is handled between two turns of the loop: Ctrl-C waited as long as the names took (tens of seconds).
    expect(longestGap).toBeLessThan(3000);
    expect(report.ok).toBe(false);
    const failing = report.checks.filter((check) => !check.ok).map((check) => check.name);
    expect(failing).toContain('bag-layout');
    // Names that long are refused as names too: unzip would cut them.
    expect(report.failures.filter((failure) => failure.check === 'entry-names')).toHaveLength(8);
    expect(report.counts.entries).toBe(8);
  });
});

describe('the length of an entry name', () => {
  /** An archive of one storage file whose entry name is `bytes` bytes of UTF-8, its folders made of `unit`. */
  function archiveNamed(bytes: number, unit: string): { file: string; name: string } {
    let name = `${ORDER_ID}/data/acc-0001/storage.content/`;
    // Folders of at most 101 bytes, then a file name of 40-140 bytes (names of segments stay within 150 bytes).
    const folder = `${unit.repeat(50)}/`;
    while (bytes - Buffer.byteLength(name) > 140) name += folder;
    name += 'f'.repeat(bytes - Buffer.byteLength(name));
    const file = path.join(dir, `long-${bytes}-${Buffer.byteLength(unit)}.zip`);
    writeZip(file, [{ name, data: Buffer.from('x') }]);
    return { file, name };
  }

  const nameFailures = async (file: string) =>
    (await verifyArchive({ archive: file, trustFile: pki.caFile, recordsThread: 'never', hashThread: 'never' })).failures.filter((failure) => failure.check === 'entry-names');

  it('is at most MAX_ENTRY_NAME_BYTES, counted in UTF-8 bytes, which is more than export ever writes', async () => {
    const atLimit = archiveNamed(MAX_ENTRY_NAME_BYTES, 'a');
    expect(Buffer.byteLength(atLimit.name)).toBe(MAX_ENTRY_NAME_BYTES);
    expect(await nameFailures(atLimit.file)).toEqual([]);
    const over = archiveNamed(MAX_ENTRY_NAME_BYTES + 1, 'a');
    expect(Buffer.byteLength(over.name)).toBe(MAX_ENTRY_NAME_BYTES + 1);
    expect(await nameFailures(over.file)).toEqual([expect.objectContaining({ entry: over.name, found: `${MAX_ENTRY_NAME_BYTES + 1} bytes` })]);
    // 2 bytes a character: fewer characters than the limit, more bytes.
    const wide = archiveNamed(MAX_ENTRY_NAME_BYTES + 1, 'é');
    expect(wide.name.length).toBeLessThan(MAX_ENTRY_NAME_BYTES);
    expect(await nameFailures(wide.file)).toEqual([expect.objectContaining({ entry: wide.name, found: `${MAX_ENTRY_NAME_BYTES + 1} bytes` })]);
    // Export's longest: an order id of 64, "data", an account id of 128, the longest category, and the path below it.
    const longestExport = 64 + '/data/'.length + 128 + 1 + 'storage.metadata'.length + 1 + MAX_RELATIVE_PATH_BYTES;
    expect(MAX_SEGMENT_BYTES).toBeGreaterThanOrEqual(128);
    expect(longestExport).toBeLessThan(MAX_ENTRY_NAME_BYTES);
  });
});
