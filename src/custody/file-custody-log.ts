// The custody log on disk: append-only JSON Lines, hash-chained, safe under concurrent appends in and across processes.
import { createHash, randomBytes } from 'node:crypto';
import { constants, promises as fs, type BigIntStats } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { canonicalJson } from '../order/canonical.js';
import { describeFsError, InputError, IntegrityError, outputWriteError } from '../errors.js';
import type { CustodyEvent, CustodyEventType, CustodyLog, CustodyRecord } from './custody-log.js';
import { ensureDir } from '../util/ensure-dir.js';
import { holdingInterrupts } from '../util/interrupts.js';
import { processIdentity } from '../util/process-identity.js';

export interface FileCustodyLogOptions {
  /** The log file (config.custodyLogFile). Its folder is created when missing. */
  file: string;
  /** The clock; tests pin it. */
  now?: () => Date;
  /** How long to wait for another writer's lock before giving up (default 60 s). */
  lockTimeoutMs?: number;
}

/**
 * The mode the log and its head file are created with: read and write by their owner only, whatever the umask. The
 * log names which accounts are under which demands, some of them under a gag order.
 */
export const CUSTODY_FILE_MODE = 0o600;

/** The prevHash of the first record. */
export const GENESIS_HASH = '0'.repeat(64);

export const CUSTODY_EVENT_TYPES: readonly CustodyEventType[] = [
  'order.checked',
  'order.refused',
  'export.started',
  'export.sealed',
  'export.failed',
  'scope.incident',
  'archive.verified',
  'notification.due',
];

/** A lock older than this is someone's crash, not someone's append (an append takes milliseconds). */
const STALE_LOCK_MS = 30_000;
/** The tail read starts with this many bytes and doubles until it holds a whole line. */
const TAIL_CHUNK = 64 * 1024;
/** A record line longer than this is not one scopex wrote. */
const MAX_RECORD_BYTES = 16 * 1024 * 1024;
/** A head file longer than this is not one scopex wrote ({"seq":N,"hash":"<64 hex>"} is under 100 bytes). */
const MAX_HEAD_BYTES = 4096;
/**
 * The most records one append writes: export's sealed archive and the notice it makes due. Audit verify accepts that
 * many records past the head file as one append under way, and no more.
 */
export const MAX_RECORDS_PER_APPEND = 2;

/** The log file's sidecar holding the last record's seq and hash, so that a truncated tail is caught too. */
export function headFileFor(logFile: string): string {
  return `${logFile}.head`;
}

/**
 * The pending file: the seq and hash of the record an append is about to write, written before the record and removed
 * after its head file. A kill between the record and its head file leaves both, and the next append (or an audit)
 * takes the record past the head that the pending file names as that append's: its head file is then written.
 */
export function pendingFileFor(logFile: string): string {
  return `${logFile}.pending`;
}

export function lockFileFor(logFile: string): string {
  return `${logFile}.lock`;
}

/**
 * The log file itself, its links resolved (of the file, or of its folder while the file is not there yet): its head,
 * pending and lock files belong beside it, whatever path a config reaches it by. Two configs naming one log, one of
 * them through a symbolic link, kept a head file and a lock each: an append through one path left the log a record
 * past the other's head file, refused from then on as an insertion, and the two did not exclude each other.
 */
export async function resolveLogFile(file: string): Promise<string> {
  try {
    return await fs.realpath(file);
  } catch {
    try {
      return path.join(await fs.realpath(path.dirname(file)), path.basename(file));
    } catch {
      return file;
    }
  }
}

/** Every field a custody record has. The hash covers all but `hash`; a field outside this list is covered by nothing. */
export const RECORD_FIELDS: readonly string[] = ['seq', 'time', 'event', 'orderId', 'details', 'prevHash', 'hash'];

/** The fields of a parsed record that the format does not define: none in a record scopex wrote. */
export function unknownRecordFields(record: object): string[] {
  return Object.keys(record).filter((key) => !RECORD_FIELDS.includes(key));
}

