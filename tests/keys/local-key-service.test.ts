import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exitCodeFor, IntegrityError, KeyError, SourceError } from '../../src/errors.js';
import { BLOB_MAGIC, BLOB_OVERHEAD, HEADER_BYTES, NONCE_BYTES, TAG_BYTES } from '../../src/keys/item-crypto.js';
import type { KeyService } from '../../src/keys/key-service.js';
import { createLocalKeyService } from '../../src/keys/local-key-service.js';
import { buildStoreFixture, type FixtureItem, type StoreFixture } from '../helpers/store-fixture.js';
import { blobOf, drain, failureOf, refOf } from './key-helpers.js';

let fx: StoreFixture;
let keys: KeyService;
let scratch: string;

beforeAll(async () => {
  fx = await buildStoreFixture({ pki: false });
  keys = createLocalKeyService({ masterKeyFile: fx.masterKeyFile, dataKeysFile: fx.dataKeysFile });
  scratch = mkdtempSync(path.join(os.tmpdir(), 'scopex-'));
});
afterAll(() => {
  fx.cleanup();
  rmSync(scratch, { recursive: true, force: true });
});

const providerItems = () => fx.items.filter((item) => item.encryption === 'provider-key');
const find = (service: FixtureItem['service'], accountId: string, id: string) =>
  fx.itemsOf(service, accountId).find((item) => item.id === id)!;

/** Both ways of opening an item must fail the same way on the same blob. */
async function expectBothFail(item: FixtureItem, blobFile: string, codes: readonly string[]): Promise<void> {
  const ref = refOf(item, blobFile);
  const streamed = await failureOf(() => drain(keys.openItem(ref)));
  const read = await failureOf(() => keys.readItem(ref, 1 << 20));
  for (const error of [streamed, read]) {
    expect(error).toBeInstanceOf(IntegrityError);
    expect(codes).toContain((error as IntegrityError).code);
    expect((error as Error).message).toContain(item.id);
    expect((error as Error).message).toContain(item.accountId);
  }
}

let scratchCounter = 0;
function scratchBlob(content: Buffer): string {
  const file = path.join(scratch, `blob-${scratchCounter++}`);
  writeFileSync(file, content);
  return file;
}

