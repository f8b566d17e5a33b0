// Batch exports: many approved orders, each sealed on its own; one failure never stops the others; re-runs redo nothing.
import type { X509Certificate } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pLimit from 'p-limit';
import type { ScopexConfig } from '../config.js';
import type { CustodyLog } from '../custody/custody-log.js';
import { createFileCustodyLog } from '../custody/file-custody-log.js';
import { AbortedError, describeFsError, InputError, openFilesExhausted, openFilesSentence, OrderError, ScopeError, ScopexError } from '../errors.js';
import type { ExportProgress, ExportResult } from '../pipeline/export.js';
import { maxConcurrency } from './max-concurrency.js';
import { expandOrderArguments, identifyOrder, type OrderFile } from './order-files.js';
import { biggestFirst, directoryForSizing, estimateOrderWork } from './order-size.js';
import { createWorkerPool } from './worker-pool.js';
import type { ExportFunction } from './worker-protocol.js';
import { makeOutputFolder, removeEmptyFolders } from '../seal/output-folder.js';
import { loadTrustAnchors } from '../verify/trust-anchors.js';
import { redactKeyMaterial } from '../util/key-material.js';
import { orderLockHolder } from '../seal/order-lock.js';
import { tidyAfterDeadRuns } from '../seal/dead-run-files.js';
import { refuseProtectedOutDir } from '../pipeline/protected-folders.js';
import { archiveTrust, type ArchiveTrust } from './archive-trust.js';
import { recordTurnedAway } from './turned-away.js';

export type { ExportFunction } from './worker-protocol.js';

/** What became of one order. Every verdict but sealed and skipped makes the batch fail (exit 6). */
export type BatchVerdict = 'sealed' | 'skipped' | 'refused' | 'malformed' | 'failed' | 'scope-violation' | 'aborted';

export const FAILING_VERDICTS: readonly BatchVerdict[] = ['refused', 'malformed', 'failed', 'scope-violation', 'aborted'];

/**
 * The archive check a re-run uses to decide that an order is already done (src/verify/verify.ts's verifyArchive): the
 * first failure's message is the reason an existing archive is not taken for the order's.
 */
export type VerifyFunction = (options: {
  archive: string;
  trustFile: string;
  trustAnchors?: readonly X509Certificate[];
  orderFile?: string;
}) => Promise<{ ok: boolean; failures?: readonly { message: string }[] }>;

export interface BatchOptions {
  /** Order files and folders (a folder stands for its *.json files, in name order). */
  orders: readonly string[];
  outDir: string;
  config: ScopexConfig;
  /** Orders exported at once (default: the number of cores). */
  concurrency?: number;
  /**
   * 'worker-threads' runs each export in a worker thread (a pool of `concurrency` workers), so that the CPU work of
   * several orders uses several cores; 'in-process' runs them on this thread (default; needed for an injected exporter).
   */
  mode?: 'in-process' | 'worker-threads';
  /** The exporter for 'in-process' mode (default: exportOrder from src/pipeline/export.ts). */
  exportOrder?: ExportFunction;
  /** The module the workers import exportOrder from, for 'worker-threads' mode (default: the real exporter). */
  exportModule?: string;
  /** The archive verifier used to recognise finished orders (default: verifyArchive from src/verify/verify.ts). */
  verifyArchive?: VerifyFunction;
  /**
   * The CA(s) an existing archive's signer must chain to (default: the config's signer.ca, else the CA that issued the
   * configured signer certificate; see archive-trust.ts).
   */
  trustFile?: string;
  /** How often a wait for another run's export of an order into the same folder looks again (default 250 ms). */
  lockPollMs?: number;
  /** Aborting stops running exports (they delete their partial files), starts no new ones, and keeps finished archives. */
  signal?: AbortSignal;
  /** The custody log the in-process exports append to (default: the config's; workers open it themselves). */
  custody?: CustodyLog;
  onEvent?: (event: BatchEvent) => void;
  /**
   * An order waits for another export of it into the same folder: what it waits for, one sentence, told once per wait
   * (apart from onEvent, whose presence makes every export count its items first).
   */
  onWaiting?: (orderId: string, message: string) => void;
}