/** SHA-256 (hex) of the canonical JSON of a record without its `hash` field. */
export function recordHash(record: Omit<CustodyRecord, 'hash'> | CustodyRecord): string {
  const { seq, time, event, orderId, details, prevHash } = record;
  return createHash('sha256').update(canonicalJson({ seq, time, event, orderId, details, prevHash }), 'utf8').digest('hex');
}

/** Appends within one process are serialized per file, whichever CustodyLog object makes them. */
const queues = new Map<string, Promise<unknown>>();

export function createFileCustodyLog(options: FileCustodyLogOptions): CustodyLog {
  if (!options.file) throw new TypeError('createFileCustodyLog needs a file');
  const file = path.resolve(options.file);
  const now = options.now ?? (() => new Date());
  // Longer than STALE_LOCK_MS, so that a lock left by a crash is broken before a waiting writer gives up.
  const lockTimeoutMs = options.lockTimeoutMs ?? 2 * STALE_LOCK_MS;

  const appendAll = (events: readonly CustodyEvent[]): Promise<CustodyRecord[]> => {
    // Checked before queueing so that a bad call fails alone and never blocks the queue.
    let checked: CustodyEvent[];
    try {
      if (events.length === 0 || events.length > MAX_RECORDS_PER_APPEND) {
        throw new TypeError(`one custody append writes 1 to ${MAX_RECORDS_PER_APPEND} records, not ${events.length}`);
      }
      checked = events.map((event) => ({ event: event.event, orderId: event.orderId, details: sanitizeDetails(event) }));
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new TypeError(String(error)));
    }
    const previous = queues.get(file) ?? Promise.resolve();
    const append = () =>
      appendLocked(file, checked, now, lockTimeoutMs).catch((error: unknown) => {
        throw unwritable(error, file, 'nothing was appended');
      });
    const next = previous.then(append, append);
    queues.set(file, next);
    void next.then(
      () => {
        if (queues.get(file) === next) queues.delete(file);
      },
      () => {
        if (queues.get(file) === next) queues.delete(file);
      },
    );
    return next;
  };

  return {
    append: async (event) => (await appendAll([event]))[0]!,
    appendAll,
  };
}

const PRIVATE_KEY_PEM = /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/;

/**
 * The details become exactly what JSON keeps of them (so the stored line and the hashed value agree), and nothing
 * that looks like a private key is ever written: such a call is a bug in the caller and fails loudly, without
 * echoing the value.
 */
function sanitizeDetails(event: CustodyEvent): Record<string, unknown> {
  if (!CUSTODY_EVENT_TYPES.includes(event.event)) throw new TypeError(`unknown custody event type ${String(event.event)}`);
  if (typeof event.orderId !== 'string' || event.orderId.length === 0) throw new TypeError('a custody event needs an orderId');
  const text = JSON.stringify(event.details ?? {});
  if (PRIVATE_KEY_PEM.test(text)) {
    throw new TypeError(`custody event ${event.event} for order ${event.orderId} carries what looks like a private key; it was not logged`);
  }
  const details = JSON.parse(text) as unknown;
  if (details === null || typeof details !== 'object' || Array.isArray(details)) {
    throw new TypeError('custody event details must be an object');
  }
  // Throws on anything canonical JSON cannot hold, before the record is built.
  canonicalJson(details);
  return details as Record<string, unknown>;
}

