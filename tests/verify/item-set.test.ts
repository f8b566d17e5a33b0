import { describe, expect, it } from 'vitest';
import { itemFacts, ItemSet } from '../../src/verify/item-set.js';

function setOf(items: [unknown, unknown][]): ItemSet {
  const set = new ItemSet();
  for (const [sourceId, timestamp] of items) set.add(sourceId, timestamp);
  return set;
}

describe('ItemSet', () => {
  it('is the same whatever the order the items come in', () => {
    const items: [string, string][] = Array.from({ length: 500 }, (_, i) => [`m-${String(i).padStart(6, '0')}`, `2026-01-01T00:00:${String(i % 60).padStart(2, '0')}Z`]);
    expect(setOf(items).equals(setOf([...items].reverse()))).toBe(true);
  });

  it('tells apart sets that differ in one item, its time, or how often an item is named', () => {
    const base: [string, string][] = [['m-000001', '2026-01-01T00:00:00Z'], ['m-000002', '2026-06-30T23:59:59Z']];
    expect(setOf(base).equals(setOf([['m-000001', '2026-01-01T00:00:00Z'], ['m-000003', '2026-06-30T23:59:59Z']]))).toBe(false);
    expect(setOf(base).equals(setOf([['m-000001', '2026-01-01T00:00:00Z'], ['m-000002', '2026-06-30T23:59:58Z']]))).toBe(false);
    expect(setOf(base).equals(setOf([...base, base[0] as [string, string]]))).toBe(false);
    // Two items swapped for two others whose texts hold the same characters.
    expect(setOf([['ab', 'c'], ['x', 'yz']]).equals(setOf([['a', 'bc'], ['xy', 'z']]))).toBe(false);
    expect(setOf([['m-1', '2026-01-02T00:00:00Z'], ['m-2', '2026-01-01T00:00:00Z']]).equals(setOf([['m-1', '2026-01-01T00:00:00Z'], ['m-2', '2026-01-02T00:00:00Z']]))).toBe(false);
  });

  it('tells a null or a number from the text that spells it', () => {
    expect(setOf([[null, null]]).equals(setOf([['null', 'null']]))).toBe(false);
    expect(setOf([[7, '2026-01-01T00:00:00Z']]).equals(setOf([['7', '2026-01-01T00:00:00Z']]))).toBe(false);
    expect(setOf([[null, 'x']]).equals(setOf([[undefined, 'x']]))).toBe(true);
  });

  // Tamper D3/D4 (round 4): a line giving another size, encryption or path than the item's record, and two records that
  // swapped their sourceIds and times, passed.
  it('tells apart items that agree on sourceId and time but not on size, mail encryption or a file\'s path', () => {
    const one = (facts: string, path?: unknown) => {
      const set = new ItemSet();
      set.add('m-1', '2026-01-01T00:00:00Z', facts, path);
      return set;
    };
    expect(one(itemFacts('mail', 4930, 'provider-decrypted')).equals(one(itemFacts('mail', 4930, 'provider-decrypted')))).toBe(true);
    expect(one(itemFacts('mail', 4930, 'provider-decrypted')).equals(one(itemFacts('mail', 999999, 'provider-decrypted')))).toBe(false);
    expect(one(itemFacts('mail', 4930, 'provider-decrypted')).equals(one(itemFacts('mail', 4930, 'user-encrypted')))).toBe(false);
    expect(one(itemFacts('im', 12, undefined)).equals(one(itemFacts('im', '12', undefined)))).toBe(false);
    expect(itemFacts('mail', 12, null)).not.toBe(itemFacts('mail', 12, 'null'));
    expect(itemFacts('mail', '12', 'x')).not.toBe(itemFacts('mail', 12, 'x'));
    expect(itemFacts('storage', 12, 'ignored')).toBe(itemFacts('storage', 12, undefined));
    expect(one(itemFacts('storage', 5, undefined), 'Documents/a.txt').equals(one(itemFacts('storage', 5, undefined), 'Secret/a.txt'))).toBe(false);
    expect(one(itemFacts('storage', 5, undefined), 'a.txt').equals(one(itemFacts('storage', 5, undefined), null))).toBe(false);
    // A customer-key file's originalName is the store's name, never the ciphertext's: `.scxb` on it is a difference.
    expect(one(itemFacts('storage', 5, undefined), 'a.txt.scxb').equals(one(itemFacts('storage', 5, undefined), 'a.txt'))).toBe(false);
  });

  it('differs for the first of many near ids', () => {
    for (let i = 0; i < 20_000; i++) {
      const one = new ItemSet();
      one.add(`f-${i}`, '2026-03-01T12:00:00Z');
      const other = new ItemSet();
      other.add(`f-${i + 1}`, '2026-03-01T12:00:00Z');
      expect(one.equals(other)).toBe(false);
    }
  });
});