export type BatchEvent =
  | { type: 'planned'; orders: OrderFile[] }
  | { type: 'started'; orderId: string; file: string }
  | { type: 'progress'; orderId: string; progress: ExportProgress }
  | { type: 'finished'; order: BatchOrderResult };

export interface BatchOrderResult {
  orderId: string;
  file: string;
  verdict: BatchVerdict;
  /** Items delivered (all categories); null when nothing was exported in this run. */
  items: number | null;
  itemsByCategory: Record<string, number> | null;
  /** Accounts the archive holds data of; null when nothing was exported in this run. */
  accounts: string[] | null;
  /** Size of the archive; null when there is none. */
  bytes: number | null;
  durationMs: number;
  archive: string | null;
  sha256: string | null;
  error: { code: string; message: string; reasons?: { code: string; message: string }[] } | null;
}

export interface BatchResult {
  ok: boolean;
  /** The batch was aborted (Ctrl-C): some orders did not finish. */
  interrupted: boolean;
  outDir: string;
  concurrency: number;
  mode: 'in-process' | 'worker-threads';
  durationMs: number;
  counts: Record<BatchVerdict, number>;
  orders: BatchOrderResult[];
}

export async function runBatch(options: BatchOptions): Promise<BatchResult> {
  const startedAt = performance.now();
  const concurrency = options.concurrency ?? os.availableParallelism();
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > maxConcurrency()) {
    throw new InputError('USAGE', `--concurrency must be a whole number from 1 to ${maxConcurrency()} (4 per core); found ${String(options.concurrency)}`);
  }
  const mode = options.mode ?? 'in-process';
  // Exports running side by side on every core get no helper threads of their own (they would only contend).
  const helperThreads = mode === 'in-process' || concurrency < os.availableParallelism();
  if (mode === 'worker-threads' && options.exportOrder) {
    throw new TypeError('an injected exportOrder function cannot run in worker threads; pass exportModule instead');
  }
  const outDir = path.resolve(options.outDir);
  refuseProtectedOutDir(options.outDir, options.config);
  // A --trust that holds no usable certificate is the flag's fault: found only when a sealed archive is checked, it
  // made every good archive "not verify" (and the operator was told to move them away).
  if (options.trustFile) loadTrustAnchors(options.trustFile);
  const expanded = await expandOrderArguments(options.orders);
  // Workers start (and import the exporter) while this thread reads the orders.
  const pool = mode === 'worker-threads' ? createWorkerPool({ size: concurrency, ...(options.exportModule ? { exportModule: options.exportModule } : {}) }) : null;
  pool?.warm(expanded.filter((argument) => !argument.unusable).length);
  let planned: OrderFile[];
  let startOrder: OrderFile[];
  /** The --out folders this batch made: they go again if it leaves them empty (every order failed), as export's do. */
  let madeFolders: string[] = [];
  try {
    planned = await Promise.all(
      expanded.map(({ file, unusable }) =>
        unusable ? { file, orderId: path.basename(file), idFromOrder: false, sha256: null, unusable } : identifyOrder(file),
      ),
    );
    options.onEvent?.({ type: 'planned', orders: planned });
    madeFolders = await ensureOutputFolder(outDir);
    startOrder = concurrency > 1 ? await biggestFirstOrders(planned, options.config) : planned;
  } catch (error) {
    await pool?.close();
    await removeEmptyFolders(madeFolders);
    throw error;
  }
  const exportOrder = pool?.exportOrder ?? options.exportOrder ?? (await loadExporter());
  const custody = pool ? undefined : (options.custody ?? createFileCustodyLog({ file: options.config.custodyLogFile }));
  // Worked out when a re-run first finds an archive, so that a first run does not depend on it.
  let trust: ArchiveTrust | Error | undefined;
  const existingTrust = (): ArchiveTrust | Error => {
    if (!trust) {
      try {
        trust = archiveTrust(options.config, options.trustFile);
      } catch (error) {
        trust = error instanceof Error ? error : new Error(String(error));
      }
    }
    return trust;
  };
  let ownLog: CustodyLog | undefined;
  /**
   * The error of a row turned away before its export started, once the custody log has what `export` writes for the
   * same case (a demand the batch was given and did not carry out is in the log too).
   */
  const turnAway = async (order: OrderFile, error: { code: string; message: string }): Promise<{ code: string; message: string }> => {
    const log = custody ?? (ownLog ??= createFileCustodyLog({ file: options.config.custodyLogFile }));
    const unrecorded = await recordTurnedAway(order.file, options.config, log, error);
    return unrecorded ? { ...error, message: `${error.message} (no custody record of it was written: ${unrecorded})` } : error;
  };
  const lockPollMs = options.lockPollMs ?? 250;
  const limit = pLimit(concurrency);
  const firstById = new Map<string, { order: OrderFile; result: Promise<BatchOrderResult> }>();

  /**
   * Two files of one order id would write one archive: the same order twice is done once (the copy gets the first
   * one's verdict, "skipped" when it sealed), two different orders under one id is an error for the second.
   */
  const runUnique = (order: OrderFile): Promise<BatchOrderResult> => {
    const earlier = order.idFromOrder ? firstById.get(order.orderId) : undefined;
    if (!earlier) {
      const result = runOne(order);
      if (order.idFromOrder) firstById.set(order.orderId, { order, result });
      return result;
    }
    const started = performance.now();
    const copy = (rest: Pick<BatchOrderResult, 'verdict' | 'error'> & Partial<Pick<BatchOrderResult, 'bytes' | 'archive'>>): BatchOrderResult => {
      const result: BatchOrderResult = {
        orderId: order.orderId,
        file: order.file,
        items: null,
        itemsByCategory: null,
        accounts: null,
        bytes: null,
        archive: null,
        sha256: null,
        ...rest,
        durationMs: Math.round(performance.now() - started),
      };
      options.onEvent?.({ type: 'finished', order: result });
      return result;
    };
    if (earlier.order.sha256 !== order.sha256) {
      return turnAway(order, {
        code: 'DUPLICATE_ORDER_ID',
        message: `order id ${order.orderId} in ${order.file} is also the id of a different order in this batch, ${earlier.order.file}`,
      }).then((error) => copy({ verdict: 'failed', error }));
    }
    // A copy of an order that sealed (or was found sealed) names its archive, as a re-run's skipped row does.
    return earlier.result.then((first) =>
      first.verdict === 'sealed' || first.verdict === 'skipped'
        ? copy({ verdict: 'skipped', error: null, bytes: first.bytes, archive: first.archive })
        : copy({ verdict: first.verdict, error: first.error }),
    );
  };

  const runOne = async (order: OrderFile): Promise<BatchOrderResult> => {
    const started = performance.now();
    const base = { orderId: order.orderId, file: order.file };
    const finish = (rest: Omit<BatchOrderResult, 'orderId' | 'file' | 'durationMs'>): BatchOrderResult => {
      const result: BatchOrderResult = { ...base, ...rest, durationMs: Math.round(performance.now() - started) };
      options.onEvent?.({ type: 'finished', order: result });
      return result;
    };
    const none = { items: null, itemsByCategory: null, accounts: null, bytes: null, archive: null, sha256: null } as const;
    // Reported as a bad order file is (exit 2 alone), as one failed row among the others here.
    if (order.unusable) return finish({ ...none, verdict: 'malformed', error: { ...order.unusable } });
    if (options.signal?.aborted) {
      return finish({ ...none, verdict: 'aborted', error: { code: 'ABORTED', message: 'not started: the batch was interrupted' } });
    }

    /** An archive of this order in the folder: skipped when it verifies, failed (and kept) with the reason when not. */
    const finishExisting = async (existing: ExistingArchive): Promise<BatchOrderResult> => {
      const checkAgainst = existing.unreadable ? undefined : existingTrust();
      if (checkAgainst instanceof Error) {
        // The config's fault, not the archive's: it is not to be moved away for it.
        return finish({
          ...none,
          verdict: 'failed',
          archive: existing.archive,
          bytes: existing.bytes,
          error: await turnAway(order, {
            code: 'EXISTING_ARCHIVE_UNCHECKED',
            message: redactKeyMaterial(`${existing.archive} exists and was left as it is, unchecked: ${checkAgainst.message}`),
          }),
        });
      }
      const verdict = checkAgainst
        ? await checkExisting(existing.archive, order.file, checkAgainst, options.verifyArchive)
        : { ok: false, reason: existing.unreadable };
      if (verdict.ok) {
        // A run killed after publishing this archive left a second name of it and decrypted temp files: they go now.
        await tidyAfterDeadRuns(outDir, order.orderId);
        return finish({ ...none, verdict: 'skipped', bytes: existing.bytes, archive: existing.archive, error: null });
      }
      // Never overwritten silently: an archive that does not verify may be evidence of a fault or of tampering.
      return finish({
        ...none,
        verdict: 'failed',
        archive: existing.archive,
        bytes: existing.bytes,
        error: await turnAway(order, {
          code: 'EXISTING_ARCHIVE_UNVERIFIED',
          message: redactKeyMaterial(`${existing.archive} exists but does not verify (${verdict.reason}); move it away to export this order again`),
        }),
      });
    };

    let lastError: unknown;
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt += 1) {
      if (order.idFromOrder) {
        // Another run exporting this order into this folder (an overlapping batch): its end is waited for, and then
        // what it left decides, as on a re-run. Never a second export of the order beside it.
        const other = await waitForOtherExport(outDir, order.orderId, lockPollMs, options.signal, (message) =>
          options.onWaiting?.(order.orderId, message),
        );
        if (other === 'aborted') {
          return finish({ ...none, verdict: 'aborted', error: { code: 'ABORTED', message: 'not started: the batch was interrupted' } });
        }
        if (other) return finish({ ...none, verdict: 'failed', error: await turnAway(order, { code: 'OUTPUT_BUSY', message: other }) });
        const existing = await existingArchive(outDir, order.orderId);
        if (existing) return finishExisting(existing);
      }

      if (attempt === 1) options.onEvent?.({ type: 'started', orderId: order.orderId, file: order.file });
      try {
        const result: ExportResult = await exportOrder({
          orderFile: order.file,
          outDir,
          config: options.config,
          helperThreads,
          ...(options.signal ? { signal: options.signal } : {}),
          ...(custody ? { custody } : {}),
          // Only when someone listens: an exporter given onProgress makes one more pass to count what it will export.
          ...(options.onEvent ? { onProgress: (progress: ExportProgress) => options.onEvent?.({ type: 'progress', orderId: order.orderId, progress }) } : {}),
        });
        base.orderId = result.orderId;
        const items = Object.values(result.items).reduce((sum, n) => sum + n, 0);
        return finish({
          verdict: 'sealed',
          items,
          itemsByCategory: result.items,
          accounts: result.accounts,
          bytes: result.bytes,
          archive: result.archive,
          sha256: result.sha256,
          error: null,
        });
      } catch (error) {
        lastError = error;
        // Another run took the order between the look above and the export's own (its lock, or its archive, sealed
        // meanwhile): look again. Anything else is this order's verdict.
        const raced = error instanceof InputError && (error.code === 'OUTPUT_BUSY' || error.code === 'OUTPUT_EXISTS');
        if (!raced || !order.idFromOrder || options.signal?.aborted) break;
      }
    }
    return finish({ ...none, verdict: verdictFor(lastError, options.signal), error: describe(lastError) });
  };

  try {
    // Started biggest first, so that no worker is left alone with a big order at the end; reported in the given order.
    const running = new Map<OrderFile, Promise<BatchOrderResult>>();
    for (const order of startOrder) running.set(order, limit(() => runUnique(order)));
    const orders = await Promise.all(planned.map((order) => running.get(order)!));
    const counts = Object.fromEntries(
      (['sealed', 'skipped', 'refused', 'malformed', 'failed', 'scope-violation', 'aborted'] as const).map((v) => [v, 0]),
    ) as Record<BatchVerdict, number>;
    for (const order of orders) counts[order.verdict] += 1;
    return {
      ok: orders.every((order) => !FAILING_VERDICTS.includes(order.verdict)),
      interrupted: options.signal?.aborted ?? false,
      outDir,
      concurrency,
      mode,
      durationMs: Math.round(performance.now() - startedAt),
      counts,
      orders,
    };
  } finally {
    await pool?.close();
    await removeEmptyFolders(madeFolders);
  }
}

