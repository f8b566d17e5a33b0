// A seeded, deterministic byte generator for SAMPLE WORLDS ONLY: it makes their content, times, master key, data keys
// and nonces reproducible, which is exactly what real keys and nonces must never be.
import { createCipheriv, createHash } from 'node:crypto';

const POOL_BYTES = 64 * 1024;
const BULK_CHUNK = 1024 * 1024;
const ZEROS = Buffer.alloc(Math.max(POOL_BYTES, BULK_CHUNK));

export interface SeededRandom {
  /** The next n bytes of this generator's stream. */
  bytes(n: number): Buffer;
  /** A uniform integer in [0, n). */
  below(n: number): number;
  /** A uniform integer in [min, max], both included. */
  between(min: number, max: number): number;
  /** A uniform float in [0, 1). */
  float(): number;
  chance(probability: number): boolean;
  pick<T>(items: readonly T[]): T;
  /** An integer spread evenly on a log scale between min and max: many small values, a few large ones. */
  logBetween(min: number, max: number): number;
  /** An independent generator named by label: what it yields does not depend on how much of this one was used. */
  fork(label: string): SeededRandom;
  /** `total` bytes of bulk filler in chunks of at most 1 MiB, for large streamed items. */
  chunks(total: number): Generator<Buffer>;
}

/**
 * SHA-256 of the seed and a label path gives a 256-bit key; the stream is that key's AES-256-CTR keystream
 * (a counter-mode generator like NIST's CTR_DRBG, without reseeding). Two generators with the same seed and
 * label yield the same bytes on every machine.
 */
export function createSeededRandom(seed: string, label = 'root'): SeededRandom {
  const key = createHash('sha256').update(`scopex.sample-random/v1\0${seed}\0${label}`, 'utf8').digest();
  const keystream = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  let pool = Buffer.alloc(0);
  let at = 0;

  function bytes(n: number): Buffer {
    const out = Buffer.alloc(Math.max(0, n));
    let filled = 0;
    while (filled < out.length) {
      if (at >= pool.length) {
        pool = keystream.update(ZEROS.subarray(0, POOL_BYTES));
        at = 0;
      }
      const count = Math.min(out.length - filled, pool.length - at);
      pool.copy(out, filled, at, at + count);
      at += count;
      filled += count;
    }
    return out;
  }

  function uint32(): number {
    if (pool.length - at < 4) return bytes(4).readUInt32BE(0);
    const value = pool.readUInt32BE(at);
    at += 4;
    return value;
  }

  const random: SeededRandom = {
    bytes,
    float: () => (uint32() * 2 ** 21 + (uint32() >>> 11)) / 2 ** 53,
    below(n) {
      if (!Number.isInteger(n) || n <= 0) throw new RangeError(`below(${n}) needs a positive integer`);
      return Math.floor(random.float() * n);
    },
    between(min, max) {
      return min + random.below(max - min + 1);
    },
    chance: (probability) => random.float() < probability,
    pick<T>(items: readonly T[]): T {
      if (items.length === 0) throw new RangeError('pick from an empty list');
      return items[random.below(items.length)] as T;
    },
    logBetween(min, max) {
      if (max <= min) return min;
      const lo = Math.log(Math.max(1, min));
      const hi = Math.log(max);
      return Math.min(max, Math.max(min, Math.round(Math.exp(lo + random.float() * (hi - lo)))));
    },
    fork: (child) => createSeededRandom(seed, `${label}/${child}`),
    *chunks(total) {
      let left = total;
      while (left > 0) {
        const size = Math.min(BULK_CHUNK, left);
        yield keystream.update(ZEROS.subarray(0, size));
        left -= size;
      }
    },
  };
  return random;
}
