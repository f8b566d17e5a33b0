import { describe, expect, it } from 'vitest';
import { createSeededRandom } from '../../src/samples/seeded-random.js';

describe('createSeededRandom', () => {
  it('yields the same stream for the same seed and label, whatever the read sizes', () => {
    const a = createSeededRandom('s');
    const b = createSeededRandom('s');
    const whole = a.bytes(200_000);
    const pieces = Buffer.concat([b.bytes(3), b.bytes(70_000), b.bytes(0), b.bytes(129_997)]);
    expect(pieces.equals(whole)).toBe(true);
    expect(createSeededRandom('t').bytes(32).equals(whole.subarray(0, 32))).toBe(false);
  });

  it('forks independently of how much of the parent was used', () => {
    const used = createSeededRandom('s');
    used.bytes(12345);
    expect(used.fork('child').bytes(64).equals(createSeededRandom('s').fork('child').bytes(64))).toBe(true);
    expect(used.fork('child').bytes(64).equals(used.fork('other').bytes(64))).toBe(false);
  });

  it('keeps numbers in their ranges', () => {
    const random = createSeededRandom('ranges');
    const seen = new Set<number>();
    for (let i = 0; i < 5000; i += 1) {
      const value = random.between(3, 7);
      expect(value).toBeGreaterThanOrEqual(3);
      expect(value).toBeLessThanOrEqual(7);
      seen.add(value);
      const float = random.float();
      expect(float >= 0 && float < 1).toBe(true);
      const log = random.logBetween(100, 1_000_000);
      expect(log >= 100 && log <= 1_000_000).toBe(true);
    }
    expect([...seen].sort()).toEqual([3, 4, 5, 6, 7]);
  });

  it('streams bulk chunks of exactly the asked total', () => {
    const chunks = [...createSeededRandom('bulk').chunks(2.5 * 1024 * 1024)];
    expect(chunks.map((chunk) => chunk.length)).toEqual([1048576, 1048576, 524288]);
  });
});
