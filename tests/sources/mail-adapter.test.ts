import path from 'node:path';
import { expect, it } from 'vitest';
import { InputError } from '../../src/errors.js';
import { createMailAdapter } from '../../src/sources/mail-adapter.js';
import type { MailItem } from '../../src/sources/source-adapter.js';
import { collect, testSourceAdapter } from './adapter-contract.js';

testSourceAdapter({
  name: 'mail',
  create: (fx) => createMailAdapter({ root: path.join(fx.storesRoot, 'mail') }),
  extra: (ctx) => {
    it('carries userEncryption from the index (end-to-end encrypted mail is marked)', async () => {
      const { adapter, fixture } = ctx();
      const items = (await collect(adapter.list(fixture.accounts.consumer.id, fixture.range))) as MailItem[];
      const byId = new Map(items.map((item) => [item.id, item.userEncryption]));
      expect(byId.get('m-pgp')).toBe('pgp');
      expect(byId.get('m-inside')).toBeNull();
    });
  },
});

it('refuses to build without a root', () => {
  expect(() => createMailAdapter({ root: '' })).toThrow(InputError);
  expect(() => createMailAdapter(undefined as never)).toThrow(InputError);
});
