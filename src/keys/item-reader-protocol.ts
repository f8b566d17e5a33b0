// Messages between the key service and its reader thread. A batch travels as a few flat values (one JSON string out,
// typed arrays back) rather than one object per item: cloning 128 small objects each way cost more of the main
// thread than reading the blobs did.
import type { KeyObject } from 'node:crypto';
import type { IntegrityErrorCode } from '../errors.js';
import type { MailHeaderFields } from '../pipeline/mail-headers.js';
import type { StoreService } from './key-service.js';

export interface ReadJob {
  file: string;
  service: StoreService;
  accountId: string;
  itemId: string;
  maxBytes: number;
  /** Also read the message's header fields (mail-headers.ts), so that the main thread need not parse them. */
  mailHeaders: boolean;
}

/** Fields per job in a batch's `jobs` JSON array: file, service, accountId, itemId, maxBytes, mailHeaders (1 or 0). */
export const JOB_FIELDS = 6;

/** A batch's jobs as one JSON string of their fields, job after job. */
export function encodeJobs(jobs: readonly ReadJob[]): string {
  const flat: (string | number)[] = [];
  for (const job of jobs) flat.push(job.file, job.service, job.accountId, job.itemId, job.maxBytes, job.mailHeaders ? 1 : 0);
  return JSON.stringify(flat);
}

export function decodeJobs(encoded: string): ReadJob[] {
  const flat = JSON.parse(encoded) as (string | number)[];
  const jobs: ReadJob[] = [];
  for (let at = 0; at + JOB_FIELDS <= flat.length; at += JOB_FIELDS) {
    jobs.push({
      file: flat[at] as string,
      service: flat[at + 1] as StoreService,
      accountId: flat[at + 2] as string,
      itemId: flat[at + 3] as string,
      maxBytes: flat[at + 4] as number,
      mailHeaders: flat[at + 5] === 1,
    });
  }
  return jobs;
}

export type ReaderRequest =
  /** The data key of one account, sent once before its first job (a KeyObject is cloned, never exported). */
  | { type: 'key'; accountId: string; key: KeyObject }
  /** Plaintexts go into shared arena `arena` (from workerData.arenas) while they fit, then by transfer. */
  | { type: 'read'; jobs: string; arena: number }
  /** Drop every data key: the key service that sent them is done, and the thread waits for the next one. */
  | { type: 'forget' }
  /**
   * Open a stored item to stream its plaintext (a large item), under an id the main side chose; the thread answers
   * with its first chunk. Each `more` asks for one chunk more; `cancel` closes the stream early.
   */
  | { type: 'stream'; id: number; file: string; service: StoreService; accountId: string; itemId: string }
  | { type: 'more'; id: number }
  | { type: 'cancel'; id: number }
  /**
   * Read a stored item to its end and answer with the CRC-32 and size of its plaintext (a `crc` reply, once the tag is
   * checked), sending none of it: the sealer writes a large entry's CRC-32 in its local header, before its data.
   * `cancel` stops it.
   */
  | { type: 'crc'; id: number; file: string; service: StoreService; accountId: string; itemId: string }
  /** Ring slot `slot`, lent with a `lent` reply, is free again: the last reader of its chunk is done with it. */
  | { type: 'return'; slot: number };

/** Plaintext bytes in each chunk of a streamed item, at most; the ring's slots are this big. */
export const STREAM_CHUNK_BYTES = 1024 * 1024;
/**
 * Slots of the ring that streamed chunks are lent from: more than an export ever has lent at once, so that it never
 * falls back to moving new buffers. A chunk stays lent while it waits in the item's stream, in archiver's streams and
 * in the file sink's queue while the disk catches up: up to 12 at once in a 4 GiB export. With 8 slots that export
 * moved ~120 new buffers over instead, and peaked at ~15 MB more RSS (152,405 against 137,573 KB, means of 3). A slot
 * never used is never touched, and costs no memory.
 */
export const RING_SLOTS = 16;

/**
 * A streamed item's answers: a chunk of plaintext, lent in ring slot `slot` until the main side returns it, or moved
 * over when no slot is free; then `end`, once the tag is checked, with the SHA-256 (hex) and size of all of them; or
 * `failed`.
 */
