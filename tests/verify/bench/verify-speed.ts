// Measures `scopex verify` against `sha256sum` and `openssl dgst -sha256` over the same bytes.
// Run: npx tsc -p . && node dist/tests/verify/bench/verify-speed.js [--size BYTES] [--files N] [--keep]
// Builds a bag of N random files (default 1 GiB in 64 files plus 2,000 small ones), signs it with openssl cms,
// zips it stored with `zip -0`, then times each tool twice from the page cache and prints the best run.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash, randomFillSync } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { generateSamplePki } from '../../../src/samples/pki.js';
import { verifyArchive } from '../../../src/verify/verify.js';

const ORDER_ID = 'LE-2026-BENCH';

function flag(name: string, fallback: number): number {
  const index = process.argv.indexOf(name);
  return index >= 0 ? Number(process.argv[index + 1]) : fallback;
}

function timed<T>(fn: () => T): { seconds: number; value: T } {
  const start = process.hrtime.bigint();
  const value = fn();
  return { seconds: Number(process.hrtime.bigint() - start) / 1e9, value };
}

async function timedAsync<T>(fn: () => Promise<T>): Promise<{ seconds: number; value: T }> {
  const start = process.hrtime.bigint();
  const value = await fn();
  return { seconds: Number(process.hrtime.bigint() - start) / 1e9, value };
}

function writeRandomFile(file: string, bytes: number, chunk: Buffer): string {
  const hash = createHash('sha256');
  const fd = fs.openSync(file, 'w');
  try {
    for (let written = 0; written < bytes; ) {
      const take = Math.min(chunk.length, bytes - written);
      randomFillSync(chunk, 0, take);
      hash.update(chunk.subarray(0, take));
      fs.writeSync(fd, chunk, 0, take);
      written += take;
    }
  } finally {
    fs.closeSync(fd);
  }
  return hash.digest('hex');
}

