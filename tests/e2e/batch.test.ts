// scopex batch over a generated sample world: right verdict per order, archives that verify, a second run that does
// no work, a custody log that two concurrent batches leave intact, and figures and notices that match what ran.
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCli, CLI, runCli } from './export-helpers.js';

let root: string;
let world: string;
let config: string;
let logFile: string;

/** Expected verdict per sample order file (orders/README.txt of the sample world). */
const EXPECTED: Record<string, { verdict: string; code?: string }> = {
  'approved-warrant.json': { verdict: 'sealed' },
  'approved-subpoena.json': { verdict: 'sealed' },
  'approved-court-order.json': { verdict: 'sealed' },
  'approved-customer-key.json': { verdict: 'sealed' },
  'approved-enterprise-consented.json': { verdict: 'sealed' },
  'unapproved.json': { verdict: 'refused', code: 'UNAPPROVED' },
  'tampered.json': { verdict: 'refused', code: 'APPROVAL_INVALID' },
  'expired.json': { verdict: 'refused', code: 'EXPIRED' },
  'not-yet-valid.json': { verdict: 'refused', code: 'NOT_YET_VALID' },
  'subpoena-asks-content.json': { verdict: 'refused', code: 'CATEGORY_NOT_PERMITTED' },
  'wildcard-target.json': { verdict: 'refused', code: 'BLANKET_TARGET' },
  'domain-target.json': { verdict: 'refused', code: 'BLANKET_TARGET' },
  'unknown-target.json': { verdict: 'refused', code: 'TARGET_UNRESOLVED' },
  'enterprise-no-redirect.json': { verdict: 'refused', code: 'ENTERPRISE_REDIRECT' },
  'untrusted-reviewer.json': { verdict: 'refused', code: 'APPROVAL_UNTRUSTED' },
  'malformed.json': { verdict: 'malformed', code: 'SCHEMA_VIOLATION' },
};

interface BatchJson {
  ok: boolean;
  counts: Record<string, number>;
  orders: { orderId: string; file: string; verdict: string; archive: string | null; error: { code: string } | null }[];
}

beforeAll(async () => {
  buildCli();
  root = mkdtempSync(path.join(os.tmpdir(), 'scopex-'));
  world = path.join(root, 'w');
  const generated = await runCli(['samples', 'generate', '--out', world, '--accounts', '12', '--seed', 'batch-e2e', '--quiet']);
  expect(generated.code, generated.stderr).toBe(0);
  config = path.join(world, 'config.json');
  logFile = (JSON.parse(readFileSync(config, 'utf8')) as { custodyLog: string }).custodyLog;
  logFile = path.resolve(world, logFile);
});

afterAll(() => {
  if (root) rmSync(root, { recursive: true, force: true });
});

function orderFiles(): string[] {
  return readdirSync(path.join(world, 'orders')).filter((name) => name.endsWith('.json'));
}