export type StreamReply =
  | { type: 'lent'; id: number; slot: number; length: number }
  | { type: 'chunk'; id: number; bytes: Uint8Array }
  | { type: 'end'; id: number; sha256: string; bytes: number }
  | { type: 'crc'; id: number; crc32: number; bytes: number }
  | { type: 'failed'; id: number; failure: ReadFailure };

/**
 * What the thread is started with: the shared arenas that carry small plaintexts back, and the ring of RING_SLOTS
 * slots of STREAM_CHUNK_BYTES that streamed chunks are lent from.
 */
export interface ReaderThreadData {
  arenas: SharedArrayBuffer[];
  ring: SharedArrayBuffer;
}

export type ReadFailure =
  | { kind: 'integrity'; code: IntegrityErrorCode; message: string }
  | { kind: 'open'; code: string | undefined; message: string }
  | { kind: 'other'; message: string };

/** Job `index`'s plaintext did not fit in the arena and was moved over on its own, or its read failed. */
export type Exception = { index: number; bytes: Uint8Array; sha256: string } | { index: number; failure: ReadFailure };

/**
 * `spans[2i]` is where job i's plaintext starts in the arena (or IN_EXCEPTIONS), `spans[2i + 1]` its length; its
 * SHA-256 is `digests.slice(64 * i, 64 * i + 64)`.
 */
export const IN_EXCEPTIONS = -1;

export interface ReaderReply {
  type: 'read';
  arena: number;
  /** Bytes of the arena in use: [0, used) holds the plaintexts placed there. */
  used: number;
  spans: Int32Array;
  /** The SHA-256 (hex) of each plaintext placed in the arena, job after job, 64 characters each (spaces for the others). */
  digests: string;
  /** The CRC-32 of each job's plaintext (placed or moved), as an unsigned value in a signed slot; 0 for failures. */
  crcs: Int32Array;
  /** encodeHeaders of the header fields of the jobs that asked for them; '' when none did. */
  headers: string;
  exceptions: Exception[];
}

/** One job's header fields in a reply: from, to, cc, date, messageId, headerTruncated, headerBytesReplaced. */
type HeaderTuple = [string | null, string | null, string | null, string | null, string | null, boolean, boolean];

/** The header fields of a batch's jobs (null for a job that did not ask or whose read failed), as one JSON text. */
export function encodeHeaders(fields: readonly (MailHeaderFields | null)[]): string {
  const tuples = fields.map((f): HeaderTuple | null => (f ? [f.from, f.to, f.cc, f.date, f.messageId, f.headerTruncated, f.headerBytesReplaced] : null));
  return JSON.stringify(tuples);
}

/**
 * The header fields of a reply, job by job. A job whose entry is missing or not of the expected shape gets undefined
 * (its caller then reads the headers from the plaintext itself): a broken reply never gives wrong fields.
 */
export function decodeHeaders(encoded: string, jobs: number): (MailHeaderFields | undefined)[] {
  const out = new Array<MailHeaderFields | undefined>(jobs).fill(undefined);
  if (encoded === '') return out;
  let tuples: unknown;
  try {
    tuples = JSON.parse(encoded);
  } catch {
    return out;
  }
  if (!Array.isArray(tuples)) return out;
  for (let index = 0; index < jobs && index < tuples.length; index += 1) out[index] = fieldsOf(tuples[index]);
  return out;
}

function fieldsOf(tuple: unknown): MailHeaderFields | undefined {
  if (!Array.isArray(tuple) || tuple.length !== 7) return undefined;
  const [from, to, cc, date, messageId, headerTruncated, headerBytesReplaced] = tuple as unknown[];
  const text = (value: unknown): value is string | null => value === null || typeof value === 'string';
  if (!text(from) || !text(to) || !text(cc) || !text(date) || !text(messageId) || typeof headerTruncated !== 'boolean' || typeof headerBytesReplaced !== 'boolean') return undefined;
  return { from, to, cc, date, messageId, headerTruncated, headerBytesReplaced };
}
