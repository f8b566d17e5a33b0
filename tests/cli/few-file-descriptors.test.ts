// With few file descriptors (`ulimit -n` from 20 up), every command either works or says so in one sentence, exit 1
// (the environment's fault, as a key service failure is): no stack trace and no "this is a bug". These used to end in
// Node's own stack trace (a bundle file that could not be opened while the CLI loaded) or "internal error: EMFILE".
// Below about 19, Node cannot open the entry file itself, before any scopex code runs.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, generateCliWorld, type CliWorld } from '../e2e/export-helpers.js';

let cli: CliWorld;

beforeAll(async () => {
  cli = await generateCliWorld('few-fds');
}, 120_000);

afterAll(() => {
  if (cli) rmSync(cli.root, { recursive: true, force: true });
});

/** Runs the CLI under `ulimit -n limit`. */
function runLimited(limit: number, args: string[]): Promise<{ code: number | null; stderr: string; ms: number }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn('sh', ['-c', `ulimit -n ${limit} && exec "$@"`, 'sh', process.execPath, CLI, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stderr, ms: performance.now() - started }));
  });
}

const LIMITS = [20, 22, 24, 26, 28, 30, 32, 36, 40];

describe('a low limit on open files', () => {
  it('export, order check and verify: done, or one sentence naming the limit, exit 1', async () => {
    const order = path.join(cli.world, 'orders', 'approved-warrant.json');
    const sealed = await runLimited(1024, ['export', order, '--out', path.join(cli.root, 'sealed'), '--config', cli.config, '--quiet']);
    expect(sealed.code, sealed.stderr).toBe(0);
    const archive = path.join(cli.root, 'sealed', readdirSync(path.join(cli.root, 'sealed'))[0]!);
    let refused = 0;
    for (const limit of LIMITS) {
      const out = path.join(cli.root, `out-${limit}`);
      const runs = {
        export: await runLimited(limit, ['export', order, '--out', out, '--config', cli.config, '--quiet']),
        check: await runLimited(limit, ['order', 'check', order, '--config', cli.config, '--quiet']),
        verify: await runLimited(limit, ['verify', archive, '--trust', path.join(cli.world, 'pki', 'ca.cert.pem'), '--quiet']),
      };
      for (const [command, run] of Object.entries(runs)) {
        const what = `${command} at ulimit -n ${limit}: ${run.stderr}`;
        // Never a wait: an export whose custody-log lock could not be read back with no descriptor left waited 30 s
        // for that lock, its own, to go stale before it could log its failure.
        expect(run.ms, what).toBeLessThan(20_000);
        if (run.code === 0) continue;
        refused += 1;
        expect(run.code, what).toBe(1);
        expect(run.stderr.trim().split('\n'), what).toHaveLength(1);
        expect(run.stderr, what).toMatch(/^scopex: (the system has )?too many open files\b.*: .*raise .* and run again/);
      }
      // Nothing half-made: no partial archive, no temp folder (the folder itself goes when the export made it).
      if (existsSync(out)) expect(readdirSync(out).filter((name) => !name.endsWith('.zip')), `ulimit -n ${limit}`).toEqual([]);
    }
    // The lowest limits fail every command; had they all worked, this test would show nothing.
    expect(refused).toBeGreaterThan(3);
  }, 180_000);
});
