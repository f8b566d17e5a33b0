// One export of an order into a folder at a time: the order's lock file, its stale cases, and that it never stays.
import { spawnSync } from 'node:child_process';
import { existsSync, linkSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ScopexConfig } from '../../src/config.js';
import { AbortedError, exitCodeFor, EXIT, InputError, SourceError } from '../../src/errors.js';
import { runBatch } from '../../src/batch/batch.js';
import { exportOrder, type ExportOptions } from '../../src/pipeline/export.js';
import { isTempFolderOf } from '../../src/seal/dead-run-files.js';
import { orderLockFile } from '../../src/seal/order-lock.js';
import { createBagSealer } from '../../src/seal/sealer.js';
import type { SourceAdapter } from '../../src/sources/source-adapter.js';
import { createSources } from '../../src/sources/sources.js';
import { verifyArchive } from '../../src/verify/verify.js';
import { buildStoreFixture, type StoreFixture } from '../helpers/store-fixture.js';
import { writeSignedOrder } from './export-fixture.js';
import { buildCli, runCli } from '../e2e/export-helpers.js';

let fx: StoreFixture;
let config: ScopexConfig;
let work: string;
let runs = 0;

beforeAll(async () => {
  fx = await buildStoreFixture();
  config = fx.config();
  work = mkdtempSync(path.join(os.tmpdir(), 'scopex-export-lock-'));
});

afterAll(() => {
  fx?.cleanup();
  if (work) rmSync(work, { recursive: true, force: true });
});

function outDir(): string {
  runs += 1;
  const out = path.join(work, `out-${runs}`);
  mkdirSync(out, { recursive: true });
  return out;
}

function exportInto(out: string, orderFile: string, more: Partial<ExportOptions> = {}) {
  return exportOrder({ config, outDir: out, orderFile, ...more });
}

/** The mail adapter, held before its first item until `open()`; `reached` settles once an export is held there. */
function heldMail(): { adapter: SourceAdapter; reached: Promise<void>; open(): void } {
  const real = createSources(config).adapters.mail;
  let reachedResolve!: () => void;
  let openResolve!: () => void;
  const reached = new Promise<void>((resolve) => (reachedResolve = resolve));
  const opened = new Promise<void>((resolve) => (openResolve = resolve));
  return {
    adapter: {
      service: 'mail',
      async *list(accountId, range, signal) {
        reachedResolve();
        await opened;
        yield* real.list(accountId, range, signal);
      },
    },
    reached,
    open: () => openResolve(),
  };
}

/** A pid that no process has now: a child that has already exited. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', '']);
  return child.pid!;
}

function writeLock(out: string, orderId: string, owner: Record<string, unknown> | string): string {
  const file = orderLockFile(out, orderId);
  writeFileSync(file, typeof owner === 'string' ? owner : `${JSON.stringify(owner)}\n`);
  return file;
}

function lockOwner(overrides: Record<string, unknown>): Record<string, unknown> {
  return { pid: process.pid, host: os.hostname(), process: null, orderId: 'x', startedAt: new Date().toISOString(), ...overrides };
}

/** What an export of the order killed mid-way leaves: its lock (of a dead pid), its .partial and its temp folders. */
function plantKilledRun(out: string, orderId: string): void {
  writeLock(out, orderId, lockOwner({ pid: deadPid(), orderId }));
  writeFileSync(path.join(out, `${orderId}.zip.partial`), 'half an archive');
  mkdirSync(path.join(out, `.${orderId}.export-Ab12Cd`));
  mkdirSync(path.join(out, `.${orderId}.seal-Ef34Gh`));
}

/** Everything but the archive: lock, .partial, temp folders. */
function leftovers(out: string): string[] {
  return readdirSync(out).filter((name) => !name.endsWith('.zip'));
}

async function expectVerifies(archive: string, orderFile: string): Promise<void> {
  const report = await verifyArchive({ archive, trustFile: fx.pki!.caCertFile, orderFile });
  expect(report.failures).toEqual([]);
  expect(report.ok).toBe(true);
}

