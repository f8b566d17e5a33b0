import path from 'node:path';
import { expect, it } from 'vitest';
import { InputError } from '../../src/errors.js';
import { createSubscriberAdapter } from '../../src/sources/subscriber-adapter.js';
import { collect, testSourceAdapter } from './adapter-contract.js';

testSourceAdapter({
  name: 'subscriber',
  timeBound: false,
  create: (fx) => createSubscriberAdapter({ root: path.join(fx.storesRoot, 'subscriber') }),
  extra: (ctx) => {
    it('lists the record as item "subscriber" with its plaintext size', async () => {
      const { adapter, fixture } = ctx();
      const [item] = await collect(adapter.list(fixture.accounts.consumer.id, fixture.range));
      const want = fixture.itemsOf('subscriber', fixture.accounts.consumer.id)[0]!;
      expect(item?.kind).toBe('subscriber');
      expect(item?.id).toBe('subscriber');
      expect(item?.bytes).toBe(want.plaintext!.length);
    });
  },
});

it('refuses to build without a root', () => {
  expect(() => createSubscriberAdapter({ root: '' })).toThrow(InputError);
});
