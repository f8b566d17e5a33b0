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

  it('matches only the exact lower-case hex, as comparing the strings would', () => {
    const table = new DigestTable(2);
    table.set(0, sha256('a'));
    const hex = sha256('a').toString('hex');
    expect(table.matches(0, hex)).toBe(true);
    expect(table.matches(0, hex.toUpperCase())).toBe(false);
    expect(table.matches(0, `${hex.slice(0, 63)}0`)).toBe(hex.endsWith('0'));
    expect(table.matches(0, hex.slice(0, 62))).toBe(false);
    expect(table.matches(0, `${hex}0`)).toBe(false);
    expect(table.matches(1, hex)).toBe(false);
    // Every byte and both of its digits are compared.
    for (let at = 0; at < 64; at++) {
      const wrong = `${hex.slice(0, at)}${hex[at] === 'f' ? 'e' : 'f'}${hex.slice(at + 1)}`;
      expect(table.matches(0, wrong)).toBe(false);
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
