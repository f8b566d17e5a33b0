// A FIFO named where scopex reads a file (an order, a config and the files it names, a key, a certificate, a trust
// file, an archive) is refused at once as not a regular file (exit 2, one line naming it). A plain open() of a FIFO
// waits for a writer for ever, before any check can run: `order check fifo.json` hung.
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, generateCliWorld, ROOT, type CliRun, withWorldFiles } from '../e2e/export-helpers.js';

let root: string;
let world: string;
let config: string;
let fifo: string;
let fifoSignerConfig: string;

beforeAll(async () => {
  ({ root, world, config } = await generateCliWorld('fifo-inputs'));
  fifo = path.join(root, 'fifo.json');
  execFileSync('mkfifo', [fifo]);
  // The world's config, but for the archive signer's key (paths in a config are relative to its folder).
  const withFifoKey = JSON.parse(readFileSync(config, 'utf8')) as { signer: { key: string } };
  withFifoKey.signer.key = fifo;
  fifoSignerConfig = path.join(world, 'config-fifo-signer-key.json');
  writeFileSync(fifoSignerConfig, JSON.stringify(withFifoKey));
});

afterAll(() => {
  if (root) rmSync(root, { recursive: true, force: true });
});

/** Runs the CLI; a run still going after `ms` is killed (SIGKILL: a thread blocked in a read takes no other signal). */
function runWithin(args: string[], ms = 20_000): Promise<CliRun | 'hung'> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let hung = false;
    const timer = setTimeout(() => {
      hung = true;
      child.kill('SIGKILL');
    }, ms);
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve(hung ? 'hung' : { code, signal, stdout, stderr });
    });
  });
}

function filled(args: string[]): string[] {
  return withWorldFiles({ root, world, config }, args, { '{fifo}': fifo, '{fifo-signer-config}': fifoSignerConfig, '{approved}': path.join(root, 'approved.json') });
}

describe('a FIFO where a file is expected', () => {
  it.each([
    ['order check ORDER', ['order', 'check', '{fifo}', '--config', '{config}']],
    ['--config', ['order', 'check', '{order}', '--config', '{fifo}']],
    ['export ORDER', ['export', '{fifo}', '--out', '{out}', '--config', '{config}']],
    ["the config's signer key", ['export', '{order}', '--out', '{out}', '--config', '{fifo-signer-config}']],
    ['order approve --key', ['order', 'approve', '{unapproved}', '--key', '{fifo}', '--cert', '{cert}', '--out', '{approved}', '--config', '{config}']],
    ['order approve --cert', ['order', 'approve', '{unapproved}', '--key', '{key}', '--cert', '{fifo}', '--out', '{approved}', '--config', '{config}']],
    ['verify --trust', ['verify', 'LE-2026-000101.zip', '--trust', '{fifo}']],
    ['verify --order', ['verify', 'LE-2026-000101.zip', '--trust', '{ca}', '--order', '{fifo}']],
    ['verify ARCHIVE', ['verify', '{fifo}', '--trust', '{ca}']],
  ])('%s: refused at once, exit 2, one line naming it', async (_case, args) => {
    const result = await runWithin(filled(args));
    expect(result).not.toBe('hung');
    if (result === 'hung') return;
    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr.trim().split('\n')).toEqual([expect.stringMatching(/fifo\.json: it is not a regular file\.?$/)]);
  });

  it('batch: a FIFO among the orders is a malformed row of its own, and the batch ends (exit 6)', async () => {
    const result = await runWithin(filled(['batch', '{fifo}', '--out', '{out}', '--config', '{config}', '--json']));
    expect(result).not.toBe('hung');
    if (result === 'hung') return;
    expect(result.code, result.stderr).toBe(6);
    const summary = JSON.parse(result.stdout) as { orders: { file: string; verdict: string; error: { code: string } | null }[] };
    expect(summary.orders.map((o) => [o.file, o.verdict, o.error?.code ?? null])).toEqual([[fifo, 'malformed', 'FILE_UNREADABLE']]);
  });
});