/** The orders in the order they start: biggest (by their accounts' index sizes) first when that can be told. */
async function biggestFirstOrders(planned: OrderFile[], config: ScopexConfig): Promise<OrderFile[]> {
  const directory = directoryForSizing(config);
  if (!directory) return planned;
  const sizes = await Promise.all(planned.map((order) => estimateOrderWork(order, config, directory)));
  // Files of one order id keep their given order (the first one is the one exported; see runUnique).
  const firstSize = new Map<string, number | null>();
  planned.forEach((order, index) => {
    if (order.idFromOrder && !firstSize.has(order.orderId)) firstSize.set(order.orderId, sizes[index] ?? null);
  });
  return biggestFirst(
    planned,
    planned.map((order, index) => (order.idFromOrder ? (firstSize.get(order.orderId) ?? null) : (sizes[index] ?? null))),
  );
}

export function verdictFor(error: unknown, signal?: AbortSignal): BatchVerdict {
  if (error instanceof OrderError) return 'refused';
  // Too few file descriptors: this run of the order failed, whichever read or write it struck.
  if (openFilesExhausted(error)) return signal?.aborted ? 'aborted' : 'failed';
  // The output folder cannot take this order's archive (another export holds it, an archive is in the way, or the
  // disk is full or refuses writes): the order is fine, this run of it failed. "Malformed" is the order's input.
  if (error instanceof InputError) return error.code.startsWith('OUTPUT_') ? 'failed' : 'malformed';
  if (error instanceof ScopeError) return 'scope-violation';
  if (error instanceof AbortedError || signal?.aborted) return 'aborted';
  return 'failed';
}

