// The export: check the order, list each named account's items per ordered category, pass every item through the
// scope gate, open it through the key service and hand it to the sealer; one signed archive, or nothing at all.
import { redactKeyMaterial } from '../util/key-material.js';
import { createReadStream } from 'node:fs';
import { lstat, mkdtemp, rm } from 'node:fs/promises';
import path from 'node:path';
import { pipeline as pipelineCallback, Transform, Writable, type Readable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ScopexConfig } from '../config.js';
import type {
  CustodyLog,
  ExportSealedDetails,
  NotificationDueDetails,
} from '../custody/custody-log.js';
import { createFileCustodyLog } from '../custody/file-custody-log.js';
import { InputError, IntegrityError, OrderError, outputWriteError, ScopeError, ScopexError } from '../errors.js';
import { BLOB_OVERHEAD } from '../keys/item-crypto.js';
import { isDigesting, type EncryptionState, type ItemPlaintext, type KeyService, type StoreService } from '../keys/key-service.js';
import { evaluateOrderOnRecord, type CheckedOrder, type OrderContext } from '../order/check-order.js';
import { checkedOrderEvent, malformedOrderEvent, refusedOrderEvent } from '../order/check-report.js';
import { parseOrderBytes, readOrderBytes } from '../order/read-order.js';
import { directoryIdentifiers } from '../order/targets.js';
import { CATEGORIES, type Category, type Order } from '../order/schema.js';
import { lockOrderOutput } from '../seal/bag-sealer.js';
import { exportScratchPrefix, tidyAfterDeadRuns } from '../seal/dead-run-files.js';
import { refuseProtectedOutDir } from './protected-folders.js';
import type { OrderLock } from '../seal/order-lock.js';
import { createBagSealer, type BagSealer } from '../seal/sealer.js';
import { isOrganisationTenant, type Account } from '../sources/account-directory.js';
import type { SourceItem, TimeRange } from '../sources/source-adapter.js';
import { createSources, type Sources } from '../sources/sources.js';
import { createAccountPaths, type AccountPaths, type PayloadCategory } from './item-paths.js';
import { createMailHeaderCollector, mailHeaderFields, type MailHeaderFields } from './mail-headers.js';
import { createImFactsCollector } from './im-facts.js';
import { checkImFacts, checkImMessage } from './im-message.js';
import { imMetadata, mailMetadata, storageMetadata, type DeliveredEncryption } from './metadata.js';
import { createScopeGate, ScopeViolation, type GateRequest, type ScopeGate } from './scope-gate.js';
import type { ProductionRecord } from './production-record.js';
import { abortError, oneByOne, openJsonArraySink, openTextSink, readAhead, throwIfAborted, type JsonArraySink, type TextSink } from './stages.js';
import { filterSubscriberRecord, inexactNumber } from './subscriber-record.js';
import { parseStrictJson, StrictJsonError } from '../order/strict-json.js';
import { crcOfStream } from '../util/crc-of-stream.js';
import { giveBackChunk } from '../util/lent-chunks.js';
import { stringifyWellFormed } from '../util/well-formed.js';

export interface ExportProgress {
  items: number;
  bytes: number;
  totalItems?: number;
  totalBytes?: number;
}

export interface ExportOptions {
  orderFile: string;
  outDir: string;
  config: ScopexConfig;
  /** Overwrite an existing archive of the same order. */
  force?: boolean;
  /** Aborting it stops the export cleanly: no archive, no partial file, AbortedError. */
  signal?: AbortSignal;
  onProgress?: (progress: ExportProgress) => void;
  /** Defaults to the config's custody log. */
  custody?: CustodyLog;
  /** The clock for the order's validity and the archive's dates. */
  now?: Date;
  /** Replaces parts of what createSources(config) builds (tests: a faulty adapter). */
  sources?: Partial<Sources>;
  /**
   * Use helper threads (small-item reads, hashing) so that one export keeps two cores busy (default true). A batch
   * that already runs one export per core turns them off: more threads than cores only trade places.
   */
  helperThreads?: boolean;
}

export interface ExportResult {
  orderId: string;
  archive: string;
  /** SHA-256 (hex) of the archive file. */
  sha256: string;
  /** Size of the archive file. */
  bytes: number;
  /** Items delivered per ordered category (a metadata category counts its lines). */
  items: Record<string, number>;
  accounts: string[];
  durationMs: number;
  payloadBytes: number;
  /**
   * Items a source offered that the scope gate refused. Any refusal stops the export (exit 5), so a finished export
   * always reports 0: the figure is there so that the summary says so.
   */
  refusedItems: number;
}