async function main(): Promise<void> {
  const totalBytes = flag('--size', 1024 * 1024 * 1024);
  const bigFiles = flag('--files', 64);
  const smallFiles = flag('--small', 2000);
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'scopex-bench-verify-'));
  const bag = path.join(root, ORDER_ID);
  const chunk = Buffer.allocUnsafe(4 * 1024 * 1024);
  const records: object[] = [];
  const manifest: string[] = [];
  let octets = 0;
  let count = 0;
  const add = (rel: string, bytes: number, category: string): void => {
    const file = path.join(bag, rel);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const sha256 = writeRandomFile(file, bytes, chunk);
    manifest.push(`${sha256}  ${rel}`);
    records.push({ path: rel, sha256, bytes, account: 'acc-0001', category, sourceId: path.basename(rel), originalName: path.basename(rel), timestamp: '2026-03-01T00:00:00Z', encryption: 'provider-decrypted' });
    octets += bytes;
    count++;
  };
  const built = timed(() => {
    for (let i = 0; i < bigFiles; i++) add(`data/acc-0001/storage.content/big-${i}.bin`, Math.floor(totalBytes / bigFiles), 'storage.content');
    for (let i = 0; i < smallFiles; i++) add(`data/acc-0001/mail.content/m-${i}.eml`, 2000 + (i % 7) * 1000, 'mail.content');
    const order = {
      schema: 'scopex.order/v1', id: ORDER_ID, process: 'search-warrant',
      authority: { name: 'Court', jurisdiction: 'US', caseNumber: 'B-1' },
      issuedAt: '2026-10-01T00:00:00Z', expiresAt: '2026-12-31T23:59:59Z',
      targets: [{ type: 'account-id', value: 'acc-0001' }], categories: ['storage.content', 'mail.content'],
      dateRange: { from: '2026-01-01T00:00:00Z', to: '2026-06-30T23:59:59Z' }, enterpriseRedirect: 'not-applicable',
    };
    const write = (name: string, text: string): string => {
      fs.writeFileSync(path.join(bag, name), text);
      return `${createHash('sha256').update(text).digest('hex')}  ${name}`;
    };
    const tags = [
      write('bagit.txt', 'BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n'),
      write('bag-info.txt', `Source-Organization: Bench\nBagging-Date: ${new Date().toISOString().slice(0, 10)}\nExternal-Identifier: ${ORDER_ID}\nPayload-Oxum: ${octets}.${count}\n`),
      write('manifest-sha256.txt', `${manifest.join('\n')}\n`),
      write('order.json', `${JSON.stringify(order, null, 2)}\n`),
      write('production.json', `${JSON.stringify(records)}\n`),
    ];
    fs.writeFileSync(path.join(bag, 'tagmanifest-sha256.txt'), `${tags.join('\n')}\n`);
    const pki = generateSamplePki();
    for (const [name, text] of [['ca.pem', pki.ca.certificatePem], ['signer.pem', pki.signer.certificatePem], ['signer.key', pki.signer.keyPem]] as const) {
      fs.writeFileSync(path.join(root, name), text);
    }
    execFileSync('openssl', ['cms', '-sign', '-binary', '-outform', 'DER', '-md', 'sha256', '-in', path.join(bag, 'tagmanifest-sha256.txt'), '-signer', path.join(root, 'signer.pem'), '-inkey', path.join(root, 'signer.key'), '-out', path.join(bag, 'signature.p7s')]);
    execFileSync('zip', ['-0', '-r', '-X', '-q', `${ORDER_ID}.zip`, ORDER_ID], { cwd: root });
  });
  const archive = path.join(root, `${ORDER_ID}.zip`);
  const archiveBytes = fs.statSync(archive).size;
  const files = execFileSync('find', [ORDER_ID, '-type', 'f'], { cwd: root }).toString().trim().split('\n');
  const listFile = path.join(root, 'files.txt');
  fs.writeFileSync(listFile, files.join('\0'));
  console.log(`built ${archiveBytes} bytes (${count} payload files) in ${built.seconds.toFixed(1)} s; load: ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);

  const runs: Record<string, number[]> = {};
  const cpu: Record<string, number[]> = {};
  const note = (name: string, seconds: number, cpuSeconds: number): void => {
    (runs[name] ??= []).push(seconds);
    (cpu[name] ??= []).push(cpuSeconds);
  };
  // Wall and CPU (user + system) seconds of a shell command, from bash's `time`.
  const shell = (command: string): [number, number] => {
    const start = process.hrtime.bigint();
    const result = spawnSync('bash', ['-c', `TIMEFORMAT='%U %S'; { time ( ${command} > /dev/null 2>&1 ) ; } 2>&1`], { cwd: root });
    const wall = Number(process.hrtime.bigint() - start) / 1e9;
    const [user, system] = result.stdout.toString().trim().split(/\s+/).slice(-2).map(Number);
    return [wall, (user ?? 0) + (system ?? 0)];
  };
  for (let round = 0; round < 2; round++) {
    const before = process.cpuUsage();
    const verified = await timedAsync(() => verifyArchive({ archive, trustFile: path.join(root, 'ca.pem') }));
    const used = process.cpuUsage(before);
    if (!verified.value.ok) throw new Error(`the bench archive did not verify: ${JSON.stringify(verified.value.failures.slice(0, 3))}`);
    note('scopex verifyArchive (in process)', verified.seconds, (used.user + used.system) / 1e6);
    note('scopex verify (CLI)', ...shell(`'${process.execPath}' '${path.resolve('dist/bin/main.js')}' verify '${archive}' --trust '${path.join(root, 'ca.pem')}' --quiet`));
    note('sha256sum of the unzipped files', ...shell(`xargs -0 sha256sum < '${listFile}'`));
    note('openssl dgst -sha256 of the unzipped files', ...shell(`xargs -0 openssl dgst -sha256 < '${listFile}'`));
    note('sha256sum of the zip itself', ...shell(`sha256sum '${archive}'`));
    note('openssl dgst -sha256 of the zip itself', ...shell(`openssl dgst -sha256 '${archive}'`));
  }
  const mib = archiveBytes / 1024 / 1024;
  for (const [name, seconds] of Object.entries(runs)) {
    const best = Math.min(...seconds);
    const bestCpu = Math.min(...(cpu[name] ?? [0]));
    console.log(`${name.padEnd(44)} wall ${best.toFixed(2)} s (${(mib / best).toFixed(0)} MiB/s)  cpu ${bestCpu.toFixed(2)} s (${(mib / bestCpu).toFixed(0)} MiB/s)  runs ${seconds.map((s) => s.toFixed(2)).join(', ')}`);
  }
  const rss = spawnSync('/usr/bin/time', ['-f', '%M', process.execPath, path.resolve('dist/bin/main.js'), 'verify', archive, '--trust', path.join(root, 'ca.pem'), '--quiet']);
  console.log(`scopex verify (CLI) peak RSS: ${(Number(rss.stderr.toString().trim().split('\n').pop()) / 1024).toFixed(0)} MiB`);
  if (process.argv.includes('--keep')) console.log(`kept ${root}`);
  else fs.rmSync(root, { recursive: true, force: true });
}

await main();
