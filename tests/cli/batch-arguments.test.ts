// `scopex batch` given paths that name no order: each is a failed row, the good orders still run, exit 6; only when no
// argument names an order is it a usage error (exit 2).
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { maxConcurrency } from '../../src/batch/max-concurrency.js';
import { generateCliWorld, runCli } from '../e2e/export-helpers.js';

let root: string;
let world: string;
let config: string;

beforeAll(async () => {
  ({ root, world, config } = await generateCliWorld('batch-args'));
});

afterAll(() => {
  if (root) rmSync(root, { recursive: true, force: true });
});

describe('scopex batch with unusable arguments', () => {
  it('exports the good order, gives a missing file and a missing folder a failed row each, and exits 6', async () => {
    const out = path.join(root, 'out');
    const missing = path.join(root, 'nope.json');
    const missingFolder = path.join(root, 'no-such-folder');
    const result = await runCli(['batch', path.join(world, 'orders', 'approved-subpoena.json'), missing, missingFolder, '--out', out, '--config', config, '--json']);
    expect(result.code, result.stderr).toBe(6);
    const summary = JSON.parse(result.stdout) as { orders: { file: string; verdict: string; archive: string | null; error: { code: string } | null }[] };
    expect(summary.orders.map((o) => [o.file, o.verdict, o.error?.code ?? null])).toEqual([
      [path.join(world, 'orders', 'approved-subpoena.json'), 'sealed', null],
      [missing, 'malformed', 'FILE_UNREADABLE'],
      [missingFolder, 'malformed', 'FILE_UNREADABLE'],
    ]);
    expect(existsSync(summary.orders[0]!.archive!)).toBe(true);
  });

  // Round 7 orders 8: a folder listing's names reached the terminal raw; one with an escape sequence turned it red.
  it('shows an order file named with an escape sequence and a bidi override escaped, in the table and the summary', async () => {
    const inbox = path.join(root, 'inbox');
    mkdirSync(inbox);
    const name = 'evil\u001b[31mRED\u202e.json';
    copyFileSync(path.join(world, 'orders', 'malformed.json'), path.join(inbox, name));
    const result = await runCli(['batch', inbox, '--out', path.join(root, 'out-inbox'), '--config', config]);
    expect(result.code, result.stderr).toBe(6);
    for (const text of [result.stdout, result.stderr]) {
      expect(text).toContain('evil\\u001b[31mRED\\u202e.json');
      expect(text.includes('\u001b') || text.includes('\u202e')).toBe(false);
    }
    const checked = await runCli(['order', 'check', path.join(inbox, name), '--config', config]);
    expect(checked.code).toBe(2);
    expect(`${checked.stdout}${checked.stderr}`.includes('\u001b') || `${checked.stdout}${checked.stderr}`.includes('\u202e')).toBe(false);
  });

  // Round 9 batch D1: a line feed in a name was printed raw, and a file named with one forged a "sealed" row.
  it('keeps each order on one line of the table and the summary when its file name holds a line feed', async () => {
    const inbox = path.join(root, 'inbox-lf');
    mkdirSync(inbox);
    copyFileSync(path.join(world, 'orders', 'approved-subpoena.json'), path.join(inbox, 'good.json'));
    writeFileSync(path.join(inbox, 'evil\nLE-2026-000999  sealed  1 99 0.0s  fake.json'), '{');
    const result = await runCli(['batch', inbox, '--out', path.join(root, 'out-lf'), '--config', config]);
    expect(result.code, result.stderr).toBe(6);
    const rows = result.stdout.split('\n').filter((line) => line.includes('LE-2026-000999'));
    expect(rows).toEqual([expect.stringMatching(/^evil\\u000aLE-2026-000999 {2}sealed .* malformed +- +- +\d+\.\ds {2}JSON_MALFORMED: /)]);
    expect(result.stdout.split('\n').filter((line) => / sealed /.test(line) && !line.startsWith('evil'))).toHaveLength(1);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toContain('evil\\u000aLE-2026-000999');
  });

  // Round 9 batch D4: a fault of the config's key files failed every order in turn (exit 6, rows "malformed").
  it('checks the key files every export needs before any order runs: a fault is a usage error naming the file', async () => {
    const order = path.join(world, 'orders', 'approved-subpoena.json');
    const faults: [string, string, () => void, () => void][] = [
      ['signer.key.pem', 'is open to other users', () => chmodSync(path.join(world, 'pki', 'signer.key.pem'), 0o644), () => chmodSync(path.join(world, 'pki', 'signer.key.pem'), 0o600)],
      ['signer.cert.pem: no such file.', '', () => renameSync(path.join(world, 'pki', 'signer.cert.pem'), path.join(root, 'cert.away')), () => renameSync(path.join(root, 'cert.away'), path.join(world, 'pki', 'signer.cert.pem'))],
      ['data-keys.json', 'is open to other users', () => chmodSync(path.join(world, 'keys', 'data-keys.json'), 0o644), () => chmodSync(path.join(world, 'keys', 'data-keys.json'), 0o600)],
      ['master.key', 'is open to other users', () => chmodSync(path.join(world, 'keys', 'master.key'), 0o644), () => chmodSync(path.join(world, 'keys', 'master.key'), 0o600)],
    ];
    for (const [file, words, breakIt, mend] of faults) {
      const out = path.join(root, `out-fault-${path.basename(file, path.extname(file))}`);
      const log = path.join(world, 'custody', 'custody.jsonl');
      const readLog = () => (existsSync(log) ? readFileSync(log, 'utf8') : '');
      const before = readLog();
      breakIt();
      try {
        const result = await runCli(['batch', order, '--out', out, '--config', config]);
        expect(result.code, result.stderr).toBe(2);
        expect(result.stderr.trim().split('\n')).toEqual([expect.stringMatching(new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}.*${words}`))]);
        expect(existsSync(out)).toBe(false);
        expect(readLog()).toBe(before);
      } finally {
        mend();
      }
    }
  });

  it('a --trust file that holds no certificate is a usage error naming it, before any order runs', async () => {
    const out = path.join(root, 'out-bad-trust');
    const notCertificate = path.join(root, 'not-a-certificate.pem');
    writeFileSync(notCertificate, 'not a certificate\n');
    const result = await runCli(['batch', path.join(world, 'orders', 'approved-subpoena.json'), '--out', out, '--trust', notCertificate, '--config', config]);
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split('\n')).toEqual([expect.stringContaining(`trust file ${notCertificate}`)]);
    expect(existsSync(out)).toBe(false);
  });

  it('is a usage error (exit 2, one line) when no argument names an order', async () => {
    const result = await runCli(['batch', path.join(root, 'nope.json'), '--out', path.join(root, 'out-none'), '--config', config]);
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(existsSync(path.join(root, 'out-none'))).toBe(false);
  });
});

describe('scopex batch --concurrency', () => {
  it.each(['abc', '', '2.5', '-1', '1e3', '0'])('refuses %j with exit 2, in one line that quotes it, before any order runs', async (value) => {
    const out = path.join(root, 'out-concurrency');
    const result = await runCli(['batch', path.join(world, 'orders', 'approved-subpoena.json'), '--out', out, `--concurrency=${value}`, '--config', config, '--json']);
    expect(result.code).toBe(2);
    expect(JSON.parse(result.stdout)).toMatchObject({ ok: false, exitCode: 2, error: { code: 'USAGE' } });
    expect(result.stderr.trim().split('\n')).toEqual([expect.stringContaining(value === '' ? '--concurrency is empty' : `found ${JSON.stringify(value)}`)]);
    expect(existsSync(out)).toBe(false);
  });

  it('refuses more than 4 per core (one worker thread, with its own heap, per running order), naming the bound', async () => {
    const out = path.join(root, 'out-too-many');
    const tooMany = String(maxConcurrency() + 1);
    const result = await runCli(['batch', path.join(world, 'orders', 'approved-subpoena.json'), '--out', out, '--concurrency', tooMany, '--config', config]);
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split('\n')).toEqual([expect.stringContaining(`from 1 to ${maxConcurrency()}`)]);
    expect(existsSync(out)).toBe(false);
  });
});
