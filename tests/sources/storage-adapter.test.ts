import path from 'node:path';
import { expect, it } from 'vitest';
import { InputError } from '../../src/errors.js';
import type { FileItem } from '../../src/sources/source-adapter.js';
import { createStorageAdapter } from '../../src/sources/storage-adapter.js';
import { collect, testSourceAdapter } from './adapter-contract.js';

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
