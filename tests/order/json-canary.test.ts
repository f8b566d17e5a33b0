// Canary: a key file given where scopex reads JSON (an order, a config, a data-keys file, an index, an archive's
// order.json or production.json) is refused in one line that names the file and quotes none of it. JSON.parse's own
// message quotes the start of the text, so passing it on would print the key.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { inspect } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { exitCodeFor, InputError, SourceError } from '../../src/errors.js';
import { createLocalKeyService } from '../../src/keys/local-key-service.js';
import { readOrderFile } from '../../src/order/read-order.js';
import { generateSampleWorld } from '../../src/samples/sample-world.js';
import { createFileDirectory } from '../../src/sources/file-directory.js';
import { readJsonlIndex } from '../../src/sources/jsonl-index.js';
import * as z from '../../src/util/zod.js';
import { JsonArrayReader } from '../../src/verify/json-array-reader.js';
import { verifyArchive } from '../../src/verify/verify.js';
import { buildCli, runCli } from '../e2e/export-helpers.js';
import { createPki, sampleBag, sign, writeManifests, writeZip, zipItems } from '../verify/fixtures.js';
import { baseOrder } from './fixtures.js';


const HEX_KEY = 'fe7a91c04d3b5e62f8a0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d0e1f2';
const PEM_KEY = [
  '-----BEGIN PRIVATE KEY-----',
  'MC4CAQAwBQYDK2VwBCIEINTuctv5E1hK1bbY8fdp+K06/nwoy/HU++CXqI9EdVhC',
  '-----END PRIVATE KEY-----',
  '',
].join('\n');

interface Canary {
  name: string;
  content: string;
  /** What must not appear, nor any 8 characters of it in a row. */
  secret: string;
}

const CANARIES: Canary[] = [
  { name: 'a hex key', content: `${HEX_KEY}\n`, secret: HEX_KEY },
  { name: 'a PEM private key', content: PEM_KEY, secret: PEM_KEY },
  { name: 'a key as a bare JSON value', content: `{"k":${HEX_KEY}}`, secret: HEX_KEY },
  { name: 'a comment before JSON', content: `// hi\n${JSON.stringify({ ...baseOrder(), id: HEX_KEY })}`, secret: HEX_KEY },
];

let dir: string;
let world: string;
let config: string;
const fileOf = new Map<Canary, string>();

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'scopex-json-canary-'));
  world = path.join(dir, 'world');
  await generateSampleWorld({ out: world, accounts: 5, size: 100_000, seed: 'json-canary' });
  config = path.join(world, 'config.json');
  CANARIES.forEach((canary, n) => {
    const file = path.join(dir, `canary-${n}.json`);
    // Readable by its owner only: a data-keys file open to others is refused before it is parsed (keys/key-file-mode.ts).
    fs.writeFileSync(file, canary.content, { mode: 0o600 });
    fileOf.set(canary, file);
  });
});

afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Every 8-character stretch of `secret` found in `text`. */
function leaks(text: string, secret: string): string[] {
  const found = new Set<string>();
  for (let i = 0; i + 8 <= secret.length; i++) {
    const stretch = secret.slice(i, i + 8);
    if (text.includes(stretch)) found.add(stretch);
  }
  return [...found];
}

/** Every way an error ends up as text: message, String(), JSON, inspect (with causes), stacks. */
function renderings(error: unknown): string {
  const out = [String(error), JSON.stringify(error) ?? '', inspect(error, { depth: Infinity, showHidden: true })];
  let current: unknown = error;
  for (let depth = 0; current instanceof Error && depth < 10; depth++) {
    out.push(current.message, current.stack ?? '');
    current = current.cause;
  }
  return out.join('\n');
}

function expectSafe(error: unknown, file: string, secret: string): Error {
  expect(error).toBeInstanceOf(Error);
  const { message } = error as Error;
  expect(message).toContain(file);
  expect(message).not.toMatch(/[\r\n]/);
  expect(leaks(renderings(error), secret)).toEqual([]);
  return error as Error;
}

function failure(run: () => unknown): Promise<unknown> {
  return Promise.resolve()
    .then(run)
    .then(
      () => {
        throw new Error('expected a failure');
      },
      (error: unknown) => error,
    );
}

