// `scopex verify` as a user runs it: the built CLI, its exit codes, its readable report and its single JSON document.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packageRoot } from '../../src/util/package-root.js';
import { createPki, flipByte, goodArchive, tempDir, writeZip, type Pki } from './fixtures.js';

const ROOT = packageRoot();
const CLI = path.join(ROOT, 'dist', 'bin', 'main.js');

let dir: string;
let pki: Pki;
let good: string;
let bad: string;
let orderFile: string;

function newestSource(folder: string): number {
  let newest = 0;
  for (const entry of fs.readdirSync(folder, { withFileTypes: true })) {
    const full = path.join(folder, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(full));
    else if (entry.name.endsWith('.ts')) newest = Math.max(newest, fs.statSync(full).mtimeMs);
  }
  return newest;
}

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

beforeAll(() => {
  if (!fs.existsSync(CLI) || fs.statSync(CLI).mtimeMs < newestSource(path.join(ROOT, 'src'))) {
    spawnSync('npm', ['run', '--silent', 'build'], { cwd: ROOT, stdio: 'ignore' });
  }
  if (!fs.existsSync(CLI)) throw new Error('the build did not produce dist/bin/main.js');
  dir = tempDir();
  pki = createPki(dir);
  const archive = goodArchive(dir, pki);
  good = archive.file;
  orderFile = path.join(dir, 'order.json');
  fs.writeFileSync(orderFile, archive.model.files.get('order.json') as Buffer);
  const bytes = fs.readFileSync(good);
  bad = path.join(dir, 'bad.zip');
  fs.writeFileSync(bad, flipByte(bytes, bytes.indexOf(Buffer.from('first edge'))));
});

afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('scopex verify', () => {
  it('exits 0 on a good archive and prints what it checked', async () => {
    const result = await run(['verify', good, '--trust', pki.caFile, '--order', orderFile]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('VERIFIED');
    expect(result.stdout).toContain('Legal Production Signer');
    expect(result.stdout).toContain('payload-manifest');
  });

  it('exits 2, naming the field, on an --order that breaks the order schema (it said "a different order", exit 4)', async () => {
    const order = JSON.parse(fs.readFileSync(orderFile, 'utf8')) as Record<string, unknown>;
    delete order['id'];
    const malformed = path.join(dir, 'no-id.json');
    fs.writeFileSync(malformed, JSON.stringify(order));
    const result = await run(['verify', good, '--trust', pki.caFile, '--order', malformed]);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(new RegExp(`^scopex: order ${malformed.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: .*\\bid\\b`));
  });

  it('exits 4 on a tampered archive and names the entry', async () => {
    const result = await run(['verify', bad, '--trust', pki.caFile]);
    expect(result.code).toBe(4);
    expect(result.stdout).toContain('[payload-manifest]');
    expect(result.stdout).toContain('m-000001.eml');
  });

  it('prints exactly one JSON document with --json, good or bad', async () => {
    const ok = await run(['verify', good, '--trust', pki.caFile, '--json']);
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ ok: true, failures: [] });
    const failed = await run(['verify', bad, '--trust', pki.caFile, '--json']);
    expect(failed.code).toBe(4);
    const report = JSON.parse(failed.stdout) as { ok: boolean; failures: { check: string }[] };
    expect(report.ok).toBe(false);
    expect(report.failures.map((failure) => failure.check)).toContain('payload-manifest');
  });

  it('exits 2 on unreadable inputs and missing flags', async () => {
    expect((await run(['verify', path.join(dir, 'missing.zip'), '--trust', pki.caFile])).code).toBe(2);
    expect((await run(['verify', good, '--trust', path.join(dir, 'missing.pem')])).code).toBe(2);
    expect((await run(['verify', good])).code).toBe(2);
    // A folder opens but cannot be read: one line naming it, not an internal error.
    const folder = await run(['verify', dir, '--trust', pki.caFile]);
    expect(folder.code).toBe(2);
    expect(folder.stderr).toContain(dir);
    expect(folder.stderr).not.toContain('internal error');
    expect(folder.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('with --config, logs the verdict of an archive that names no order (entries under "/") and exits 4, not 1', async () => {
    const config = path.join(dir, 'config.json');
    fs.writeFileSync(
      config,
      JSON.stringify({
        schema: 'scopex.config/v1',
        organization: 'Contoso Cloud',
        legalProcess: path.join(ROOT, 'config', 'legal-process.json'),
        stores: 'stores',
        keys: { masterKey: 'master.key', dataKeys: 'data-keys.json' },
        reviewerCa: [pki.caFile],
        signer: { certificate: pki.signer.certFile, key: pki.signer.keyFile },
        custodyLog: 'custody/custody.jsonl',
      }),
    );
    // The config's account directory: verify resolves the order's targets with it.
    fs.mkdirSync(path.join(dir, 'stores'), { recursive: true });
    fs.writeFileSync(
      path.join(dir, 'stores', 'directory.json'),
      JSON.stringify({
        schema: 'scopex.directory/v1',
        accounts: [
          { id: 'acc-0001', tenant: 't', tenantType: 'consumer', identifiers: [{ type: 'email', value: 'alice@contoso.example' }] },
          { id: 'acc-0002', tenant: 't', tenantType: 'consumer', identifiers: [{ type: 'im-handle', value: 'live:bob' }] },
        ],
      }),
    );
    const rooted = path.join(dir, 'rooted.zip');
    writeZip(rooted, [{ name: '/x', data: Buffer.from('x') }]);
    const result = await run(['verify', rooted, '--trust', pki.caFile, '--config', config, '--json']);
    expect(result.stderr).not.toContain('internal error');
    expect(result.code).toBe(4);
    expect(JSON.parse(result.stdout)).toMatchObject({ ok: false, orderId: null });
    const records = fs.readFileSync(path.join(dir, 'custody', 'custody.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line) as { event: string; orderId: string; details: Record<string, unknown> });
    expect(records.at(-1)).toMatchObject({ event: 'archive.verified', orderId: 'unknown', details: { orderIdKnown: false, ok: false } });
    // The good archive's verdict is logged under its order.
    expect((await run(['verify', good, '--trust', pki.caFile, '--config', config])).code).toBe(0);
    const last = JSON.parse(fs.readFileSync(path.join(dir, 'custody', 'custody.jsonl'), 'utf8').trim().split('\n').at(-1) as string) as { orderId: string; details: { orderIdKnown: boolean } };
    expect(last).toMatchObject({ orderId: 'LE-2026-000123', details: { orderIdKnown: true } });
  });

  it('has --help with an example', async () => {
    const result = await run(['verify', '--help']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('--trust');
    expect(result.stdout).toContain('Examples:');
  });
});
