// A key written in groups (hex bytes joined by ":", base64 in short groups), as openssl and KMS consoles print keys,
// pasted into an order, a flag or the config: refused without being shown, and never approved, sealed or logged
// (examiner round 5, F2: such keys passed the key-material filter and went into archives).
import { createPrivateKey } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateCliWorld, runCli, type CliRun } from './export-helpers.js';

let root: string;
let world: string;
let config: string;
let masterHex: string;
let reviewerBase64: string;

beforeAll(async () => {
  ({ root, world, config } = await generateCliWorld('grouped-keys', ['--size', '200000']));
  masterHex = readFileSync(path.join(world, 'keys', 'master.key'), 'utf8').trim();
  const reviewerPem = readFileSync(path.join(world, 'pki', 'reviewer.key.pem'));
  reviewerBase64 = createPrivateKey(reviewerPem).export({ type: 'pkcs8', format: 'der' }).toString('base64');
}, 120_000);

afterAll(() => {
  if (root) rmSync(root, { recursive: true, force: true });
});

const colonHex = () => masterHex.match(/../g)!.join(':');
const spacedHex = () => masterHex.match(/../g)!.join(' ');
const groupedBase64 = () => reviewerBase64.match(/[^]{1,36}/g)!.join(' ');

/** Stretches of the master key (8 hex digits) or of the reviewer key (16 base64 characters) in `text`, separators ignored. */
function leaks(text: string): string[] {
  const digits = text.replace(/[^0-9a-fA-F]/g, '').toLowerCase();
  const joined = text.replace(/\s|\\n/g, '');
  const found: string[] = [];
  for (let i = 0; i + 8 <= masterHex.length; i += 2) if (digits.includes(masterHex.slice(i, i + 8))) found.push(masterHex.slice(i, i + 8));
  for (let i = 0; i + 16 <= reviewerBase64.length; i += 4) if (joined.includes(reviewerBase64.slice(i, i + 16))) found.push(reviewerBase64.slice(i, i + 16));
  return found;
}

function orderWith(name: string, patch: (order: Record<string, any>) => void): string {
  const order = JSON.parse(readFileSync(path.join(world, 'orders', 'approved-warrant.json'), 'utf8')) as Record<string, any>;
  delete order['approval'];
  patch(order);
  const file = path.join(root, `${name}.json`);
  writeFileSync(file, JSON.stringify(order, null, 2));
  return file;
}

const reviewerFlags = () => ['--key', path.join(world, 'pki', 'reviewer.key.pem'), '--cert', path.join(world, 'pki', 'reviewer.cert.pem')];

function expectRefusedUnseen(run: CliRun, label: string, code = 2): void {
  expect(run.code, `${label}: ${run.stderr}`).toBe(code);
  expect(leaks(`${run.stdout}\n${run.stderr}`), label).toEqual([]);
}

describe('a key written in groups, in an order, a flag or the config', () => {
  it('authority.name holding the master key as colon hex: check, approve and export refuse it (exit 2) without showing it', async () => {
    const file = orderWith('name-colon', (order) => (order['authority'].name = colonHex()));
    const approved = path.join(root, 'approved-name-colon.json');
    const out = path.join(root, 'out-name-colon');
    const runs: Array<[string, string[]]> = [
      ['order check', ['order', 'check', file, '--config', config]],
      ['order check --json', ['order', 'check', file, '--config', config, '--json']],
      ['order approve', ['order', 'approve', file, ...reviewerFlags(), '--out', approved, '--config', config]],
      ['export', ['export', file, '--out', out, '--config', config, '--json', '--debug']],
    ];
    for (const [label, args] of runs) {
      const run = await runCli(args);
      expectRefusedUnseen(run, label);
      expect(`${run.stdout}${run.stderr}`, label).toContain('authority.name');
    }
    expect(existsSync(approved)).toBe(false);
    expect(existsSync(out) ? readdirSync(out) : []).toEqual([]);
  });

  it('the other order fields, field names and --reviewer: refused, never shown', async () => {
    const cases: Array<[string, string]> = [
      ['caseNumber, colon hex', orderWith('case-colon', (order) => (order['authority'].caseNumber = colonHex()))],
      ['jurisdiction, spaced hex', orderWith('jurisdiction-spaced', (order) => (order['authority'].jurisdiction = spacedHex()))],
      ['caseNumber, a private key in base64 groups', orderWith('case-b64', (order) => (order['authority'].caseNumber = groupedBase64()))],
      ['a target, colon hex', orderWith('target-colon', (order) => (order['targets'][0].value = colonHex()))],
      ['a field name, colon hex', orderWith('name-field', (order) => (order[colonHex()] = 1))],
      ['a field name in authority, base64 groups', orderWith('nested-field', (order) => (order['authority'][groupedBase64()] = 'x'))],
    ];
    for (const [label, file] of cases) {
      expectRefusedUnseen(await runCli(['order', 'check', file, '--config', config, '--json']), `${label} (check --json)`);
      expectRefusedUnseen(await runCli(['order', 'approve', file, ...reviewerFlags(), '--out', path.join(root, 'never.json'), '--config', config]), `${label} (approve)`);
    }
    const plain = orderWith('plain', () => undefined);
    const reviewer = await runCli(['order', 'approve', plain, ...reviewerFlags(), '--reviewer', colonHex(), '--out', path.join(root, 'never.json'), '--config', config, '--json']);
    expectRefusedUnseen(reviewer, '--reviewer');
    expect(existsSync(path.join(root, 'never.json'))).toBe(false);
  });

  it('config organization and key paths holding a key in groups: refused (exit 2), never shown', async () => {
    const base = JSON.parse(readFileSync(config, 'utf8')) as Record<string, any>;
    const variants: Array<[string, (c: Record<string, any>) => void]> = [
      ['organization', (c) => (c['organization'] = colonHex())],
      ['keys.masterKey', (c) => (c['keys'].masterKey = spacedHex())],
      ['signer.key', (c) => (c['signer'].key = groupedBase64())],
    ];
    for (const [label, patch] of variants) {
      const changed = structuredClone(base);
      patch(changed);
      const file = path.join(world, `config-${label}.json`);
      writeFileSync(file, JSON.stringify(changed));
      const run = await runCli(['export', path.join(world, 'orders', 'approved-subpoena.json'), '--out', path.join(root, `out-${label}`), '--config', file, '--json']);
      expectRefusedUnseen(run, label);
      expect(run.stderr, label).toContain(`field ${label}`);
    }
  });

  it('the custody log holds none of it', () => {
    const log = readFileSync(path.join(world, 'custody', 'custody.jsonl'), 'utf8');
    expect(leaks(log)).toEqual([]);
  });
});
