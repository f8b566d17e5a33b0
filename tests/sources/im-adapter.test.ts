import path from 'node:path';
import { expect, it } from 'vitest';
import { InputError } from '../../src/errors.js';
import { createImAdapter } from '../../src/sources/im-adapter.js';
import type { ImItem } from '../../src/sources/source-adapter.js';
import { collect, testSourceAdapter } from './adapter-contract.js';

testSourceAdapter({
  name: 'im',
  create: (fx) => createImAdapter({ root: path.join(fx.storesRoot, 'im') }),
  extra: (ctx) => {
    it('carries the conversation and its participants', async () => {
      const { adapter, fixture } = ctx();
      const items = (await collect(adapter.list(fixture.accounts.consumer.id, fixture.range))) as ImItem[];
      expect(items.length).toBeGreaterThan(0);
      for (const item of items) {
        const want = fixture.itemsOf('im', item.accountId).find((i) => i.id === item.id)!;
        expect(item.conversationId).toBe(want.fields.conversationId);
        expect(item.participants).toEqual(want.fields.participants);
      }
    });

    it('compares instants, not text: a timestamp with an offset equal to `from` is included', async () => {
      const { adapter, fixture } = ctx();
      const atFrom = fixture.itemsOf('im', fixture.accounts.consumer.id).find((i) => i.position === 'at-from')!;
      expect(atFrom.timestamp).toMatch(/\+01:00$/);
      const items = await collect(adapter.list(fixture.accounts.consumer.id, fixture.range));
      expect(items.map((item) => item.id)).toContain(atFrom.id);
    });
  },
});

it('refuses to build without a root', () => {
  expect(() => createImAdapter({ root: '' })).toThrow(InputError);
});
