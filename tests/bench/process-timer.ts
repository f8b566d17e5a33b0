// Times one child process by wall clock and, when asked, reads its peak resident set size and CPU time.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface TimedRun {
  seconds: number;
  /** Peak resident set size in bytes (VmHWM), or null when it was not measured. */
  peakRssBytes: number | null;
  /** User plus system CPU seconds of the child and its threads (GNU time), or null when not measured. */
  cpuSeconds: number | null;
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  measureRss?: boolean;
  /** A shell command line instead of a program and its arguments. */
  shell?: boolean;
}

const GNU_TIME = '/usr/bin/time';

/** How peak RSS is read: GNU time's %M (kernel's maxrss at exit, race-free), else polling /proc VmHWM. */
export function rssMethod(): 'gnu-time' | 'proc-poll' {
  return existsSync(GNU_TIME) ? 'gnu-time' : 'proc-poll';
}

/** Runs a command once and times it; a non-zero exit is returned, not thrown (callers decide). */
export async function runTimed(command: string, args: readonly string[], options: RunOptions = {}): Promise<TimedRun> {
  const useGnuTime = options.measureRss === true && rssMethod() === 'gnu-time';
  const scratch = useGnuTime ? mkdtempSync(path.join(os.tmpdir(), 'scopex-bench-rss-')) : null;
  const rssFile = scratch ? path.join(scratch, 'usage') : null;
  let program = command;
  let programArgs = [...args];
  if (options.shell) {
    program = '/bin/sh';
    programArgs = ['-c', [command, ...args].join(' ')];
  }
  if (rssFile) {
    programArgs = ['-f', '%M %U %S', '-o', rssFile, program, ...programArgs];
    program = GNU_TIME;
  }
  try {
    const run = await spawnAndWait(program, programArgs, options, options.measureRss === true && !useGnuTime);
    if (rssFile) {
      const usage = readGnuTimeUsage(rssFile);
      run.peakRssBytes = usage.maxRssKib * 1024;
      run.cpuSeconds = usage.cpuSeconds;
    }
    return run;
  } finally {
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  }
}

/** Like runTimed, but a non-zero exit is an error naming the command and its stderr. */
export async function runChecked(command: string, args: readonly string[], options: RunOptions = {}): Promise<TimedRun> {
  const run = await runTimed(command, args, options);
  if (run.exitCode !== 0) {
    const tail = run.stderr.trim().split('\n').slice(-5).join('\n');
    throw new Error(`${command} ${args.join(' ')} exited with ${run.exitCode}: ${tail || run.stdout.trim().slice(0, 500)}`);
  }
  return run;
}

function spawnAndWait(program: string, args: string[], options: RunOptions, pollRss: boolean): Promise<TimedRun> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn(program, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let peakKib = 0;
    const poll = pollRss && child.pid !== undefined ? startRssPoll(child.pid, (kib) => (peakKib = Math.max(peakKib, kib))) : null;
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      if (stdout.length < 4 * 1024 * 1024) stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      if (stderr.length < 1024 * 1024) stderr += chunk;
    });
    child.on('error', (error) => {
      if (poll) clearInterval(poll);
      reject(error);
    });
    child.on('close', (code, signal) => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      if (poll) clearInterval(poll);
      resolve({
        seconds,
        peakRssBytes: pollRss ? peakKib * 1024 : null,
        cpuSeconds: null,
        exitCode: code ?? (signal ? 128 : 1),
        stdout,
        stderr,
      });
    });
  });
}

function startRssPoll(pid: number, record: (kib: number) => void): NodeJS.Timeout {
  return setInterval(() => {
    try {
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      const match = /^VmHWM:\s+(\d+) kB/m.exec(status);
      if (match?.[1]) record(Number(match[1]));
    } catch {
      // the process is gone; the last reading stands
    }
  }, 20);
}

/** Reads GNU time's "%M %U %S" line: peak RSS in KiB, user and system CPU seconds. */
export function readGnuTimeUsage(file: string): { maxRssKib: number; cpuSeconds: number } {
  const text = readFileSync(file, 'utf8').trim();
  // GNU time writes "Command exited with non-zero status N" before the figures on failure.
  const last = text.split('\n').at(-1) ?? '';
  const [kib, user, system] = last.trim().split(/\s+/).map(Number);
  if (![kib, user, system].every((value) => value !== undefined && Number.isFinite(value))) {
    throw new Error(`could not read peak RSS and CPU time from ${GNU_TIME}: expected "KiB user system", found "${last}"`);
  }
  return { maxRssKib: kib!, cpuSeconds: user! + system! };
}
