import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSources, STORE_SERVICES } from '../../src/sources/sources.js';
import { buildStoreFixture, type StoreFixture } from '../helpers/store-fixture.js';
import { collect, drain } from './adapter-contract.js';

describe('createSources', () => {
  let fx: StoreFixture;
  beforeAll(async () => {
    fx = await buildStoreFixture();
  });
  afterAll(() => fx.cleanup());

  it('wires one adapter per store, the directory and the key service from a loaded config', async () => {
    const sources = createSources(fx.config());
    expect(Object.keys(sources.adapters).sort()).toEqual([...STORE_SERVICES].sort());
    for (const service of STORE_SERVICES) expect(sources.adapters[service].service).toBe(service);
    const [account] = sources.directory.resolve({ type: 'email', value: 'alice@contoso.example' });
    expect(account?.id).toBe(fx.accounts.consumer.id);
    for (const service of STORE_SERVICES) {
      const items = await collect(sources.adapters[service].list(account!.id, fx.range));
      expect(items.length).toBeGreaterThan(0);
      const first = items[0]!;
      const want = fx.itemsOf(service, account!.id).find((item) => item.id === first.id)!;
      expect((await drain(sources.keyService.openItem(first.ref))).equals(want.plaintext!)).toBe(true);
    }
    expect(sources.keyService.encryptionState(fx.accounts.customerKey.id)).toBe('customer-key');
  });
});
