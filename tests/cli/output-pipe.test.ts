// A long result read through a pipe arrives whole: the process waits for stdout to drain before it exits.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCli, CLI } from '../e2e/export-helpers.js';
import { tempDir } from '../verify/fixtures.js';

let dir: string;

beforeAll(() => {
  buildCli();
  dir = tempDir();
});

afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

/**
 * Runs the CLI with stdout an OS pipe (spawn's own 'pipe' is a socket, which holds more) that nobody reads for the
 * first second: the pipe takes 64 KiB, and the rest must wait for the reader rather than be dropped at exit.
 */
function runThroughSlowPipe(args: string[]): Promise<{ code: number | null; stdout: string }> {
  return new Promise((resolve, reject) => {
    const quoted = [process.execPath, CLI, ...args].map((arg) => `'${arg.replace(/'/g, `'\\''`)}'`).join(' ');
    const child = spawn('sh', ['-c', `${quoted} 2>/dev/null | (sleep 1; cat)`], { stdio: ['ignore', 'pipe', 'ignore'] });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout: Buffer.concat(chunks).toString('utf8') }));
  });
}

describe('output through a pipe', () => {
  it('audit verify --json of a log of 3,000 forged lines is one whole JSON document, well past 64 KiB', async () => {
    // Lines that are not custody records: a problem each (1,000 listed).
    const log = path.join(dir, 'custody.jsonl');
    fs.writeFileSync(log, Array.from({ length: 3000 }, (_, i) => `${JSON.stringify({ seq: i + 1, forged: true })}\n`).join(''));
    const result = await runThroughSlowPipe(['audit', 'verify', log, '--json']);
    expect(result.code).toBe(0); // the pipeline's: cat's
    expect(result.stdout.length).toBeGreaterThan(128 * 1024);
    const report = JSON.parse(result.stdout) as { ok: boolean };
    expect(report.ok).toBe(false);
  });
});