describe('round trip', () => {
  it('openItem streams every provider-key item (mail, file, IM, subscriber, empty) back to its exact plaintext', async () => {
    expect(providerItems().some((item) => item.bytes === 0)).toBe(true);
    for (const item of providerItems()) {
      expect((await drain(keys.openItem(refOf(item)))).equals(item.plaintext!)).toBe(true);
    }
  });

  it('readItem returns the same authenticated bytes, with their SHA-256', async () => {
    for (const item of providerItems()) {
      const read = await keys.readItem(refOf(item), item.bytes);
      expect(read.bytes.equals(item.plaintext!)).toBe(true);
      expect(read.sha256).toBe(item.sha256);
    }
  });

  it('readItem refuses an item larger than maxBytes', async () => {
    const item = providerItems().find((i) => i.bytes > 10)!;
    const error = await failureOf(() => keys.readItem(refOf(item), item.bytes - 1));
    expect(error).toBeInstanceOf(IntegrityError);
  });

  it('encryptionState tells provider-key from customer-key accounts', () => {
    expect(keys.encryptionState(fx.accounts.consumer.id)).toBe('provider-key');
    expect(keys.encryptionState(fx.accounts.enterprise.id)).toBe('provider-key');
    expect(keys.encryptionState(fx.accounts.customerKey.id)).toBe('customer-key');
  });

  it('an account with no data key on record is DATA_KEY_UNAVAILABLE', async () => {
    const item = providerItems()[0]!;
    const error = await failureOf(() => drain(keys.openItem({ ...refOf(item), accountId: 'acct-nobody' })));
    expect(error).toBeInstanceOf(KeyError);
    expect((error as KeyError).code).toBe('DATA_KEY_UNAVAILABLE');
    expect(() => keys.encryptionState('acct-nobody')).toThrow(KeyError);
    expect(() => keys.encryptionState('__proto__')).toThrow(KeyError);
  });

  it('a missing blob is ITEM_MISSING', async () => {
    const item = providerItems()[0]!;
    const missing = path.join(scratch, 'no-such-blob');
    for (const run of [() => drain(keys.openItem(refOf(item, missing))), () => keys.readItem(refOf(item, missing), 1 << 20)]) {
      const error = await failureOf(run);
      expect(error).toBeInstanceOf(SourceError);
      expect((error as SourceError).code).toBe('ITEM_MISSING');
    }
  });

  it('a folder in place of the blob is ITEM_MISSING naming the item, with or without the reader thread', async () => {
    const item = providerItems()[0]!;
    const folder = path.join(scratch, 'a-folder');
    mkdirSync(folder, { recursive: true });
    const unthreaded = createLocalKeyService({ masterKeyFile: fx.masterKeyFile, dataKeysFile: fx.dataKeysFile, readerThread: false });
    try {
      for (const service of [keys, unthreaded]) {
        const runs = [() => drain(service.openItem(refOf(item, folder))), () => service.readItem(refOf(item, folder), 1 << 20), () => drain(service.openStored(refOf(item, folder)))];
        for (const run of runs) {
          const error = await failureOf(run);
          expect(error).toBeInstanceOf(SourceError);
          expect((error as SourceError).code).toBe('ITEM_MISSING');
          expect((error as Error).message).toContain(item.id);
          expect((error as Error).message).toMatch(/folder/);
        }
      }
    } finally {
      await unthreaded.close?.();
    }
  });

  it('openStored of a missing blob is ITEM_MISSING', async () => {
    const item = providerItems()[0]!;
    const error = await failureOf(() => drain(keys.openStored(refOf(item, path.join(scratch, 'no-such-blob')))));
    expect(error).toBeInstanceOf(SourceError);
    expect((error as SourceError).code).toBe('ITEM_MISSING');
  });
});

