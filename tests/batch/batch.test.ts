import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runBatch, verdictFor, type BatchEvent } from '../../src/batch/batch.js';
import { maxConcurrency } from '../../src/batch/max-concurrency.js';
import { InputError } from '../../src/errors.js';
import { createFakeExporter, fakeConfig, fakeVerify, writeFakeOrder } from './fake-exporter.js';

let dir: string;
let ordersDir: string;
let outDir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'scopex-'));
  ordersDir = path.join(dir, 'orders');
  outDir = path.join(dir, 'out');
  mkdirSync(ordersDir);
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function mixedOrders(): void {
  writeFakeOrder(ordersDir, 'a.json', 'LE-A', 'seal');
  writeFakeOrder(ordersDir, 'b.json', 'LE-B', 'refuse');
  writeFakeOrder(ordersDir, 'c.json', 'LE-C', 'fail');
  writeFakeOrder(ordersDir, 'd.json', 'LE-D', 'seal');
  writeFakeOrder(ordersDir, 'e.json', 'LE-E', 'scope');
  writeFileSync(path.join(ordersDir, 'f-broken.json'), '{ not json');
  writeFileSync(path.join(ordersDir, 'notes.txt'), 'not an order');
}

describe('runBatch', () => {
  it('gives every order its verdict; failures do not stop the others', async () => {
    mixedOrders();
    const fake = createFakeExporter();
    const events: BatchEvent[] = [];
    const result = await runBatch({
      orders: [ordersDir],
      outDir,
      config: fakeConfig(dir),
      concurrency: 2,
      exportOrder: fake.exportOrder,
      verifyArchive: fakeVerify,
      onEvent: (e) => events.push(e),
    });
    expect(result.orders.map((o) => [o.orderId, o.verdict])).toEqual([
      ['LE-A', 'sealed'],
      ['LE-B', 'refused'],
      ['LE-C', 'failed'],
      ['LE-D', 'sealed'],
      ['LE-E', 'scope-violation'],
      ['f-broken.json', 'malformed'],
    ]);
    expect(result.ok).toBe(false);
    expect(result.interrupted).toBe(false);
    expect(result.counts).toMatchObject({ sealed: 2, refused: 1, failed: 1, 'scope-violation': 1, malformed: 1, skipped: 0 });
    const a = result.orders[0]!;
    expect(a).toMatchObject({ items: 3, bytes: 'sealed:LE-A'.length, archive: path.join(outDir, 'LE-A.zip') });
    expect(result.orders[1]!.error?.reasons?.map((r) => r.code)).toEqual(['EXPIRED', 'UNAPPROVED']);
    expect(result.orders[2]!.error?.code).toBe('STORE_UNREADABLE');
    expect(fake.maxRunning()).toBe(2);
    expect(events.filter((e) => e.type === 'finished')).toHaveLength(6);
    expect(events.some((e) => e.type === 'progress' && e.orderId === 'LE-A')).toBe(true);
  });

  it('is ok when every order seals', async () => {
    writeFakeOrder(ordersDir, 'a.json', 'LE-A', 'seal');
    const result = await runBatch({
      orders: [path.join(ordersDir, 'a.json')],
      outDir,
      config: fakeConfig(dir),
      exportOrder: createFakeExporter().exportOrder,
      verifyArchive: fakeVerify,
    });
    expect(result.ok).toBe(true);
  });

  it('refuses an --out that is a file before running any order (exit 2, nothing exported)', async () => {
    writeFakeOrder(ordersDir, 'a.json', 'LE-A', 'seal');
    const notAFolder = path.join(dir, 'out-file');
    writeFileSync(notAFolder, 'x');
    const exporter = createFakeExporter();
    let calls = 0;
    const exportOrder: typeof exporter.exportOrder = (...args) => {
      calls += 1;
      return exporter.exportOrder(...args);
    };
    await expect(
      runBatch({ orders: [path.join(ordersDir, 'a.json')], outDir: notAFolder, config: fakeConfig(dir), exportOrder, verifyArchive: fakeVerify }),
    ).rejects.toMatchObject({ name: 'InputError', code: 'OUTPUT_EXISTS' });
    expect(calls).toBe(0);
    expect(readFileSync(notAFolder, 'utf8')).toBe('x');
  });

  it('on a re-run skips verified archives, retries failed orders, and never overwrites an archive that fails verification', async () => {
    mixedOrders();
    const options = { orders: [ordersDir], outDir, config: fakeConfig(dir), concurrency: 3, verifyArchive: fakeVerify };
    await runBatch({ ...options, exportOrder: createFakeExporter().exportOrder });
    // LE-D's archive is damaged between the runs.
    writeFileSync(path.join(outDir, 'LE-D.zip'), 'tampered');
    const second = createFakeExporter();
    const result = await runBatch({ ...options, exportOrder: second.exportOrder });
    expect(result.orders.map((o) => [o.orderId, o.verdict])).toEqual([
      ['LE-A', 'skipped'],
      ['LE-B', 'refused'],
      ['LE-C', 'failed'],
      ['LE-D', 'failed'],
      ['LE-E', 'scope-violation'],
      ['f-broken.json', 'malformed'],
    ]);
    expect(second.calls.sort()).toEqual(['b.json', 'c.json', 'e.json', 'f-broken.json']);
    expect(result.orders[3]!.error?.code).toBe('EXISTING_ARCHIVE_UNVERIFIED');
    expect(readFileSync(path.join(outDir, 'LE-D.zip'), 'utf8')).toBe('tampered');
    expect(result.orders[0]!.archive).toBe(path.join(outDir, 'LE-A.zip'));
  });

  it('runs the same order given twice once, and refuses a different order under a used id', async () => {
    const a = writeFakeOrder(ordersDir, 'a.json', 'LE-A', 'seal');
    writeFakeOrder(ordersDir, 'a-copy.json', 'LE-A', 'seal');
    writeFakeOrder(ordersDir, 'a-other.json', 'LE-A', 'refuse');
    const fake = createFakeExporter();
    const result = await runBatch({
      orders: [a, a, path.join(ordersDir, 'a-copy.json'), path.join(ordersDir, 'a-other.json')],
      outDir,
      config: fakeConfig(dir),
      concurrency: 3,
      exportOrder: fake.exportOrder,
      verifyArchive: fakeVerify,
    });
    expect(result.orders.map((o) => [path.basename(o.file), o.verdict])).toEqual([
      ['a.json', 'sealed'],
      ['a-copy.json', 'skipped'],
      ['a-other.json', 'failed'],
    ]);
    expect(result.orders[2]!.error?.code).toBe('DUPLICATE_ORDER_ID');
    expect(fake.calls).toEqual(['a.json']);
  });

  it('on abort stops running exports, starts no new ones and keeps finished archives', async () => {
    writeFakeOrder(ordersDir, '1.json', 'LE-1', 'seal');
    writeFakeOrder(ordersDir, '2.json', 'LE-2', 'hang');
    writeFakeOrder(ordersDir, '3.json', 'LE-3', 'hang');
    writeFakeOrder(ordersDir, '4.json', 'LE-4', 'seal');
    const fake = createFakeExporter(5);
    const controller = new AbortController();
    const finished: string[] = [];
    const batch = runBatch({
      orders: [ordersDir],
      outDir,
      config: fakeConfig(dir),
      concurrency: 2,
      exportOrder: fake.exportOrder,
      verifyArchive: fakeVerify,
      signal: controller.signal,
      onEvent: (e) => {
        if (e.type === 'finished') finished.push(e.order.orderId);
        if (e.type === 'started' && e.orderId === 'LE-3') void fake.running(2).then(() => controller.abort());
      },
    });
    const result = await batch;
    expect(result.interrupted).toBe(true);
    expect(result.ok).toBe(false);
    expect(result.orders.map((o) => [o.orderId, o.verdict])).toEqual([
      ['LE-1', 'sealed'],
      ['LE-2', 'aborted'],
      ['LE-3', 'aborted'],
      ['LE-4', 'aborted'],
    ]);
    expect(fake.calls).not.toContain('4.json');
    expect(readdirSync(outDir)).toEqual(['LE-1.zip']);
  });

  it('runs the usable orders when other arguments name none, each of those a failed row of its own', async () => {
    const good = writeFakeOrder(ordersDir, 'a.json', 'LE-A', 'seal');
    const missing = path.join(dir, 'nope.json');
    const missingFolder = path.join(dir, 'no-such-folder');
    const emptyFolder = path.join(dir, 'empty');
    mkdirSync(emptyFolder);
    const fake = createFakeExporter();
    const result = await runBatch({
      orders: [missing, good, missingFolder, emptyFolder],
      outDir,
      config: fakeConfig(dir),
      exportOrder: fake.exportOrder,
      verifyArchive: fakeVerify,
    });
    expect(result.orders.map((o) => [o.file, o.verdict, o.error?.code ?? null])).toEqual([
      [missing, 'malformed', 'FILE_UNREADABLE'],
      [good, 'sealed', null],
      [missingFolder, 'malformed', 'FILE_UNREADABLE'],
      [emptyFolder, 'malformed', 'USAGE'],
    ]);
    expect(result.ok).toBe(false);
    expect(fake.calls).toEqual(['a.json']);
    expect(readdirSync(outDir)).toEqual(['LE-A.zip']);
  });

  it('refuses bad arguments before doing any work', async () => {
    const base = { outDir, config: fakeConfig(dir), exportOrder: createFakeExporter().exportOrder, verifyArchive: fakeVerify };
    await expect(runBatch({ ...base, orders: [path.join(dir, 'missing.json')] })).rejects.toBeInstanceOf(InputError);
    await expect(runBatch({ ...base, orders: [ordersDir] })).rejects.toMatchObject({ code: 'USAGE' });
    await expect(runBatch({ ...base, orders: [] })).rejects.toMatchObject({ code: 'USAGE' });
    // No argument names an order: nothing to run, so a usage error rather than a summary of failures.
    await expect(runBatch({ ...base, orders: [path.join(dir, 'missing.json'), ordersDir] })).rejects.toMatchObject({ code: 'FILE_UNREADABLE' });
    writeFakeOrder(ordersDir, 'a.json', 'LE-A', 'seal');
    await expect(runBatch({ ...base, orders: [ordersDir], concurrency: 0 })).rejects.toMatchObject({ code: 'USAGE' });
    // One worker (and heap) per running order: more than a few per core would only run out of memory.
    await expect(runBatch({ ...base, orders: [ordersDir], concurrency: maxConcurrency() + 1 })).rejects.toMatchObject({ code: 'USAGE' });
    expect(existsSync(outDir)).toBe(false);
  });
});

describe('verdictFor', () => {
  it('calls an order whose output another export holds failed, not malformed; other input errors malformed', () => {
    expect(verdictFor(new InputError('OUTPUT_BUSY', 'an export of order X into OUT is already running (pid 1); nothing was changed.'))).toBe('failed');
    expect(verdictFor(new InputError('SCHEMA_VIOLATION', 'order X: field id is missing'))).toBe('malformed');
  });
});
