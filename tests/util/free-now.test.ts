import { createCipheriv, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { freeNow } from '../../src/util/free-now.js';

const MiB = 1024 * 1024;

describe('freeNow', () => {
  it('frees the memory of a buffer that owns its ArrayBuffer at once, and empties it', () => {
    const before = process.memoryUsage().arrayBuffers;
    const owned = Array.from({ length: 32 }, () => Buffer.allocUnsafeSlow(MiB).fill(7));
    expect(process.memoryUsage().arrayBuffers - before).toBeGreaterThanOrEqual(32 * MiB);
    expect(owned.every((bytes) => freeNow(bytes))).toBe(true);
    // Gone now, not at some later collection: the buffers themselves are still referenced here.
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(MiB);
    expect(owned.every((bytes) => bytes.length === 0 && bytes.buffer.byteLength === 0)).toBe(true);
  });

  it('frees what a decipher gives, which is how the reader thread uses it', () => {
    const cipher = createCipheriv('aes-256-gcm', randomBytes(32), randomBytes(12));
    const out = cipher.update(Buffer.alloc(MiB));
    expect(out.length).toBe(MiB);
    expect(freeNow(out)).toBe(true);
    expect(out.length).toBe(0);
  });

  it('leaves alone what shares its memory: slices, pooled buffers, shared memory, empty buffers', () => {
    const whole = Buffer.allocUnsafeSlow(4096).fill(1);
    const slice = whole.subarray(0, 2048);
    const pooled = Buffer.from('a small buffer from the pool');
    const shared = Buffer.from(new SharedArrayBuffer(4096)).fill(2);
    const view = new Uint8Array(whole.buffer, 1);
    for (const bytes of [slice, pooled, shared, view, Buffer.alloc(0)]) {
      const copy = Buffer.from(bytes);
      expect(freeNow(bytes)).toBe(false);
      expect(Buffer.from(bytes).equals(copy)).toBe(true);
    }
    expect(whole.length).toBe(4096);
    expect(whole.every((byte) => byte === 1)).toBe(true);
  });
});