async function appendLocked(
  logFile: string,
  events: readonly CustodyEvent[],
  now: () => Date,
  lockTimeoutMs: number,
): Promise<CustodyRecord[]> {
  await ensureDir(path.dirname(logFile));
  const file = await resolveLogFile(logFile);
  // Before its lock file is made beside it: /dev/null.lock is no file to leave in /dev.
  refuseUnlessRegular(file, await fs.stat(file).catch(() => null));
  const release = await acquireLock(lockFileFor(file), lockTimeoutMs);
  try {
    // The head file is read under the lock, before the log: a log whose end disagrees with it (records removed from
    // the end, or the head file removed) is refused, since a record chained onto it would hide that for good.
    let head = await readHead(file);
    const handle = await openLog(file, head);
    try {
      refuseUnlessRegular(file, await handle.stat());
      const tail = await readLastRecords(handle, file, MAX_RECORDS_PER_APPEND);
      const last = tail.at(-1) ?? null;
      if (last && (await killedAppendOf(file, head, tail))) {
        // The records of an append killed before its head file: confirmed now, as that append would have.
        await writeHead(file, last);
        head = { seq: last.seq, hash: last.hash };
      }
      checkAgainstHead(file, head, last);
      const time = now().toISOString();
      const records: CustodyRecord[] = [];
      for (const event of events) {
        const before = records.at(-1) ?? last;
        const unhashed = {
          seq: before ? before.seq + 1 : 1,
          time,
          event: event.event,
          orderId: event.orderId,
          details: event.details,
          prevHash: before ? before.hash : GENESIS_HASH,
        };
        records.push({ ...unhashed, hash: recordHash(unhashed) });
      }
      const first = records[0]!;
      const newest = records.at(-1)!;
      // One write of whole lines, in append mode, then flushed to the disk before anyone is told it happened. A write
      // cut short (a full disk) is cut back off, so that the log never ends in a torn record, nor with some records of
      // one append and not the others. The pending file names the records first, so that a kill before their head
      // file leaves records the next append confirms; from the pending file to the head file, an interrupt waits.
      const { size } = await handle.stat();
      return await holdingInterrupts(async () => {
        try {
          await writeMark(pendingFileFor(file), newest, first.seq);
        } catch (error) {
          throw unwritable(error, file, 'nothing was appended');
        }
        try {
          try {
            await writeWhole(handle, Buffer.from(records.map((record) => `${JSON.stringify(record)}\n`).join(''), 'utf8'));
            await handle.sync();
          } catch (error) {
            await handle.truncate(size).catch(() => undefined);
            throw unwritable(error, file, 'the log was left as it was');
          }
          await writeHeadOrUndo(file, handle, records, size);
          return records;
        } finally {
          // Only a kill leaves it. Left behind otherwise, it names a record the head file names or none in the log.
          await fs.unlink(pendingFileFor(file)).catch(() => undefined);
        }
      });
    } finally {
      await handle.close();
    }
  } finally {
    await release();
  }
}

/**
 * Writes all of `data`: a write the disk cuts short (a nearly full disk takes part of it) goes on, so that the rest
 * fails with the disk's own error rather than leaving a torn record taken for a whole one.
 */
async function writeWhole(handle: fs.FileHandle, data: Buffer): Promise<void> {
  for (let offset = 0; offset < data.length; ) {
    const { bytesWritten } = await handle.write(data, offset);
    if (bytesWritten === 0) throw Object.assign(new Error('no space left on device, write'), { code: 'ENOSPC' });
    offset += bytesWritten;
  }
}

/**
 * Writes the head file for the last of `records`, just appended to the log of `handle` at `size`; if it cannot be
 * written, the records are cut back off.
 */
async function writeHeadOrUndo(file: string, handle: fs.FileHandle, records: readonly CustodyRecord[], size: number): Promise<void> {
  const first = records[0]!;
  const last = records.at(-1)!;
  try {
    await writeHead(file, last);
  } catch (error) {
    // Records past the head are accepted only while their writer holds the lock: left there by a failed append, they
    // would read as records added without scopex, and every later append would refuse. So they are cut back off,
    // still under the lock, and the log is as it was. (Should a crash undo the cut before it reaches the disk, the
    // records are back past the head, for a person to confirm.)
    const removed = await handle.truncate(size).then(
      () => true,
      () => false,
    );
    if (removed) await handle.sync().catch(() => undefined);
    throw unwritable(
      error,
      file,
      removed
        ? 'nothing was appended'
        : `${seqRange(first.seq, last.seq)} appended, but neither could its head file ${headFileFor(file)} be updated nor ${first === last ? 'the record' : 'the records'} be removed again`,
    );
  }
}