/** The error as the summary shows it; its text never shows what may be key material (see util/key-material.ts). */
function describe(error: unknown): NonNullable<BatchOrderResult['error']> {
  const shown = redactKeyMaterial;
  const tooManyOpenFiles = openFilesSentence(error);
  if (tooManyOpenFiles) return { code: 'TOO_MANY_OPEN_FILES', message: shown(tooManyOpenFiles) };
  if (error instanceof OrderError) {
    return { code: error.code, message: shown(error.message), reasons: error.reasons.map((r) => ({ code: r.code, message: shown(r.message) })) };
  }
  if (error instanceof ScopexError) return { code: error.code, message: shown(error.message) };
  return { code: 'INTERNAL', message: shown(`internal error: ${error instanceof Error ? error.message : String(error)}`) };
}

/**
 * The output folder, made if missing (the folders made, outermost first); a file in its place is the user's mistake,
 * not every order's (exit 2).
 */
async function ensureOutputFolder(outDir: string): Promise<string[]> {
  let made: string[];
  try {
    made = await makeOutputFolder(outDir);
  } catch (error) {
    if ((error as { cause?: { code?: unknown } }).cause?.code !== 'EEXIST') throw error;
    throw new InputError('OUTPUT_EXISTS', `--out ${outDir} exists and is not a folder`);
  }
  return made;
}

