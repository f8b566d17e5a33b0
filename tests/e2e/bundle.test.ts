// The bundled CLI (dist/bin) is what users run. The bundler renames a top-level name that two modules share, and
// the error classes carry their class name as `name` (printed by --debug): none of them may be renamed. The bundle
// also puts src/cli/text-width.ts in front of string-width (esbuild.config.mjs): help must lay out as unbundled, and
// leaves crc-32 outside, for the native CRC-32.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import * as esbuild from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSampleWorld } from '../../src/samples/sample-world.js';
import { buildCli, CLI, ROOT, runCli } from './export-helpers.js';

const ERROR_SOURCES = ['src/errors.ts', 'src/seal/seal-error.ts', 'src/keys/small-blob.ts'];

beforeAll(() => buildCli());

const scratch = mkdtempSync(path.join(os.tmpdir(), 'scopex-bundle-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** Runs a script with node, a preload counting the Intl.Segmenters built (string-width builds one as it loads). */
function runCountingSegmenters(args: string[]): { stdout: string; segmenters: number } {
  const preload = path.join(scratch, 'count-segmenters.cjs');
  writeFileSync(
    preload,
    'let made = 0; const Original = Intl.Segmenter;\n' +
      'Intl.Segmenter = class extends Original { constructor(...a) { super(...a); made += 1; } };\n' +
      "process.on('exit', () => process.stderr.write(`segmenters: ${made}\\n`));\n",
  );
  const run = spawnSync(process.execPath, ['--require', preload, ...args], { cwd: ROOT, encoding: 'utf8' });
  expect(run.status, run.stderr).toBe(0);
  const counted = /segmenters: (\d+)/.exec(run.stderr);
  if (!counted) throw new Error(`no count in ${run.stderr}`);
  return { stdout: run.stdout, segmenters: Number(counted[1]) };
}

describe('the bundled CLI', () => {
  it('keeps every error class under its own name', () => {
    const bundle = readdirSync(path.dirname(CLI))
      .filter((name) => name.endsWith('.js'))
      .map((name) => readFileSync(path.join(path.dirname(CLI), name), 'utf8'))
      .join('\n');
    const classes = ERROR_SOURCES.flatMap((file) =>
      [...readFileSync(path.join(ROOT, file), 'utf8').matchAll(/^export class (\w+(?:Error))\b/gm)].map((match) => match[1]!),
    );
    expect(classes).toEqual(expect.arrayContaining(['ScopexError', 'InputError', 'IntegrityError', 'SealError', 'BlobOpenError']));
    // `var X = class extends ...` takes its name from X: a renamed X2 would name the class X2.
    for (const name of classes) expect(bundle, name).toMatch(new RegExp(`\\b(?:class ${name} extends|var ${name} = class)\\b`));
  });

  it('zips with the native CRC-32 that src/seal/native-crc.ts swaps into crc-32 (left outside the bundle for it)', async () => {
    // archiver's ZIP writer is bundled; had crc-32 been bundled with it, the swap would miss that copy and every CRC
    // would be the pure-JS one: correct, slower, and silent. Counted: the bytes of this process's zlib.crc32 calls.
    const preload = path.join(scratch, 'count-crc.cjs');
    writeFileSync(
      preload,
      "const { isMainThread } = require('node:worker_threads'); const zlib = require('node:zlib'); const original = zlib.crc32;\n" +
        'let bytes = 0; zlib.crc32 = (data, value) => { bytes += data.length; return original(data, value); };\n' +
        "if (isMainThread) process.on('exit', () => process.stderr.write(`native crc32 bytes: ${bytes}\\n`));\n",
    );
    const world = path.join(scratch, 'crc-world');
    await generateSampleWorld({ out: world, accounts: 5, size: 2_500_000, seed: 'bundle-crc' });
    const out = path.join(scratch, 'crc-out');
    const run = spawnSync(process.execPath, ['--require', preload, CLI, 'export', path.join(world, 'orders', 'approved-warrant.json'), '--out', out, '--config', path.join(world, 'config.json'), '--json'], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    expect(run.status, run.stderr).toBe(0);
    const counted = /native crc32 bytes: (\d+)/.exec(run.stderr);
    // The install's own probe is 192 bytes; this export's tag files and metadata, zipped from Buffers, are ~130 KB.
    expect(Number(counted?.[1])).toBeGreaterThan(16 * 1024);
  });

  it('names the error class in a --debug stack trace', async () => {
    const missing = path.join(os.tmpdir(), `scopex-no-such-order-${process.pid}.json`);
    const run = await runCli(['order', 'check', missing, '--debug']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^InputError: /m);
  });

  it('prints the package version for --version', async () => {
    const { version } = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
    const run = await runCli(['--version']);
    expect(run.code).toBe(0);
    expect(run.stdout.trim()).toBe(version);
  });

  it('lays out --help as the unbundled CLI does, without loading string-width for its ASCII text', () => {
    const bundled = runCountingSegmenters([CLI, 'export', '--help']);
    const unbundled = runCountingSegmenters([path.join(ROOT, 'dist/src/cli/main.js'), 'export', '--help']);
    expect(bundled.stdout).toContain('--out');
    expect(bundled.stdout).toBe(unbundled.stdout);
    expect(unbundled.segmenters).toBeGreaterThan(0);
    expect(bundled.segmenters).toBe(0);
  });

  it('measures text that is not printable ASCII with the bundled string-width, as the unbundled packages do', async () => {
    const { bundleOptions } = (await import(pathToFileURL(path.join(ROOT, 'esbuild.config.mjs')).href)) as { bundleOptions: esbuild.BuildOptions };
    const source = [
      "import cliui from 'cliui';",
      'const ui = cliui({ width: 40 });',
      "ui.div({ text: '\u65e5\u672c\u8a9e na\u00efve \ud83d\udc4d\ud83c\udffd e\u0301 \u001b[31mred\u001b[39m', width: 14 }, { text: 'right column text' });",
      "ui.div({ text: 'plain ascii cell', width: 14 }, { text: 'right column text' });",
      'console.log(ui.toString());',
    ].join('\n');
    const outfile = path.join(scratch, 'widths.mjs');
    await esbuild.build({ ...bundleOptions, stdin: { contents: source, resolveDir: ROOT, loader: 'js' }, outfile });
    expect(readFileSync(outfile, 'utf8')).toContain('lazyStringWidth');
    const bundled = runCountingSegmenters([outfile]);
    const unbundled = runCountingSegmenters(['--input-type=module', '-e', source]);
    expect(bundled.stdout).toContain('\u65e5\u672c\u8a9e');
    expect(bundled.stdout).toBe(unbundled.stdout);
    expect(bundled.segmenters).toBeGreaterThan(0);
  });
});