describe('tampering: every change to a blob fails to open, naming the item', () => {
  const target = () => find('im', fx.accounts.consumer.id, 'i-inside');

  it('flipping any single byte (header, nonce, body, tag) fails both openItem and readItem', async () => {
    const item = target();
    const blob = blobOf(item);
    expect(blob.length).toBe(item.bytes + BLOB_OVERHEAD);
    for (let i = 0; i < blob.length; i++) {
      const copy = Buffer.from(blob);
      copy[i] = copy[i]! ^ (1 << (i % 8));
      const codes = i <= BLOB_MAGIC.length ? ['ITEM_FORMAT'] : ['ITEM_AUTH_FAILED'];
      await expectBothFail(item, scratchBlob(copy), codes);
    }
  });

  it('regions are where the format says: magic, version, nonce, body, tag', () => {
    const blob = blobOf(target());
    expect(blob.subarray(0, 4).toString('ascii')).toBe('SCXB');
    expect(blob[4]).toBe(1);
    expect(HEADER_BYTES).toBe(4 + 1 + NONCE_BYTES);
    expect(BLOB_OVERHEAD).toBe(HEADER_BYTES + TAG_BYTES);
  });

  it('truncating at any length, or appending a byte, fails', async () => {
    const item = target();
    const blob = blobOf(item);
    const lengths = [0, 1, 4, 5, HEADER_BYTES, HEADER_BYTES + 1, BLOB_OVERHEAD - 1, BLOB_OVERHEAD, blob.length - TAG_BYTES, blob.length - 1];
    for (const length of lengths) {
      await expectBothFail(item, scratchBlob(blob.subarray(0, length)), ['ITEM_TRUNCATED', 'ITEM_AUTH_FAILED', 'ITEM_FORMAT']);
    }
    await expectBothFail(item, scratchBlob(Buffer.concat([blob, Buffer.from([0])])), ['ITEM_AUTH_FAILED']);
  });

  it('a blob swapped with another item of the same account fails', async () => {
    const item = target();
    const other = find('im', fx.accounts.consumer.id, 'i-at-to');
    await expectBothFail(item, other.blobFile, ['ITEM_AUTH_FAILED']);
  });

  it('a blob moved to another service fails (the service is bound too)', async () => {
    const mail = find('mail', fx.accounts.consumer.id, 'm-inside');
    // The same account and data key; only the service in the authenticated data differs.
    const asIm: FixtureItem = { ...mail, service: 'im' };
    await expectBothFail(asIm, mail.blobFile, ['ITEM_AUTH_FAILED']);
  });

  it('a blob swapped with another account’s item fails, even under the same item id', async () => {
    const mine = find('mail', fx.accounts.neighbour.id, 'm-1');
    const theirs = find('mail', fx.accounts.enterprise.id, 'm-1');
    await expectBothFail(mine, theirs.blobFile, ['ITEM_AUTH_FAILED']);
    const record = fx.itemsOf('subscriber', fx.accounts.neighbour.id)[0]!;
    const otherRecord = fx.itemsOf('subscriber', fx.accounts.consumer.id)[0]!;
    await expectBothFail(record, otherRecord.blobFile, ['ITEM_AUTH_FAILED']);
  });

  it('the stream of an altered item errors at its end: bytes before that are provisional', async () => {
    const item = target();
    const copy = blobOf(item);
    copy[copy.length - 1] = copy[copy.length - 1]! ^ 0x80;
    const stream = keys.openItem(refOf(item, scratchBlob(copy)));
    let ended = false;
    stream.on('end', () => {
      ended = true;
    });
    const error = await failureOf(() => drain(stream));
    expect(error).toBeInstanceOf(IntegrityError);
    expect(ended).toBe(false);
  });
});

