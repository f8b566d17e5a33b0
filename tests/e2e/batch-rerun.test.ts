// Batch re-runs and overlapping runs on a generated world, through the built CLI:
// - two batches over the same orders into one folder at once seal each order once and both succeed (each used to end
//   in exit 6: an order held by the other run "failed", one it had sealed meanwhile was "malformed");
// - an archive name taken by a dangling symbolic link is found before the export runs (it used to run in full and
//   fail at its last step);
// - a re-run checks existing archives against the CA of the configured signer (it used the first reviewer CA, so with
//   an archive-signing CA of its own every good archive "did not verify", without a reason).
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSamplePki } from '../../src/samples/pki.js';
import { generateCliWorld, runCli, type CliWorld } from './export-helpers.js';

let cli: CliWorld;
let logFile: string;
const APPROVED = ['approved-court-order.json', 'approved-subpoena.json', 'approved-warrant.json'];

beforeAll(async () => {
  cli = await generateCliWorld('batch-rerun');
  logFile = path.join(cli.world, 'custody', 'custody.jsonl');
}, 120_000);

afterAll(() => {
  if (cli) rmSync(cli.root, { recursive: true, force: true });
});

interface BatchJson {
  ok: boolean;
  counts: Record<string, number>;
  orders: { orderId: string; verdict: string; archive: string | null; error: { code: string; message: string } | null }[];
}

function logRecords(): { event: string; orderId: string }[] {
  if (!existsSync(logFile)) return [];
  return readFileSync(logFile, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as { event: string; orderId: string });
}

function orderId(file: string): string {
  return (JSON.parse(readFileSync(path.join(cli.world, 'orders', file), 'utf8')) as { id: string }).id;
}

