// Round 10 robust D5: a store folder that cannot be searched (permission denied) was reported, and logged, as an
// account the store does not have ("the mail store has no account acct-0001 (no folder ...)"), which sends the operator
// looking for a missing account. It is an unreadable store. Root reads every folder, so the check runs as nobody, in a
// process of its own; without root or setpriv it is skipped and says so.
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCli, ROOT } from '../e2e/export-helpers.js';

const CAN_DROP = process.getuid?.() === 0 && spawnSync('setpriv', ['--version'], { stdio: 'ignore' }).status === 0;
let root: string;

beforeAll(() => {
  if (!CAN_DROP) return;
  buildCli();
  root = mkdtempSync(path.join(os.tmpdir(), 'scopex-store-perm-'));
  chmodSync(root, 0o755);
  mkdirSync(path.join(root, 'mail', 'acct-0001'), { recursive: true });
});
afterAll(() => {
  if (root) rmSync(root, { recursive: true, force: true });
});

/** accountFolder of `accountId` in root/mail, as the user nobody: its error's code and message, or "found". */
function lookUpAsNobody(accountId: string): { code: string; message: string } | 'found' {
  const module = path.join(ROOT, 'dist/src/sources/jsonl-index.js');
  const script = `import(${JSON.stringify(module)}).then((m) => m.accountFolder(${JSON.stringify(path.join(root, 'mail'))}, 'mail', ${JSON.stringify(accountId)}))
    .then(() => console.log('"found"'), (e) => console.log(JSON.stringify({ code: e.code, message: e.message })));`;
  const run = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '--input-type=module', '-e', script], { encoding: 'utf8' });
  expect(run.stderr).toBe('');
  return JSON.parse(run.stdout) as { code: string; message: string } | 'found';
}

describe.skipIf(!CAN_DROP)('a store folder scopex may not search', () => {
  it('is an unreadable store, not an unknown account; a folder that is not there is still an unknown account', () => {
    expect(lookUpAsNobody('acct-0001')).toBe('found');
    chmodSync(path.join(root, 'mail'), 0o000);
    try {
      expect(lookUpAsNobody('acct-0001')).toEqual({
        code: 'STORE_UNREADABLE',
        message: `cannot read the mail store ${path.join(root, 'mail')}: permission denied`,
      });
    } finally {
      chmodSync(path.join(root, 'mail'), 0o755);
    }
    expect(lookUpAsNobody('acct-0002')).toMatchObject({ code: 'UNKNOWN_ACCOUNT' });
  });
});

it.skipIf(CAN_DROP)('needs root and setpriv to search a folder as another user (skipped here)', () => {
  expect(CAN_DROP).toBe(false);
});
