// The record checks read production.json's records back from typed columns: every field they read must come back
// exactly as it was written, past every column's first growth.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { CATEGORIES } from '../../src/order/schema.js';
import { ProductionTable, type KeptRecord } from '../../src/verify/production-table.js';

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

function recordNumber(i: number): KeptRecord {
  return {
    path: i % 7 === 0 ? `data/acct-${i % 13}/storage.content/Résumé ${i} 📄.pdf` : `data/acct-${i % 13}/mail.content/m-${i}.eml`,
    sha256: sha256(String(i)),
    bytes: i % 5 === 0 ? 2 ** 40 + i : i,
    account: `acct-${i % 13}`,
    category: CATEGORIES[i % CATEGORIES.length] as KeptRecord['category'],
    sourceId: i % 3 === 0 ? null : `s-${i}`,
    timestamp: i % 4 === 0 ? null : i % 4 === 1 ? '2026-01-02T03:04:05Z' : `2026-01-02T03:04:05.${String(i).padStart(6, '0')}+05:30`,
  };
}

describe('ProductionTable', () => {
  it('gives back what the checks read of each record', () => {
    const table = new ProductionTable();
    const count = 5000; // past the first 1,024 rows and 64 KiB of paths
    for (let i = 0; i < count; i++) table.push(recordNumber(i));
    expect(table.length).toBe(count);
    for (let i = 0; i < count; i++) {
      const record = recordNumber(i);
      expect(table.path(i)).toBe(record.path);
      expect(table.sha256(i)).toBe(record.sha256);
      expect(table.sha256Is(i, Buffer.concat([Buffer.alloc(3), Buffer.from(record.sha256, 'hex')]), 3)).toBe(true);
      expect(table.sha256Is(i, Buffer.from(sha256('other'), 'hex'), 0)).toBe(false);
      expect(table.bytes(i)).toBe(record.bytes);
      expect(table.account(i)).toBe(record.account);
      expect(table.category(i)).toBe(record.category);
      expect(table.hasSourceId(i)).toBe(record.sourceId !== null);
      expect(table.timestamp(i)).toBe(record.timestamp);
      expect(table.time(i)).toBe(record.timestamp === null ? null : Date.parse(record.timestamp));
    }
  });

  it('keeps a path with a lone surrogate as it is (UTF-8 would make it U+FFFD, and two such paths alike)', () => {
    const table = new ProductionTable();
    for (const path of ['data/a/mail.content/\ud800.eml', 'data/a/mail.content/\ud801.eml', 'data/a/mail.content/\ufffd.eml']) table.push({ ...recordNumber(1), path });
    expect([0, 1, 2].map((index) => table.path(index))).toEqual(['data/a/mail.content/\ud800.eml', 'data/a/mail.content/\ud801.eml', 'data/a/mail.content/\ufffd.eml']);
  });

  it('compares a path with a string as comparing the strings would', () => {
    const paths = ['data/a/x.eml', 'data/a/é.eml', 'data/a/\ud800.eml', 'data/a/📄.eml', ''];
    const others = [...paths, 'data/a/x.em', 'data/a/x.emlx', 'data/a/X.eml', 'data/a/e.eml', 'data/a/ée.eml', 'data/a/\ud801.eml', 'data/a/\ufffd.eml', 'data/a/xx.eml'];
    const table = new ProductionTable(2);
    for (const path of paths) table.push({ ...recordNumber(1), path });
    paths.forEach((path, index) => {
      for (const other of others) expect(table.pathIs(index, other)).toBe(path === other);
    });
  });

  it('keeps a timestamp that Date cannot read as one, apart from none at all', () => {
    const table = new ProductionTable();
    table.push({ ...recordNumber(1), timestamp: '+275760-09-13T00:00:00.001Z' });
    expect(table.time(0)).toBeNaN();
    expect(table.timestamp(0)).toBe('+275760-09-13T00:00:00.001Z');
  });
});
