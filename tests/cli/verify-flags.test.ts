// `scopex verify --max-failures` takes a whole number of at least 1, and nothing else.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCli, runCli } from '../e2e/export-helpers.js';
import { createPki, flipByte, goodArchive, tempDir, type Pki } from '../verify/fixtures.js';

let dir: string;
let pki: Pki;
let bad: string;

beforeAll(() => {
  buildCli();
  dir = tempDir();
  pki = createPki(dir);
  const bytes = fs.readFileSync(goodArchive(dir, pki).file);
  bad = path.join(dir, 'bad.zip');
  fs.writeFileSync(bad, flipByte(bytes, bytes.indexOf(Buffer.from('first edge'))));
});

afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('scopex verify --max-failures', () => {
  it.each(['abc', '-1', '0', '2.5', ''])('refuses %j with exit 2 and one line naming the flag', async (value) => {
    const result = await runCli(['verify', bad, '--trust', pki.caFile, `--max-failures=${value}`, '--json']);
    expect(result.code).toBe(2);
    expect(JSON.parse(result.stdout)).toMatchObject({ ok: false, exitCode: 2, error: { code: 'USAGE' } });
    expect(result.stderr.trim().split('\n')).toEqual([expect.stringContaining('--max-failures')]);
  });

  it('lists as many failures as it is given, and counts them all', async () => {
    const result = await runCli(['verify', bad, '--trust', pki.caFile, '--max-failures', '1', '--json']);
    expect(result.code).toBe(4);
    const report = JSON.parse(result.stdout) as { failures: unknown[] };
    expect(report.failures).toHaveLength(1);
  });
});
