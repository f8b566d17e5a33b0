// Interrupts as a user (or a closing terminal) sends them: the built CLI on a sample world, signalled mid-run. Every
// interrupt ends the same way whatever the signal: partial output removed, one line saying so, exit 130, and under
// --json one JSON document.
import { existsSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AbortedError } from '../../src/errors.js';
import { INTERRUPT_SIGNALS, whileInterruptible } from '../../src/util/interrupts.js';
import { generateCliWorld, runAndSignalWhen, runCli, type CliRun } from '../e2e/export-helpers.js';

let root: string;
let world: string;
let config: string;

beforeAll(async () => {
  // Large files, so that an export is still writing its archive when the signal lands.
  ({ root, world, config } = await generateCliWorld('interrupts', ['--size', '600000000', '--profile', 'large-items']));
});

afterAll(() => {
  if (root) rmSync(root, { recursive: true, force: true });
});

/** An export of the warrant interrupted while its .partial is being written (retried if it finished first). */
async function interruptedExport(signal: NodeJS.Signals, extra: string[] = []): Promise<{ run: CliRun; out: string }> {
  for (let attempt = 0; attempt < 5; attempt += 1) {
    const out = path.join(root, `out-${signal}-${attempt}`);
    const run = await runAndSignalWhen(
      ['export', path.join(world, 'orders', 'approved-warrant.json'), '--out', out, '--config', config, ...extra],
      signal,
      () => existsSync(out) && readdirSync(out).some((name) => name.endsWith('.zip.partial')),
    );
    if (run !== 'finished') return { run, out };
  }
  throw new Error('every export finished before it could be interrupted');
}

/** Whether process `pid` has `file` open (Linux: /proc/PID/fd); false where that cannot be told. */
function hasOpen(pid: number | undefined, file: string): boolean {
  try {
    return readdirSync(`/proc/${pid}/fd`).some((fd) => {
      try {
        return readlinkSync(`/proc/${pid}/fd/${fd}`) === file;
      } catch {
        return false;
      }
    });
  } catch {
    return false;
  }
}

describe('interrupts', () => {
  it('SIGHUP during export removes the partial archive, its temp folders and the --out folder it made, says so in one line, and exits 130', async () => {
    const { run, out } = await interruptedExport('SIGHUP');
    expect(run.signal).toBeNull();
    expect(run.code).toBe(130);
    expect(run.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^scopex: the export was interrupted \(SIGHUP\)/)]);
    expect(existsSync(out)).toBe(false);
  });

  it('SIGTERM during export with --json prints one JSON error and exits 130', async () => {
    const { run, out } = await interruptedExport('SIGTERM', ['--json']);
    expect(run.code).toBe(130);
    expect(JSON.parse(run.stdout)).toMatchObject({ ok: false, exitCode: 130, error: { code: 'ABORTED' } });
    expect(existsSync(out)).toBe(false);
  });

  it.skipIf(!existsSync('/proc/self/fd'))('an interrupted verify --json prints one JSON error and exits 130', async () => {
    const out = path.join(root, 'out-verify');
    const exported = await runCli(['export', path.join(world, 'orders', 'approved-warrant.json'), '--out', out, '--config', config, '--quiet']);
    expect(exported.code, exported.stderr).toBe(0);
    const archive = path.join(out, readdirSync(out).find((name) => name.endsWith('.zip'))!);
    let run: CliRun | 'finished' = 'finished';
    for (let attempt = 0; attempt < 5 && run === 'finished'; attempt += 1) {
      // The archive is opened inside the interruptible part, so its being open says the handlers are in place.
      const child: { pid?: number } = {};
      run = await runAndSignalWhen(['verify', archive, '--trust', path.join(world, 'pki', 'ca.cert.pem'), '--json'], 'SIGINT', () => hasOpen(child.pid, archive), child);
    }
    if (run === 'finished') throw new Error('every verify finished before it could be interrupted');
    expect(run.code).toBe(130);
    expect(JSON.parse(run.stdout)).toMatchObject({ ok: false, exitCode: 130, error: { code: 'ABORTED' } });
    expect(run.stderr.trim().split('\n')).toEqual([expect.stringContaining('interrupted (Ctrl-C)')]);
  });

  it('an interrupted samples generate says so, and --force replaces the unfinished world it left', async () => {
    const half = path.join(root, 'half');
    const args = ['samples', 'generate', '--out', half, '--accounts', '5', '--seed', 'half'];
    const run = await runAndSignalWhen([...args, '--size', '2000000000', '--profile', 'large-items', '--json'], 'SIGINT', () => existsSync(path.join(half, 'stores')));
    if (run === 'finished') throw new Error('samples generate finished before it could be interrupted');
    expect(run.code).toBe(130);
    expect(JSON.parse(run.stdout)).toMatchObject({ ok: false, exitCode: 130, error: { code: 'ABORTED' } });
    const again = await runCli([...args, '--quiet']);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('--force');
    const forced = await runCli([...args, '--force', '--quiet']);
    expect(forced.code, forced.stderr).toBe(0);
    expect(existsSync(path.join(half, 'config.json'))).toBe(true);
  });

  it('whileInterruptible with stopAtOnce rejects on the signal without waiting for the work', async () => {
    const work = whileInterruptible(() => new Promise<never>(() => undefined), {
      reason: (name) => new AbortedError('ABORTED', `stopped by ${name}`),
      stopAtOnce: true,
    });
    process.emit('SIGHUP', 'SIGHUP');
    await expect(work).rejects.toBeInstanceOf(AbortedError);
  });

  it.each(INTERRUPT_SIGNALS)('whileInterruptible aborts the work on %s, and lets go of the signal afterwards', async (signal) => {
    const before = process.listenerCount(signal);
    const work = whileInterruptible(
      (abort) =>
        new Promise<string>((_resolve, reject) => {
          abort.addEventListener('abort', () => reject(abort.reason as Error));
        }),
      { reason: (name) => new AbortedError('ABORTED', `stopped by ${name}`) },
    );
    expect(process.listenerCount(signal)).toBe(before + 1);
    process.emit(signal, signal);
    await expect(work).rejects.toMatchObject({ code: 'ABORTED', message: `stopped by ${signal}` });
    expect(process.listenerCount(signal)).toBe(before);
  });
});
