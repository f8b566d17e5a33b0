// A 20 MiB item streams through the key service in bounded chunks, with backpressure, and authenticates at its end.
import { createHash } from 'node:crypto';
import { openSync, readSync, writeSync, closeSync, statSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { IntegrityError } from '../../src/errors.js';
import type { KeyService } from '../../src/keys/key-service.js';
import { createLocalKeyService } from '../../src/keys/local-key-service.js';
import { buildStoreFixture, type FixtureItem, type StoreFixture } from '../helpers/store-fixture.js';
import { failureOf, refOf } from './key-helpers.js';

const SIZE = 20 * 1024 * 1024;
let fx: StoreFixture;
let keys: KeyService;
let large: FixtureItem;

beforeAll(async () => {
  fx = await buildStoreFixture({ pki: false, largeItemBytes: SIZE });
  keys = createLocalKeyService({ masterKeyFile: fx.masterKeyFile, dataKeysFile: fx.dataKeysFile });
  large = fx.items.find((item) => item.id === 's-large')!;
});
afterAll(() => fx.cleanup());

it('streams the whole item in bounded chunks to its exact hash, and holds back while the reader pauses', async () => {
  expect(statSync(large.blobFile).size).toBeGreaterThan(SIZE);
  const stream = keys.openItem(refOf(large));
  const hash = createHash('sha256');
  let total = 0;
  let chunks = 0;
  let largestChunk = 0;
  let maxAhead = 0;
  for await (const chunk of stream) {
    const piece = chunk as Buffer;
    hash.update(piece);
    total += piece.length;
    chunks++;
    largestChunk = Math.max(largestChunk, piece.length);
    if (chunks === 1) await sleep(150); // a slow reader: the service must not race ahead and buffer the item
    maxAhead = Math.max(maxAhead, stream.readableLength);
  }
  expect(total).toBe(SIZE);
  expect(hash.digest('hex')).toBe(large.sha256);
  expect(chunks).toBeGreaterThan(5);
  expect(largestChunk).toBeLessThanOrEqual(2 * 1024 * 1024);
  expect(maxAhead).toBeLessThan(4 * 1024 * 1024);
});

it('an altered tag fails at the end of the stream, after plaintext bytes were already streamed', async () => {
  const fd = openSync(large.blobFile, 'r+');
  const size = statSync(large.blobFile).size;
  const byte = Buffer.alloc(1);
  readSync(fd, byte, 0, 1, size - 1);
  writeSync(fd, Buffer.from([byte[0]! ^ 0x01]), 0, 1, size - 1);
  try {
    let streamed = 0;
    const error = await failureOf(async () => {
      for await (const chunk of keys.openItem(refOf(large))) streamed += (chunk as Buffer).length;
    });
    expect(error).toBeInstanceOf(IntegrityError);
    expect((error as IntegrityError).code).toBe('ITEM_AUTH_FAILED');
    expect(streamed).toBeGreaterThan(0);
  } finally {
    writeSync(fd, byte, 0, 1, size - 1);
    closeSync(fd);
  }
});
