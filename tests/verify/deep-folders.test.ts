// Entries under thousands of nested folders, each new to the bag: the folder walk once built, hashed and folded every
// ancestor path of every file, the square of each name's length, and held the event loop (and Ctrl-C) all the while.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyArchive } from '../../src/verify/verify.js';
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
    expect(failing).not.toContain('entry-names');
    expect(report.counts.entries).toBe(8);
  });
});
