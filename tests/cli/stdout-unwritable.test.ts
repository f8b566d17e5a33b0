// A result that cannot be written to stdout is a failure: exit 2 (OUTPUT_UNWRITABLE) with one sentence on stderr,
// never exit 0 with an empty or cut-off file. A reader that goes away (`| head -1`, EPIPE) stays quiet.
// These used to exit 0 (or with the command's own code) and say nothing.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, generateCliWorld, runCli, type CliWorld } from '../e2e/export-helpers.js';

let cli: CliWorld;
const mounts: string[] = [];

beforeAll(async () => {
  cli = await generateCliWorld('stdout-unwritable');
  // A custody log to report on and notify from.
  const checked = await runCli(['order', 'check', path.join(cli.world, 'orders', 'approved-court-order.json'), '--config', cli.config, '--quiet']);
  expect(checked.code, checked.stderr).toBe(0);
}, 120_000);

afterAll(() => {
  for (const folder of mounts.reverse()) spawnSync('umount', [folder], { stdio: 'ignore' });
  if (cli) rmSync(cli.root, { recursive: true, force: true });
});

/** Runs the CLI with its stdout opened on `file` (stderr captured). */
function runInto(file: string, args: string[]): Promise<{ code: number | null; stderr: string }> {
  const fd = openSync(file, 'w');
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', fd, 'pipe'] });
    closeSync(fd);
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stderr }));
  });
}

/** Runs the CLI into a pipe whose reader has already gone (`| true`); the pipeline's status is scopex's. */
function runIntoClosedPipe(args: string[]): { code: number | null; stderr: string } {
  const quoted = [process.execPath, CLI, ...args].map((arg) => `'${arg.replace(/'/g, `'\\''`)}'`).join(' ');
  const result = spawnSync('bash', ['-c', `set -o pipefail; ${quoted} 2>"$ERR" | true`], {
    env: { ...process.env, ERR: path.join(cli.root, 'pipe.err') },
  });
  return { code: result.status, stderr: readFileSync(path.join(cli.root, 'pipe.err'), 'utf8') };
}

const transparency = () => ['report', 'transparency', '--from', '2026-01-01', '--to', '2026-12-31', '--config', cli.config];

function canMount(): boolean {
  if (process.getuid?.() !== 0) return false;
  const probe = path.join(cli.root, 'mount-probe');
  mkdirSync(probe);
  const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', probe], { stdio: 'ignore' }).status === 0;
  if (mounted) spawnSync('umount', [probe], { stdio: 'ignore' });
  return mounted;
}

describe('stdout that cannot be written', () => {
  it.skipIf(!existsSync('/dev/full'))('report transparency --csv into a full device: exit 2, one sentence naming it', async () => {
    const result = await runInto('/dev/full', [...transparency(), '--csv']);
    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr.trim().split('\n')).toEqual([
      'scopex: cannot write the output to /dev/full: no space left on the device; what it holds is incomplete.',
    ]);
  });

  it.skipIf(!existsSync('/dev/full'))('notify --json into a full device: exit 2 as well', async () => {
    const notify = await runInto('/dev/full', ['notify', '--json', '--config', cli.config]);
    expect(notify.code, notify.stderr).toBe(2);
    expect(notify.stderr).toMatch(/^scopex: cannot write the output to \/dev\/full: no space left on the device/);
  });

  it('a command that fails for its own reason keeps its exit code, and says both', async () => {
    if (!existsSync('/dev/full')) return;
    const result = await runInto('/dev/full', ['order', 'check', path.join(cli.world, 'orders', 'unapproved.json'), '--config', cli.config, '--json']);
    expect(result.code, result.stderr).toBe(3);
    const lines = result.stderr.trim().split('\n');
    expect(lines.at(-1)).toMatch(/^scopex: cannot write the output to \/dev\/full: /);
    expect(lines.slice(0, -1).join('\n')).not.toMatch(/cannot write the output/);
  });

  it('a reader that went away (| true) is no failure: exit 0, nothing on stderr', () => {
    const result = runIntoClosedPipe([...transparency(), '--csv']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toBe('');
  });

  it('batch --json cut off by a full disk: the batch exit code stays, and stderr says the JSON is incomplete', async () => {
    if (!canMount()) return;
    const small = path.join(cli.root, 'small');
    mkdirSync(small);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4k', 'tmpfs', small]);
    mounts.push(small);
    const file = path.join(small, 'batch.json');
    const result = await runInto(file, ['batch', path.join(cli.world, 'orders'), '--out', path.join(cli.root, 'out'), '--config', cli.config, '--json', '--concurrency', '2']);
    // The sample orders include refused ones: the batch's own code, 6.
    expect(result.code, result.stderr).toBe(6);
    expect(readFileSync(file).length).toBe(4096);
    expect(result.stderr.trim().split('\n').at(-1)).toBe(
      `scopex: cannot write the output to ${file}: no space left on the device; what it holds is incomplete.`,
    );
  }, 120_000);
});
