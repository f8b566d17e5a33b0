// The verifier keeps each entry's SHA-256 as 32 bytes: what the checks read back must be exactly the hex digest.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { DigestTable } from '../../src/verify/digest-table.js';

const sha256 = (text: string): Buffer => createHash('sha256').update(text).digest();

describe('DigestTable', () => {
  it('gives back each digest as node:crypto writes it in hex, and nothing for an entry not set', () => {
    const table = new DigestTable(4);
    table.set(0, sha256('a'));
    const batch = Buffer.concat([sha256('x'), sha256('b')]);
    table.set(2, batch, 32);
    table.setHex(3, sha256('c').toString('hex').toUpperCase());
    expect([0, 1, 2, 3].map((index) => table.has(index))).toEqual([true, false, true, true]);
    expect(table.hex(0)).toBe(sha256('a').toString('hex'));
    expect(table.hex(1)).toBeUndefined();
    expect(table.hex(2)).toBe(sha256('b').toString('hex'));
    expect(table.hex(3)).toBe(sha256('c').toString('hex'));
  });

  it('compares a digest with 32 bytes anywhere in a buffer, byte by byte', () => {
    const table = new DigestTable(2);
    table.set(0, sha256('a'));
    const elsewhere = Buffer.concat([Buffer.alloc(5), sha256('a')]);
    expect(table.is(0, elsewhere, 5)).toBe(true);
    expect(table.is(0, elsewhere, 4)).toBe(false);
    expect(table.is(1, Buffer.alloc(32), 0)).toBe(false);
    for (let at = 0; at < 32; at++) {
      const wrong = Buffer.from(sha256('a'));
      wrong[at] = (wrong[at] as number) ^ 1;
      expect(table.is(0, wrong, 0)).toBe(false);
    }
  });

  it('reads over the arrays of another table, as the records thread does', () => {
    const table = new DigestTable(3);
    table.set(1, sha256('b'));
    const copy = new DigestTable(table.bytes.slice(), table.present.slice());
    expect(copy.count).toBe(3);
    expect(copy.has(0)).toBe(false);
    expect(copy.hex(1)).toBe(sha256('b').toString('hex'));
    expect(() => new DigestTable(new Uint8Array(31), new Uint8Array(1))).toThrow(/32 bytes per entry/);
  });

  it('refuses what is not a digest or not an entry', () => {
    const table = new DigestTable(1);
    expect(() => table.set(0, new Uint8Array(31))).toThrow(/32 bytes/);
    expect(() => table.set(1, sha256('a'))).toThrow(RangeError);
    expect(() => table.setHex(0, 'zz'.repeat(32))).toThrow(/64 hex digits/);
    expect(table.has(0)).toBe(false);
  });
});
