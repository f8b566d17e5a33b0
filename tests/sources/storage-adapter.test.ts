import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { exitCodeFor, InputError, IntegrityError } from '../../src/errors.js';
import type { FileItem } from '../../src/sources/source-adapter.js';
import { createStorageAdapter } from '../../src/sources/storage-adapter.js';
import { collect, rejectsWithCode, testSourceAdapter } from './adapter-contract.js';

testSourceAdapter({
  name: 'storage',
  create: (fx) => createStorageAdapter({ root: path.join(fx.storesRoot, 'storage') }),
  extra: (ctx) => {
    it('carries created and modified times, and empty files with 0 bytes', async () => {
      const { adapter, fixture } = ctx();
      const items = (await collect(adapter.list(fixture.accounts.consumer.id, fixture.range))) as FileItem[];
      for (const item of items) {
        const want = fixture.itemsOf('storage', item.accountId).find((i) => i.id === item.id)!;
        expect(item.created).toBe(want.fields.created);
        expect(item.modified).toBe(want.fields.modified);
      }
      expect(items.find((item) => item.id === 's-empty')?.bytes).toBe(0);
    });
  },
});

it('refuses to build without a root', () => {
  expect(() => createStorageAdapter({ root: '' })).toThrow(InputError);
});

// Round 12 scope F1: a file is dated by its last modification. An index line whose `modified` is another instant than
// its `timestamp`, or that was created after it, stopped nothing: a 2027 version of a file went out for a 2026 order.
describe('an index line that contradicts its own dates', () => {
  const range = { from: new Date('2026-01-01T00:00:00Z'), to: new Date('2026-06-30T23:59:59Z') };
  const line = (fields: Record<string, unknown>) => JSON.stringify({ id: 'f-1', timestamp: '2026-03-01T12:00:00Z', bytes: 1, name: 'a.txt', created: '2026-01-05T00:00:00Z', modified: '2026-03-01T12:00:00Z', ...fields });
  function listWith(fields: Record<string, unknown>): Promise<unknown> {
    const root = mkdtempSync(path.join(tmpdir(), 'scopex-storage-dates-'));
    mkdirSync(path.join(root, 'acct-0001', 'blobs'), { recursive: true });
    writeFileSync(path.join(root, 'acct-0001', 'index.jsonl'), `${line(fields)}\n`);
    return collect(createStorageAdapter({ root }).list('acct-0001', range)).finally(() => rmSync(root, { recursive: true, force: true }));
  }

  it.each([
    ['modified after the range, timestamp in it', { modified: '2027-03-01T00:00:00Z' }, 'its modified time 2027-03-01T00:00:00Z is not its timestamp 2026-03-01T12:00:00Z'],
    ['modified past the millisecond of its timestamp', { modified: '2026-03-01T12:00:00.0001Z' }, 'is not its timestamp'],
    ['modified in the range, timestamp after it (the file would be left out unseen)', { timestamp: '2027-01-01T00:00:00Z' }, 'its modified time 2026-03-01T12:00:00Z is not its timestamp 2027-01-01T00:00:00Z'],
    ['created after its last modification', { created: '2027-01-01T00:00:00Z' }, 'it was created at 2027-01-01T00:00:00Z, after its last modification'],
  ])('stops the listing (exit 4) when %s, naming the item and the line', async (_, fields, says) => {
    const error = await rejectsWithCode(listWith(fields), IntegrityError, 'INDEX_DISAGREES');
    expect(exitCodeFor(error)).toBe(4);
    expect(error.message).toContain('storage item "f-1" of account acct-0001');
    expect(error.message).toContain('line 1');
    expect(error.message).toContain(says);
  });

  it('takes the same instant written in another zone, and a disagreement wholly outside the range', async () => {
    expect(await listWith({ modified: '2026-03-01T13:00:00+01:00' })).toHaveLength(1);
    expect(await listWith({ timestamp: '2020-01-01T00:00:00Z', modified: '2020-02-01T00:00:00Z' })).toHaveLength(0);
  });
});