/** Items at most this big are read whole (authenticated in one call) and read ahead; larger ones stream. */
export const SMALL_ITEM_BYTES = 1 << 20;
/** How many small items (and at most how many of their bytes) are read and decrypted ahead of the one being written. */
export const READ_AHEAD_ITEMS = 256;
export const READ_AHEAD_BYTES = 8 << 20;
/** A subscriber record is one small JSON document; anything bigger is not one. */
export const MAX_SUBSCRIBER_BYTES = 16 << 20;

/** Subscriber records are listed whatever the order's dates: they describe the account, not an event. */
const ALL_TIME: TimeRange = { from: new Date(-8.64e15), to: new Date(8.64e15) };
/** The order in which an account's stores are exported (stable, so archives of one order are alike). */
const SERVICE_ORDER = ['subscriber', 'mail', 'storage', 'im'] as const satisfies readonly StoreService[];

/**
 * The directory's tenant type and the key store must agree on whose key each account's data is under: an account the
 * directory calls a customer-key tenant's, whose data key the provider holds (or the other way), would be delivered
 * decrypted (or as ciphertext) against what the archive's reader, and verify --config, take it to be. Exit 4.
 */
function refuseTenantMismatch(accounts: readonly Account[], keyService: Pick<KeyService, 'encryptionState'>): void {
  for (const account of accounts) {
    const customerKey = keyService.encryptionState(account.id) === 'customer-key';
    if (customerKey === (account.tenantType === 'customer-key')) continue;
    throw new IntegrityError(
      'STORE_INCONSISTENT',
      customerKey
        ? `account ${account.id}: the key store holds no data key the provider can use (a customer-key tenant's), but the account directory calls its tenant ${account.tenantType}; nothing was delivered`
        : `account ${account.id}: the account directory calls its tenant customer-key, but the key store holds its data key, so its data would go out decrypted; nothing was delivered`,
    );
  }
}

/** What is exported from one store of one account: its content category, its metadata category, or both. */
interface ServicePlan {
  service: StoreService;
  content?: PayloadCategory;
  metadata?: Category;
}

