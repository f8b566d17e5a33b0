// The floor pipeline really reads, decrypts (with a random key) and zips the stored items it is given, and only those.
import { execFile } from 'node:child_process';
import { createSecretKey, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { encryptItemBuffer, itemAad } from '../../src/keys/item-crypto.js';
import { storedItemFiles, writeItemList } from './floor-pipeline.js';
import { repoRoot } from './world.js';

const run = promisify(execFile);
const script = path.join(repoRoot, 'dist', 'tests', 'bench', 'floor-pipeline.js');
const folder = mkdtempSync(path.join(os.tmpdir(), 'scopex-floor-'));
afterAll(() => rmSync(folder, { recursive: true, force: true }));

/** A store of `sizes.length` encrypted items for one account, in the at-rest format the sample world writes. */
function writeStore(service: 'mail' | 'storage' | 'im', accountId: string, sizes: readonly number[]): void {
  const account = path.join(folder, 'stores', service, accountId);
  mkdirSync(path.join(account, 'blobs'), { recursive: true });
  const key = createSecretKey(randomBytes(32));
  const lines = sizes.map((bytes, index) => {
    const id = `${service[0]}-${String(index).padStart(4, '0')}`;
    const blob = encryptItemBuffer(key, randomBytes(12), itemAad(service, accountId, id), randomBytes(bytes));
    writeFileSync(path.join(account, 'blobs', id), blob);
    return JSON.stringify({ id, timestamp: '2026-01-01T00:00:00Z', bytes, name: `${id}.bin` });
  });
  writeFileSync(path.join(account, 'index.jsonl'), `${lines.join('\n')}\n`);
}

describe('floor pipeline', () => {
  writeStore('mail', 'acct-a', [2048, 3000, 0, 6000]);
  writeStore('im', 'acct-a', [100, 200]);
  writeStore('mail', 'acct-b', [5000]);

  it("lists the named accounts' stored items in index order, service by service", () => {
    const files = storedItemFiles(folder, ['acct-a']).map((file) => path.relative(folder, file));
    expect(files).toEqual([
      ...['m-0000', 'm-0001', 'm-0002', 'm-0003'].map((id) => path.join('stores', 'mail', 'acct-a', 'blobs', id)),
      ...['i-0000', 'i-0001'].map((id) => path.join('stores', 'im', 'acct-a', 'blobs', id)),
    ]);
  });

  it('zips every listed item, at its plaintext size (the key is random, so not its plaintext), and nothing else', async () => {
    const list = path.join(folder, 'list.txt');
    writeItemList(list, storedItemFiles(folder, ['acct-a', 'acct-b']));
    const out = path.join(folder, 'floor.zip');
    const { stdout } = await run(process.execPath, [script, list, out]);
    expect(JSON.parse(stdout)).toEqual({ items: 7, bytes: 2048 + 3000 + 0 + 6000 + 100 + 200 + 5000 });
    const listing = await run('unzip', ['-Z1', out]);
    expect(listing.stdout.trim().split('\n')).toHaveLength(7);
    const sizes = await run('unzip', ['-Zl', out]);
    expect(sizes.stdout).toMatch(/7 files, 16348 bytes uncompressed, 16348 bytes compressed/);
    await expect(run('unzip', ['-tq', out])).resolves.toMatchObject({ stdout: expect.stringContaining('No errors') });
  });

  it('refuses to overwrite an existing output', async () => {
    const list = path.join(folder, 'one.txt');
    writeItemList(list, storedItemFiles(folder, ['acct-b']));
    const out = path.join(folder, 'exists.zip');
    writeFileSync(out, 'kept');
    await expect(run(process.execPath, [script, list, out])).rejects.toMatchObject({ stderr: expect.stringContaining('EEXIST') });
  });
});