describe('batch beside another batch, and over names already taken', () => {
  it('two batches over the same orders into one folder at once: every order sealed once, both exit 0', async () => {
    const orders = path.join(cli.root, 'approved');
    mkdirSync(orders);
    for (const file of APPROVED) copyFileSync(path.join(cli.world, 'orders', file), path.join(orders, file));
    const out = path.join(cli.root, 'out-both');
    const before = logRecords().length;
    const runs = await Promise.all(
      ['a', 'b'].map(() => runCli(['batch', orders, '--out', out, '--config', cli.config, '--concurrency', '1', '--json'])),
    );
    for (const run of runs) expect(run.code, run.stdout + run.stderr).toBe(0);
    const results = runs.map((run) => JSON.parse(run.stdout) as BatchJson);
    for (const result of results) {
      expect(result.orders.map((o) => o.verdict).every((v) => v === 'sealed' || v === 'skipped'), JSON.stringify(result.orders)).toBe(true);
    }
    expect(results[0]!.counts['sealed']! + results[1]!.counts['sealed']!).toBe(APPROVED.length);
    const sealed = logRecords()
      .slice(before)
      .filter((record) => record.event === 'export.sealed')
      .map((record) => record.orderId)
      .sort();
    expect(sealed).toEqual(APPROVED.map(orderId).sort());
    const audit = await runCli(['audit', 'verify', '--config', cli.config]);
    expect(audit.code, audit.stderr).toBe(0);
  }, 120_000);

  it('an archive name that is a dangling symbolic link: export and batch refuse it before the export starts', async () => {
    const out = path.join(cli.root, 'out-dangling');
    mkdirSync(out);
    const id = orderId('approved-court-order.json');
    const target = path.join(cli.root, 'no-such-folder', 'target.zip');
    symlinkSync(target, path.join(out, `${id}.zip`));
    const order = path.join(cli.world, 'orders', 'approved-court-order.json');
    const before = logRecords().length;

    const exported = await runCli(['export', order, '--out', out, '--config', cli.config, '--json']);
    expect(exported.code, exported.stderr).toBe(2);
    expect((JSON.parse(exported.stdout) as { error: { code: string } }).error.code).toBe('OUTPUT_EXISTS');

    const batch = await runCli(['batch', order, '--out', out, '--config', cli.config, '--json']);
    expect(batch.code, batch.stderr).toBe(6);
    const row = (JSON.parse(batch.stdout) as BatchJson).orders[0]!;
    expect(row.verdict).toBe('failed');
    expect(row.error).toEqual({
      code: 'EXISTING_ARCHIVE_UNVERIFIED',
      message: `${path.join(out, `${id}.zip`)} exists but does not verify (it is a symbolic link to ${target}, which does not exist); move it away to export this order again`,
    });
    // Neither started an export, and both left the same records: the order checked, and why it was not exported.
    const records = logRecords().slice(before) as { event: string; orderId: string; details: { code?: string } }[];
    expect(records.map((record) => [record.event, record.orderId, record.details.code])).toEqual([
      ['order.checked', id, undefined],
      ['export.failed', id, 'OUTPUT_EXISTS'],
      ['order.checked', id, undefined],
      ['export.failed', id, 'EXISTING_ARCHIVE_UNVERIFIED'],
    ]);
  }, 60_000);

  it('a different order under an id already in the batch: its row fails, and the custody log has it checked and not exported', async () => {
    const id = orderId('approved-court-order.json');
    const draft = JSON.parse(readFileSync(path.join(cli.world, 'orders', 'unapproved.json'), 'utf8')) as Record<string, unknown>;
    const drafted = path.join(cli.root, 'same-id-draft.json');
    writeFileSync(drafted, JSON.stringify({ ...draft, id }));
    const second = path.join(cli.root, 'same-id.json');
    const pki = path.join(cli.world, 'pki');
    const approved = await runCli([
      'order', 'approve', drafted, '--key', path.join(pki, 'reviewer.key.pem'), '--cert', path.join(pki, 'reviewer.cert.pem'), '--out', second, '--config', cli.config,
    ]);
    expect(approved.code, approved.stderr).toBe(0);
    const secondSha256 = createHash('sha256').update(readFileSync(second)).digest('hex');
    const before = logRecords().length;

    const batch = await runCli(['batch', path.join(cli.world, 'orders', 'approved-court-order.json'), second, '--out', path.join(cli.root, 'out-same-id'), '--config', cli.config, '--concurrency', '1', '--json']);
    expect(batch.code, batch.stderr).toBe(6);
    const rows = (JSON.parse(batch.stdout) as BatchJson).orders;
    expect(rows.map((row) => [row.verdict, row.error?.code ?? null])).toEqual([['sealed', null], ['failed', 'DUPLICATE_ORDER_ID']]);
    const records = logRecords().slice(before) as { event: string; orderId: string; details: { code?: string; sha256?: string } }[];
    const ofSecond = records.filter((record) => record.details.sha256 === secondSha256 || record.event === 'export.failed');
    expect(ofSecond.map((record) => [record.event, record.orderId, record.details.code])).toEqual([
      ['order.checked', id, undefined],
      ['export.failed', id, 'DUPLICATE_ORDER_ID'],
    ]);
    expect(records.filter((record) => record.event === 'export.sealed')).toHaveLength(1);
  }, 60_000);
});

