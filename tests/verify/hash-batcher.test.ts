// The worker-thread hasher must give every entry its own SHA-256, whatever the sizes, batch boundaries or backlog.
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { HashBatcher, MAX_BATCHED_ENTRY_BYTES } from '../../src/verify/hash-batcher.js';

function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** The 32 bytes the batcher hands over, read at once: they are valid only during its call. */
function hexAt(digest: Uint8Array, at: number): string {
  expect(digest.length - at).toBeGreaterThanOrEqual(32);
  return Buffer.from(digest.subarray(at, at + 32)).toString('hex');
}

async function hashAll(entries: Buffer[], useWorker: boolean): Promise<Map<number, string>> {
  const digests = new Map<number, string>();
  const batcher = new HashBatcher((slot, digest, at) => {
    expect(digests.has(slot)).toBe(false);
    digests.set(slot, hexAt(digest, at));
  }, useWorker);
  try {
    // The caller's buffer is reused at once, as the read window is: the batcher must have copied what it keeps.
    const scratch = Buffer.alloc(Math.max(MAX_BATCHED_ENTRY_BYTES * 2, ...entries.map((entry) => entry.length)));
    entries.forEach((entry, slot) => {
      entry.copy(scratch);
      batcher.add(slot, scratch.subarray(0, entry.length));
      scratch.fill(0xa5);
    });
    await batcher.finish();
  } finally {
    await batcher.close();
  }
  return digests;
}

describe('HashBatcher', () => {
  it('hashes small, empty and large entries, across batches, as createHash does', async () => {
    // Larger entries span batches (a 5 MiB one, five of them).
    const sizes = [0, 1, 55, 64, 4096, 5000, MAX_BATCHED_ENTRY_BYTES, MAX_BATCHED_ENTRY_BYTES + 1, 300_000, 2 * 1024 * 1024 + 3, 5 * 1024 * 1024, ...Array.from({ length: 600 }, (_, i) => (i * 7919) % 9000)];
    const entries = sizes.map((size) => randomBytes(size));
    for (const useWorker of [true, false]) {
      const digests = await hashAll(entries, useWorker);
      expect(digests.size).toBe(entries.length);
      entries.forEach((entry, slot) => expect(digests.get(slot)).toBe(sha256(entry)));
    }
  });

  it('stays bounded when the worker lags: a backlog beyond its buffers is hashed in place, still correctly', async () => {
    // 40 MiB added without yielding: more than the batch buffers hold, so some entries must be hashed here.
    const entries = Array.from({ length: 200 }, () => randomBytes(200 * 1024));
    const digests = await hashAll(entries, true);
    expect(digests.size).toBe(entries.length);
    entries.forEach((entry, slot) => expect(digests.get(slot)).toBe(sha256(entry)));
  });

  it('hands large entries over to read from the file itself, turn about by bytes, beside batched ones', async () => {
    const MiB = 1024 * 1024;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'scopex-batcher-'));
    const content = randomBytes(11 * MiB);
    const file = path.join(dir, 'archive.bin');
    fs.writeFileSync(file, content);
    const fd = fs.openSync(file, 'r');
    const digests = new Map<number, string>();
    const expected = new Map<number, string>();
    const batcher = new HashBatcher((slot, digest, at) => {
      expect(digests.has(slot)).toBe(false);
      digests.set(slot, hexAt(digest, at));
    }, true);
    try {
      expect(batcher.shouldDelegate(10)).toBe(true);
      // Regions across the worker's 4 MiB reads, a 1-byte one, and one ending at the end of the file.
      const regions: [number, number][] = [[0, 9 * MiB + 7], [5, 1], [3 * MiB, 4 * MiB], [11 * MiB - 100, 100]];
      for (const [slot, [position, length]] of regions.entries()) {
        batcher.delegate(slot, fd, position, length);
        expected.set(slot, sha256(content.subarray(position, position + length)));
        const small = randomBytes(1000 + slot);
        batcher.add(100 + slot, small);
        expected.set(100 + slot, sha256(small));
      }
      // Turn about: nothing more while the worker has been handed more bytes than were hashed here.
      expect(batcher.shouldDelegate(10)).toBe(false);
      batcher.countStreamedHere(13 * MiB + 200);
      expect(batcher.shouldDelegate(10)).toBe(true);
      await batcher.finish();
    } finally {
      await batcher.close();
      fs.closeSync(fd);
      fs.rmSync(dir, { recursive: true, force: true });
    }
    expect(digests).toEqual(expected);
  });

  it('never hands over without a worker, and fails (without hanging) when the worker cannot read', async () => {
    expect(new HashBatcher(() => undefined, false).shouldDelegate(10)).toBe(false);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'scopex-batcher-'));
    const fd = fs.openSync(dir, 'r'); // a folder: every read fails with EISDIR
    const batcher = new HashBatcher(() => undefined, true);
    try {
      batcher.delegate(0, fd, 0, 100);
      // With the file system's code, so that verify can report an unreadable archive rather than a bug.
      await expect(batcher.finish()).rejects.toMatchObject({ code: 'EISDIR' });
    } finally {
      await batcher.close();
      fs.closeSync(fd);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses work once closed', async () => {
    const batcher = new HashBatcher(() => undefined, true);
    await batcher.close();
    await batcher.close();
    expect(() => batcher.add(0, Buffer.from('x'))).toThrow();
  });
});
