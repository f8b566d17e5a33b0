// The config a command reads: config/scopex.json in the current folder unless --config says otherwise, and the
// config, its legal-process rules, the account directory and the data-keys file parsed as strictly as orders are.
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { canaries, generateCliWorld, runCli, type CliWorld } from './export-helpers.js';

let cli: CliWorld;
let scratch: string;

beforeAll(async () => {
  cli = await generateCliWorld('config-file');
  scratch = mkdtempSync(path.join(os.tmpdir(), 'scopex-config-'));
}, 120_000);
afterAll(() => {
  rmSync(cli.root, { recursive: true, force: true });
  rmSync(scratch, { recursive: true, force: true });
});

/** A copy of the world (its config and everything it points at) in a new folder. */
function copyWorld(name: string): string {
  const copy = path.join(scratch, name);
  cpSync(cli.world, copy, { recursive: true });
  return copy;
}

/** `file` with `needle` replaced by `replacement` (which must be found). */
function edit(file: string, needle: string, replacement: string): void {
  const text = readFileSync(file, 'utf8');
  expect(text).toContain(needle);
  writeFileSync(file, text.replace(needle, replacement));
}

describe('the default config', () => {
  test('is config/scopex.json in the current folder, not the one in the install folder', async () => {
    const here = path.join(scratch, 'here');
    mkdirSync(path.join(here, 'config'), { recursive: true });
    // The world's config with its paths made absolute, so that it works from here.
    const config = JSON.parse(readFileSync(cli.config, 'utf8')) as Record<string, unknown>;
    const absolute = (value: unknown): unknown =>
      typeof value === 'string' ? path.resolve(cli.world, value) : Array.isArray(value) ? value.map(absolute) : Object.fromEntries(Object.entries(value as object).map(([k, v]) => [k, absolute(v)]));
    for (const key of ['legalProcess', 'stores', 'keys', 'reviewerCa', 'signer', 'custodyLog']) config[key] = absolute(config[key]);
    writeFileSync(path.join(here, 'config', 'scopex.json'), JSON.stringify(config, null, 2));
    const run = await runCli(['order', 'check', path.join(cli.world, 'orders', 'approved-warrant.json')], { cwd: here });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^LE-\S+: APPROVED/);
  }, 60_000);

  test('missing from the current folder is one sentence saying so, exit 2', async () => {
    const empty = path.join(scratch, 'empty');
    mkdirSync(empty, { recursive: true });
    const run = await runCli(['order', 'check', path.join(cli.world, 'orders', 'approved-warrant.json')], { cwd: empty });
    expect(run.code).toBe(2);
    expect(run.stderr).toBe(`scopex: no --config was given, and there is no config/scopex.json in the current folder (${path.join(empty, 'config', 'scopex.json')}); give --config FILE\n`);
    expect(run.stdout).toBe('');
  }, 60_000);
});

describe('a key given twice in a JSON file the config names', () => {
  test('in the legal-process rules: a second "subpoena" no longer widens what a subpoena compels', async () => {
    const world = copyWorld('rules');
    const rules = path.join(world, 'legal-process.json');
    edit(rules, '"permits": {', '"permits": {\n    "subpoena": ["subscriber", "mail.content"],');
    const run = await runCli(['order', 'check', path.join(world, 'orders', 'subpoena-asks-content.json'), '--config', path.join(world, 'config.json')]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(new RegExp(`^scopex: legal-process rules ${rules.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: key "subpoena" appears twice in the same object \\(field permits\\.subpoena, at line \\d+, column \\d+\\)\\n$`));
  }, 60_000);

  test('in the config: a second "reviewerCa" no longer replaces the trusted CA', async () => {
    const world = copyWorld('config');
    const config = path.join(world, 'config.json');
    const text = readFileSync(config, 'utf8');
    writeFileSync(config, text.replace(/\}\s*$/, ',\n  "reviewerCa": ["elsewhere.pem"]\n}\n'));
    const run = await runCli(['order', 'check', path.join(world, 'orders', 'approved-warrant.json'), '--config', config]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^scopex: config .*config\.json: key "reviewerCa" appears twice in the same object \(field reviewerCa, at line \d+, column \d+\)\n$/);
  }, 60_000);

  test('in the account directory or the data-keys file: refused, naming the key, and no key is shown', async () => {
    const world = copyWorld('stores');
    const directory = path.join(world, 'stores', 'directory.json');
    edit(directory, '"accounts"', '"schema": "scopex.directory/v1",\n  "accounts"');
    const order = path.join(world, 'orders', 'approved-warrant.json');
    const run = await runCli(['export', order, '--out', path.join(world, 'out'), '--config', path.join(world, 'config.json')]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^scopex: account directory .*directory\.json: key "schema" appears twice in the same object \(field schema, at line \d+, column \d+\)\n$/);

    const keysWorld = copyWorld('keys');
    const dataKeys = path.join(keysWorld, 'keys', 'data-keys.json');
    const text = readFileSync(dataKeys, 'utf8');
    const accounts = (JSON.parse(text) as { accounts: Record<string, unknown> }).accounts;
    const firstAccount = Object.keys(accounts)[0]!;
    // The same account's wrapped key given twice (the second would have won): the message names the field, not the key.
    writeFileSync(dataKeys, text.replace(`"${firstAccount}"`, `"${firstAccount}": { "state": "provider-key", "wrapped": "AAAA" },\n    "${firstAccount}"`));
    const keysRun = await runCli(['export', path.join(keysWorld, 'orders', 'approved-warrant.json'), '--out', path.join(keysWorld, 'out'), '--config', path.join(keysWorld, 'config.json')]);
    expect(keysRun.code).toBe(2);
    expect(keysRun.stderr).toMatch(/^scopex: data-keys file .*data-keys\.json: key "acct-\d+" appears twice in the same object \(field accounts\.acct-\d+, at line \d+, column \d+\)\n$/);
    for (const output of [run.stdout, run.stderr, keysRun.stdout, keysRun.stderr]) {
      for (const canary of canaries(keysWorld)) expect(output).not.toContain(canary);
    }
  }, 60_000);
});

describe('batch with an account directory it cannot read', () => {
  test('fails the run as export does (exit 2, one sentence), not every order as malformed, and makes no --out folder', async () => {
    const world = copyWorld('batch');
    rmSync(path.join(world, 'stores', 'directory.json'));
    const out = path.join(world, 'batch-out');
    const run = await runCli(['batch', path.join(world, 'orders', 'approved-warrant.json'), path.join(world, 'orders', 'approved-subpoena.json'), '--out', out, '--config', path.join(world, 'config.json')]);
    expect(run.code).toBe(2);
    expect(run.stderr).toBe(`scopex: cannot read account directory ${path.join(world, 'stores', 'directory.json')}: no such file\n`);
    expect(run.stdout).toBe('');
    expect(existsSync(out)).toBe(false);
  }, 60_000);
});