describe.each(CANARIES)('a file holding $name', (canary) => {
  const file = () => fileOf.get(canary)!;

  it('as an order: JSON_MALFORMED, exit 2', async () => {
    const error = expectSafe(await failure(() => readOrderFile(file())), file(), canary.secret);
    expect(error).toBeInstanceOf(InputError);
    expect((error as InputError).code).toBe('JSON_MALFORMED');
    expect(exitCodeFor(error)).toBe(2);
  });

  it('as the config, or as its legal-process rules: JSON_MALFORMED, exit 2', async () => {
    const asConfig = expectSafe(await failure(() => loadConfig(file())), file(), canary.secret);
    expect((asConfig as InputError).code).toBe('JSON_MALFORMED');
    expect(exitCodeFor(asConfig)).toBe(2);

    const rulesConfig = path.join(world, `rules-${CANARIES.indexOf(canary)}.json`);
    const settings = JSON.parse(fs.readFileSync(config, 'utf8')) as Record<string, unknown>;
    fs.writeFileSync(rulesConfig, JSON.stringify({ ...settings, legalProcess: file() }));
    const asRules = expectSafe(await failure(() => loadConfig(rulesConfig)), file(), canary.secret);
    expect((asRules as InputError).code).toBe('JSON_MALFORMED');
  });

  it('as the data-keys file or the account directory: JSON_MALFORMED, exit 2', async () => {
    const keys = expectSafe(
      await failure(() => createLocalKeyService({ masterKeyFile: path.join(world, 'keys', 'master.key'), dataKeysFile: file(), readerThread: false })),
      file(),
      canary.secret,
    );
    expect((keys as InputError).code).toBe('JSON_MALFORMED');
    expect(exitCodeFor(keys)).toBe(2);
    const directory = expectSafe(await failure(() => createFileDirectory({ file: file() })), file(), canary.secret);
    expect((directory as InputError).code).toBe('JSON_MALFORMED');
  });

  it('as verify --order: JSON_MALFORMED, exit 2', async () => {
    const error = expectSafe(
      await failure(() => verifyArchive({ archive: path.join(dir, 'missing.zip'), trustFile: path.join(world, 'pki', 'ca.cert.pem'), orderFile: file() })),
      file(),
      canary.secret,
    );
    expect((error as InputError).code).toBe('JSON_MALFORMED');
    expect(exitCodeFor(error)).toBe(2);
  });

  it('as a line of an index: INDEX_CORRUPT naming the file and the line', async () => {
    const index = path.join(dir, `index-${CANARIES.indexOf(canary)}.jsonl`);
    const line = canary.content.split('\n').find((text) => text.trim() !== '')!;
    fs.writeFileSync(index, `{"n":1}\n${line}\n`);
    const error = await failure(async () => {
      for await (const batch of readJsonlIndex({ file: index, schema: z.object({ n: z.number() }) })) void batch;
    });
    expectSafe(error, index, canary.secret);
    expect(error).toBeInstanceOf(SourceError);
    expect((error as SourceError).code).toBe('INDEX_CORRUPT');
    expect((error as Error).message).toContain('line 2');
  });
});

describe('a production.json record holding a key', () => {
  it('is refused in one line naming the record, without quoting it', () => {
    const problems: string[] = [];
    const reader = new JsonArrayReader(
      () => undefined,
      (message) => problems.push(message),
    );
    reader.update(Buffer.from(`[{"path":"a"},\n{"p":${HEX_KEY}}]`));
    reader.end();
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain('record 2');
    expect(problems[0]).not.toMatch(/[\r\n]/);
    expect(leaks(problems[0]!, HEX_KEY)).toEqual([]);
  });
});

describe('an archive whose order.json and production.json hold a key', () => {
  it('reports them as not JSON without quoting them', async () => {
    const pki = createPki(dir);
    const { model } = sampleBag();
    model.files.set('order.json', Buffer.from(`// hi\n{"id":"${HEX_KEY}"}`));
    model.files.set('production.json', Buffer.from(`[{"p":${HEX_KEY}}]`));
    writeManifests(model);
    sign(model, pki.signer);
    const archive = path.join(dir, 'keyed.zip');
    writeZip(archive, zipItems(model));
    const report = await verifyArchive({ archive, trustFile: pki.caFile, hashThread: 'never', recordsThread: 'never' });
    expect(report.ok).toBe(false);
    const failed = new Set(report.failures.map((f) => f.check));
    expect(failed.has('order') && failed.has('production')).toBe(true);
    for (const f of report.failures) expect(`${f.expected} ${f.found} ${f.message}`).not.toMatch(/[\r\n]/);
    expect(leaks(JSON.stringify(report), HEX_KEY)).toEqual([]);
  });
});

describe('the built CLI, given the sample world master key or a planted key where JSON belongs', () => {
  beforeAll(() => {
    buildCli();
  });

  const cases = () => [
    { name: 'the master key', file: path.join(world, 'keys', 'master.key'), secret: fs.readFileSync(path.join(world, 'keys', 'master.key'), 'utf8').trim() },
    ...[CANARIES[0]!, CANARIES[3]!].map((canary) => ({ name: canary.name, file: fileOf.get(canary)!, secret: canary.secret })),
  ];

  it('order check, export and verify --order: exit 2, one line naming the file, no key bytes (--json and --debug too)', async () => {
    for (const { name, file, secret } of cases()) {
      const out = path.join(dir, 'out');
      const commands = [
        ['order', 'check', file, '--config', config],
        ['order', 'check', file, '--config', config, '--json'],
        ['order', 'check', file, '--config', config, '--debug'],
        ['order', 'check', path.join(world, 'orders', 'approved-warrant.json'), '--config', file],
        ['export', file, '--out', out, '--config', config],
        ['verify', path.join(dir, 'missing.zip'), '--trust', path.join(world, 'pki', 'ca.cert.pem'), '--order', file],
      ];
      const results = await Promise.all(commands.map((args) => runCli(args)));
      results.forEach(({ code, stdout, stderr }, n) => {
        const label = `${name}: scopex ${commands[n]!.join(' ')}`;
        expect(code, label).toBe(2);
        expect(leaks(`${stdout}\n${stderr}`, secret), label).toEqual([]);
        const message = stderr.split('\n')[0]!;
        expect(message, label).toMatch(/^scopex: /);
        expect(message, label).toContain(file);
        if (!commands[n]!.includes('--debug')) expect(stderr, label).toBe(`${message}\n`);
      });
    }
  });

  it('batch: the summary names the order as malformed without key bytes, exit 6', async () => {
    for (const { file, secret } of cases()) {
      const { code, stdout, stderr } = await runCli(['batch', file, '--out', path.join(dir, 'batch-out'), '--config', config, '--json']);
      expect(code).toBe(6);
      expect(leaks(`${stdout}\n${stderr}`, secret)).toEqual([]);
      const summary = JSON.parse(stdout) as { orders: { verdict: string; error: { code: string; message: string } }[] };
      expect(summary.orders[0]).toMatchObject({ verdict: 'malformed', error: { code: 'JSON_MALFORMED' } });
      expect(summary.orders[0]!.error.message).not.toMatch(/[\r\n]/);
    }
  });
});