export async function exportOrder(options: ExportOptions): Promise<ExportResult> {
  const startedAt = performance.now();
  const now = options.now ?? new Date();
  const { config, signal } = options;
  throwIfAborted(signal);
  refuseProtectedOutDir(options.outDir, config);
  const custody = options.custody ?? createFileCustodyLog({ file: config.custodyLogFile });
  const helperThreads = options.helperThreads ?? true;
  const sources = resolveSources(config, options.sources, helperThreads);

  const checked = await checkAndRecord(options.orderFile, { config, directory: sources.directory, now }, custody, options.outDir);
  const { order } = checked;
  const accounts = distinctAccounts(checked);
  const accountIds = accounts.map((account) => account.id);
  // The order stands: the reader thread starts while the archive is set up and the first index is read, instead of
  // at the first read (whose answer came 4-20 ms sooner this way, small export, 4 pairs).
  sources.keyService.prepare?.();

  let lock: OrderLock | undefined;
  let scratch: string | undefined;
  let sealer: BagSealer | undefined;
  let run: ReturnType<typeof createRun> | undefined;
  let sealed = false;
  try {
    // Held from before anything of this order in the folder is touched until the export's own files are gone: a
    // second export of the order into the same folder is refused instead of removing this one's files as stale.
    lock = await lockOrderOutput(options.outDir, order.id);
    sealer = await createBagSealer({
      outDir: options.outDir,
      orderId: order.id,
      force: options.force ?? false,
      organization: config.organization,
      accounts: accountIds,
      signerCertificateFile: config.signerCertificateFile,
      signerKeyFile: config.signerKeyFile,
      now,
      hashThread: helperThreads,
      ...(signal ? { signal } : {}),
    }, lock);
    scratch = await createScratch(options.outDir, order.id);
    await custody.append({
      event: 'export.started',
      orderId: order.id,
      details: { process: order.process, accounts: accountIds, categories: [...order.categories] },
    });

    refuseTenantMismatch(accounts, sources.keyService);
    run = createRun({ options, order, sources, sealer, scratch, accountIds });
    if (options.onProgress) await run.countTotals(accounts);
    for (const account of accounts) await run.exportAccount(account);
    await run.finishProduction();
    await sealer.addTagFile('order.json', checked.raw);
    await sealer.addTagFile('production.json', createReadStream(run.productionFile));
    const items = run.itemCounts();
    const contentDisclosed = run.contentDisclosed();
    // The export is recorded before its archive is published under its name: an archive whose custody record could
    // not be written (a full disk under the log) is never delivered, and a --force'd older archive stays in place.
    const seal = await sealer.seal(async (done) => {
      const sealedDetails: ExportSealedDetails & { payloadBytes: number } = {
        process: order.process,
        accounts: accountIds,
        items,
        contentDisclosed,
        bytes: done.bytes,
        payloadBytes: done.payloadBytes,
        // --out is whatever was typed there, a pasted key too: the append-only log never takes one.
        archive: redactKeyMaterial(done.archive),
        sha256: done.sha256,
      };
      const notice: NotificationDueDetails = {
        accounts: accountIds,
        notifyFrom: order.nondisclosure?.until ?? null,
        enterpriseAccounts: accounts.filter((account) => isOrganisationTenant(account.tenantType)).map((account) => account.id),
        enterpriseRedirect: order.enterpriseRedirect,
      };
      // One append: a log that takes the seal and not the notice (a full disk) would keep a record of a delivery
      // that did not happen, with nothing after it to say so.
      await custody
        .appendAll([
          { event: 'export.sealed', orderId: order.id, details: { ...sealedDetails } },
          { event: 'notification.due', orderId: order.id, details: { ...notice } },
        ])
        .catch((error: unknown) => {
          throw notDelivered(error, order.id);
        });
    });
    sealed = true;

    return {
      orderId: order.id,
      archive: seal.archive,
      sha256: seal.sha256,
      bytes: seal.bytes,
      items,
      accounts: accountIds,
      durationMs: Math.round(performance.now() - startedAt),
      payloadBytes: seal.payloadBytes,
      refusedItems: 0,
    };
  } catch (thrown) {
    // Clean-up runs whatever happens and never replaces the first error (an interrupt is the first error when the
    // failure came from it). A system error here may be a consequence of the sealer's failure (a body stream it
    // destroyed): the sealer's own first error then says what happened.
    const caught = thrown instanceof ScopexError ? thrown : (sealer?.failure() ?? thrown);
    const first =
      signal?.aborted && !(caught instanceof ScopeError) && !(caught instanceof IntegrityError)
        ? abortError(signal)
        : sealed
          ? caught
          : (outputWriteError(caught, options.outDir, (folder, why) => `cannot write the archive of order ${order.id} into ${folder}: ${why}; nothing was delivered.`) ??
            caught);
    if (!sealed) await sealer?.abort(first).catch(() => undefined);
    if (first instanceof ScopeViolation) {
      await custody.append({ event: 'scope.incident', orderId: order.id, details: { ...first.incident } }).catch(() => undefined);
    }
    await custody
      .append({ event: 'export.failed', orderId: order.id, details: failureDetails(first, sealed) })
      .catch(() => undefined);
    throw first;
  } finally {
    try {
      run?.dispose();
      await sources.keyService.close?.().catch(() => undefined);
      if (scratch) await rm(scratch, { recursive: true, force: true });
    } finally {
      await lock?.release();
    }
  }
}

/** A custody record of the sealed archive that could not be written: the same error, saying the archive was withheld. */
function notDelivered(error: unknown, orderId: string): unknown {
  const message = (text: string) => `${text.replace(/\.$/, '')}; the archive of order ${orderId} was not delivered.`;
  if (error instanceof InputError) return new InputError(error.code, message(error.message), { cause: error });
  if (error instanceof IntegrityError) return new IntegrityError(error.code, message(error.message), { cause: error });
  return error;
}

/**
 * The export's own temp files (metadata lines, production.json) live beside the archive, in a folder named for the
 * order, so that what a crash (SIGKILL) leaves behind stays in the output folder and the next run of the order
 * removes it (removeDeadRunFiles, under the order's lock, as createBagSealer does before this).
 */
