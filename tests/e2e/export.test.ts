// scopex export end to end, on a generated sample world: the built CLI, checked with unzip, sha256 and openssl, and
// against the stores' own index files and blobs read independently of scopex.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSampleWorld } from '../../src/samples/sample-world.js';
import {
  accountsOf,
  buildCli,
  canaries,
  canariesIn,
  decryptBlob,
  listFiles,
  readIndex,
  readWorldKeys,
  runCli,
  sha256,
  unzip,
  type CliRun,
} from './export-helpers.js';
import type { ProductionRecord } from '../../src/pipeline/production-record.js';


let work: string;
let world: string;
let config: string;
let warrant: { run: CliRun; out: string; bag: string; archive: string };

beforeAll(async () => {
  buildCli();
  work = mkdtempSync(path.join(os.tmpdir(), 'scopex-e2e-export-'));
  world = path.join(work, 'W');
  await generateSampleWorld({ out: world, accounts: 6, size: 2_500_000, seed: 'e2e-export' });
  config = path.join(world, 'config.json');
  const out = path.join(work, 'out');
  const run = await runCli(['export', path.join(world, 'orders', 'approved-warrant.json'), '--out', out, '--config', config, '--json']);
  if (run.code !== 0) throw new Error(`export failed (${run.code}): ${run.stderr}`);
  const result = JSON.parse(run.stdout) as { archive: string; orderId: string };
  const unzipped = path.join(work, 'unzipped');
  unzip(result.archive, unzipped);
  warrant = { run, out, bag: path.join(unzipped, result.orderId), archive: result.archive };
});

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

function manifest(file: string): Map<string, string> {
  const map = new Map<string, string>();
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line) continue;
    const match = /^([0-9a-f]{64}) {1,2}(.+)$/.exec(line);
    if (!match) throw new Error(`bad manifest line ${line}`);
    map.set(decodeURIComponent(match[2]!.replace(/%(?![0-9A-Fa-f]{2})/g, '%25')), match[1]!);
  }
  return map;
}