/** Attempts at an order whose export another run took meanwhile: each waits for that run, then looks again. */
const MAX_ATTEMPTS = 3;

interface ExistingArchive {
  archive: string;
  bytes: number | null;
  /** Why what is there cannot be an archive at all (a link to nothing), without running the verifier. */
  unreadable?: string;
}

/**
 * Whatever is at the order's archive name, looked at with lstat: a dangling symbolic link there was taken for no
 * archive, the whole export ran, and only its final link() found the name taken.
 */
async function existingArchive(outDir: string, orderId: string): Promise<ExistingArchive | null> {
  const archive = path.join(outDir, `${orderId}.zip`);
  try {
    const found = await fs.lstat(archive);
    if (!found.isSymbolicLink()) return { archive, bytes: found.isFile() ? found.size : null };
  } catch {
    return null;
  }
  const target = await fs.readlink(archive).catch(() => '?');
  try {
    return { archive, bytes: (await fs.stat(archive)).size };
  } catch (error) {
    const gone = (error as NodeJS.ErrnoException).code === 'ENOENT';
    return { archive, bytes: null, unreadable: `it is a symbolic link to ${target}, which ${gone ? 'does not exist' : `cannot be followed: ${describeFsError(error)}`}` };
  }
}

/**
 * Waits while another export of the order into `outDir` runs (in another process of this host): null once none does,
 * 'aborted' when the batch is interrupted meanwhile, or why it cannot be waited for (a lock of another host).
 */
