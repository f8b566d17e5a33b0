// A signal that lands before a command's interruptible work has started, or in a command that has none (order check),
// ends in exit 130 like every other interrupt: the entry point listens from its first line. Node died of it before
// (exit 143 for SIGTERM, 129 for SIGHUP) during the first 0.3 s of every command, and for all of order check.
import { existsSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INTERRUPT_SIGNALS } from '../../src/util/interrupts.js';
import { generateCliWorld, runAndSignalWhen, type CliRun } from '../e2e/export-helpers.js';

let root: string;
let world: string;
let config: string;

beforeAll(async () => {
  ({ root, world, config } = await generateCliWorld('early-interrupts'));
});

afterAll(() => {
  if (root) rmSync(root, { recursive: true, force: true });
});

/**
 * Whether process `pid` catches SIGHUP (Linux: the SigCgt mask in /proc/PID/status). Node catches SIGINT and SIGTERM
 * of its own accord, but SIGHUP only for a listener; scopex adds its listeners for all three at once.
 */
function catchesSighup(pid: number | undefined): boolean {
  try {
    const mask = /^SigCgt:\s*([0-9a-f]+)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return mask !== undefined && (BigInt(`0x${mask}`) & 1n) === 1n;
  } catch {
    return false;
  }
}

/** Runs `order check` and sends `signal` as soon as the process listens for signals; 'finished' if it ended first. */
function checkInterrupted(signal: NodeJS.Signals): Promise<CliRun | 'finished'> {
  const args = ['order', 'check', path.join(world, 'orders', 'approved-warrant.json'), '--config', config, '--json'];
  const started: { pid?: number } = {};
  return runAndSignalWhen(args, signal, () => catchesSighup(started.pid), started);
}

describe.skipIf(!existsSync('/proc/self/status'))('a signal before any interruptible work', () => {
  it.each(INTERRUPT_SIGNALS)('%s during order check: exit 130, one JSON error, one line on stderr', async (signal) => {
    const run = await checkInterrupted(signal);
    expect(run, 'order check never listened for signals').not.toBe('finished');
    if (run === 'finished') return;
    expect(run.signal).toBeNull();
    expect(run.code).toBe(130);
    expect(JSON.parse(run.stdout)).toMatchObject({ ok: false, exitCode: 130, error: { code: 'ABORTED' } });
    expect(run.stderr.trim().split('\n')).toEqual([expect.stringContaining('interrupted')]);
  });
});
