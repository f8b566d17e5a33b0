// Every command, every option that takes a value: given twice, or given empty, it is a usage error (exit 2) in one
// line naming the flag or argument; never "internal error", a Node error code, or a message about the current folder.
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateCliWorld, runCli, withWorldFiles } from '../e2e/export-helpers.js';

let root: string;
let world: string;
let config: string;

beforeAll(async () => {
  ({ root, world, config } = await generateCliWorld('option-values'));
});

afterAll(() => {
  if (root) rmSync(root, { recursive: true, force: true });
});

/** Arguments with `{}` placeholders for the world's files, so that each case is correct but for the one flag. */
function filled(args: string[]): string[] {
  return withWorldFiles({ root, world, config }, args);
}

async function expectUsageError(args: string[], named: string): Promise<void> {
  const result = await runCli([...filled(args), '--json']);
  expect(result.code, result.stderr).toBe(2);
  expect(JSON.parse(result.stdout)).toMatchObject({ ok: false, exitCode: 2, error: { code: 'USAGE' } });
  expect(result.stderr.trim().split('\n')).toEqual([expect.stringContaining(named)]);
}

describe('an option given twice', () => {
  it.each([
    ['export', ['export', '{order}', '--out', '{out}', '--out', '{out}', '--config', '{config}'], '--out was given twice'],
    ['order check', ['order', 'check', '{order}', '--config', '{config}', '--config', '{config}'], '--config was given twice'],
    ['order approve', ['order', 'approve', '{unapproved}', '--key', '{key}', '--key', '{key}', '--cert', '{cert}', '--out', '{out}', '--config', '{config}'], '--key was given twice'],
    ['verify', ['verify', 'LE-2026-000101.zip', '--trust', '{ca}', '--trust', '{ca}'], '--trust was given twice'],
    ['batch', ['batch', '{order}', '--out', '{out}', '--trust', '{ca}', '--trust', '{ca}', '--config', '{config}'], '--trust was given twice'],
    ['audit verify', ['audit', 'verify', '--config', '{config}', '--config', '{config}'], '--config was given twice'],
    ['report', ['report', 'transparency', '--from', '2026-01-01', '--to', '2026-12-31', '--to', '2026-06-30', '--config', '{config}'], '--to was given twice'],
    ['notify', ['notify', '--log', 'a.jsonl', '--log', 'b.jsonl'], '--log was given twice'],
    ['samples generate', ['samples', 'generate', '--out', '{out}', '--seed', 'a', '--seed', 'b', '--seed', 'c'], '--seed was given 3 times'],
  ])('%s: exit 2, one line naming the flag', async (_command, args, named) => {
    await expectUsageError(args, named);
  });
});

describe('an empty value', () => {
  it.each([
    ['export --out ""', ['export', '{order}', '--out', '', '--config', '{config}'], '--out is empty'],
    ['--config without a value', ['order', 'check', '{order}', '--config'], '--config is empty'],
    ['verify --trust ""', ['verify', 'LE-2026-000101.zip', '--trust', ''], '--trust is empty'],
    ['notify --as-of ""', ['notify', '--as-of', '', '--config', '{config}'], '--as-of is empty'],
    ['order approve --reviewer ""', ['order', 'approve', '{unapproved}', '--key', '{key}', '--cert', '{cert}', '--reviewer', '', '--out', '{out}', '--config', '{config}'], '--reviewer is empty'],
    ['order check ""', ['order', 'check', '', '--config', '{config}'], 'the ORDER argument is empty'],
    ['order check - (no standard input)', ['order', 'check', '-', '--config', '{config}'], 'the ORDER argument is empty or "-"'],
    ['batch with an empty ORDERS argument', ['batch', '{order}', '', '--out', '{out}', '--config', '{config}'], 'one of the ORDERS arguments is empty'],
    // Round 10 contract C3: taken as the number 0 (a minimum world), not refused.
    ['samples generate --size ""', ['samples', 'generate', '--out', '{out}', '--size', ''], '--size is empty'],
  ])('%s: exit 2, one line naming it', async (_case, args, named) => {
    await expectUsageError(args, named);
  });
});

