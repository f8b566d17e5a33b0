// `scopex order approve --out F` never replaces an existing F without --force, as export never replaces an archive.
import { chmodSync, copyFileSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeAtomically } from '../../src/order/approve-order.js';
import { generateCliWorld, runCli } from '../e2e/export-helpers.js';

let root: string;
let world: string;
let approve: (out: string, ...extra: string[]) => string[];

beforeAll(async () => {
  ({ root, world } = await generateCliWorld('approve-out'));
  approve = (out, ...extra) => [
    'order', 'approve', path.join(world, 'orders', 'unapproved.json'),
    '--key', path.join(world, 'pki', 'reviewer.key.pem'),
    '--cert', path.join(world, 'pki', 'reviewer.cert.pem'),
    '--out', out, '--config', path.join(world, 'config.json'), ...extra,
  ];
});

afterAll(() => {
  if (root) rmSync(root, { recursive: true, force: true });
});

describe('scopex order approve --out', () => {
  it('refuses an existing file with exit 2 and leaves it as it was; --force replaces it', async () => {
    const out = path.join(root, 'approved.json');
    writeFileSync(out, 'an earlier approval\n');
    const refused = await runCli(approve(out, '--json'));
    expect(refused.code).toBe(2);
    expect(JSON.parse(refused.stdout)).toMatchObject({ ok: false, exitCode: 2, error: { code: 'OUTPUT_EXISTS' } });
    expect(refused.stderr.trim().split('\n')).toEqual([expect.stringContaining('--force')]);
    expect(readFileSync(out, 'utf8')).toBe('an earlier approval\n');

    const forced = await runCli(approve(out, '--force', '--json'));
    expect(forced.code, forced.stderr).toBe(0);
    expect((JSON.parse(readFileSync(out, 'utf8')) as { approval?: unknown }).approval).toBeDefined();
  });

  it('names an --out that is a folder as a folder (exit 2), with or without --force, and writes nothing into it', async () => {
    const folder = path.join(root, 'a-folder');
    mkdirSync(folder);
    for (const extra of [[], ['--force']]) {
      const refused = await runCli(approve(folder, ...extra, '--json'));
      expect(refused.code).toBe(2);
      expect(JSON.parse(refused.stdout)).toMatchObject({ ok: false, exitCode: 2, error: { code: 'OUTPUT_UNWRITABLE' } });
      expect(refused.stderr.trim().split('\n')).toEqual([expect.stringContaining(`${folder}: it is a folder`)]);
    }
    expect(readdirSync(folder)).toEqual([]);
  });

  it('refuses a reviewer key file open to other users with exit 2 (a file unfit to use), naming it, and writes nothing', async () => {
    const folder = mkdtempSync(path.join(root, 'loose-key-'));
    const key = path.join(folder, 'reviewer.key.pem');
    copyFileSync(path.join(world, 'pki', 'reviewer.key.pem'), key);
    chmodSync(key, 0o644);
    const out = path.join(folder, 'approved.json');
    const args = approve(out, '--json');
    args[args.indexOf('--key') + 1] = key;
    const refused = await runCli(args);
    expect(refused.code).toBe(2);
    expect(JSON.parse(refused.stdout)).toMatchObject({ ok: false, exitCode: 2, error: { code: 'KEY_FILE_NOT_PRIVATE' } });
    expect(refused.stderr.trim().split('\n')).toEqual([expect.stringContaining(`chmod 600 ${key}`)]);
    expect(readdirSync(folder)).toEqual(['reviewer.key.pem']);
  });

  it('writes a new file without --force', async () => {
    const out = path.join(root, 'new.json');
    const result = await runCli(approve(out));
    expect(result.code, result.stderr).toBe(0);
    expect((JSON.parse(readFileSync(out, 'utf8')) as { approval?: unknown }).approval).toBeDefined();
  });
});

describe('writing the approved order', () => {
  // The early look for an existing file leaves a gap before the write; the write closes it by linking its temp file
  // to the name (which fails if a file got there first) instead of renaming over it.
  it('never replaces a file that appeared after the look, and leaves no temp file', async () => {
    const folder = mkdtempSync(path.join(root, 'write-'));
    const out = path.join(folder, 'approved.json');
    writeFileSync(out, 'appeared meanwhile\n');
    await expect(writeAtomically(out, '{"new":true}\n', false)).rejects.toMatchObject({ code: 'OUTPUT_EXISTS' });
    expect(readFileSync(out, 'utf8')).toBe('appeared meanwhile\n');
    expect(readdirSync(folder)).toEqual(['approved.json']);
    await writeAtomically(out, '{"new":true}\n', true);
    expect(readFileSync(out, 'utf8')).toBe('{"new":true}\n');
    await writeAtomically(path.join(folder, 'fresh.json'), '{"fresh":true}\n', false);
    expect(readdirSync(folder).sort()).toEqual(['approved.json', 'fresh.json']);
  });
});

describe('scopex order approve in place (no --out)', () => {
  const inPlace = (file: string) => [
    'order', 'approve', file,
    '--key', path.join(world, 'pki', 'reviewer.key.pem'),
    '--cert', path.join(world, 'pki', 'reviewer.cert.pem'),
    '--config', path.join(world, 'config.json'),
  ];
  const approved = (file: string) => (JSON.parse(readFileSync(file, 'utf8')) as { approval?: unknown }).approval !== undefined;

  it('through a symbolic link approves the file it names, and the link stays a link', async () => {
    const folder = mkdtempSync(path.join(root, 'link-'));
    const real = path.join(folder, 'real.json');
    copyFileSync(path.join(world, 'orders', 'unapproved.json'), real);
    const link = path.join(folder, 'link.json');
    symlinkSync('real.json', link);
    const result = await runCli(inPlace(link));
    expect(result.code, result.stderr).toBe(0);
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(approved(real)).toBe(true);
    expect(readdirSync(folder).sort()).toEqual(['link.json', 'real.json']);
  });

  it('keeps a private order private (0600 stays 0600, also for a new --out), and 0644 stays 0644', async () => {
    for (const mode of [0o600, 0o644]) {
      const folder = mkdtempSync(path.join(root, 'mode-'));
      const order = path.join(folder, 'order.json');
      copyFileSync(path.join(world, 'orders', 'unapproved.json'), order);
      chmodSync(order, mode);
      const out = path.join(folder, 'out.json');
      expect((await runCli([...inPlace(order), '--out', out])).code).toBe(0);
      expect(statSync(out).mode & 0o777).toBe(mode);
      const result = await runCli(inPlace(order));
      expect(result.code, result.stderr).toBe(0);
      expect(approved(order)).toBe(true);
      expect(statSync(order).mode & 0o777).toBe(mode);
    }
  });
});
