import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ensureDir, ensureDirSync } from '../../src/util/ensure-dir.js';

const root = mkdtempSync(path.join(tmpdir(), 'scopex-ensure-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('ensureDir', () => {
  it('creates nested folders and accepts existing ones', async () => {
    const deep = path.join(root, 'a', 'b', 'c');
    await ensureDir(deep);
    await ensureDir(deep);
    ensureDirSync(path.join(root, 'x', 'y'));
    expect(existsSync(deep) && existsSync(path.join(root, 'x', 'y'))).toBe(true);
  });

  it('fails (instead of looping) where folders cannot be made', async () => {
    writeFileSync(path.join(root, 'file'), 'x');
    await expect(ensureDir(path.join(root, 'file', 'sub'))).rejects.toMatchObject({ code: 'ENOTDIR' });
    // Node's own { recursive: true } never returns here.
    await expect(ensureDir('/proc/scopex-cannot-exist/sub')).rejects.toMatchObject({ code: 'ENOENT' });
    expect(() => ensureDirSync('/proc/scopex-cannot-exist')).toThrow();
  });
});
