// The worker-thread hasher must give every entry its own SHA-256, whatever the sizes, batch boundaries or backlog.
import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { HashBatcher, MAX_BATCHED_ENTRY_BYTES } from '../../src/verify/hash-batcher.js';

function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

async function hashAll(entries: Buffer[], useWorker: boolean): Promise<Map<number, string>> {
  const digests = new Map<number, string>();
  const batcher = new HashBatcher((slot, hex) => {
    expect(digests.has(slot)).toBe(false);
    digests.set(slot, hex);
  }, useWorker);
  try {
    // The caller's buffer is reused at once, as the read window is: the batcher must have copied what it keeps.
    const scratch = Buffer.alloc(MAX_BATCHED_ENTRY_BYTES * 2);
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
    const sizes = [0, 1, 55, 64, 4096, 5000, MAX_BATCHED_ENTRY_BYTES, MAX_BATCHED_ENTRY_BYTES + 1, 300_000, ...Array.from({ length: 600 }, (_, i) => (i * 7919) % 9000)];
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

  it('refuses work once closed', async () => {
    const batcher = new HashBatcher(() => undefined, true);
    await batcher.close();
    await batcher.close();
    expect(() => batcher.add(0, Buffer.from('x'))).toThrow();
  });
});
