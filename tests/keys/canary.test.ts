// Canary: no error the key service raises, in any form it can be printed or serialised, carries key material.
import { randomBytes } from 'node:crypto';
import { createSecretKey } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { inspect } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { unwrapDataKey, type DataKeysFile } from '../../src/keys/data-keys.js';
import type { KeyService } from '../../src/keys/key-service.js';
import { createLocalKeyService } from '../../src/keys/local-key-service.js';
import { buildStoreFixture, type StoreFixture } from '../helpers/store-fixture.js';
import { blobOf, drain, failureOf, refOf } from './key-helpers.js';

let fx: StoreFixture;
let scratch: string;
let secrets: { what: string; value: string }[];

beforeAll(async () => {
  fx = await buildStoreFixture({ pki: false });
  scratch = mkdtempSync(path.join(os.tmpdir(), 'scopex-'));
  const master = Buffer.from(fx.masterKeyHex, 'hex');
  secrets = forms('master key', master);
  const dataKeys = JSON.parse(readFileSync(fx.dataKeysFile, 'utf8')) as DataKeysFile;
  const masterKey = createSecretKey(master);
  for (const [accountId, entry] of Object.entries(dataKeys.accounts)) {
    if (entry.state !== 'provider-key') continue;
    secrets.push({ what: `wrapped data key of ${accountId}`, value: entry.wrapped });
    secrets.push(...forms(`data key of ${accountId}`, unwrapDataKey(masterKey, accountId, entry.wrapped).export()));
  }
});
afterAll(() => {
  fx.cleanup();
  rmSync(scratch, { recursive: true, force: true });
});

function forms(what: string, raw: Buffer): { what: string; value: string }[] {
  return [
    { what: `${what} (hex)`, value: raw.toString('hex') },
    { what: `${what} (HEX)`, value: raw.toString('hex').toUpperCase() },
    { what: `${what} (base64)`, value: raw.toString('base64') },
    { what: `${what} (base64url)`, value: raw.toString('base64url') },
    // A leak of half a key is still a leak.
    { what: `${what} (hex, first half)`, value: raw.subarray(0, 16).toString('hex') },
  ];
}

/** Every way an error ends up as text: message, String(), JSON, inspect (with hidden fields and causes), stack. */
function renderings(error: unknown): string[] {
  const out = [String(error), JSON.stringify(error) ?? '', inspect(error, { depth: Infinity, showHidden: true })];
  let current: unknown = error;
  for (let depth = 0; current instanceof Error && depth < 10; depth++) {
    out.push(current.message, current.stack ?? '', JSON.stringify(current, Object.getOwnPropertyNames(current)));
    current = current.cause;
  }
  return out;
}

function expectNoSecrets(texts: string[]): void {
  const joined = texts.join('\n');
  for (const secret of secrets) expect(joined.includes(secret.value), `${secret.what} leaked`).toBe(false);
}

function keyServiceWith(masterText: string | undefined, dataKeysText = readFileSync(fx.dataKeysFile, 'utf8')): KeyService {
  const dir = mkdtempSync(path.join(scratch, 'k-'));
  const masterKeyFile = path.join(dir, 'master.key');
  if (masterText !== undefined) writeFileSync(masterKeyFile, masterText, { mode: 0o600 });
  writeFileSync(path.join(dir, 'data-keys.json'), dataKeysText, { mode: 0o600 });
  return createLocalKeyService({ masterKeyFile, dataKeysFile: path.join(dir, 'data-keys.json') });
}

it('the canary check itself catches a leak', () => {
  expect(() => expectNoSecrets([`oops ${fx.masterKeyHex}`])).toThrow();
  expect(() => expectNoSecrets([renderings(new Error('x', { cause: new Error(secrets.at(-1)!.value) })).join('')])).toThrow();
});

it('no key-service error in any rendering contains the master key, a data key or a wrapped key', async () => {
  const good = createLocalKeyService({ masterKeyFile: fx.masterKeyFile, dataKeysFile: fx.dataKeysFile });
  const consumer = fx.itemsOf('mail', fx.accounts.consumer.id).find((item) => item.bytes > 0)!;
  const customer = fx.itemsOf('mail', fx.accounts.customerKey.id)[0]!;
  const tampered = blobOf(consumer);
  tampered[tampered.length - 3] = tampered[tampered.length - 3]! ^ 0xff;
  const tamperedFile = path.join(scratch, 'tampered');
  writeFileSync(tamperedFile, tampered);

  const dataKeys = JSON.parse(readFileSync(fx.dataKeysFile, 'utf8')) as DataKeysFile;
  const altered = structuredClone(dataKeys);
  const entry = altered.accounts[fx.accounts.consumer.id];
  if (entry?.state === 'provider-key') entry.wrapped = Buffer.from(entry.wrapped, 'base64').reverse().toString('base64');
  const short = structuredClone(dataKeys);
  const shortEntry = short.accounts[fx.accounts.consumer.id];
  if (shortEntry?.state === 'provider-key') shortEntry.wrapped = shortEntry.wrapped.slice(0, 20);

  const nearKey = `${fx.masterKeyHex.slice(0, 63)}z\n`;
  const failures: (() => unknown)[] = [
    () => drain(good.openItem(refOf(consumer, tamperedFile))),
    () => good.readItem(refOf(consumer, tamperedFile), 1 << 20),
    () => drain(good.openItem(refOf(customer))),
    () => good.readItem(refOf(customer), 1 << 20),
    () => drain(good.openItem({ ...refOf(consumer), accountId: 'acct-nobody' })),
    () => drain(good.openItem(refOf(consumer, path.join(scratch, 'missing')))),
    () => drain(good.openStored(refOf(consumer, path.join(scratch, 'missing')))),
    () => drain(keyServiceWith(`${randomBytes(32).toString('hex')}\n`).openItem(refOf(consumer))),
    () => drain(keyServiceWith(nearKey).openItem(refOf(consumer))),
    () => drain(keyServiceWith(`${fx.masterKeyHex}${fx.masterKeyHex}\n`).openItem(refOf(consumer))),
    () => drain(keyServiceWith(undefined).openItem(refOf(consumer))),
    () => drain(keyServiceWith(readFileSync(fx.masterKeyFile, 'utf8'), JSON.stringify(altered)).openItem(refOf(consumer))),
    () => keyServiceWith(readFileSync(fx.masterKeyFile, 'utf8'), JSON.stringify(short)).readItem(refOf(consumer), 1 << 20),
    () => keyServiceWith(readFileSync(fx.masterKeyFile, 'utf8'), `{"schema":"scopex.data-keys/v1","wrapping":"aes-256-gcm","accounts":{"a":{"state":"provider-key","wrapped":"${fx.masterKeyHex}!"}}}`),
  ];
  let count = 0;
  for (const run of failures) {
    const error = await failureOf(run);
    expect(error, `failure #${count} did not fail`).toBeInstanceOf(Error);
    expectNoSecrets(renderings(error));
    count++;
  }
  // A service that has unwrapped keys shows none of them when inspected or serialised.
  await drain(good.openItem(refOf(consumer)));
  expectNoSecrets([inspect(good, { depth: Infinity, showHidden: true }), JSON.stringify(good)]);
  // The malformed master key must not be echoed either.
  expect(renderings(await failureOf(() => drain(keyServiceWith(nearKey).openItem(refOf(consumer))))).join('\n')).not.toContain(nearKey.slice(0, 40));
});