/** What the head file holds: its seq and hash, 'damaged' when it is not that, or null when there is none. */
export type LogHead = { seq: number; hash: string } | 'damaged' | null;

/**
 * Reads the log's head file. Missing is null (a new log, or a removed head: the caller tells which); anything but
 * {"seq": a positive integer, "hash": 64 hex digits} is 'damaged'; a head file that cannot be read is FILE_UNREADABLE.
 */
export async function readHead(file: string): Promise<LogHead> {
  const mark = await readMark(headFileFor(file), 'head file', file);
  if (mark === null || mark === 'damaged') return mark;
  return mark.from === undefined ? { seq: mark.seq, hash: mark.hash } : 'damaged';
}

/**
 * Whether the records at the end of the log past the head file (`tail`: the last records, oldest first, null for a
 * line that is not a sound record) are those of an append killed before its head file: the pending file that append
 * wrote first names the last of them, and how many it wrote, and they link one to the next from the head. Records
 * added by hand have no pending file (or one naming others).
 */
export async function killedAppendOf(file: string, head: LogHead, tail: readonly (CustodyRecord | null)[]): Promise<boolean> {
  const last = tail.at(-1);
  if (!last || head === 'damaged') return false;
  const pending = await readPending(file);
  if (pending === null || pending.seq !== last.seq || pending.hash !== last.hash) return false;
  const written = tail.slice(-(pending.seq - pending.from + 1));
  if (written.length !== pending.seq - pending.from + 1) return false;
  let before = head ?? { seq: 0, hash: GENESIS_HASH };
  for (const record of written) {
    if (!record || record.seq !== before.seq + 1 || record.prevHash !== before.hash) return false;
    before = record;
  }
  return true;
}

/**
 * Whether the log's pending file names the records `from` to `seq`, the last with `hash`: one append's, killed before
 * its head file.
 */
export async function pendingNames(file: string, from: number, seq: number, hash: string): Promise<boolean> {
  const pending = await readPending(file);
  return pending !== null && pending.seq === seq && pending.hash === hash && pending.from === from;
}

/** The pending file: the last record of the append that wrote it, and the seq of its first; null when none is sound. */
async function readPending(file: string): Promise<{ seq: number; hash: string; from: number } | null> {
  const pending = await readMark(pendingFileFor(file), 'pending file', file);
  if (pending === null || pending === 'damaged') return null;
  const from = pending.from ?? pending.seq;
  return from <= pending.seq && pending.seq - from < MAX_RECORDS_PER_APPEND ? { seq: pending.seq, hash: pending.hash, from } : null;
}

/**
 * A head or pending file: {"seq","hash"} (and a pending file's "from", a seq), 'damaged' when it is not that, null when
 * there is none.
 */
