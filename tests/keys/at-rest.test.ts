// Items are really encrypted at rest: no stored file holds any item's known plaintext, and nonces never repeat.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { BLOB_MAGIC, BLOB_OVERHEAD, HEADER_BYTES } from '../../src/keys/item-crypto.js';
import { buildStoreFixture, type StoreFixture } from '../helpers/store-fixture.js';

let fx: StoreFixture;
beforeAll(async () => {
  fx = await buildStoreFixture({ pki: false });
});
afterAll(() => fx.cleanup());

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile())
    .map((entry) => path.join(entry.parentPath, entry.name));
}

/** The files (under `dir`) that contain any of the needles. */
function grep(dir: string, needles: Buffer[]): string[] {
  return filesUnder(dir).filter((file) => {
    const content = readFileSync(file);
    return needles.some((needle) => content.includes(needle));
  });
}

const needles = () => {
  const out: Buffer[] = [];
  for (const item of fx.items) {
    if (item.marker) out.push(Buffer.from(item.marker, 'utf8'));
    // Any 24-byte stretch of the plaintext would betray it; check the start, middle and end. A mail's envelope
    // (from, to, cc, message-id) is also in the index, as plaintext metadata by design: its stretches are the body's.
    const whole = item.plaintext!;
    const body = item.service === 'mail' ? whole.indexOf('\r\n\r\n') : -1;
    const text = body >= 0 ? whole.subarray(body + 4) : whole;
    if (text.length >= 24) {
      for (const at of [0, Math.floor((text.length - 24) / 2), text.length - 24]) out.push(text.subarray(at, at + 24));
    }
  }
  return out;
};

it('the grep finds a planted plaintext (it can fail)', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'scopex-'));
  try {
    const item = fx.items.find((i) => i.marker)!;
    writeFileSync(path.join(dir, 'leak'), `prefix ${item.marker} suffix`);
    expect(grep(dir, needles())).toHaveLength(1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

it('no file in the stores (blobs, indexes, records, directory) contains any item’s plaintext', () => {
  expect(fx.items.filter((item) => item.marker).length).toBeGreaterThan(20);
  expect(grep(fx.storesRoot, needles())).toEqual([]);
  expect(grep(path.dirname(fx.dataKeysFile), needles())).toEqual([]);
});

it('every blob is in the at-rest format, plaintext size plus overhead, with a nonce of its own', () => {
  const nonces = new Set<string>();
  for (const item of fx.items) {
    const blob = readFileSync(item.blobFile);
    expect(blob.subarray(0, BLOB_MAGIC.length).equals(BLOB_MAGIC)).toBe(true);
    expect(blob.length).toBe(item.bytes + BLOB_OVERHEAD);
    nonces.add(blob.subarray(BLOB_MAGIC.length + 1, HEADER_BYTES).toString('hex'));
  }
  expect(nonces.size).toBe(fx.items.length);
});

it('the master key appears in no store file', () => {
  expect(grep(fx.storesRoot, [Buffer.from(fx.masterKeyHex), Buffer.from(fx.masterKeyHex, 'hex')])).toEqual([]);
});
