// export (and batch, which runs it) of an order whose target moved to another account after the order was first
// checked: refused with TARGETS_MOVED (exit 3), logged as a refusal, nothing delivered (round 12 scope F3).
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { runBatch } from '../../src/batch/batch.js';
import type { ScopexConfig } from '../../src/config.js';
import { createFileCustodyLog } from '../../src/custody/file-custody-log.js';
import { exitCodeFor, OrderError } from '../../src/errors.js';
import { reportOrderCheck } from '../../src/order/check-report.js';
import { exportOrder } from '../../src/pipeline/export.js';
import { createFileDirectory } from '../../src/sources/file-directory.js';
import { buildStoreFixture, type StoreFixture } from '../helpers/store-fixture.js';
import { readCustody, writeSignedOrder } from './export-fixture.js';

let fx: StoreFixture;
let config: ScopexConfig;
let work: string;
let directoryFile: string;
let originalDirectory: string;

beforeAll(async () => {
  fx = await buildStoreFixture();
  config = fx.config();
  work = mkdtempSync(path.join(os.tmpdir(), 'scopex-targets-moved-'));
  directoryFile = path.join(fx.storesRoot, 'directory.json');
  originalDirectory = readFileSync(directoryFile, 'utf8');
});

afterEach(() => writeFileSync(directoryFile, originalDirectory));

afterAll(() => {
  fx?.cleanup();
  if (work) rmSync(work, { recursive: true, force: true });
});

/** Moves alice's email address to bob's account in stores/directory.json, as the examiner did. */
function moveAliceEmailToBob(): void {
  const directory = JSON.parse(originalDirectory) as { accounts: { id: string; identifiers: { type: string; value: string }[] }[] };
  const email = fx.accounts.consumer.identifiers.find((identifier) => identifier.type === 'email')!;
  for (const account of directory.accounts) {
    if (account.id === fx.accounts.consumer.id) account.identifiers = account.identifiers.filter((identifier) => identifier !== email && identifier.value !== email.value);
    if (account.id === fx.accounts.neighbour.id) account.identifiers.push({ ...email });
  }
  writeFileSync(directoryFile, JSON.stringify(directory));
}

let runs = 0;
function outDir(): string {
  runs += 1;
  return path.join(work, `out-${runs}`);
}

describe('an order whose target moved after it was checked', () => {
  it('export refuses it (TARGETS_MOVED, exit 3) after `order check` showed the other account, and delivers nothing', async () => {
    const order = writeSignedOrder(fx, { targets: [{ type: 'email', value: 'alice@contoso.example' }] });
    // `order check`, as the CLI runs it.
    const check = await reportOrderCheck(order.file, { config, directory: createFileDirectory({ file: directoryFile }), now: new Date() });
    expect(check.report.accounts.map((account) => account.id)).toEqual([fx.accounts.consumer.id]);
    await createFileCustodyLog({ file: config.custodyLogFile }).append(check.custody!);

    moveAliceEmailToBob();
    const out = outDir();
    const error = await exportOrder({ orderFile: order.file, outDir: out, config }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OrderError);
    expect(error).toMatchObject({ code: 'TARGETS_MOVED' });
    expect(exitCodeFor(error)).toBe(3);
    const message = (error as OrderError).message;
    for (const fact of [fx.accounts.consumer.id, fx.accounts.neighbour.id, 'alice@contoso.example']) expect(message).toContain(fact);
    expect(existsSync(path.join(out, `${order.id}.zip`))).toBe(false);

    const events = readCustody(config.custodyLogFile).filter((event) => event.orderId === order.id);
    expect(events.map((event) => event.event)).toEqual(['order.checked', 'order.refused']);
    expect(events[1]!.details['reasons']).toEqual(['TARGETS_MOVED']);
  });

  it("export's own check is the first check: a second export after the move is refused", async () => {
    const order = writeSignedOrder(fx, { targets: [{ type: 'email', value: 'alice@contoso.example' }] });
    const first = await exportOrder({ orderFile: order.file, outDir: outDir(), config });
    expect(first.accounts).toEqual([fx.accounts.consumer.id]);
    moveAliceEmailToBob();
    await expect(exportOrder({ orderFile: order.file, outDir: outDir(), config })).rejects.toMatchObject({ code: 'TARGETS_MOVED' });
  });

  it('batch refuses it too (the row is refused, the batch fails)', async () => {
    const order = writeSignedOrder(fx, { targets: [{ type: 'email', value: 'alice@contoso.example' }] });
    const check = await reportOrderCheck(order.file, { config, directory: createFileDirectory({ file: directoryFile }), now: new Date() });
    await createFileCustodyLog({ file: config.custodyLogFile }).append(check.custody!);
    moveAliceEmailToBob();
    const result = await runBatch({ orders: [order.file], outDir: outDir(), config, concurrency: 1, mode: 'in-process' });
    expect(result.ok).toBe(false);
    expect(result.orders[0]).toMatchObject({ verdict: 'refused', archive: null, error: { code: 'TARGETS_MOVED' } });
  });

  it('an order never checked before is exported as the directory says now', async () => {
    moveAliceEmailToBob();
    const order = writeSignedOrder(fx, { targets: [{ type: 'email', value: 'alice@contoso.example' }] });
    const result = await exportOrder({ orderFile: order.file, outDir: outDir(), config });
    expect(result.accounts).toEqual([fx.accounts.neighbour.id]);
  });
});
