// Sealer throughput figures (not a timed test): SCOPEX_SEAL_BENCH=1 npx vitest run tests/seal/seal-bench.test.ts
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { createBagSealer } from '../../src/seal/sealer.js';
import { useNativeCrc32 } from '../../src/seal/native-crc.js';
import { run, tempDir, writePki, type PkiFiles } from './helpers.js';

const enabled = process.env.SCOPEX_SEAL_BENCH === '1';
let workspace: { dir: string; cleanup(): void };
let pki: PkiFiles;

beforeAll(() => {
  workspace = tempDir();
  pki = writePki(workspace.dir);
});
afterAll(() => workspace.cleanup());

function repeated(block: Buffer, bytes: number): Readable {
  let left = bytes;
  return new Readable({
    read() {
      if (left <= 0) {
        this.push(null);
        return;
      }
      const chunk = left >= block.length ? block : block.subarray(0, left);
      left -= chunk.length;
      this.push(chunk);
    },
  });
}

test.runIf(enabled)('large entries: about 1 GiB in 16-64 MiB files', async () => {
  const nativeCrc = process.env.SCOPEX_SEAL_NO_NATIVE_CRC !== '1' && useNativeCrc32();
  const block = randomBytes(1024 * 1024);
  const sealer = await createBagSealer({
    outDir: path.join(workspace.dir, 'large'),
    orderId: 'LARGE',
    organization: 'Bench',
    signerCertificateFile: pki.signerCertificateFile,
    signerKeyFile: pki.signerKeyFile,
  });
  const started = process.hrtime.bigint();
  let total = 0;
  let index = 0;
  let peakRss = 0;
  while (total < 1024 * 1024 * 1024) {
    const size = (16 + ((index * 37) % 49)) * 1024 * 1024;
    await sealer.addPayload(`big/file-${index}.bin`, repeated(block, size));
    total += size;
    index += 1;
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
  }
  const sealed = await sealer.seal();
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  console.log(
    `large: ${index} files, ${(total / 2 ** 20).toFixed(0)} MiB in ${seconds.toFixed(2)} s = ${(total / 2 ** 20 / seconds).toFixed(0)} MiB/s, native CRC ${nativeCrc}, peak RSS ${(peakRss / 2 ** 20).toFixed(0)} MiB`,
  );
  expect(run('unzip', ['-tq', sealed.archive]).status).toBe(0);
});

test.runIf(enabled)('small entries: 50,000 Buffers of 2-6 KiB', async () => {
  const pool = randomBytes(8 * 1024 * 1024);
  const sealer = await createBagSealer({
    outDir: path.join(workspace.dir, 'small'),
    orderId: 'SMALL',
    organization: 'Bench',
    signerCertificateFile: pki.signerCertificateFile,
    signerKeyFile: pki.signerKeyFile,
  });
  const rssBefore = process.memoryUsage().rss;
  let peakRss = rssBefore;
  const started = process.hrtime.bigint();
  let bytes = 0;
  for (let i = 0; i < 50_000; i += 1) {
    const size = 2048 + ((i * 7919) % 4096);
    const offset = (i * 4099) % (pool.length - size);
    // A fresh Buffer per item, as a decrypting source would hand over.
    await sealer.addPayload(`acct/mail.content/m-${i}.eml`, Buffer.from(pool.subarray(offset, offset + size)));
    bytes += size;
    if (i % 1000 === 0) peakRss = Math.max(peakRss, process.memoryUsage().rss);
  }
  const sealed = await sealer.seal();
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  console.log(
    `small: 50000 items, ${(bytes / 2 ** 20).toFixed(0)} MiB in ${seconds.toFixed(2)} s = ${(50_000 / seconds).toFixed(0)} items/s, RSS ${(rssBefore / 2 ** 20).toFixed(0)} -> peak ${(peakRss / 2 ** 20).toFixed(0)} MiB, archive ${(sealed.bytes / 2 ** 20).toFixed(0)} MiB`,
  );
});