describe('scopex export (sample world)', () => {
  it('prints the JSON result and seals <out>/<order-id>.zip, leaving no partial file', () => {
    const result = JSON.parse(warrant.run.stdout) as Record<string, unknown>;
    expect(result).toMatchObject({ refusedItems: 0 });
    expect(result['sha256']).toBe(sha256(readFileSync(warrant.archive)));
    expect(readdirSync(warrant.out)).toEqual([path.basename(warrant.archive)]);
    execFileSync('unzip', ['-tq', warrant.archive]);
  });

  it('unzips into a bag whose manifests match every file, and nothing else', () => {
    const payload = manifest(path.join(warrant.bag, 'manifest-sha256.txt'));
    const files = listFiles(warrant.bag);
    const dataFiles = files.filter((f) => f.startsWith('data/'));
    expect([...payload.keys()].sort()).toEqual(dataFiles.sort());
    for (const [file, hash] of payload) expect(sha256(readFileSync(path.join(warrant.bag, file)))).toBe(hash);
    const tags = manifest(path.join(warrant.bag, 'tagmanifest-sha256.txt'));
    const tagFiles = files.filter((f) => !f.startsWith('data/') && f !== 'signature.p7s' && f !== 'tagmanifest-sha256.txt');
    expect([...tags.keys()].sort()).toEqual(tagFiles.sort());
    for (const [file, hash] of tags) expect(sha256(readFileSync(path.join(warrant.bag, file)))).toBe(hash);
    const oxum = /Payload-Oxum: (\d+)\.(\d+)/.exec(readFileSync(path.join(warrant.bag, 'bag-info.txt'), 'utf8'))!;
    const total = dataFiles.reduce((sum, f) => sum + statSync(path.join(warrant.bag, f)).size, 0);
    expect([Number(oxum[1]), Number(oxum[2])]).toEqual([total, dataFiles.length]);
    // Every account the targets resolved to, whether or not it has data: the warrant names two.
    const listed = [...readFileSync(path.join(warrant.bag, 'bag-info.txt'), 'utf8').matchAll(/^Scopex-Account: (.*)$/gm)].map((match) => match[1]);
    expect(listed).toEqual(['acct-0001', 'acct-0002']);
  });

  it('carries a signature that openssl cms -verify accepts against the world CA', () => {
    execFileSync(
      'openssl',
      ['cms', '-verify', '-binary', '-inform', 'DER', '-in', 'signature.p7s', '-content', 'tagmanifest-sha256.txt', '-CAfile', path.join(world, 'pki', 'ca.cert.pem'), '-purpose', 'any', '-out', '/dev/null'],
      { cwd: warrant.bag, stdio: 'pipe' },
    );
  });

  it('signs its attributes in DER order, so the signature survives a re-encoding (as strict verifiers do)', () => {
    // OpenSSL's encoder sorts the signed attributes' SET OF as DER requires (X.690 11.6); a signature over another
    // order fails once re-encoded, as Bouncy Castle fails it.
    const reencoded = path.join(os.tmpdir(), `scopex-reencoded-${process.pid}.p7s`);
    try {
      execFileSync('openssl', ['cms', '-cmsout', '-inform', 'DER', '-in', 'signature.p7s', '-outform', 'DER', '-out', reencoded], { cwd: warrant.bag, stdio: 'pipe' });
      expect(readFileSync(reencoded)).toEqual(readFileSync(path.join(warrant.bag, 'signature.p7s')));
      execFileSync(
        'openssl',
        ['cms', '-verify', '-binary', '-inform', 'DER', '-in', reencoded, '-content', 'tagmanifest-sha256.txt', '-CAfile', path.join(world, 'pki', 'ca.cert.pem'), '-purpose', 'any', '-out', '/dev/null'],
        { cwd: warrant.bag, stdio: 'pipe' },
      );
    } finally {
      rmSync(reencoded, { force: true });
    }
  });

  it('holds every in-scope item of the stores and nothing else (range edges included, cut items left out)', () => {
    const orderRaw = readFileSync(path.join(world, 'orders', 'approved-warrant.json'));
    expect(readFileSync(path.join(warrant.bag, 'order.json'))).toEqual(orderRaw);
    const order = JSON.parse(orderRaw.toString('utf8')) as {
      targets: { type: string; value: string }[];
      categories: string[];
      dateRange: { from: string; to: string };
    };
    const from = Date.parse(order.dateRange.from);
    const to = Date.parse(order.dateRange.to);
    const accounts = accountsOf(order, world);
    expect(accounts.length).toBe(2);
    const keys = readWorldKeys(world);
    const production = JSON.parse(readFileSync(path.join(warrant.bag, 'production.json'), 'utf8')) as ProductionRecord[];
    const payload = manifest(path.join(warrant.bag, 'manifest-sha256.txt'));
    expect(production.map((r) => r.path).sort()).toEqual([...payload.keys()].sort());
    for (const record of production) expect(record.sha256).toBe(payload.get(record.path));

    let cut = 0;
    let onEdge = 0;
    const expected: string[] = [];
    for (const account of accounts) {
      const key = keys.dataKeys.get(account.id);
      for (const service of ['mail', 'storage', 'im'] as const) {
        const inRange = readIndex(world, service, account.id).filter((line) => {
          const at = Date.parse(line.timestamp);
          if (at === from || at === to) onEdge += 1;
          const inside = at >= from && at <= to;
          if (!inside) cut += 1;
          return inside;
        });
        for (const line of inRange) {
          expected.push(`${account.id} ${service}.content ${line.id}`);
          const record = production.find((r) => r.account === account.id && r.category === `${service}.content` && r.sourceId === line.id);
          expect(record, `${service} ${line.id}`).toBeDefined();
          const blob = readFileSync(path.join(world, 'stores', service, account.id, 'blobs', line.id));
          const delivered = readFileSync(path.join(warrant.bag, record!.path));
          if (key && record!.encryption !== 'customer-key') {
            expect(sha256(delivered)).toBe(sha256(decryptBlob(key, blob, service, account.id, line.id)));
          } else {
            expect(delivered).toEqual(blob);
          }
          expect(record!.originalName).toBe(line.name);
          expect(record!.timestamp).toBe(line.timestamp);
        }
        const metadata = production.find((r) => r.account === account.id && r.category === `${service}.metadata`);
        expect(metadata?.items).toBe(inRange.length);
        const lines = readFileSync(path.join(warrant.bag, metadata!.path), 'utf8').split('\n').filter(Boolean);
        expect(lines.map((l) => (JSON.parse(l) as { sourceId: string }).sourceId)).toEqual(inRange.map((l) => l.id));
      }
      expected.push(`${account.id} subscriber subscriber`);
    }
    const delivered = production.filter((r) => r.sourceId !== null).map((r) => `${r.account} ${r.category} ${r.sourceId}`);
    expect(delivered.sort()).toEqual(expected.sort());
    // The world puts items on and just outside the range, so the range must have cut some and kept its edges.
    expect(cut).toBeGreaterThan(0);
    expect(onEdge).toBeGreaterThan(0);
  });

  it('keeps subject and body out of mail metadata', () => {
    const production = JSON.parse(readFileSync(path.join(warrant.bag, 'production.json'), 'utf8')) as ProductionRecord[];
    for (const record of production.filter((r) => r.category === 'mail.metadata')) {
      for (const line of readFileSync(path.join(warrant.bag, record.path), 'utf8').split('\n').filter(Boolean)) {
        const entry = JSON.parse(line) as Record<string, unknown>;
        expect(Object.keys(entry)).not.toContain('subject');
        expect(Object.keys(entry)).not.toContain('body');
      }
    }
  });

  it('leaks no key material into the archive, stdout, stderr or the custody log', () => {
    const needles = canaries(world);
    expect(needles.length).toBeGreaterThan(10);
    expect(canariesIn(readFileSync(warrant.archive), needles)).toEqual([]);
    for (const file of listFiles(warrant.bag)) expect(canariesIn(readFileSync(path.join(warrant.bag, file)), needles), file).toEqual([]);
    expect(canariesIn(warrant.run.stdout, needles)).toEqual([]);
    expect(canariesIn(warrant.run.stderr, needles)).toEqual([]);
    const custody = path.join(world, 'custody');
    for (const file of readdirSync(custody)) expect(canariesIn(readFileSync(path.join(custody, file)), needles)).toEqual([]);
  });

  it('writes the archive and the custody log readable and writable by their owner only, whatever the umask', () => {
    expect(statSync(warrant.archive).mode & 0o777).toBe(0o600);
    const custody = path.join(world, 'custody');
    const files = readdirSync(custody).filter((f) => f.endsWith('.jsonl') || f.endsWith('.head'));
    expect(files).toHaveLength(2);
    for (const file of files) expect(statSync(path.join(custody, file)).mode & 0o777, file).toBe(0o600);
  });

  it('records checked, started, sealed (with the archive hash) and notification due in the custody log', () => {
    const result = JSON.parse(warrant.run.stdout) as { orderId: string; sha256: string };
    const log = readdirSync(path.join(world, 'custody')).find((f) => f.endsWith('.jsonl'))!;
    const records = readFileSync(path.join(world, 'custody', log), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { event: string; orderId: string; details: Record<string, unknown> })
      .filter((r) => r.orderId === result.orderId);
    expect(records.map((r) => r.event)).toEqual(['order.checked', 'export.started', 'export.sealed', 'notification.due']);
    expect(records[2]!.details).toMatchObject({ sha256: result.sha256, contentDisclosed: true });
    expect(records[3]!.details['notifyFrom']).toEqual(expect.any(String));
  });

  it('refuses every refusal sample order with exit 3 and writes nothing', async () => {
    // One per kind of refusal (approval, validity, legal process, targets, enterprise); order check's own suite has them all.
    const refusals = ['unapproved', 'tampered', 'expired', 'subpoena-asks-content', 'wildcard-target', 'enterprise-no-redirect'];
    const out = path.join(work, 'refused');
    const runs = await Promise.all(refusals.map((name) => runCli(['export', path.join(world, 'orders', `${name}.json`), '--out', out, '--config', config])));
    runs.forEach((run, i) => expect(run.code, `${refusals[i]}: ${run.stderr}`).toBe(3));
    expect(existsSync(out) ? readdirSync(out) : []).toEqual([]);
    const malformed = await runCli(['export', path.join(world, 'orders', 'malformed.json'), '--out', out, '--config', config]);
    expect(malformed.code).toBe(2);
    expect(existsSync(out) ? readdirSync(out) : []).toEqual([]);
  });

  it('stops at a stored item altered after it was indexed: exit 4, one line naming it, nothing left behind', async () => {
    // The built CLI reads small items on the key service's reader thread: its failure must surface as in-thread.
    const records = JSON.parse(readFileSync(path.join(warrant.bag, 'production.json'), 'utf8')) as ProductionRecord[];
    const mail = records.find((record) => record.category === 'mail.content' && record.encryption === 'provider-decrypted');
    expect(mail).toBeDefined();
    const blobFile = path.join(world, 'stores', 'mail', mail!.account, 'blobs', mail!.sourceId!);
    const original = readFileSync(blobFile);
    const altered = Buffer.from(original);
    altered[altered.length - 20] = altered[altered.length - 20]! ^ 0x40;
    writeFileSync(blobFile, altered);
    try {
      const out = path.join(work, 'altered');
      const run = await runCli(['export', path.join(world, 'orders', 'approved-warrant.json'), '--out', out, '--config', config]);
      expect(run.code, run.stderr).toBe(4);
      const lines = run.stderr.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toContain(mail!.sourceId!);
      expect(lines[0]).toContain(mail!.account);
      expect(run.stderr).not.toMatch(/\n\s+at /);
      expect(existsSync(out) ? readdirSync(out) : []).toEqual([]);
    } finally {
      writeFileSync(blobFile, original);
    }
  });

  it('will not overwrite an existing archive without --force (exit 2, untouched), and replaces it with --force', async () => {
    const before = readFileSync(warrant.archive);
    const mtime = statSync(warrant.archive).mtimeMs;
    const order = path.join(world, 'orders', 'approved-warrant.json');
    const again = await runCli(['export', order, '--out', warrant.out, '--config', config]);
    expect(again.code).toBe(2);
    expect(readFileSync(warrant.archive)).toEqual(before);
    expect(statSync(warrant.archive).mtimeMs).toBe(mtime);
    expect(readdirSync(warrant.out)).toEqual([path.basename(warrant.archive)]);
    const forced = await runCli(['export', order, '--out', warrant.out, '--config', config, '--force']);
    expect(forced.code, forced.stderr).toBe(0);
    expect(forced.stdout).toMatch(/SHA-256: [0-9a-f]{64}/);
    expect(readdirSync(warrant.out)).toEqual([path.basename(warrant.archive)]);
  });
});
