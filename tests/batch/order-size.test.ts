import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBatch } from '../../src/batch/batch.js';
import { identifyOrder } from '../../src/batch/order-files.js';
import { biggestFirst, directoryForSizing, estimateOrderWork } from '../../src/batch/order-size.js';
import { createFakeExporter, fakeConfig, fakeVerify } from './fake-exporter.js';

let dir: string;

/** A store with accounts a (3 index lines per store), b (1 line) and c (none), and orders naming them. */
beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'scopex-'));
  const stores = path.join(dir, 'stores');
  mkdirSync(stores, { recursive: true });
  const account = (id: string) => ({ id, tenant: 't', tenantType: 'consumer', identifiers: [{ type: 'email', value: `${id}@example.org` }] });
  writeFileSync(path.join(stores, 'directory.json'), JSON.stringify({ schema: 'scopex.directory/v1', accounts: ['a', 'b', 'c'].map(account) }));
  for (const [id, lines] of [['a', 3], ['b', 1]] as const) {
    for (const store of ['mail', 'im']) {
      mkdirSync(path.join(stores, store, id), { recursive: true });
      writeFileSync(path.join(stores, store, id, 'index.jsonl'), '{"id":"x"}\n'.repeat(lines));
    }
  }
  const order = (id: string, ...accounts: string[]) =>
    writeFileSync(
      path.join(dir, `${id}.json`),
      JSON.stringify({ schema: 'scopex.order/v1', id, fake: 'seal', targets: accounts.map((a) => ({ type: 'email', value: `${a.toUpperCase()}@example.org` })) }),
    );
  order('O-small', 'b');
  order('O-none', 'c');
  order('O-big', 'a', 'b');
  writeFileSync(path.join(dir, 'O-broken.json'), '{ not json');
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('order sizing', () => {
  it("sizes an order by its accounts' index files, and cannot size a broken one", async () => {
    const config = fakeConfig(dir);
    const directory = directoryForSizing(config);
    const size = async (name: string) => estimateOrderWork(await identifyOrder(path.join(dir, name)), config, directory);
    expect(await size('O-big.json')).toBe(4 * 2 * 11);
    expect(await size('O-small.json')).toBe(2 * 11);
    expect(await size('O-none.json')).toBe(0);
    expect(await size('O-broken.json')).toBeNull();
    expect(directoryForSizing(fakeConfig(path.join(dir, 'nowhere')))).toBeNull();
  });

  it('puts the biggest first and unknown sizes last, each group in its given order', () => {
    expect(biggestFirst(['u1', 's', 'b', 'u2', 'm', 'b2'], [null, 1, 9, null, 5, 9])).toEqual(['b', 'b2', 'm', 's', 'u1', 'u2']);
  });

  it('starts the biggest order first with concurrency above 1 and still reports in the given order', async () => {
    const fake = createFakeExporter(5);
    const files = ['O-small.json', 'O-none.json', 'O-big.json'].map((name) => path.join(dir, name));
    const result = await runBatch({
      orders: files,
      outDir: path.join(dir, 'out'),
      config: fakeConfig(dir),
      concurrency: 2,
      exportOrder: fake.exportOrder,
      verifyArchive: fakeVerify,
    });
    // The first two start side by side, and which of them reaches the exporter first is a race (each first looks for
    // an existing archive and another run's lock): given small, none, big, it is big that starts beside small, and
    // none waits for a free slot.
    const calls = fake.calls.map((file) => path.basename(file));
    expect(calls.slice(0, 2).sort()).toEqual(['O-big.json', 'O-small.json']);
    expect(calls[2]).toBe('O-none.json');
    expect(result.orders.map((order) => order.orderId)).toEqual(['O-small', 'O-none', 'O-big']);
  });
});