describe('master key and wrapped data keys', () => {
  function keyServiceWith(master: string | undefined, dataKeys: string = readFileSync(fx.dataKeysFile, 'utf8')): KeyService {
    const dir = mkdtempSync(path.join(scratch, 'keys-'));
    const masterKeyFile = path.join(dir, 'master.key');
    if (master !== undefined) writeFileSync(masterKeyFile, master, { mode: 0o600 });
    const dataKeysFile = path.join(dir, 'data-keys.json');
    writeFileSync(dataKeysFile, dataKeys, { mode: 0o600 });
    return createLocalKeyService({ masterKeyFile, dataKeysFile });
  }
  const consumerItem = () => find('mail', fx.accounts.consumer.id, 'm-inside');

  async function keyFailure(service: KeyService): Promise<KeyError> {
    const streamed = await failureOf(() => drain(service.openItem(refOf(consumerItem()))));
    const read = await failureOf(() => service.readItem(refOf(consumerItem()), 1 << 20));
    expect(streamed).toBeInstanceOf(KeyError);
    expect(read).toBeInstanceOf(KeyError);
    expect((read as KeyError).code).toBe((streamed as KeyError).code);
    return streamed as KeyError;
  }

  it('the right master key in a fresh service works (the harness is sound)', async () => {
    const service = keyServiceWith(readFileSync(fx.masterKeyFile, 'utf8'));
    expect((await drain(service.openItem(refOf(consumerItem())))).equals(consumerItem().plaintext!)).toBe(true);
  });

  it('a wrong master key is UNWRAP_FAILED, naming both key files but no key', async () => {
    const wrong = randomBytes(32).toString('hex');
    const failure = await keyFailure(keyServiceWith(`${wrong}\n`));
    expect(failure.code).toBe('UNWRAP_FAILED');
    expect(failure.message).toMatch(/the master key file \S+master\.key is not the key it was wrapped with, or its entry in the data-keys file \S+data-keys\.json was altered/);
    expect(failure.message).not.toContain(wrong);
  });

  it('a wrapped data key that was altered is UNWRAP_FAILED', async () => {
    const dataKeys = JSON.parse(readFileSync(fx.dataKeysFile, 'utf8')) as { accounts: Record<string, { wrapped?: string }> };
    const entry = dataKeys.accounts[fx.accounts.consumer.id]!;
    const wrapped = Buffer.from(entry.wrapped!, 'base64');
    wrapped[20] = wrapped[20]! ^ 1;
    entry.wrapped = wrapped.toString('base64');
    const service = keyServiceWith(readFileSync(fx.masterKeyFile, 'utf8'), JSON.stringify(dataKeys));
    expect((await keyFailure(service)).code).toBe('UNWRAP_FAILED');
  });

  it('a wrapped data key moved to another account is UNWRAP_FAILED (the account is bound)', async () => {
    const dataKeys = JSON.parse(readFileSync(fx.dataKeysFile, 'utf8')) as { accounts: Record<string, unknown> };
    dataKeys.accounts[fx.accounts.consumer.id] = dataKeys.accounts[fx.accounts.neighbour.id];
    const service = keyServiceWith(readFileSync(fx.masterKeyFile, 'utf8'), JSON.stringify(dataKeys));
    expect((await keyFailure(service)).code).toBe('UNWRAP_FAILED');
  });

  it('a missing or malformed master key file is MASTER_KEY_UNAVAILABLE, exit 2 (a file unfit to use, not a bug)', async () => {
    for (const content of [undefined, 'not hex at all\n', `${randomBytes(31).toString('hex')}\n`]) {
      const failure = await keyFailure(keyServiceWith(content));
      expect(failure.code).toBe('MASTER_KEY_UNAVAILABLE');
      expect(exitCodeFor(failure)).toBe(2);
    }
  });

  it('a key the key service cannot give (no data key on record, a wrapped key that does not open) stays exit 1', async () => {
    const dataKeys = JSON.parse(readFileSync(fx.dataKeysFile, 'utf8')) as { accounts: Record<string, unknown> };
    dataKeys.accounts[fx.accounts.consumer.id] = dataKeys.accounts[fx.accounts.neighbour.id];
    const failure = await keyFailure(keyServiceWith(readFileSync(fx.masterKeyFile, 'utf8'), JSON.stringify(dataKeys)));
    expect(failure.code).toBe('UNWRAP_FAILED');
    expect(exitCodeFor(failure)).toBe(1);
  });
});

describe('a master key file open to other users', () => {
  it.each([0o644, 0o640, 0o604, 0o660, 0o606])('mode %o is MASTER_KEY_UNAVAILABLE, naming the mode and the fix, never the key', async (mode) => {
    const master = readFileSync(fx.masterKeyFile, 'utf8');
    const dir = mkdtempSync(path.join(scratch, 'loose-'));
    const masterKeyFile = path.join(dir, 'master.key');
    writeFileSync(masterKeyFile, master);
    chmodSync(masterKeyFile, mode);
    const service = createLocalKeyService({ masterKeyFile, dataKeysFile: fx.dataKeysFile });
    const error = await failureOf(() => service.readItem(refOf(find('mail', fx.accounts.consumer.id, 'm-inside')), 1 << 20));
    expect(error).toBeInstanceOf(KeyError);
    expect((error as KeyError).code).toBe('MASTER_KEY_UNAVAILABLE');
    expect(exitCodeFor(error)).toBe(2);
    expect((error as Error).message).toContain(`mode 0${mode.toString(8)}`);
    expect((error as Error).message).toContain(`chmod 600 ${masterKeyFile}`);
    expect((error as Error).message).not.toContain(master.trim().slice(0, 16));
  });

  it('mode 0400 (owner read only) is fine', async () => {
    const dir = mkdtempSync(path.join(scratch, 'tight-'));
    const masterKeyFile = path.join(dir, 'master.key');
    writeFileSync(masterKeyFile, readFileSync(fx.masterKeyFile, 'utf8'));
    chmodSync(masterKeyFile, 0o400);
    const service = createLocalKeyService({ masterKeyFile, dataKeysFile: fx.dataKeysFile });
    const item = find('mail', fx.accounts.consumer.id, 'm-inside');
    expect((await service.readItem(refOf(item), 1 << 20)).bytes.equals(item.plaintext!)).toBe(true);
  });
});

