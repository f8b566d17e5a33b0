// The verifier's handle on `RecordChecks`: in its own thread for a small archive, on a records thread for a large
// one. Both give the same outcomes. The main thread feeds its own checks the bytes of the manifest and
// production.json as its pass over the archive comes to them (`sink`); the thread reads them from the archive itself
// (`readEarly`), so that parsing them overlaps that pass.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { MetadataCategory } from '../pipeline/metadata-fields.js';
import { stopWorker } from '../util/stop-worker.js';
import { DigestTable } from './digest-table.js';
import type { MetadataSummary } from './metadata-lines.js';
import { RecordChecks, type CheckOutcome, type ReadResults, type RecordFile, type RecordLayout, type RecordSettings, type ScopeRule } from './record-checks.js';
import type { RecordsReply, RecordsRequest } from './records-protocol.js';

export interface RecordSink {
  update(chunk: Buffer): void;
  end(): void;
}

/** What the records thread read of a file it read itself. */
export interface EarlyReadResult {
  sha256: string;
  bytes: number;
  crc: number;
  /** A metadata file's lines. */
  summary?: MetadataSummary;
}

export interface RecordChecker {
  /** Whether `readEarly` is available. */
  readonly threaded: boolean;
  /** How the records are read; before anything else (the thread may start before the entries are listed). */
  begin(settings: RecordSettings): void;
  /** What the records are checked against, once the names are; before any check. */
  setLayout(layout: RecordLayout): void;
  /** Where the main thread feeds `file`'s bytes, in order (the chunks may be reused after each call); not threaded. */
  sink(file: RecordFile): RecordSink;
  /** The same for the metadata file at bag path `path`, whose lines' summary goes to `done`; not threaded. */
  metadataSink(path: string, category: MetadataCategory, done: (summary: MetadataSummary) => void): RecordSink;
  /**
   * Has the records thread read `length` bytes at `position` of the open archive `fd` and feed them to `file`; resolves
   * to the SHA-256, length and CRC-32 of what it read. The file must stay open until then.
   */
  readEarly(file: RecordFile, fd: number, position: number, length: number): Promise<EarlyReadResult>;
  /** `readEarly` for the metadata file at bag path `path`, once the layout is set; resolves with its lines' summary too. */
  readMetadata(path: string, category: MetadataCategory, fd: number, position: number, length: number): Promise<EarlyReadResult>;
  /** Forgets `file`, as if no byte of it had been fed. */
  discard(file: RecordFile): void;
  payload(read: ReadResults): Promise<CheckOutcome>;
  /** Uses the results given to `payload`. */
  /** `contentServices`: the services whose content the order the archive carries names. */
  production(contentServices: string[]): Promise<CheckOutcome>;
  scope(rule: ScopeRule): Promise<CheckOutcome>;
  close(): Promise<void>;
}

/**
 * A records thread running the built script beside this module; undefined when that is not there (running from the
 * TypeScript sources) or cannot start, unless `required`: then that throws.
 */
export function startRecordsThread(required: boolean): RecordChecker | undefined {
  const script = new URL('./records-thread.js', import.meta.url);
  if (!existsSync(fileURLToPath(script))) {
    if (required) throw new Error(`the records thread's script ${fileURLToPath(script)} is not there`);
    return undefined;
  }
  try {
    return new ThreadedRecordChecker(new Worker(script));
  } catch (error) {
    if (required) throw error;
    return undefined;
  }
}

export class LocalRecordChecker implements RecordChecker {
  readonly threaded = false;
  private started: RecordChecks | null = null;
  private lastRead: ReadResults | null = null;

  begin(settings: RecordSettings): void {
    this.started = new RecordChecks(settings);
  }

  setLayout(layout: RecordLayout): void {
    this.checks.setLayout(layout);
  }

  private get checks(): RecordChecks {
    if (this.started === null) throw new Error('the record checks were not begun');
    return this.started;
  }

  sink(file: RecordFile): RecordSink {
    return this.checks.sink(file);
  }

  metadataSink(path: string, category: MetadataCategory, done: (summary: MetadataSummary) => void): RecordSink {
    return this.checks.metadataSink(path, category, done);
  }

  readEarly(): Promise<EarlyReadResult> {
    return Promise.reject(new Error('only a records thread reads early'));
  }

  readMetadata(): Promise<EarlyReadResult> {
    return this.readEarly();
  }

  discard(file: RecordFile): void {
    this.checks.discard(file);
  }

  payload(read: ReadResults): Promise<CheckOutcome> {
    this.lastRead = read;
    return Promise.resolve(this.checks.checkPayload(read));
  }

  production(contentServices: string[]): Promise<CheckOutcome> {
    if (this.lastRead === null) return Promise.reject(new Error('production checked before payload'));
    return Promise.resolve(this.checks.checkProduction(this.lastRead, contentServices));
  }

