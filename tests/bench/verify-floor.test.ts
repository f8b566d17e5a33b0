// The verify floor really hashes every payload file and finds a file that differs from the manifest.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { verifyFloor } from './verify-floor.js';

const folder = mkdtempSync(path.join(os.tmpdir(), 'scopex-verify-floor-'));
afterAll(() => rmSync(folder, { recursive: true, force: true }));

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

/** A stored ZIP of one bag folder: data files, and a manifest that lists `listed` (path -> content it claims). */
function bagZip(name: string, files: Record<string, string>, listed: Record<string, string>): string {
  const bag = path.join(folder, name, 'BAG');
  for (const [file, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(bag, file)), { recursive: true });
    writeFileSync(path.join(bag, file), content);
  }
  const manifest = Object.entries(listed).map(([file, content]) => `${sha256(content)}  ${file.replace(/%/g, '%25')}\n`);
  writeFileSync(path.join(bag, 'manifest-sha256.txt'), manifest.join(''));
  const archive = path.join(folder, `${name}.zip`);
  execFileSync('zip', ['-0', '-r', '-q', archive, 'BAG'], { cwd: path.join(folder, name) });
  return archive;
}

describe('verify floor', () => {
  const files = { 'data/a.txt': 'alpha\n', 'data/sub/b c.txt': 'bravo\n', 'data/café 100%.txt': '', 'bag-info.txt': 'x: y\n' };
  const payload = { 'data/a.txt': 'alpha\n', 'data/sub/b c.txt': 'bravo\n', 'data/café 100%.txt': '' };

  it('checks every payload file against the manifest (spaces, UTF-8 and encoded % included)', () => {
    expect(verifyFloor(bagZip('good', files, payload))).toEqual({ payloadFiles: 3, listed: 3, mismatched: 0 });
  });

  it('counts a file whose bytes differ, and one the manifest lists but the archive lacks', () => {
    const archive = bagZip('bad', files, { ...payload, 'data/a.txt': 'alpha!\n', 'data/missing.txt': 'gone' });
    expect(verifyFloor(archive)).toEqual({ payloadFiles: 3, listed: 4, mismatched: 2 });
  });

  it('refuses a file that is not a ZIP', () => {
    const notZip = path.join(folder, 'not.zip');
    writeFileSync(notZip, 'not a zip at all');
    expect(() => verifyFloor(notZip)).toThrow(/end-of-central-directory/);
  });
});