describe('a data-keys file open to other users', () => {
  it('is refused as the master key is (KEY_FILE_NOT_PRIVATE, exit 2: a file unfit to use), through a link too, before any key is used', async () => {
    const dir = mkdtempSync(path.join(scratch, 'loose-data-keys-'));
    const dataKeysFile = path.join(dir, 'data-keys.json');
    writeFileSync(dataKeysFile, readFileSync(fx.dataKeysFile));
    const linked = path.join(dir, 'linked-data-keys.json');
    symlinkSync(dataKeysFile, linked);
    for (const [mode, file] of [[0o644, dataKeysFile], [0o640, dataKeysFile], [0o606, dataKeysFile], [0o666, linked]] as const) {
      chmodSync(dataKeysFile, mode);
      let error: unknown;
      try {
        createLocalKeyService({ masterKeyFile: fx.masterKeyFile, dataKeysFile: file });
      } catch (thrown) {
        error = thrown;
      }
      expect(error).toBeInstanceOf(KeyError);
      expect((error as KeyError).code).toBe('KEY_FILE_NOT_PRIVATE');
      expect(exitCodeFor(error)).toBe(2);
      expect((error as Error).message).toBe(
        `the data-keys file ${file} is open to other users (mode 0${mode.toString(8)}); it must be readable by its owner only (chmod 600 ${file})`,
      );
    }
    chmodSync(dataKeysFile, 0o400);
    const service = createLocalKeyService({ masterKeyFile: fx.masterKeyFile, dataKeysFile: linked });
    const item = find('mail', fx.accounts.consumer.id, 'm-inside');
    expect((await service.readItem(refOf(item), 1 << 20)).bytes.equals(item.plaintext!)).toBe(true);
    await service.close?.();
  });
});

describe('customer-key accounts', () => {
  const items = () => fx.items.filter((item) => item.accountId === fx.accounts.customerKey.id);

  it('openItem and readItem are CUSTOMER_HELD_KEY for every service', async () => {
    expect(new Set(items().map((item) => item.service))).toEqual(new Set(['mail', 'storage', 'im', 'subscriber']));
    for (const item of items()) {
      for (const run of [() => drain(keys.openItem(refOf(item))), () => keys.readItem(refOf(item), 1 << 20)]) {
        const error = await failureOf(run);
        expect(error).toBeInstanceOf(KeyError);
        expect((error as KeyError).code).toBe('CUSTOMER_HELD_KEY');
      }
    }
  });

  it('openStored returns the exact stored bytes (header, ciphertext and tag)', async () => {
    for (const item of items()) {
      const stored = await drain(keys.openStored(refOf(item)));
      const blob = blobOf(item);
      expect(createHash('sha256').update(stored).digest('hex')).toBe(createHash('sha256').update(blob).digest('hex'));
      expect(stored.length).toBe(item.bytes + BLOB_OVERHEAD);
    }
  });

  it('openStored works without the master key at all', async () => {
    const dir = mkdtempSync(path.join(scratch, 'nomaster-'));
    copyFileSync(fx.dataKeysFile, path.join(dir, 'data-keys.json'));
    const service = createLocalKeyService({ masterKeyFile: path.join(dir, 'absent.key'), dataKeysFile: path.join(dir, 'data-keys.json') });
    const item = items()[0]!;
    expect((await drain(service.openStored(refOf(item)))).equals(blobOf(item))).toBe(true);
  });
});
