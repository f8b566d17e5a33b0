// `scopex batch` given paths that name no order: each is a failed row, the good orders still run, exit 6; only when no
// argument names an order is it a usage error (exit 2).
import { copyFileSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
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