describe('a boolean flag given a value other than true or false', () => {
  it.each([
    ['order check --json=maybe', ['order', 'check', '{order}', '--config', '{config}', '--json=maybe'], '--json'],
    ['order check --quiet=yes', ['order', 'check', '{order}', '--config', '{config}', '--quiet=yes'], '--quiet'],
    ['order check --debug=1', ['order', 'check', '{order}', '--config', '{config}', '--debug=1'], '--debug'],
    ['order check --json=TRUE', ['order', 'check', '{order}', '--config', '{config}', '--json=TRUE'], '--json'],
    ['order approve --force=yes', ['order', 'approve', '{unapproved}', '--key', '{key}', '--cert', '{cert}', '--out', '{out}', '--force=yes', '--config', '{config}'], '--force'],
    ['export --force=yes', ['export', '{order}', '--out', '{out}', '--force=yes', '--config', '{config}'], '--force'],
    ['batch --workers=maybe', ['batch', '{order}', '--out', '{out}', '--workers=maybe', '--config', '{config}'], '--workers'],
    ['verify --json=no', ['verify', 'LE-2026-000101.zip', '--trust', '{ca}', '--json=no'], '--json'],
    ['audit verify --quiet=0', ['audit', 'verify', '--config', '{config}', '--quiet=0'], '--quiet'],
    ['report --json=yes', ['report', 'transparency', '--from', '2026-01-01', '--to', '2026-12-31', '--config', '{config}', '--json=yes'], '--json'],
    ['notify --json=', ['notify', '--config', '{config}', '--json='], '--json'],
    ['samples generate --quiet=yes', ['samples', 'generate', '--out', '{out}', '--quiet=yes'], '--quiet'],
  ])('%s: exit 2, one line naming the flag, nothing on stdout', async (_case, args, named) => {
    const result = await runCli(filled(args));
    expect(result.code, result.stderr).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr.trim().split('\n')).toEqual([expect.stringMatching(new RegExp(`^scopex: ${named} is a flag`))]);
  });

  it('takes true and false as yargs does', async () => {
    const asJson = await runCli(filled(['order', 'check', '{order}', '--config', '{config}', '--json=true']));
    expect(asJson.code, asJson.stderr).toBe(0);
    expect(JSON.parse(asJson.stdout)).toMatchObject({ ok: true, verdict: 'APPROVED' });
    const asText = await runCli(filled(['order', 'check', '{order}', '--config', '{config}', '--json=false', '--quiet=false']));
    expect(asText.code, asText.stderr).toBe(0);
    expect(asText.stdout).toMatch(/^LE-\S+: APPROVED/);
  });

  // Round 7 orders 6: the error path matched `--json` and `--debug` literally: `--json=true` gave no JSON document on a
  // failure, `--json --no-json` gave one, `--debug=true` no trace.
  it('decides the failure output by the flags as given, in every spelling, the last one winning', async () => {
    const missing = ['export', 'no-such-order.json', '--out', '{out}', '--config', '{config}'];
    for (const flags of [['--json=true'], ['--no-json', '--json'], ['--json=false', '--json=true']]) {
      const result = await runCli(filled([...missing, ...flags]));
      expect(result.code).toBe(2);
      expect(JSON.parse(result.stdout)).toMatchObject({ ok: false, exitCode: 2, error: { code: 'FILE_UNREADABLE' } });
    }
    for (const flags of [['--json', '--no-json'], ['--json', '--json=false']]) {
      const result = await runCli(filled([...missing, ...flags]));
      expect(result.code).toBe(2);
      expect(result.stdout).toBe('');
    }
    const traced = await runCli(filled([...missing, '--debug=true']));
    expect(traced.stderr).toMatch(/\n\s+at /);
    const untraced = await runCli(filled([...missing, '--debug', '--debug=false']));
    expect(untraced.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('leaves what follows "--" alone', async () => {
    const result = await runCli(filled(['order', 'check', '--config', '{config}', '--', '--json=maybe']));
    expect(result.stderr).not.toContain('is a flag');
  });
});

describe('a count that is no whole number', () => {
  // Round 10 contract C3: the sentence said "found NaN", not what was typed.
  it.each([
    ['--size abc', ['samples', 'generate', '--out', '{out}', '--size', 'abc'], '--size must be a whole number of bytes, found "abc"'],
    ['--size 10MB', ['samples', 'generate', '--out', '{out}', '--size', '10MB'], '--size must be a whole number of bytes, found "10MB"'],
    ['--accounts abc', ['samples', 'generate', '--out', '{out}', '--accounts', 'abc'], '--accounts must be a whole number from 5 to 100000, found "abc"'],
    ['--accounts 5.5', ['samples', 'generate', '--out', '{out}', '--accounts', '5.5'], '--accounts must be a whole number from 5 to 100000, found "5.5"'],
  ])('samples generate %s: exit 2, quoting what was typed', async (_case, args, named) => {
    await expectUsageError(args, named);
  });
});
