// A target value that the account directory holds is let through although it looks like key material (a GUID without
// dashes); one that is a key scopex holds must never be (round 8 keys K4): it would be approved and sealed.
import { createSecretKey } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unwrapDataKey } from '../../src/keys/data-keys.js';
import { holdsHeldKey } from '../../src/keys/held-keys.js';
import { InputError, exitCodeFor } from '../../src/errors.js';
import { exportOrder } from '../../src/pipeline/export.js';
import { buildStoreFixture, type StoreFixture } from '../helpers/store-fixture.js';
import { readCustody, writeSignedOrder } from '../pipeline/export-fixture.js';

let fx: StoreFixture;

beforeAll(async () => {
  fx = await buildStoreFixture();
});

afterAll(() => fx?.cleanup());

function dataKeyOf(accountId: string): { raw: Buffer; wrapped: string } {
  const file = JSON.parse(readFileSync(fx.dataKeysFile, 'utf8')) as { accounts: Record<string, { wrapped: string }> };
  const wrapped = file.accounts[accountId]!.wrapped;
  const master = createSecretKey(Buffer.from(fx.masterKeyHex, 'hex'));
  return { raw: unwrapDataKey(master, accountId, wrapped).export(), wrapped };
}

describe('holdsHeldKey', () => {
  const files = () => ({ masterKeyFile: fx.masterKeyFile, dataKeysFile: fx.dataKeysFile });

  it('finds the master key and each data key, unwrapped or as wrapped, in the forms a key is written', () => {
    const master = Buffer.from(fx.masterKeyHex, 'hex');
    const data = dataKeyOf(fx.accounts.consumer.id);
    const forms = (key: Buffer) => [
      key.toString('hex'),
      key.toString('hex').toUpperCase(),
      `live:${key.toString('hex')}`,
      key.toString('hex').match(/../g)!.join(':'),
      key.toString('hex').match(/../g)!.map((pair) => `\\x${pair}`).join(''),
      key.toString('hex').match(/../g)!.map((pair) => `0x${pair}`).join(', '),
      key.toString('base64'),
      key.toString('base64url'),
      key.toString('base64url').replace(/(.{10})/g, '$1.'),
      `[${[...key].join(',')}]`,
    ];
    for (const key of [master, data.raw, Buffer.from(data.wrapped, 'base64')]) {
      for (const form of forms(key)) expect(holdsHeldKey(files(), form), form).toBe(true);
    }
    expect(holdsHeldKey(files(), data.wrapped)).toBe(true);
  });

  it('takes other values of the same forms for the identifiers they are', () => {
    for (const value of ['3f2a9c1e4b5d6f7a8b9c0d1e2f3a4b5c', 'f'.repeat(64), 'live:alice', Buffer.alloc(32, 7).toString('base64'), `[${Array(32).fill(200).join(',')}]`]) {
      expect(holdsHeldKey(files(), value), value).toBe(false);
    }
  });

  it('compares nothing it cannot read (the command that needs the keys fails on its own)', () => {
    const missing = path.join(fx.root, 'no-such-file');
    expect(holdsHeldKey({ masterKeyFile: missing, dataKeysFile: missing }, fx.masterKeyHex)).toBe(false);
  });
});

describe('a directory that holds a key as an identifier', () => {
  it('does not get the key approved or exported: the order is refused as malformed (exit 2), the key shown nowhere', async () => {
    const directoryFile = path.join(fx.storesRoot, 'directory.json');
    const original = readFileSync(directoryFile, 'utf8');
    const directory = JSON.parse(original) as { accounts: { id: string; identifiers: { type: string; value: string }[] }[] };
    const alice = directory.accounts.find((account) => account.id === fx.accounts.consumer.id)!;
    alice.identifiers.push({ type: 'im-handle', value: fx.masterKeyHex });
    writeFileSync(directoryFile, JSON.stringify(directory));
    try {
      const order = writeSignedOrder(fx, { targets: [{ type: 'im-handle', value: fx.masterKeyHex }], categories: ['subscriber'] });
      const error = await exportOrder({ orderFile: order.file, outDir: path.join(fx.root, 'out-k4'), config: fx.config() }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InputError);
      expect(exitCodeFor(error)).toBe(2);
      expect((error as Error).message).toMatch(/field targets\.0\.value: an identifier that is not key material, or one the account directory holds that is no key scopex holds \(the value is not shown\)$/);
      expect(readFileSync(fx.custodyLogFile, 'utf8').toLowerCase()).not.toContain(fx.masterKeyHex.toLowerCase());
      expect(readCustody(fx.custodyLogFile).at(-1)).toMatchObject({ event: 'order.refused', details: { reasons: ['SCHEMA_VIOLATION'] } });
    } finally {
      writeFileSync(directoryFile, original);
    }
  });
});