describe('the order lock of an export', () => {
  it('refuses a second export of the order into the same folder while the first runs; the first still seals', async () => {
    const order = writeSignedOrder(fx);
    const out = outDir();
    const held = heldMail();
    const first = exportInto(out, order.file, { sources: { adapters: { ...createSources(config).adapters, mail: held.adapter } } });
    first.catch(() => undefined);
    await held.reached;
    expect(existsSync(orderLockFile(out, order.id))).toBe(true);
    const before = readdirSync(out).sort();

    const second = await exportInto(out, order.file).catch((error: unknown) => error);
    expect(second).toBeInstanceOf(InputError);
    expect((second as InputError).code).toBe('OUTPUT_BUSY');
    expect(exitCodeFor(second)).toBe(EXIT.input);
    expect((second as InputError).message).toContain(`(pid ${process.pid})`);
    expect((second as InputError).message).toContain('nothing was changed');
    // The running export's .partial, temp folders and lock are where they were.
    expect(readdirSync(out).sort()).toEqual(before);

    held.open();
    const result = await first;
    await expectVerifies(result.archive, order.file);
    expect(readdirSync(out)).toEqual([`${order.id}.zip`]);
  });

  it('refuses a second sealer of the order in the same folder while the first is open', async () => {
    const out = outDir();
    const options = {
      outDir: out,
      orderId: 'LE-LOCK-SEALER',
      organization: 'Contoso Cloud',
      signerCertificateFile: config.signerCertificateFile,
      signerKeyFile: config.signerKeyFile,
    };
    const sealer = await createBagSealer(options);
    const second = await createBagSealer(options).catch((error: unknown) => error);
    expect((second as InputError).code).toBe('OUTPUT_BUSY');
    expect(existsSync(`${path.join(out, options.orderId)}.zip.partial`)).toBe(true);
    await sealer.addPayload('acct/file.txt', Buffer.from('kept'));
    await sealer.seal();
    expect(readdirSync(out)).toEqual([`${options.orderId}.zip`]);

    const aborted = await createBagSealer({ ...options, force: true });
    await aborted.abort();
    expect(readdirSync(out)).toEqual([`${options.orderId}.zip`]);
  });

  it('lets exports of different orders into one folder run side by side', async () => {
    const out = outDir();
    const a = writeSignedOrder(fx, { categories: ['mail.content'] });
    const b = writeSignedOrder(fx, { categories: ['storage.content'] });
    const [ra, rb] = await Promise.all([exportInto(out, a.file), exportInto(out, b.file)]);
    await expectVerifies(ra.archive, a.file);
    await expectVerifies(rb.archive, b.file);
    expect(leftovers(out)).toEqual([]);
  });

  it('takes over the lock of a dead process, and removes what that run left', async () => {
    const order = writeSignedOrder(fx, { categories: ['mail.content'] });
    const out = outDir();
    plantKilledRun(out, order.id);
    // A run killed while it took over a stale lock (moved aside, not yet deleted); another order's is left alone.
    writeFileSync(path.join(out, `.${order.id}.lock.stale-0a1b2c3d`), '{}');
    writeFileSync(path.join(out, `.${order.id}x.lock.stale-0a1b2c3d`), '{}');
    const result = await exportInto(out, order.file);
    await expectVerifies(result.archive, order.file);
    expect(readdirSync(out).sort()).toEqual([`.${order.id}x.lock.stale-0a1b2c3d`, `${order.id}.zip`]);
  });

  // A kill -9 between the publication's link and its clean-up left these for good: every later run of the order was
  // refused for the archive (export) or skipped (batch) before it looked, and the .partial kept the whole plaintext
  // under a second name after the archive was handed over and deleted.
  for (const rerun of ['export', 'batch'] as const) {
    it(`removes what a run killed after publishing its archive left, when a later ${rerun} of the order finds the archive`, async () => {
      const order = writeSignedOrder(fx, { categories: ['mail.content', 'mail.metadata'] });
      const out = outDir();
      const { archive } = await exportInto(out, order.file);
      const delivered = readFileSync(archive);
      linkSync(archive, `${archive}.partial`);
      mkdirSync(path.join(out, `.${order.id}.export-Ab12Cd`));
      writeFileSync(path.join(out, `.${order.id}.export-Ab12Cd`, 'production.json'), '{}');
      mkdirSync(path.join(out, `.${order.id}.seal-Ef34Gh`));
      writeLock(out, order.id, lockOwner({ pid: deadPid(), orderId: order.id }));
      // Another order's are not this run's to judge.
      mkdirSync(path.join(out, `.${order.id}x.export-Ab12Cd`));
      if (rerun === 'export') {
        const error = await exportInto(out, order.file).catch((e: unknown) => e);
        expect(error).toMatchObject({ code: 'OUTPUT_EXISTS' });
      } else {
        const batch = await runBatch({ orders: [order.file], outDir: out, config, trustFile: fx.pki!.caCertFile, mode: 'in-process' });
        expect(batch.orders.map((result) => result.verdict)).toEqual(['skipped']);
      }
      expect(readdirSync(out).sort()).toEqual([`.${order.id}x.export-Ab12Cd`, `${order.id}.zip`]);
      expect(readFileSync(archive).equals(delivered)).toBe(true);
    });
  }

  // Robustness 1 of round 5: killed mid-export, then refused on its next run (expired meanwhile), the order's
  // decrypted .partial and temp folders stayed for good.
  it('removes what a killed run of the order left when its next run is refused (the order expired since)', async () => {
    const order = writeSignedOrder(fx, { categories: ['mail.content'] });
    const out = outDir();
    plantKilledRun(out, order.id);
    const error = await exportInto(out, order.file, { now: new Date('2100-01-01T00:00:00Z') }).catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'OrderError' });
    expect(readdirSync(out)).toEqual([]);
    // With no --out folder, a refused order makes none.
    const missing = path.join(work, `never-made-${runs}`);
    await expect(exportInto(missing, order.file, { now: new Date('2100-01-01T00:00:00Z') })).rejects.toMatchObject({ name: 'OrderError' });
    expect(existsSync(missing)).toBe(false);
  });

  it.runIf(process.platform === 'linux')('takes over a lock whose pid now belongs to another process', async () => {
    const order = writeSignedOrder(fx, { categories: ['mail.content'] });
    const out = outDir();
    const bootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    writeLock(out, order.id, lockOwner({ pid: process.pid, process: `${bootId}:1`, orderId: order.id }));
    await exportInto(out, order.file);
    expect(readdirSync(out)).toEqual([`${order.id}.zip`]);
  });

  it('takes over an unreadable lock only once it is old', async () => {
    const order = writeSignedOrder(fx, { categories: ['mail.content'] });
    const out = outDir();
    const file = writeLock(out, order.id, '');
    const young = await exportInto(out, order.file).catch((error: unknown) => error);
    expect((young as InputError).code).toBe('OUTPUT_BUSY');
    expect(existsSync(file)).toBe(true);

    const tenMinutesAgo = new Date(Date.now() - 10 * 60_000);
    utimesSync(file, tenMinutesAgo, tenMinutesAgo);
    await exportInto(out, order.file);
    expect(readdirSync(out)).toEqual([`${order.id}.zip`]);
  });

  it('never takes over the lock of another host, and leaves it and that run\'s files alone', async () => {
    const order = writeSignedOrder(fx, { categories: ['mail.content'] });
    const out = outDir();
    const file = writeLock(out, order.id, lockOwner({ pid: deadPid(), host: 'elsewhere.example', orderId: order.id }));
    const theirs = path.join(out, `.${order.id}.export-Ab12Cd`);
    mkdirSync(theirs);
    const error = await exportInto(out, order.file).catch((e: unknown) => e);
    expect((error as InputError).code).toBe('OUTPUT_BUSY');
    expect((error as InputError).message).toContain('elsewhere.example');
    expect(existsSync(file)).toBe(true);
    expect(existsSync(theirs)).toBe(true);
  });

  it("batch shows another host's lock with what may be key material hidden: in its table, --json and --quiet lines (round 11 keys D3)", async () => {
    buildCli();
    const order = writeSignedOrder(fx, { categories: ['mail.content'] });
    const out = outDir();
    writeLock(out, order.id, lockOwner({ pid: deadPid(), host: fx.masterKeyHex, orderId: order.id }));
    for (const flags of [[], ['--json'], ['--quiet', '--no-workers']]) {
      const run = await runCli(['batch', order.file, '--out', out, '--config', fx.configFile, ...flags]);
      expect(run.code, flags.join(' ')).toBe(6);
      const printed = run.stdout + run.stderr;
      expect(printed).toContain('OUTPUT_BUSY');
      expect(printed).not.toContain(fx.masterKeyHex);
      expect(printed).toContain('[not shown: it may be key material]');
    }
  });

  it('leaves no lock after a failed or interrupted export', async () => {
    const order = writeSignedOrder(fx);
    const out = outDir();
    const broken: SourceAdapter = {
      service: 'storage',
      // eslint-disable-next-line require-yield -- fails before its first item
      async *list() {
        throw new SourceError('STORE_UNREADABLE', 'the storage store is unreadable (test)');
      },
    };
    const failed = await exportInto(out, order.file, { sources: { adapters: { ...createSources(config).adapters, storage: broken } } }).catch(
      (e: unknown) => e,
    );
    expect(failed).toBeInstanceOf(SourceError);
    expect(leftovers(out)).toEqual([]);

    const controller = new AbortController();
    const interrupted = await exportInto(out, order.file, {
      signal: controller.signal,
      onProgress: (progress) => {
        if (progress.items === 2) controller.abort();
      },
    }).catch((e: unknown) => e);
    expect(interrupted).toBeInstanceOf(AbortedError);
    expect(leftovers(out)).toEqual([]);

    await exportInto(out, order.file);
    expect(readdirSync(out)).toEqual([`${order.id}.zip`]);
  });

  it('cleans only temp folders named exactly as mkdtemp names them, never another order\'s', () => {
    expect(isTempFolderOf('.LE-1.seal-', '.LE-1.seal-a1B2c3')).toBe(true);
    expect(isTempFolderOf('.LE-1.seal-', '.LE-1.seal-x.seal-a1B2c3')).toBe(false);
    expect(isTempFolderOf('.LE-1.seal-', '.LE-1.seal-ab.lock')).toBe(false);
    expect(isTempFolderOf('.LE-1.export-', '.LE-1.export-a1B2c')).toBe(false);
  });
});