async function createScratch(outDir: string, orderId: string): Promise<string> {
  return mkdtemp(path.join(outDir, exportScratchPrefix(orderId)));
}

function resolveSources(config: ScopexConfig, override: Partial<Sources> | undefined, readerThread: boolean): Sources {
  if (override?.directory && override.adapters && override.keyService) {
    return { directory: override.directory, adapters: override.adapters, keyService: override.keyService };
  }
  const base = createSources(config, { readerThread });
  return {
    directory: override?.directory ?? base.directory,
    adapters: { ...base.adapters, ...override?.adapters },
    keyService: override?.keyService ?? base.keyService,
  };
}

/**
 * Checks the order before any data is touched, and records the verdict in the custody log as `order check` does: a
 * file that cannot be read is no demand received and is only reported to the caller; one that is read but fails
 * strict parsing (a BOM, no id) is logged as malformed under its SHA-256, a refused one under its id; an error that is
 * not about the order (the config's certificates) is not logged.
 */
async function checkAndRecord(orderFile: string, ctx: OrderContext, custody: CustodyLog, outDir: string): Promise<CheckedOrder> {
  const raw = await readOrderBytes(orderFile);
  let order: Order;
  try {
    order = parseOrderBytes(raw, orderFile, directoryIdentifiers(ctx.directory, ctx.config));
  } catch (error) {
    if (error instanceof InputError) await custody.append(malformedOrderEvent(error, raw));
    throw error;
  }
  // Also held to the accounts its first check resolved its targets to (the custody log): an identifier moved since.
  const evaluation = await evaluateOrderOnRecord(order, raw, ctx);
  if (evaluation.reasons.length > 0) {
    await custody.append(refusedOrderEvent(order, evaluation.reasons, raw));
    // A run of the order killed before this one (the order has expired since) left decrypted files there: they go.
    await tidyAfterDeadRuns(outDir, order.id);
    throw new OrderError(evaluation.reasons);
  }
  const checked: CheckedOrder = { order, raw, accounts: evaluation.accounts };
  await custody.append(checkedOrderEvent(order, checked.accounts, raw));
  return checked;
}

function distinctAccounts(checked: CheckedOrder): Account[] {
  const seen = new Map<string, Account>();
  for (const { account } of checked.accounts) if (!seen.has(account.id)) seen.set(account.id, account);
  return [...seen.values()];
}

function failureDetails(error: unknown, sealed: boolean): Record<string, unknown> {
  const code = error instanceof ScopexError ? error.code : 'INTERNAL';
  // Never what may be key material: the log is append-only, and a key pasted into a config path was quoted here.
  const message = error instanceof ScopexError ? redactKeyMaterial(error.message) : 'internal error';
  // After sealing only the custody record failed: the archive is there, but the log does not say so.
  return { code, message, archiveKept: sealed };
}

interface RunContext {
  options: ExportOptions;
  order: Order;
  sources: Sources;
  sealer: BagSealer;
  scratch: string;
  accountIds: string[];
}

/** One item on its way to the sealer: admitted by the gate, its body maybe already being read. */
/** Reads an item's plaintext as it streams past (mail headers, an IM message's facts); `end` may fail the item. */
interface ItemStreamReader {
  push(chunk: Buffer): void;
  end?(): void;
}

interface PreparedItem {
  item: SourceItem;
  encryption: DeliveredEncryption;
  /** Set when the item is small and provider-decryptable: the authenticated plaintext and its SHA-256, read ahead. */
  buffer?: Promise<ItemPlaintext>;
}

/** What an item read ahead holds in memory: its plaintext when it is read whole, nothing when it will stream. */
function bufferedBytes(prepared: PreparedItem): number {
  return prepared.buffer ? prepared.item.bytes : 0;
}

