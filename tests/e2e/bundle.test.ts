// The bundled CLI (dist/bin) is what users run. The bundler renames a top-level name that two modules share, and
// the error classes carry their class name as `name` (printed by --debug): none of them may be renamed. The bundle
// also puts src/cli/text-width.ts in front of string-width (esbuild.config.mjs): help must lay out as unbundled.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import * as esbuild from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