describe('batch re-run with an archive signer of its own CA', () => {
  const archivePki = generateSamplePki({ organization: 'Archive Signing' });

  /** A copy of the world's config whose archive signer is certified by `archivePki`'s CA; `ca`: how that CA is named. */
  function configWithOwnSignerCa(name: string, ca: 'signer.ca' | 'chain' | 'none'): string {
    const dir = path.join(cli.root, name);
    mkdirSync(dir);
    const file = (base: string, text: string) => {
      writeFileSync(path.join(dir, base), text, { mode: 0o600 });
      return path.join(dir, base);
    };
    const certificate = file('signer.cert.pem', archivePki.signer.certificatePem + (ca === 'chain' ? archivePki.ca.certificatePem : ''));
    const signer: Record<string, string> = { certificate, key: file('signer.key.pem', archivePki.signer.keyPem) };
    if (ca === 'signer.ca') signer['ca'] = file('archive-ca.pem', archivePki.ca.certificatePem);
    const config = JSON.parse(readFileSync(cli.config, 'utf8')) as Record<string, unknown>;
    return file('config.json', JSON.stringify({ ...config, signer }));
  }

  /** The world's config, in its folder (its paths are relative to it). */
  function inWorld(config: string): string {
    const target = path.join(cli.world, `config-${path.basename(path.dirname(config))}.json`);
    copyFileSync(config, target);
    return target;
  }

  for (const ca of ['signer.ca', 'chain'] as const) {
    it(`skips the archive it sealed on a re-run, checked against that CA (named by ${ca === 'chain' ? 'the signer certificate file' : 'signer.ca'})`, async () => {
      const config = inWorld(configWithOwnSignerCa(`own-ca-${ca.replace('.', '-')}`, ca));
      const out = path.join(cli.root, `out-own-ca-${ca.replace('.', '-')}`);
      const order = path.join(cli.world, 'orders', 'approved-court-order.json');
      const first = await runCli(['batch', order, '--out', out, '--config', config, '--json']);
      expect(first.code, first.stderr).toBe(0);
      const archive = (JSON.parse(first.stdout) as BatchJson).orders[0]!.archive!;
      const caFile = path.join(cli.root, 'archive-ca-only.pem');
      writeFileSync(caFile, archivePki.ca.certificatePem);
      expect((await runCli(['verify', archive, '--trust', caFile])).code).toBe(0);

      const again = await runCli(['batch', order, '--out', out, '--config', config, '--json']);
      expect(again.code, again.stdout + again.stderr).toBe(0);
      expect((JSON.parse(again.stdout) as BatchJson).orders.map((o) => o.verdict)).toEqual(['skipped']);
    }, 60_000);
  }

  it('a signer whose CA the config does not name: the re-run says so, and to name it as signer.ca', async () => {
    const config = inWorld(configWithOwnSignerCa('own-ca-none', 'none'));
    const out = path.join(cli.root, 'out-own-ca-none');
    const order = path.join(cli.world, 'orders', 'approved-court-order.json');
    expect((await runCli(['batch', order, '--out', out, '--config', config])).code).toBe(0);
    const again = await runCli(['batch', order, '--out', out, '--config', config, '--json']);
    expect(again.code).toBe(6);
    const row = (JSON.parse(again.stdout) as BatchJson).orders[0]!;
    expect(row.error?.code).toBe('EXISTING_ARCHIVE_UNCHECKED');
    expect(row.error?.message).toMatch(/unchecked: cannot tell which CA issued the signer certificate .* name its CA as signer\.ca in the config .*, or give --trust$/);
  }, 60_000);

  it('an archive that does not verify: the row gives the first failure', async () => {
    const out = path.join(cli.root, 'out-tampered');
    const order = path.join(cli.world, 'orders', 'approved-court-order.json');
    const first = await runCli(['batch', order, '--out', out, '--config', cli.config, '--json']);
    expect(first.code, first.stderr).toBe(0);
    const archive = (JSON.parse(first.stdout) as BatchJson).orders[0]!.archive!;
    // Signed by a key the world's CA never certified: the signature's chain fails.
    const other = configWithOwnSignerCa('other-signer', 'none');
    rmSync(archive);
    const resealed = await runCli(['export', order, '--out', out, '--config', inWorld(other)]);
    expect(resealed.code, resealed.stderr).toBe(0);
    const again = await runCli(['batch', order, '--out', out, '--config', cli.config, '--json']);
    expect(again.code).toBe(6);
    const row = (JSON.parse(again.stdout) as BatchJson).orders[0]!;
    expect(row.error?.message).toMatch(/exists but does not verify \(first failure: the signer certificate .* does not chain to the trusted certificates\); move it away/);
  }, 60_000);
});
