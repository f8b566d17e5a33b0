// The bundled CLI (dist/bin) is what users run. The bundler renames a top-level name that two modules share, and
// the error classes carry their class name as `name` (printed by --debug): none of them may be renamed.
import { readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildCli, CLI, ROOT, runCli } from './export-helpers.js';

const ERROR_SOURCES = ['src/errors.ts', 'src/seal/seal-error.ts', 'src/keys/small-blob.ts'];

beforeAll(() => buildCli());

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
});