async function readMark(headFile: string, what: string, file: string): Promise<{ seq: number; hash: string; from?: number } | 'damaged' | null> {
  let text: string;
  try {
    const handle = await fs.open(headFile, 'r');
    try {
      const buffer = Buffer.alloc(MAX_HEAD_BYTES + 1);
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
      if (bytesRead > MAX_HEAD_BYTES) return 'damaged';
      text = buffer.subarray(0, bytesRead).toString('utf8');
    } finally {
      await handle.close();
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new InputError('FILE_UNREADABLE', `cannot read the ${what} ${headFile} of custody log ${file}: ${describeFsError(error)}`, {
      cause: error,
    });
  }
  try {
    const value = JSON.parse(text) as { seq?: unknown; hash?: unknown; from?: unknown } | null;
    if (value !== null && typeof value === 'object' && Number.isSafeInteger(value.seq) && (value.seq as number) >= 1) {
      if (typeof value.hash === 'string' && /^[0-9a-f]{64}$/.test(value.hash)) {
        if (value.from === undefined) return { seq: value.seq as number, hash: value.hash };
        if (Number.isSafeInteger(value.from) && (value.from as number) >= 1) return { seq: value.seq as number, hash: value.hash, from: value.from as number };
      }
    }
  } catch {
    // fall through: not JSON
  }
  return 'damaged';
}

/**
 * Opens the log for appending. It is created only when it has no head file either (a new log): a log that is gone
 * while its head file says it held records is not started afresh.
 */
async function openLog(file: string, head: LogHead): Promise<fs.FileHandle> {
  if (head === null) return fs.open(file, 'a+', CUSTODY_FILE_MODE);
  try {
    return await fs.open(file, constants.O_RDWR | constants.O_APPEND);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    const says = head === 'damaged' ? 'is damaged' : `says it reached seq ${head.seq}`;
    throw new IntegrityError(
      'AUDIT_LOG_BROKEN',
      `custody log ${file} is missing, but its head file ${headFileFor(file)} ${says}; nothing was appended; run scopex audit verify ${file}`,
    );
  }
}

/**
 * The log's end must be where its head file says: the record the head names. One record past it is what a writer
 * leaves between its record and its head file; the caller holds the lock, so no writer is there, and the record is
 * refused as well: chained onto, it would be taken into the head file unconfirmed (a record added by hand, with its
 * hash recomputed, passed so). No head file is the head of a new log (seq 0, the genesis hash): the log is empty, or
 * holds only a first record whose head was never written. Anything else is refused (AUDIT_LOG_BROKEN, exit 4) with
 * one sentence naming the log.
 */
function checkAgainstHead(file: string, head: LogHead, last: CustodyRecord | null): void {
  const headFile = headFileFor(file);
  const refuse = (what: string) => new IntegrityError('AUDIT_LOG_BROKEN', `${what}; nothing was appended; run scopex audit verify ${file}`);
  if (head === 'damaged') {
    throw refuse(`custody log ${file} has a damaged head file ${headFile} (expected {"seq","hash"}), so its end cannot be checked`);
  }
  if (head === null) {
    if (last === null || (last.seq === 1 && last.prevHash === GENESIS_HASH)) return;
    throw refuse(
      `custody log ${file} ends at seq ${last.seq} but has no head file ${headFile}, which scopex writes with every record: it was removed, and with it the means to tell whether records were removed from the end`,
    );
  }
  if (last === null) {
    throw refuse(`custody log ${file} is empty, but its head file ${headFile} says it reached seq ${head.seq}: records were removed`);
  }
  if (last.seq === head.seq && last.hash === head.hash) return;
  if (last.seq === head.seq + 1 && last.prevHash === head.hash) {
    throw refuse(`custody log ${file} ends at seq ${last.seq}, one record past its head file ${headFile} (seq ${head.seq}), and no scopex is writing it: ${pastHeadCause(1)}`);
  }
  if (last.seq > head.seq + 1 && last.seq <= head.seq + MAX_RECORDS_PER_APPEND) {
    throw refuse(
      `custody log ${file} ends at seq ${last.seq}, ${last.seq - head.seq} records past its head file ${headFile} (seq ${head.seq}), and no scopex is writing them: ${pastHeadCause(last.seq - head.seq)}`,
    );
  }
  const why =
    last.seq < head.seq
      ? `: ${seqRange(last.seq + 1, head.seq)} removed from its end`
      : last.seq === head.seq
        ? `, whose hash differs from the one the head file kept`
        : last.seq === head.seq + 1
          ? `, which does not link to the record the head file names`
          : `: ${seqRange(head.seq + 1, last.seq)} added without scopex`;
  throw refuse(`custody log ${file} does not agree with its head file ${headFile}: the head file says seq ${head.seq}, but the log ends at seq ${last.seq}${why}`);
}

/**
 * Why records past the head file (`count`, at most one append's) are there, and what to do about them: the append or
 * the audit that finds them says so. A scopex killed between its records and its head file leaves its pending file
 * naming them (confirmed then by the next append); one cut off so that the pending file did not reach the disk (a
 * power cut) leaves them too, which only a person can tell from records added by hand.
 */
export function pastHeadCause(count: number): string {
  return count === 1
    ? 'it was added without scopex, or by a scopex killed before it wrote the head file, which a person must tell apart (if it is the record of a scopex command killed at its time, confirm it by writing its seq and hash to the head file; if not, remove it)'
    : 'they were added without scopex, or by a scopex killed before it wrote the head file, which a person must tell apart (if they are the records of a scopex command killed at their time, confirm them by writing the seq and hash of the last to the head file; if not, remove them)';
}

/** "record seq 5 was" or "records seq 5 to 9 were". */
function seqRange(from: number, to: number): string {
  return from === to ? `record seq ${from} was` : `records seq ${from} to ${to} were`;
}

async function writeHead(file: string, record: CustodyRecord): Promise<void> {
  await writeMark(headFileFor(file), record);
}

/**
 * Writes `record`'s seq and hash to a head or pending file, whole or not at all (a temp file renamed over it). A pending
 * file of an append of several records names its last, and the seq of its first as `from`.
 */
async function writeMark(head: string, record: CustodyRecord, from = record.seq): Promise<void> {
  const temp = `${head}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  const mark = from === record.seq ? { seq: record.seq, hash: record.hash } : { seq: record.seq, hash: record.hash, from };
  try {
    await fs.writeFile(temp, `${JSON.stringify(mark)}\n`, { mode: CUSTODY_FILE_MODE });
    await fs.rename(temp, head);
  } catch (error) {
    await fs.unlink(temp).catch(() => undefined);
    throw error;
  }
}

/** A custody log that cannot be written (a full disk, no permission) in one sentence (exit 2), not a system error. */
/**
 * A custody log that is a device or a pipe (`/dev/null`, a FIFO) takes no record that can be read back: refused with
 * exit 2, as a folder is (fsync on it failed as an internal error). Nothing there yet (null) is a new log.
 */
function refuseUnlessRegular(file: string, stats: { isFile(): boolean; isDirectory(): boolean } | null): void {
  if (stats === null || stats.isFile()) return;
  const what = stats.isDirectory() ? 'it is a folder' : 'it is not a regular file (a device or a pipe)';
  throw new InputError('OUTPUT_UNWRITABLE', `cannot append to custody log ${file}: ${what}; nothing was appended.`);
}

function unwritable(error: unknown, file: string, outcome: string): unknown {
  return outputWriteError(error, path.dirname(file), (_folder, why) => `cannot append to custody log ${file}: ${why}; ${outcome}.`) ?? error;
}

/**
 * Reads only the end of the log: its last `count` lines (fewer when the log holds fewer), oldest first. The last must
 * be a whole record, parsed and self-checked; an earlier one that is not (or is too long to read) is null.
 */
async function readLastRecords(handle: fs.FileHandle, file: string, count: number): Promise<(CustodyRecord | null)[]> {
  const { size } = await handle.stat();
  if (size === 0) return [];
  let chunk = Math.min(TAIL_CHUNK, size);
  for (;;) {
    const start = size - chunk;
    const buffer = Buffer.alloc(chunk);
    const { bytesRead } = await handle.read(buffer, 0, chunk, start);
    const text = buffer.subarray(0, bytesRead);
    if (text[text.length - 1] !== 0x0a) {
      throw new IntegrityError(
        'AUDIT_LOG_BROKEN',
        `custody log ${file} ends with an incomplete record (a torn write); expected a newline at byte ${size}; run scopex audit verify`,
      );
    }
    // Whole lines from the end, each ended by the newline at `end`; a line that starts before the chunk is not whole.
    const lines: string[] = [];
    let end = text.length - 1;
    while (lines.length < count) {
      const newline = end === 0 ? -1 : text.lastIndexOf(0x0a, end - 1);
      if (newline < 0 && start > 0) break;
      lines.unshift(text.subarray(newline + 1, end).toString('utf8'));
      if (newline < 0) break;
      end = newline;
    }
    if (lines.length === 0 && chunk >= MAX_RECORD_BYTES) {
      throw new IntegrityError('AUDIT_LOG_BROKEN', `custody log ${file}: the last record is longer than ${MAX_RECORD_BYTES} bytes`);
    }
    if (lines.length === count || start === 0 || (lines.length > 0 && chunk >= count * MAX_RECORD_BYTES)) {
      const last = parseTail(lines.pop()!, file);
      return [...lines.map((line) => soundRecord(line)), last];
    }
    chunk = Math.min(chunk * 2, size);
  }
}

/** The record `line` holds, when it is one as scopex writes it (self-consistent, nothing added); null otherwise. */
function soundRecord(line: string): CustodyRecord | null {
  const record = parseRecord(line);
  return record && recordHash(record) === record.hash && unknownRecordFields(record).length === 0 && isAsWritten(record, line) ? record : null;
}

function parseTail(line: string, file: string): CustodyRecord {
  const record = soundRecord(line);
  if (!record) {
    throw new IntegrityError(
      'AUDIT_LOG_BROKEN',
      `custody log ${file}: the last record is not a valid, self-consistent record; expected seq, time, event, orderId, details, prevHash and a matching hash; run scopex audit verify`,
    );
  }
  return record;
}

/**
 * Whether `line` is exactly the text append writes for `record`: JSON.stringify of its fields in the order append
 * puts them, nothing else. Rebuilt in that order rather than taken as parsed, or a record with its fields reordered
 * (same values, same hash) passed as written. The order of the fields inside `details` is the writer's own.
 */
export function isAsWritten(record: CustodyRecord, line: string): boolean {
  const { seq, time, event, orderId, details, prevHash, hash } = record;
  return JSON.stringify({ seq, time, event, orderId, details, prevHash, hash }) === line;
}

/**
 * Parses one line into a record, or null when it does not have a record's shape. Fields beyond the record's are
 * kept, for audit verification to name (unknownRecordFields).
 */
export function parseRecord(line: string): CustodyRecord | null {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return null;
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return null;
  const r = value as Record<string, unknown>;
  const hex64 = (v: unknown) => typeof v === 'string' && /^[0-9a-f]{64}$/.test(v);
  if (
    !Number.isSafeInteger(r['seq']) ||
    (r['seq'] as number) < 1 ||
    typeof r['time'] !== 'string' ||
    typeof r['event'] !== 'string' ||
    typeof r['orderId'] !== 'string' ||
    r['details'] === null ||
    typeof r['details'] !== 'object' ||
    Array.isArray(r['details']) ||
    !hex64(r['prevHash']) ||
    !hex64(r['hash'])
  ) {
    return null;
  }
  return r as unknown as CustodyRecord;
}

interface LockContent {
  pid: number;
  nonce: string;
  time: number;
  /** The holder's host, and its process's boot id and start time (process-identity.ts): a reused pid is not it. */
  host?: string;
  process?: string | null;
}

/**
 * Takes the cross-process lock: a file created with O_EXCL next to the log. Waits with backoff; removes a lock whose
 * holder is dead or which is older than any append could take.
 */
async function acquireLock(lockFile: string, timeoutMs: number): Promise<() => Promise<void>> {
  const mine: LockContent = {
    pid: process.pid,
    nonce: randomBytes(8).toString('hex'),
    time: Date.now(),
    host: hostname(),
    process: await processIdentity(process.pid),
  };
  const body = JSON.stringify(mine);
  const deadline = Date.now() + timeoutMs;
  let delay = 2;
  for (;;) {
    let handle: fs.FileHandle | undefined;
    try {
      handle = await fs.open(lockFile, 'wx');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    if (handle) {
      const held = handle;
      let heldFile: BigIntStats;
      try {
        await held.writeFile(body);
        heldFile = await held.stat({ bigint: true });
      } catch (error) {
        // Created but not written (a full disk): an empty lock left here would hold up every later append.
        await held.close().catch(() => undefined);
        await fs.unlink(lockFile).catch(() => undefined);
        throw error;
      }
      return async () => {
        // Removes the lock only while it is still ours (a stale-lock breaker may have taken it): while the lock is
        // held its file stays open, so that its inode cannot be reused and a stat (which needs no file descriptor)
        // tells it from another. Read back instead, with no descriptor left (a low `ulimit -n`) the lock stayed, and
        // this process's next append waited 30 s for its own lock to go stale.
        try {
          const current = await fs.stat(lockFile, { bigint: true }).catch(() => null);
          if (current && current.ino === heldFile.ino && current.dev === heldFile.dev) await fs.unlink(lockFile).catch(() => undefined);
        } finally {
          await held.close().catch(() => undefined);
        }
      };
    }
    await breakStaleLock(lockFile);
    if (Date.now() > deadline) {
      // Busy, not broken: the log may be intact (exit 2, as for an output in use by another run, not 4).
      throw new InputError(
        'OUTPUT_BUSY',
        `custody log lock ${lockFile} is held by another process; waited ${timeoutMs} ms (remove it if no scopex is running on the host it names)`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, delay + Math.random() * delay));
    delay = Math.min(delay * 2, 100);
  }
}

async function breakStaleLock(lockFile: string): Promise<void> {
  let text: string;
  let mtimeMs: number;
  try {
    text = await fs.readFile(lockFile, 'utf8');
    mtimeMs = (await fs.stat(lockFile)).mtimeMs;
  } catch {
    return; // gone already
  }
  let holder: LockContent | null;
  try {
    holder = JSON.parse(text) as LockContent;
  } catch {
    holder = null; // a holder between create and write, or garbage; only age decides
  }
  if (!(await isStale(holder, mtimeMs))) return;
  // Move it aside under a unique name, then make sure what was moved is the stale lock that was judged, not a fresh
  // one taken in between; a fresh one is put back.
  const aside = `${lockFile}.${process.pid}.${randomBytes(4).toString('hex')}.stale`;
  try {
    await fs.rename(lockFile, aside);
  } catch {
    return;
  }
  const moved = await fs.readFile(aside, 'utf8').catch(() => null);
  if (moved !== text) {
    await fs.link(aside, lockFile).catch(() => undefined);
  }
  await fs.unlink(aside).catch(() => undefined);
}

/**
 * A lock that names its host and process is stale only when that process, on this host, no longer runs: however long
 * a live holder takes (stopped, swapped out, a paused machine), it will still write the record it has chained, so its
 * lock is never broken. Another host's lock cannot be checked from here and is never broken either (waiters give up,
 * naming it). A lock without them (being written, cut short, or an older scopex's) is stale once its pid is gone or
 * it is older than any append could take.
 */
async function isStale(holder: LockContent | null, mtimeMs: number): Promise<boolean> {
  const pid = holder !== null && Number.isSafeInteger(holder.pid) ? holder.pid : null;
  if (holder !== null && pid !== null && typeof holder.host === 'string') {
    if (holder.host !== hostname()) return false;
    if (!processAlive(pid)) return true;
    const now = await processIdentity(pid);
    return typeof holder.process === 'string' && now !== null && now !== holder.process;
  }
  return Date.now() - mtimeMs > STALE_LOCK_MS || (pid !== null && !processAlive(pid));
}

/**
 * Whether a writer holds the log's lock now: a scopex process on this host that still runs (its pid, and where the lock
 * recorded it, its start time). Audit verify accepts one record past the head file only then, as that writer's
 * append in progress. Another host's lock cannot be checked from here, and does not count.
 */
export async function lockHeldByLiveWriter(file: string): Promise<boolean> {
  let holder: LockContent | null;
  try {
    holder = JSON.parse(await fs.readFile(lockFileFor(file), 'utf8')) as LockContent | null;
  } catch {
    return false; // no lock, or one being written (its writer has written no record yet)
  }
  if (holder === null || typeof holder !== 'object' || !Number.isSafeInteger(holder.pid) || holder.pid <= 0 || holder.host !== hostname()) return false;
  if (!processAlive(holder.pid)) return false;
  if (typeof holder.process !== 'string') return true;
  const now = await processIdentity(holder.pid);
  return now === null || now === holder.process;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