  scope(rule: ScopeRule): Promise<CheckOutcome> {
    return Promise.resolve(this.checks.checkScope(rule));
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

interface Pending {
  resolve(reply: RecordsReply): void;
  reject(error: Error): void;
}

class ThreadedRecordChecker implements RecordChecker {
  readonly threaded = true;
  private worker: Worker | null;
  private failure: Error | null = null;
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;

  constructor(worker: Worker) {
    this.worker = worker;
    worker.unref(); // referenced only while it owes us a reply
    worker.on('message', (reply: RecordsReply) => this.received(reply));
    worker.on('error', (error: Error) => this.stop(error));
    worker.on('exit', () => this.stop(new Error('the records thread stopped')));
  }

  begin(settings: RecordSettings): void {
    this.post({ type: 'begin', settings });
  }

  setLayout(layout: RecordLayout): void {
    this.post({ type: 'layout', layout });
  }

  /** The thread reads its files itself: fed bytes would queue up there without bound while it is busy. */
  sink(): RecordSink {
    throw new Error('the records thread reads its files itself');
  }

  metadataSink(): RecordSink {
    return this.sink();
  }

  readEarly(file: RecordFile, fd: number, position: number, length: number): Promise<EarlyReadResult> {
    return this.read((id) => ({ type: 'read', id, file, fd, position, length }));
  }

  readMetadata(path: string, category: MetadataCategory, fd: number, position: number, length: number): Promise<EarlyReadResult> {
    return this.read((id) => ({ type: 'read', id, file: { metadata: path, category }, fd, position, length }));
  }

  private async read(request: (id: number) => RecordsRequest): Promise<EarlyReadResult> {
    const reply = await this.ask(request);
    if (reply.type !== 'read') throw new Error(`the records thread answered a read with ${reply.type}`);
    return { sha256: reply.sha256, bytes: reply.bytes, crc: reply.crc, ...(reply.summary ? { summary: reply.summary } : {}) };
  }

  discard(file: RecordFile): void {
    this.post({ type: 'discard', file });
  }

  payload(read: ReadResults): Promise<CheckOutcome> {
    const table = read.digests;
    if (!(table instanceof DigestTable)) return Promise.reject(new Error('the records thread takes the digests as a DigestTable'));
    // Copies (the verifier goes on using its own), moved over without another.
    const digests = table.bytes.slice();
    const present = table.present.slice();
    const sizes = Float64Array.from(read.sizes);
    return this.outcome((id) => ({ type: 'payload', id, digests, present, sizes }), [digests.buffer, present.buffer, sizes.buffer]);
  }

  production(contentServices: string[]): Promise<CheckOutcome> {
    return this.outcome((id) => ({ type: 'production', id, contentServices }));
  }

  scope(rule: ScopeRule): Promise<CheckOutcome> {
    return this.outcome((id) => ({ type: 'scope', id, rule }));
  }

  /** Stops the thread (safe to call more than once, and after a failure). */
  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = null;
    this.stop(new Error('the records thread was closed'));
    if (worker) await stopWorker(worker);
  }

  private async outcome(request: (id: number) => RecordsRequest, transfer: ArrayBuffer[] = []): Promise<CheckOutcome> {
    const reply = await this.ask(request, transfer);
    if (reply.type !== 'outcome') throw new Error(`the records thread answered a check with ${reply.type}`);
    return reply.outcome;
  }

  private ask(request: (id: number) => RecordsRequest, transfer: ArrayBuffer[] = []): Promise<RecordsReply> {
    const id = this.nextId++;
    return new Promise<RecordsReply>((resolve, reject) => {
      if (this.failure) {
        reject(this.failure);
        return;
      }
      this.post(request(id), transfer);
      this.pending.set(id, { resolve, reject });
      this.worker?.ref();
    });
  }

  private post(request: RecordsRequest, transfer: ArrayBuffer[] = []): void {
    if (this.failure) throw this.failure;
    const worker = this.worker;
    if (worker === null) throw new Error('the records thread was closed');
    worker.postMessage(request, transfer);
  }

  private received(reply: RecordsReply): void {
    if (reply.type === 'failed') {
      this.stop(Object.assign(new Error(`the records thread failed: ${reply.message}`), reply.code === undefined ? {} : { code: reply.code }));
      return;
    }
    const pending = this.pending.get(reply.id);
    if (!pending) return;
    this.pending.delete(reply.id);
    if (this.pending.size === 0) this.worker?.unref();
    pending.resolve(reply);
  }

  private stop(error: Error): void {
    this.failure ??= error;
    const waiting = [...this.pending.values()];
    this.pending.clear();
    this.worker?.unref();
    for (const pending of waiting) pending.reject(this.failure);
  }
}
