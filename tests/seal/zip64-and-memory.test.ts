// Slow: 70,000 entries (ZIP64 by entry count) and the memory bound for 50,000 entries.
import { open } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createBagSealer } from '../../src/seal/sealer.js';
import { listZip } from '../../src/verify/safe-zip.js';
import { pythonCheckBag, run, tempDir, writePki, type PkiFiles } from './helpers.js';

let workspace: { dir: string; cleanup(): void };
let pki: PkiFiles;

beforeAll(() => {
  workspace = tempDir();
  pki = writePki(workspace.dir);
});
afterAll(() => workspace.cleanup());

async function sealTiny(orderId: string, count: number, onProgress?: (index: number) => void): Promise<string> {
  const sealer = await createBagSealer({
    outDir: path.join(workspace.dir, orderId),
    orderId,
    organization: 'Contoso Cloud',
    signerCertificateFile: pki.signerCertificateFile,
    signerKeyFile: pki.signerKeyFile,
    now: new Date('2026-10-02T10:00:00Z'),
  });
  for (let i = 0; i < count; i += 1) {
    await sealer.addPayload(`acct-${i % 7}/im.content/c-${i}.json`, Buffer.from(`{"n":${i}}\n`));
    onProgress?.(i);
  }
  const sealed = await sealer.seal();
  return sealed.archive;
}

describe('slow: large entry counts', () => {
  test('70,000 entries make a ZIP64 archive that unzip and Python zipfile read back', { timeout: 180_000 }, async () => {
    const archive = await sealTiny('ZIP64-COUNT', 70_000);
    const tested = run('unzip', ['-tqq', archive]);
    expect(tested.stderr).toBe('');
    expect(tested.status).toBe(0);
    const listing = run('unzip', ['-Z1', archive]);
    expect(listing.stdout.trimEnd().split('\n')).toHaveLength(70_000 + 5);
    const verdict = pythonCheckBag(archive, 'ZIP64-COUNT');
    expect(verdict.problems).toEqual([]);
    expect(verdict.entries).toBe(70_005);
    expect(verdict.info['Payload-Oxum']).toMatch(/\.70000$/);
  });

  // 0xffff in the classic end record's count means "see the ZIP64 end record" (APPNOTE 4.4.1.4); the engine wrote it
  // with none for exactly 65,535 entries, and verify (as libzip would) took the archive for a truncated one.
  test('exactly 65,535 entries get ZIP64 end records, and the archive verifies', { timeout: 180_000 }, async () => {
    const archive = await sealTiny('ZIP64-EXACT', 0xffff - 5);
    const handle = await open(archive, 'r');
    try {
      const listing = await listZip(handle, (await handle.stat()).size);
      expect(listing.problems).toEqual([]);
      expect(listing.entries).toHaveLength(0xffff);
    } finally {
      await handle.close();
    }
    const tested = run('unzip', ['-tqq', archive]);
    expect(tested.stderr).toBe('');
    expect(tested.status).toBe(0);
  });

  test('appending 50,000 small entries keeps memory flat', { timeout: 180_000 }, async () => {
    let baseline = 0;
    let peak = 0;
    await sealTiny('MEMORY', 50_000, (index) => {
      if (index === 5_000) {
        global.gc?.();
        baseline = process.memoryUsage().rss;
      }
      if (index > 5_000 && index % 2_500 === 0) peak = Math.max(peak, process.memoryUsage().rss);
    });
    const growth = (peak - baseline) / 2 ** 20;
    console.log(`RSS after 5k entries ${(baseline / 2 ** 20).toFixed(0)} MiB, peak to 50k ${(peak / 2 ** 20).toFixed(0)} MiB`);
    // Queuing all entries in archiver costs 0.75-1.5 GB for 50k; bookkeeping per entry must stay tiny.
    expect(growth).toBeLessThan(64);
  });
});