function createRun(ctx: RunContext) {
  const { options, order, sources, sealer, scratch } = ctx;
  const { signal } = options;
  const gate: ScopeGate = createScopeGate({ order, accountIds: ctx.accountIds, legalProcess: options.config.legalProcess });
  const range: TimeRange = { from: new Date(order.dateRange.from), to: new Date(order.dateRange.to) };
  const ordered = new Set<Category>(order.categories);
  const counts: Record<string, number> = Object.fromEntries(CATEGORIES.filter((c) => ordered.has(c)).map((c) => [c, 0]));
  const progress: ExportProgress = { items: 0, bytes: 0 };
  let ciphertextDelivered = false;
  const productionFile = path.join(scratch, 'production.json');
  let production: JsonArraySink | undefined;

  function plans(): ServicePlan[] {
    const out: ServicePlan[] = [];
    for (const service of SERVICE_ORDER) {
      if (service === 'subscriber') {
        if (ordered.has('subscriber')) out.push({ service, content: 'subscriber' });
        continue;
      }
      const content = `${service}.content` as const;
      const metadata = `${service}.metadata` as const;
      const plan: ServicePlan = { service };
      if (ordered.has(content)) plan.content = content;
      if (ordered.has(metadata)) plan.metadata = metadata;
      if (plan.content || plan.metadata) out.push(plan);
    }
    return out;
  }

  function report(item: SourceItem): void {
    progress.items += 1;
    progress.bytes += item.bytes;
    options.onProgress?.({ ...progress });
  }

  async function sinkOfProduction(): Promise<JsonArraySink> {
    production ??= await openJsonArraySink(productionFile);
    return production;
  }

  async function exportService(account: Account, state: EncryptionState, paths: AccountPaths, plan: ServicePlan): Promise<void> {
    const requests: GateRequest[] = [];
    if (plan.content) requests.push({ accountId: account.id, category: plan.content });
    if (plan.metadata) requests.push({ accountId: account.id, category: plan.metadata });
    const primary = requests[0]!;
    const metadataSink: TextSink | undefined = plan.metadata
      ? await openTextSink(path.join(scratch, `${account.id}.${plan.service}.metadata.jsonl`))
      : undefined;
    let metadataLines = 0;
    try {
      const listed = sources.adapters[plan.service].list(account.id, plan.service === 'subscriber' ? ALL_TIME : range, signal);
      const admit = (item: SourceItem): PreparedItem => {
        for (const request of requests) gate.admit(item, request);
        return prepare(item, state, plan, primary);
      };
      const limits = { items: READ_AHEAD_ITEMS, weight: READ_AHEAD_BYTES, weigh: bufferedBytes };
      for await (const batch of readAhead(listed.batches?.() ?? oneByOne(listed), admit, limits, signal)) {
        for (const prepared of batch) {
          throwIfAborted(signal);
          const headers = await deliver(prepared, state, paths, plan, primary);
          if (metadataSink) {
            await metadataSink.write(`${stringifyWellFormed(metadataLine(prepared, headers))}\n`);
            metadataLines += 1;
          }
          report(prepared.item);
        }
      }
      if (metadataSink && plan.metadata) {
        await metadataSink.close();
        const service = plan.service as 'mail' | 'storage' | 'im';
        const added = await sealer.addPayload(paths.metadata(service), createReadStream(metadataSink.file));
        counts[plan.metadata] = (counts[plan.metadata] ?? 0) + metadataLines;
        const record: ProductionRecord = {
          path: added.path,
          sha256: added.sha256,
          bytes: added.bytes,
          account: account.id,
          category: plan.metadata,
          sourceId: null,
          originalName: null,
          timestamp: null,
          // Nothing in the file is encrypted, and it is not an item the provider decrypted: it describes the items.
          encryption: 'none',
          items: metadataLines,
        };
        await (await sinkOfProduction()).push(record);
      }
    } finally {
      metadataSink?.destroy();
    }
  }

  function prepare(item: SourceItem, state: EncryptionState, plan: ServicePlan, primary: GateRequest): PreparedItem {
    const encryption: DeliveredEncryption =
      state === 'customer-key' ? 'customer-key' : item.kind === 'mail' && item.userEncryption ? 'user-encrypted' : 'provider-decrypted';
    const prepared: PreparedItem = { item, encryption };
    const small = item.kind === 'subscriber' || item.bytes <= SMALL_ITEM_BYTES;
    if (state === 'provider-key' && small && needsBody(item, state, plan)) {
      prepared.buffer = readSmall(item, primary, wantsHeaders(item, state, plan));
      // Read ahead: a failure is handled when the consumer reaches this item, not as an unhandled rejection.
      prepared.buffer.catch(() => undefined);
    }
    return prepared;
  }

  /** Storage and IM metadata come from the index alone; mail metadata needs the headers of the message. */
  function needsBody(item: SourceItem, state: EncryptionState, plan: ServicePlan): boolean {
    return plan.content !== undefined || (item.kind === 'mail' && state === 'provider-key');
  }

  /** Mail metadata is read from the message's headers, which only the provider's key can open. */
  function wantsHeaders(item: SourceItem, state: EncryptionState, plan: ServicePlan): boolean {
    return item.kind === 'mail' && plan.metadata !== undefined && state === 'provider-key';
  }

  async function readSmall(item: SourceItem, request: GateRequest, mailHeaders: boolean): Promise<ItemPlaintext> {
    const limit = item.kind === 'subscriber' ? MAX_SUBSCRIBER_BYTES : item.bytes;
    let body: ItemPlaintext;
    try {
      // The key service reads the headers on the thread that decrypted the message, when it has one.
      body = await sources.keyService.readItem(item.ref, limit, { mailHeaders });
    } catch (error) {
      // readItem refuses a blob larger than the size asked for; when the index lied about the size, that is the
      // source's scope violation, not a damaged blob.
      if (error instanceof IntegrityError && error.code === 'ITEM_FORMAT') await checkStoredSize(item, request);
      throw error;
    }
    gate.checkBytes(item, request, body.bytes.length);
    return body;
  }

  async function checkStoredSize(item: SourceItem, request: GateRequest): Promise<void> {
    // Only a blob that is a file of its own has a size to judge: a link or a FIFO there is refused as it is.
    const stored = await lstat(item.ref.blobFile).catch(() => undefined);
    if (stored?.isFile() && stored.size - BLOB_OVERHEAD !== item.bytes && item.kind !== 'subscriber') {
      // A blob grown by tampering or corruption fails authentication (exit 4), as a shrunk one does; only a blob that
      // opens under its own key and is larger than its index says is the source handing over more than it declared.
      await authenticateWhole(item);
      gate.checkBytes(item, request, stored.size - BLOB_OVERHEAD);
    }
  }

  /** Reads the item's blob to its end, discarding the plaintext, and throws what its authentication found. */
  async function authenticateWhole(item: SourceItem): Promise<void> {
    await pipeline(
      sources.keyService.openItem(item.ref),
      new Writable({
        write: (chunk: Buffer, _encoding, callback) => {
          giveBackChunk(chunk);
          callback();
        },
      }),
      signal ? { signal } : {},
    );
  }

  /** Writes the item's content (when ordered) and returns the mail headers (when its metadata is ordered). */
  async function deliver(
    prepared: PreparedItem,
    state: EncryptionState,
    paths: AccountPaths,
    plan: ServicePlan,
    primary: GateRequest,
  ): Promise<MailHeaderFields | null> {
    const { item } = prepared;
    if (!needsBody(item, state, plan)) return null;
    const wantHeaders = wantsHeaders(item, state, plan);
    if (prepared.buffer) {
      const body = await prepared.buffer;
      if (item.kind === 'im') checkImMessage(item, body.bytes, gate, primary);
      if (plan.content) await addContent(prepared, paths, plan.content, item.kind === 'subscriber' ? subscriberBody(body.bytes, item) : body);
      return wantHeaders ? (body.mailHeaders ?? mailHeaderFields(body.bytes)) : null;
    }
    const collector = wantHeaders ? createMailHeaderCollector() : undefined;
    // A message too large to be read whole is compared with its index line as it streams past, before the archive
    // is sealed: the check fails the stream at its end, which stops the export.
    let reader: ItemStreamReader | undefined = collector;
    // A customer-key message streams as stored, encrypted: there is nothing in it to read.
    if (item.kind === 'im' && state !== 'customer-key') {
      const im = createImFactsCollector();
      reader = { push: (chunk) => im.push(chunk), end: () => checkImFacts(item, im.facts(), gate, primary) };
    }
    // Its CRC-32 first, read once to the end: the archive gives it before the entry's data (see declareWholeEntry).
    const crc = plan.content ? await streamedCrc(item, state, primary) : undefined;
    const guarded = guardedItemStream(item, state, primary, reader);
    if (plan.content) {
      await addContent(prepared, paths, plan.content, guarded, crc);
    } else {
      await guarded.consume();
    }
    return collector ? collector.fields() : null;
  }

  function subscriberBody(body: Buffer, item: SourceItem): Buffer {
    let record: unknown;
    const text = body.toString('utf8');
    // The record goes out as its values written again, so what JSON.parse would lose without a word (the first of two
    // equal keys, a "__proto__" member, a number it cannot hold exactly) stops the export rather than go out changed.
    try {
      record = parseStrictJson(text);
    } catch (error) {
      // No cause, and no key or value quoted: the parser's message would quote the decrypted record.
      const strict = error instanceof StrictJsonError && error.message !== 'it is not valid JSON' ? error : undefined;
      const why = strict ? `cannot be delivered as stored: ${strict.message.replace(/^key "[^"]*"/, 'a key')}` : 'is not valid JSON';
      const field = strict?.field ? ` (field ${redactKeyMaterial(strict.field)})` : '';
      throw new IntegrityError('ITEM_FORMAT', `the subscriber record of account ${item.accountId} ${why}${field}`);
    }
    if (inexactNumber(text) !== null) {
      throw new IntegrityError('ITEM_FORMAT', `the subscriber record of account ${item.accountId} cannot be delivered as stored: it holds a number that would be written back as another (more digits than a JSON number keeps exactly)`);
    }
    // Decision: the record's standing facts are delivered whole; its dated history (logins, IPs) only within the
    // order's date range, since those events are as time-bound as mail or messages.
    const filtered = filterSubscriberRecord(record, range);
    return Buffer.from(`${JSON.stringify(filtered.record, null, 2)}\n`, 'utf8');
  }

  /**
   * The CRC-32 of what a streamed item delivers (its plaintext, or its blob as stored), read once to the end and
   * discarded; undefined when its size is not the one declared (the guarded stream then fails, as it says why). A
   * plaintext is authenticated on the way: a blob altered at rest fails here (exit 4), and one that opens under its
   * key but is larger or smaller than its index says is the source's scope violation.
   */
  async function streamedCrc(item: SourceItem, state: EncryptionState, request: GateRequest): Promise<number | undefined> {
    const keys = sources.keyService;
    if (state === 'customer-key') {
      const stored = await crcOfStream(keys.openStored(item.ref), signal);
      return stored.bytes === item.bytes + BLOB_OVERHEAD ? stored.crc32 : undefined;
    }
    const plain = keys.plaintextCrc ? await keys.plaintextCrc(item.ref, signal) : await crcOfStream(keys.openItem(item.ref), signal);
    gate.checkBytes(item, request, plain.bytes);
    return plain.crc32;
  }

  /** The item's bytes, counted against its declared size as they pass; a mismatch fails the stream (ScopeError). */
  function guardedItemStream(item: SourceItem, state: EncryptionState, request: GateRequest, reader?: ItemStreamReader) {
    const storedCiphertext = state === 'customer-key';
    const expected = storedCiphertext ? item.bytes + BLOB_OVERHEAD : item.bytes;
    const source: Readable = storedCiphertext ? sources.keyService.openStored(item.ref) : sources.keyService.openItem(item.ref);
    let seen = 0;
    let failure: unknown;
    const violation = (): unknown => {
      try {
        gate.checkBytes(item, request, storedCiphertext ? seen - BLOB_OVERHEAD : seen);
      } catch (error) {
        failure ??= error;
      }
      return failure;
    };
    const guard = new Transform({
      transform(chunk: Buffer, _encoding, callback: TransformCallback) {
        seen += chunk.length;
        if (seen > expected) {
          // More than the index declares. A plaintext is read to its end before that is called the source's scope
          // violation: a blob grown by tampering fails authentication there (exit 4), as a shrunk one does. Nothing
          // more is passed on, and the stream fails at its end either way.
          if (storedCiphertext) {
            callback(violation() as Error);
            return;
          }
          giveBackChunk(chunk);
          callback();
          return;
        }
        reader?.push(chunk);
        callback(null, chunk);
      },
      flush(callback: TransformCallback) {
        if (seen !== expected) {
          callback(violation() as Error);
          return;
        }
        try {
          reader?.end?.();
        } catch (error) {
          failure ??= error;
          callback(error as Error);
          return;
        }
        callback(null);
      },
    });
    source.once('error', (error) => {
      failure ??= error;
    });
    const onAbort = () => guard.destroy(signal ? abortError(signal) : undefined);
    signal?.addEventListener('abort', onAbort, { once: true });
    pipelineCallback(source, guard, () => signal?.removeEventListener('abort', onAbort));
    return {
      stream: guard as Readable,
      /** The size the stream has if it is delivered at all (the guard fails it otherwise). */
      bytes: expected,
      /**
       * The SHA-256 and size the key service took of the plaintext as it read it (the reader thread), when it did:
       * the guard passes every byte on unchanged, or fails the stream.
       */
      digest: isDigesting(source) ? source.plaintextDigest : undefined,
      /** The first error of the item itself (source, key service, size), which wins over what a consumer saw. */
      failure: () => failure,
      destroy: () => guard.destroy(),
      async consume() {
        try {
          await pipeline(
            guard,
            new Writable({
              write: (chunk: Buffer, _encoding, callback) => {
                // Its last reader: the headers were copied out of it as it passed.
                giveBackChunk(chunk);
                callback();
              },
            }),
          );
        } catch (error) {
          throw failure ?? error;
        }
      },
    };
  }

  async function addContent(
    prepared: PreparedItem,
    paths: AccountPaths,
    category: PayloadCategory,
    body: Buffer | ItemPlaintext | ReturnType<typeof guardedItemStream>,
    streamCrc32?: number,
  ): Promise<void> {
    const { item, encryption } = prepared;
    const storedCiphertext = encryption === 'customer-key';
    const relPath = paths.item(category, item, storedCiphertext);
    let added;
    if (Buffer.isBuffer(body) || 'sha256' in body) {
      // A small item's plaintext comes with the SHA-256 its reader took of it: the sealer does not hash it again.
      added = await sealer.addPayload(relPath, body);
    } else {
      try {
        added = await sealer.addPayload(relPath, body.digest ? { stream: body.stream, digest: body.digest } : body.stream, body.bytes, streamCrc32);
      } catch (error) {
        body.destroy();
        throw body.failure() ?? error;
      }
      const late = body.failure();
      if (late) throw late;
    }
    counts[category] = (counts[category] ?? 0) + 1;
    if (storedCiphertext) ciphertextDelivered = true;
    const record: ProductionRecord = {
      path: added.path,
      sha256: added.sha256,
      bytes: added.bytes,
      account: item.accountId,
      category,
      sourceId: item.id,
      originalName: item.name,
      timestamp: item.kind === 'subscriber' ? null : item.timestamp,
      encryption,
    };
    await (production ?? (await sinkOfProduction())).push(record);
  }

  function metadataLine(prepared: PreparedItem, headers: MailHeaderFields | null): Record<string, unknown> {
    const { item } = prepared;
    switch (item.kind) {
      case 'mail':
        return mailMetadata(item, prepared.encryption, headers);
      case 'file':
        return storageMetadata(item);
      case 'im':
        return imMetadata(item);
      case 'subscriber':
        throw new Error('subscriber records have no metadata category');
      default: {
        const unknown: never = item;
        throw new Error(`unknown item kind ${String((unknown as SourceItem).kind)}`);
      }
    }
  }

  return {
    productionFile,

    /** A pre-pass over the indexes (not the items) so that progress can show totals and an ETA. */
    async countTotals(accounts: Account[]): Promise<void> {
      let totalItems = 0;
      let totalBytes = 0;
      for (const account of accounts) {
        for (const plan of plans()) {
          const listed = sources.adapters[plan.service].list(account.id, plan.service === 'subscriber' ? ALL_TIME : range, signal);
          for await (const item of listed) {
            totalItems += 1;
            totalBytes += Number.isSafeInteger(item.bytes) ? item.bytes : 0;
          }
        }
      }
      progress.totalItems = totalItems;
      progress.totalBytes = totalBytes;
      options.onProgress?.({ ...progress });
    },

    async exportAccount(account: Account): Promise<void> {
      throwIfAborted(signal);
      const state = sources.keyService.encryptionState(account.id);
      const paths = createAccountPaths(account.id);
      for (const plan of plans()) await exportService(account, state, paths, plan);
    },

    async finishProduction(): Promise<void> {
      const sink = await sinkOfProduction();
      await sink.close();
    },

    /** Closes what a failed run left open (its files go with the scratch folder). */
    dispose(): void {
      production?.destroy();
    },

    itemCounts(): Record<string, number> {
      return { ...counts };
    },

    contentDisclosed(): boolean {
      return ciphertextDelivered || CATEGORIES.some((c) => c.endsWith('.content') && (counts[c] ?? 0) > 0);
    },
  };
}