describe('scopex batch on a sample world', () => {
  it('gives each order its verdict, seals archives that verify, and a re-run does no work', async () => {
    const out = path.join(root, 'out');
    const first = await runCli(['batch', path.join(world, 'orders'), '--out', out, '--config', config, '--json']);
    expect(first.code, first.stderr).toBe(6);
    const result = JSON.parse(first.stdout) as BatchJson; // exactly one JSON document
    expect(orderFiles().sort()).toEqual(Object.keys(EXPECTED).sort());
    for (const order of result.orders) {
      const expected = EXPECTED[path.basename(order.file)];
      expect(order.verdict, order.file).toBe(expected?.verdict);
      if (expected?.code) expect(order.error?.code, order.file).toBe(expected.code);
    }
    const sealed = result.orders.filter((o) => o.verdict === 'sealed');
    expect(sealed).toHaveLength(5);
    for (const order of sealed) {
      const verified = await runCli(['verify', order.archive!, '--trust', path.join(world, 'pki', 'ca.cert.pem'), '--order', order.file, '--config', config]);
      expect(verified.code, verified.stdout + verified.stderr).toBe(0);
    }
    expect(readdirSync(out).filter((name) => name.endsWith('.partial'))).toEqual([]);

    const mtimes = sealed.map((o) => statSync(o.archive!).mtimeMs);
    const second = await runCli(['batch', path.join(world, 'orders'), '--out', out, '--config', config, '--json']);
    expect(second.code).toBe(6);
    const again = JSON.parse(second.stdout) as BatchJson;
    expect(again.counts).toMatchObject({ sealed: 0, skipped: 5, refused: 10, malformed: 1 });
    expect(sealed.map((o) => statSync(o.archive!).mtimeMs)).toEqual(mtimes);

    // --quiet prints only errors: every order that did not seal, one line each (round 9 batch: only the first was
    // named), then the one-sentence summary.
    const quiet = await runCli(['batch', path.join(world, 'orders'), '--out', out, '--config', config, '--quiet']);
    expect(quiet.code).toBe(6);
    expect(quiet.stdout).toBe('');
    const failing = again.orders.filter((o) => o.verdict !== 'skipped');
    expect(quiet.stderr.trimEnd().split('\n')).toEqual([
      ...failing.map((o) => expect.stringMatching(new RegExp(`^scopex: ${o.orderId.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} ${o.verdict}: ${o.error!.code}: `))),
      expect.stringMatching(/^scopex: 11 of 16 orders did not seal \(5 skipped, 10 refused, 1 malformed\); first: /),
    ]);

    const audit = await runCli(['audit', 'verify', '--config', config, '--json']);
    expect(audit.code).toBe(0);
    expect(JSON.parse(audit.stdout)).toMatchObject({ ok: true });
  });

  it('two batches writing one custody log at once leave a log that verifies; a changed line is caught by seq', async () => {
    const runs = await Promise.all(
      ['a', 'b'].map((name) => runCli(['batch', path.join(world, 'orders'), '--out', path.join(root, `out-${name}`), '--config', config, '--quiet'])),
    );
    expect(runs.map((r) => r.code)).toEqual([6, 6]);
    const audit = await runCli(['audit', 'verify', logFile, '--json']);
    expect(audit.code, audit.stdout).toBe(0);
    const report = JSON.parse(audit.stdout) as { records: number };
    expect(report.records).toBeGreaterThan(40);

    const copy = path.join(root, 'edited.jsonl');
    const lines = readFileSync(logFile, 'utf8').split('\n').filter(Boolean);
    const target = 7;
    lines[target - 1] = lines[target - 1]!.replace('"orderId":"', '"orderId":"X');
    writeFileSync(copy, `${lines.join('\n')}\n`);
    // With its head file: a log of records without one is itself a failure (its tail could have been removed).
    copyFileSync(`${logFile}.head`, `${copy}.head`);
    const broken = await runCli(['audit', 'verify', copy, '--json']);
    expect(broken.code).toBe(4);
    const body = JSON.parse(broken.stdout) as { ok: boolean; failures: { seq: number; kind: string }[] };
    expect(body.ok).toBe(false);
    expect(body.failures).toEqual([expect.objectContaining({ seq: target, kind: 'edited' })]);
  });

  it('transparency figures and notices match the orders that ran', async () => {
    const year = new Date().getUTCFullYear();
    const report = await runCli(['report', 'transparency', '--from', `${year - 1}-01-01`, '--to', `${year + 1}-12-31`, '--periods', 'whole', '--config', config, '--json']);
    expect(report.code, report.stderr).toBe(0);
    const figures = (JSON.parse(report.stdout) as { total: Record<string, unknown> }).total as {
      ordersReceived: number;
      ordersRefused: number;
      refusalReasons: Record<string, number>;
      contentDisclosed: number;
      nonContentOnly: number;
      noDataFound: number;
    };
    // The malformed order (no id) is a demand received all the same: the exporter logs its refusal under its SHA-256,
    // as `order check` does (orders finding 10), so it counts once however often the batch ran.
    const refusals = Object.values(EXPECTED).filter((e) => e.verdict === 'refused' || e.verdict === 'malformed');
    const reasons: Record<string, number> = {};
    for (const r of refusals) reasons[r.code!] = (reasons[r.code!] ?? 0) + 1;
    expect(figures.ordersReceived).toBe(16);
    expect(figures.ordersRefused).toBe(11);
    expect(figures.refusalReasons).toEqual(reasons);
    expect(figures.contentDisclosed + figures.nonContentOnly + figures.noDataFound).toBe(5);
    // Three approved orders ask for content (warrant, customer-key, enterprise-consented).
    expect(figures.contentDisclosed).toBe(3);

    const idOf = (file: string) => (JSON.parse(readFileSync(path.join(world, 'orders', file), 'utf8')) as { id: string }).id;
    const notify = await runCli(['notify', '--config', config, '--json']);
    expect(notify.code).toBe(0);
    const notices = JSON.parse(notify.stdout) as { notify: { orderId: string }[]; withheld: { orderId: string }[]; redirect: { orderId: string }[] };
    expect(notices.notify.map((n) => n.orderId)).toContain(idOf('approved-subpoena.json'));
    expect(notices.withheld.map((n) => n.orderId)).toContain(idOf('approved-warrant.json'));
    expect(notices.redirect.map((n) => n.orderId)).toEqual([idOf('enterprise-no-redirect.json')]);
  });

  it('Ctrl-C stops the batch with exit 130, leaves no partial file and keeps finished archives', async () => {
    const out = path.join(root, 'out-int');
    const child = spawn(process.execPath, [CLI, 'batch', path.join(world, 'orders'), '--out', out, '--config', config, '--concurrency', '1', '--json'], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    // Interrupt once the first archive exists, while later orders are still waiting or running.
    const until = Date.now() + 60_000;
    while (Date.now() < until && !(existsSync(out) && readdirSync(out).some((n) => n.endsWith('.zip')))) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    child.kill('SIGINT');
    const code = await exited;
    const result = JSON.parse(stdout) as BatchJson;
    if (code === 130) {
      expect(result.counts['aborted']).toBeGreaterThan(0);
    } else {
      // The batch finished before the signal landed: then it is an ordinary run.
      expect(code).toBe(6);
    }
    expect(readdirSync(out).filter((n) => n.endsWith('.partial'))).toEqual([]);
    for (const order of result.orders.filter((o) => o.verdict === 'sealed')) expect(existsSync(order.archive!)).toBe(true);
  });
});