async function waitForOtherExport(
  outDir: string,
  orderId: string,
  pollMs: number,
  signal: AbortSignal | undefined,
  onWait: (message: string) => void,
): Promise<string | 'aborted' | null> {
  let said: string | undefined;
  for (;;) {
    if (signal?.aborted) return 'aborted';
    let holder: Awaited<ReturnType<typeof orderLockHolder>>;
    try {
      holder = await orderLockHolder(outDir, orderId);
    } catch {
      // An unreadable lock: the export's own attempt at it says what is wrong.
      return null;
    }
    if (!holder) return null;
    if (!holder.waitable) return holder.message;
    if (holder.waiting !== said) onWait((said = holder.waiting));
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, pollMs);
      signal?.addEventListener('abort', done, { once: true });
      function done() {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        resolve();
      }
    });
  }
}

async function checkExisting(
  archive: string,
  orderFile: string,
  trust: ArchiveTrust,
  injected: VerifyFunction | undefined,
): Promise<{ ok: boolean; reason?: string }> {
  try {
    const verify = injected ?? (await loadVerifier());
    const result = await verify({ archive, trustFile: trust.file, trustAnchors: trust.anchors, orderFile });
    if (result.ok === true) return { ok: true };
    const first = result.failures?.[0]?.message;
    return { ok: false, reason: first ? `first failure: ${first}` : 'no reason given' };
  } catch (error) {
    return { ok: false, reason: error instanceof ScopexError ? error.message : 'the verification could not run' };
  }
}

// Loaded on first use so that the batch module stands without the exporter and verifier (tests inject fakes).
async function loadExporter(): Promise<ExportFunction> {
  const module = (await import('../pipeline/export.js')) as { exportOrder?: ExportFunction };
  if (typeof module.exportOrder !== 'function') throw new TypeError('src/pipeline/export.js exports no exportOrder');
  return module.exportOrder;
}

async function loadVerifier(): Promise<VerifyFunction> {
  const module = (await import('../verify/verify.js')) as { verifyArchive?: VerifyFunction };
  if (typeof module.verifyArchive !== 'function') throw new TypeError('src/verify/verify.js exports no verifyArchive');
  return module.verifyArchive;
}
