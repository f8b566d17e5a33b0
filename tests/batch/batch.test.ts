import { execFileSync, spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runBatch, verdictFor, type BatchEvent, type VerifyFunction } from '../../src/batch/batch.js';
import { summaryTable } from '../../src/cli/batch.js';
import type { ScopexConfig } from '../../src/config.js';
import { generateSamplePki, type SamplePki } from '../../src/samples/pki.js';
import { maxConcurrency } from '../../src/batch/max-concurrency.js';
import { exitCodeFor, InputError, openFilesSentence, OrderError } from '../../src/errors.js';
import { createFakeExporter, fakeConfig, fakePki, fakeVerify, writeFakeOrder } from './fake-exporter.js';

let other: SamplePki | undefined;
/** A second PKI: an archive-signing CA and signer apart from the reviewers' CA. */
function otherPki(): SamplePki {
  other ??= generateSamplePki({ organization: 'Archive Signing' });
  return other;
}

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

  it('refuses an --out in the stores or in the folder of a key before running any order (exit 2, nothing made)', async () => {
    writeFakeOrder(ordersDir, 'a.json', 'LE-A', 'seal');
    const config = fakeConfig(dir);
    const exporter = createFakeExporter();
    for (const out of [path.join(config.storesRoot, 'mail'), path.dirname(config.masterKeyFile)]) {
      await expect(runBatch({ orders: [path.join(ordersDir, 'a.json')], outDir: out, config, exportOrder: exporter.exportOrder, verifyArchive: fakeVerify })).rejects.toMatchObject({
        name: 'InputError',
        code: 'USAGE',
        message: expect.stringMatching(/^--out \S+ is (inside the stores folder|the folder of the master key)/),
      });
    }
    expect(existsSync(path.join(config.storesRoot, 'mail'))).toBe(false);
    expect(existsSync(path.join(dir, 'LE-A.zip'))).toBe(false);
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

  it('removes the --out folders it made when no order left anything there; keeps a folder that was there', async () => {
    writeFakeOrder(ordersDir, 'b.json', 'LE-B', 'refuse');
    writeFakeOrder(ordersDir, 'c.json', 'LE-C', 'fail');
    const nested = path.join(dir, 'new', 'a', 'b');
    const run = (out: string) =>
      runBatch({ orders: [ordersDir], outDir: out, config: fakeConfig(dir), exportOrder: createFakeExporter().exportOrder, verifyArchive: fakeVerify });
    expect((await run(nested)).counts).toMatchObject({ refused: 1, failed: 1 });
    expect(existsSync(path.join(dir, 'new'))).toBe(false);
    mkdirSync(outDir);
    await run(outDir);
    expect(readdirSync(outDir)).toEqual([]);
    // With an order sealed, the folders stay with its archive.
    writeFakeOrder(ordersDir, 'a.json', 'LE-A', 'seal');
    await run(nested);
    expect(readdirSync(nested)).toEqual(['LE-A.zip']);
  });

  it('names a file at --out as such (exit 2), and leaves it', async () => {
    writeFakeOrder(ordersDir, 'a.json', 'LE-A', 'seal');
    writeFileSync(outDir, 'not a folder\n');
    const error = await runBatch({ orders: [ordersDir], outDir, config: fakeConfig(dir), exportOrder: createFakeExporter().exportOrder }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'OUTPUT_EXISTS', message: `--out ${outDir} exists and is not a folder` });
    expect(readFileSync(outDir, 'utf8')).toBe('not a folder\n');
  });

  it('runs the same order given twice once, and refuses a different order under a used id', async () => {
    const a = writeFakeOrder(ordersDir, 'a.json', 'LE-A', 'seal');
    // Round 9 batch D3: the same order saved with other blanks and key order is the same order (its canonical JSON,
    // what the approval signs), as verify and a re-run take it; compared as bytes, it failed as "a different order".
    const order = JSON.parse(readFileSync(a, 'utf8')) as Record<string, unknown>;
    const reordered = Object.fromEntries(Object.entries(order).reverse());
    writeFileSync(path.join(ordersDir, 'a-copy.json'), `\ufeff${JSON.stringify(reordered, null, 4)}\n`);
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
    // Round 9 batch (minor): the copy's skipped row names the archive, as a re-run's does; it showed "-".
    expect(result.orders[1]).toMatchObject({ archive: path.join(outDir, 'LE-A.zip'), bytes: result.orders[0]!.bytes, error: null });
    expect(fake.calls).toEqual(['a.json']);
    // The order turned away is in the custody log as export would log it (a fake order is malformed there).
    const logged = readFileSync(path.join(dir, 'custody', 'custody.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line) as { event: string; details: { reasons?: string[] } });
    expect(logged.map((record) => [record.event, record.details.reasons])).toEqual([['order.refused', ['SCHEMA_VIOLATION']]]);
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

  it('follows symbolic links in a folder to order files (*.json in any case); a *.json entry that is no order file is a failed row naming it', async () => {
    const elsewhere = path.join(dir, 'elsewhere');
    mkdirSync(elsewhere);
    const staged = path.join(dir, 'staged');
    mkdirSync(staged);
    symlinkSync(writeFakeOrder(elsewhere, 'court.json', 'LE-C', 'seal'), path.join(staged, 'a-court.json'));
    symlinkSync(path.relative(staged, writeFakeOrder(elsewhere, 'warrant.json', 'LE-W', 'seal')), path.join(staged, 'b-warrant.json'));
    symlinkSync(path.join(dir, 'gone.json'), path.join(staged, 'c-dangling.json'));
    symlinkSync(elsewhere, path.join(staged, 'd-folder-link.json'));
    mkdirSync(path.join(staged, 'e-folder.json'));
    execFileSync('mkfifo', [path.join(staged, 'f-fifo.json')]);
    writeFileSync(path.join(staged, 'g-notes.txt'), 'not an order');
    writeFakeOrder(staged, 'h-upper.JSON', 'LE-H', 'seal');
    const fake = createFakeExporter();
    const result = await runBatch({ orders: [staged], outDir, config: fakeConfig(dir), exportOrder: fake.exportOrder, verifyArchive: fakeVerify });
    expect(result.orders.map((o) => [path.basename(o.file), o.verdict, o.error?.code ?? null])).toEqual([
      ['a-court.json', 'sealed', null],
      ['b-warrant.json', 'sealed', null],
      ['c-dangling.json', 'malformed', 'FILE_UNREADABLE'],
      ['d-folder-link.json', 'malformed', 'FILE_UNREADABLE'],
      ['e-folder.json', 'malformed', 'FILE_UNREADABLE'],
      ['f-fifo.json', 'malformed', 'FILE_UNREADABLE'],
      ['h-upper.JSON', 'sealed', null],
    ]);
    expect(result.orders[2]!.error?.message).toBe(`cannot read order ${path.join(staged, 'c-dangling.json')}: it is a symbolic link to ${path.join(dir, 'gone.json')}, which does not exist`);
    expect(result.orders[3]!.error?.message).toMatch(/: it is a symbolic link to .*, which is a folder$/);
    expect(result.orders[4]!.error?.message).toMatch(/: it is a folder$/);
    expect(result.orders[5]!.error?.message).toMatch(/: it is not a regular file$/);
    expect(fake.calls.sort()).toEqual(['a-court.json', 'b-warrant.json', 'h-upper.JSON']);
    expect(readdirSync(outDir).sort()).toEqual(['LE-C.zip', 'LE-H.zip', 'LE-W.zip']);
  });

  it('a folder holding only symbolic links to orders runs them (it used to hold "no *.json order files")', async () => {
    const staged = path.join(dir, 'staged');
    mkdirSync(staged);
    symlinkSync(writeFakeOrder(ordersDir, 'a.json', 'LE-A', 'seal'), path.join(staged, 'a.json'));
    const result = await runBatch({ orders: [staged], outDir, config: fakeConfig(dir), exportOrder: createFakeExporter().exportOrder, verifyArchive: fakeVerify });
    expect(result.orders.map((o) => [o.orderId, o.verdict])).toEqual([['LE-A', 'sealed']]);
    expect(result.ok).toBe(true);
  });

  it('a folder of nothing but dangling links is a usage error naming the first, before any work', async () => {
    const staged = path.join(dir, 'staged');
    mkdirSync(staged);
    symlinkSync(path.join(dir, 'gone-1.json'), path.join(staged, 'a.json'));
    symlinkSync(path.join(dir, 'gone-2.json'), path.join(staged, 'b.json'));
    const base = { outDir, config: fakeConfig(dir), exportOrder: createFakeExporter().exportOrder, verifyArchive: fakeVerify };
    await expect(runBatch({ ...base, orders: [staged] })).rejects.toMatchObject({
      code: 'FILE_UNREADABLE',
      message: `cannot read order ${path.join(staged, 'a.json')}: it is a symbolic link to ${path.join(dir, 'gone-1.json')}, which does not exist (and none of the 1 other names an order either)`,
    });
    expect(existsSync(outDir)).toBe(false);
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

describe('runBatch beside another run of the same orders', () => {
  it('an order whose archive another run sealed meanwhile is skipped, not malformed (its export found the name taken or the lock held)', async () => {
    writeFakeOrder(ordersDir, 'a.json', 'LE-A', 'raced-exists');
    writeFakeOrder(ordersDir, 'b.json', 'LE-B', 'raced-busy');
    const fake = createFakeExporter();
    const result = await runBatch({ orders: [ordersDir], outDir, config: fakeConfig(dir), exportOrder: fake.exportOrder, verifyArchive: fakeVerify });
    expect(result.orders.map((o) => [o.orderId, o.verdict, o.error?.code ?? null])).toEqual([
      ['LE-A', 'skipped', null],
      ['LE-B', 'skipped', null],
    ]);
    expect(result.orders[0]!.archive).toBe(path.join(outDir, 'LE-A.zip'));
    expect(result.ok).toBe(true);
    expect(fake.calls.sort()).toEqual(['a.json', 'b.json']);
  });

  it('waits for a running export of the order by another process, then skips what it sealed, without exporting it again', async () => {
    writeFakeOrder(ordersDir, 'a.json', 'LE-A', 'seal');
    mkdirSync(outDir);
    const other = spawn('sleep', ['30'], { stdio: 'ignore' });
    const lock = path.join(outDir, '.LE-A.lock');
    writeFileSync(lock, `${JSON.stringify({ pid: other.pid, host: os.hostname(), process: null, orderId: 'LE-A', startedAt: new Date().toISOString() })}\n`);
    // The other run seals the order and ends after a while.
    const finishing = setTimeout(() => {
      writeFileSync(path.join(outDir, 'LE-A.zip'), 'sealed:LE-A');
      rmSync(lock);
      other.kill();
    }, 300);
    try {
      const fake = createFakeExporter();
      const started = performance.now();
      const waits: string[] = [];
      const result = await runBatch({
        orders: [ordersDir],
        outDir,
        config: fakeConfig(dir),
        exportOrder: fake.exportOrder,
        verifyArchive: fakeVerify,
        lockPollMs: 20,
        onWaiting: (orderId, message) => waits.push(`${orderId}: ${message}`),
      });
      expect(performance.now() - started).toBeGreaterThanOrEqual(250);
      expect(result.orders.map((o) => [o.orderId, o.verdict])).toEqual([['LE-A', 'skipped']]);
      expect(fake.calls).toEqual([]);
      // Said once, however many times the lock was looked at.
      expect(waits).toEqual([`LE-A: another export of order LE-A into ${outDir} is running (pid ${other.pid}); waiting for it to end`]);
    } finally {
      clearTimeout(finishing);
      other.kill();
    }
  });

  it('says what it waits for when the lock is not written yet (a crash between its create and its write), and exports once it is', async () => {
    writeFakeOrder(ordersDir, 'a.json', 'LE-A', 'seal');
    mkdirSync(outDir);
    const lock = path.join(outDir, '.LE-A.lock');
    writeFileSync(lock, '');
    // Round 9 batch (minor): such a lock is waited for until it is two minutes old, and nothing said so.
    const written = setTimeout(() => rmSync(lock), 200);
    try {
      const waits: string[] = [];
      const fake = createFakeExporter();
      const result = await runBatch({
        orders: [ordersDir],
        outDir,
        config: fakeConfig(dir),
        exportOrder: fake.exportOrder,
        verifyArchive: fakeVerify,
        lockPollMs: 20,
        onWaiting: (orderId, message) => waits.push(`${orderId}: ${message}`),
      });
      expect(result.orders.map((o) => o.verdict)).toEqual(['sealed']);
      expect(waits).toEqual([
        `LE-A: the lock ${lock} of order LE-A is not written yet (an export starting, or one that ended while starting); waiting for it, at most until it is 2 minutes old`,
      ]);
    } finally {
      clearTimeout(written);
    }
  });

  it('an archive name that is a dangling symbolic link fails the order at once, naming the link, and runs no export', async () => {
    writeFakeOrder(ordersDir, 'a.json', 'LE-A', 'seal');
    mkdirSync(outDir);
    const target = path.join(dir, 'no-such-folder', 'target.zip');
    symlinkSync(target, path.join(outDir, 'LE-A.zip'));
    const fake = createFakeExporter();
    const result = await runBatch({ orders: [ordersDir], outDir, config: fakeConfig(dir), exportOrder: fake.exportOrder, verifyArchive: fakeVerify });
    expect(result.orders.map((o) => [o.verdict, o.error?.code])).toEqual([['failed', 'EXISTING_ARCHIVE_UNVERIFIED']]);
    expect(result.orders[0]!.error?.message).toBe(
      `${path.join(outDir, 'LE-A.zip')} exists but does not verify (it is a symbolic link to ${target}, which does not exist); move it away to export this order again`,
    );
    expect(fake.calls).toEqual([]);
  });
});

describe('runBatch re-run: the trust an existing archive is checked against', () => {
  /** A verifier that records what it was asked to trust, and answers `answer`. */
  function spyVerify(answer: { ok: boolean; failures?: { message: string }[] } = { ok: true }) {
    const seen: { trustFile: string; anchors: string[] }[] = [];
    const verifyArchive: VerifyFunction = async (options) => {
      seen.push({ trustFile: options.trustFile, anchors: (options.trustAnchors ?? []).map((certificate) => certificate.fingerprint256) });
      return answer;
    };
    return { verifyArchive, seen };
  }
  const fingerprint = (pem: string) => new X509Certificate(pem).fingerprint256;

  /** An archive of LE-A already in --out, and a config whose signer is `signer` with `reviewerCa`. */
  function rerunWith(signerPem: string, reviewerCa: string[], signerCa?: string): ScopexConfig {
    writeFakeOrder(ordersDir, 'a.json', 'LE-A', 'seal');
    mkdirSync(outDir);
    writeFileSync(path.join(outDir, 'LE-A.zip'), 'sealed:LE-A');
    const signerFile = path.join(dir, 'own-signer.pem');
    writeFileSync(signerFile, signerPem);
    return { ...fakeConfig(dir), signerCertificateFile: signerFile, reviewerCaFiles: reviewerCa, ...(signerCa ? { signerCaFile: signerCa } : {}) };
  }

  it('the CA that issued the configured signer, found among the reviewer CAs, not the first reviewer CA', async () => {
    const unrelated = path.join(dir, 'unrelated-ca.pem');
    writeFileSync(unrelated, otherPki().ca.certificatePem);
    const config = rerunWith(fakePki().signer.certificatePem, [unrelated, path.join(dir, 'ca.cert.pem')]);
    const spy = spyVerify();
    const result = await runBatch({ orders: [ordersDir], outDir, config, exportOrder: createFakeExporter().exportOrder, verifyArchive: spy.verifyArchive });
    expect(result.orders.map((o) => o.verdict)).toEqual(['skipped']);
    expect(spy.seen).toEqual([{ trustFile: path.join(dir, 'ca.cert.pem'), anchors: [fingerprint(fakePki().ca.certificatePem)] }]);
  });

  it('a signer of its own archive-signing CA: that CA from signer.ca, or from the signer certificate file after it', async () => {
    const ownCa = path.join(dir, 'archive-ca.pem');
    writeFileSync(ownCa, otherPki().ca.certificatePem);
    const spy = spyVerify();
    const named = rerunWith(otherPki().signer.certificatePem, [path.join(dir, 'ca.cert.pem')], ownCa);
    const first = await runBatch({ orders: [ordersDir], outDir, config: named, exportOrder: createFakeExporter().exportOrder, verifyArchive: spy.verifyArchive });
    expect(first.orders.map((o) => o.verdict)).toEqual(['skipped']);
    rmSync(ordersDir, { recursive: true });
    rmSync(outDir, { recursive: true });
    mkdirSync(ordersDir);
    const chained = rerunWith(otherPki().signer.certificatePem + otherPki().ca.certificatePem, [path.join(dir, 'ca.cert.pem')]);
    const second = await runBatch({ orders: [ordersDir], outDir, config: chained, exportOrder: createFakeExporter().exportOrder, verifyArchive: spy.verifyArchive });
    expect(second.orders.map((o) => o.verdict)).toEqual(['skipped']);
    const archiveCa = fingerprint(otherPki().ca.certificatePem);
    expect(spy.seen).toEqual([
      { trustFile: ownCa, anchors: [archiveCa] },
      { trustFile: chained.signerCertificateFile, anchors: [archiveCa] },
    ]);
  });

  it('a signer whose CA the config does not name: the row says so, and the archive stays', async () => {
    const config = rerunWith(otherPki().signer.certificatePem, [path.join(dir, 'ca.cert.pem')]);
    const fake = createFakeExporter();
    const result = await runBatch({ orders: [ordersDir], outDir, config, exportOrder: fake.exportOrder, verifyArchive: spyVerify().verifyArchive });
    expect(result.orders.map((o) => [o.verdict, o.error?.code])).toEqual([['failed', 'EXISTING_ARCHIVE_UNCHECKED']]);
    expect(result.orders[0]!.error?.message).toMatch(/ exists and was left as it is, unchecked: cannot tell which CA issued the signer certificate .*own-signer\.pem .*name its CA as signer\.ca in the config .*, or give --trust$/);
    expect(fake.calls).toEqual([]);
    expect(readFileSync(path.join(outDir, 'LE-A.zip'), 'utf8')).toBe('sealed:LE-A');
  });

  it('an existing archive that does not verify: the row gives the first failure', async () => {
    const config = rerunWith(fakePki().signer.certificatePem, [path.join(dir, 'ca.cert.pem')]);
    const spy = spyVerify({ ok: false, failures: [{ message: 'tagmanifest-sha256.txt: sha256 differs' }, { message: 'second' }] });
    const result = await runBatch({ orders: [ordersDir], outDir, config, exportOrder: createFakeExporter().exportOrder, verifyArchive: spy.verifyArchive });
    expect(result.orders[0]!.error).toEqual({
      code: 'EXISTING_ARCHIVE_UNVERIFIED',
      message: `${path.join(outDir, 'LE-A.zip')} exists but does not verify (first failure: tagmanifest-sha256.txt: sha256 differs); move it away to export this order again`,
    });
    // Round 9 batch D2: the table's row gave the archive's path (as a sealed row does), not why it failed.
    const row = summaryTable(result).split('\n').find((line) => line.startsWith('LE-A '));
    expect(row).toMatch(/ failed .* EXISTING_ARCHIVE_UNVERIFIED: .*LE-A\.zip exists but does not verify \(first failure: tagmanifest-sha256\.txt: sha256 differs\)/);
  });
});

describe('verdictFor', () => {
  it('calls an order whose output another export holds failed, not malformed; other input errors malformed', () => {
    expect(verdictFor(new InputError('OUTPUT_BUSY', 'an export of order X into OUT is already running (pid 1); nothing was changed.'))).toBe('failed');
    expect(verdictFor(new InputError('OUTPUT_EXISTS', 'archive OUT/X.zip already exists; use --force to replace it.'))).toBe('failed');
    expect(verdictFor(new InputError('SCHEMA_VIOLATION', 'order X: field id is missing'))).toBe('malformed');
  });

  it('calls a run that ran out of file descriptors failed, and exit code 1; never an order verdict that quotes the word', () => {
    const emfile = Object.assign(new Error("EMFILE: too many open files, open '/x/custody.jsonl.lock'"), { code: 'EMFILE', path: '/x/custody.jsonl.lock', syscall: 'open' });
    expect(verdictFor(emfile)).toBe('failed');
    expect(verdictFor(new InputError('FILE_UNREADABLE', 'cannot read order o.json: too many open files', { cause: emfile }))).toBe('failed');
    expect(verdictFor(new Error('export worker crashed: EMFILE: too many open files, open chunk.js'))).toBe('failed');
    expect(exitCodeFor(new InputError('FILE_UNREADABLE', 'cannot read order o.json: too many open files', { cause: emfile }))).toBe(1);
    expect(openFilesSentence(emfile)).toBe('too many open files: raise the limit on open files (ulimit -n) and run again (open /x/custody.jsonl.lock)');
    const quoting = new OrderError([{ code: 'TARGET_UNRESOLVED', message: 'field targets.0 (email "EMFILE@x.example"): no account' }]);
    expect(verdictFor(quoting)).toBe('refused');
    expect(exitCodeFor(quoting)).toBe(3);
    expect(openFilesSentence(quoting)).toBeUndefined();
  });
});
