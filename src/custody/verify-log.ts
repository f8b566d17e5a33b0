// Custody-log verification: streams the log once and names every edited, removed, inserted or reordered record.
import { open, stat } from 'node:fs/promises';
import { InputError } from '../errors.js';
import {
  GENESIS_HASH,
  headFileFor,
  resolveLogFile,
  isAsWritten,
  lockHeldByLiveWriter,
  MAX_RECORDS_PER_APPEND,
  pendingNames,
  parseRecord,
  pastHeadCause,
  readHead,
  recordHash,
  unknownRecordFields,
  type LogHead,
} from './file-custody-log.js';
import { logLines } from './log-lines.js';
import { checkLogReadable } from './read-log.js';

export type AuditProblemKind = 'edited' | 'removed' | 'inserted' | 'reordered' | 'chain-broken' | 'malformed';

export interface AuditFailure {
  /** The sequence number the failure is about (for a malformed line: the one expected at its place). */
  seq: number;
  /** 1-based line of the log where it was found (one past the last line for a truncated tail). */
  line: number;
  kind: AuditProblemKind;
  problem: string;
}

export interface AuditReport {
  ok: boolean;
  file: string;
  records: number;
  lastSeq: number;
  /** Whether the head sidecar (last seq and hash) was there to check the tail against. */
  headChecked: boolean;
  /** The first MAX_FAILURES problems found, in the order found. */
  failures: AuditFailure[];
  /** Problems found beyond the cap: counted, not listed (the total is failures.length + moreFailures). */
  moreFailures: number;
}

const MAX_FAILURES = 1000;
/** A gap wider than this is reported as one range, not one failure per missing record. */
const MAX_LISTED_GAP = 1000;
/**
 * At most this many missing seqs are remembered, so that one turning up later is named "reordered" rather than
 * "inserted". Beyond it they are still counted, not remembered: the memory a log of gaps takes stays bounded.
 */
const MAX_TRACKED_MISSING = 100_000;

/**
 * Reads the log line by line (bounded memory: the state is the previous record's hash and at most MAX_TRACKED_MISSING
 * missing seqs and as many records moved up) and checks every record's own hash, the chain of prevHash links and the
 * run of sequence numbers, then the tail against the head sidecar. A record whose content changed but kept its hash is
 * "edited"; one whose hash was recomputed shows as a broken link from the next record; a missing seq is "removed"
 * unless it turns up later ("reordered"); a record ahead of the sequence whose next record fills the sequence before
 * it was moved up ("reordered"); a seq seen twice is "inserted". scopex writes the head file with every record, so a log with records
 * but no head file fails (save a first record whose head was never written: a crash in the log's first append), and a
 * log file that is gone while its head file is there is a log whose every record was removed.
 */
export async function verifyCustodyLog(logFile: string): Promise<AuditReport> {
  // Its head file is beside the file itself, whatever link it was named by (see resolveLogFile).
  const file = await resolveLogFile(logFile);
  let logMissing = false;
  try {
    await checkLogReadable(file);
  } catch (error) {
    if (!isNoSuchFile(error) || (await readHead(file)) === null) throw error;
    logMissing = true;
  }
  const failures: AuditFailure[] = [];
  let moreFailures = 0;
  const fail = (failure: AuditFailure): AuditFailure => {
    if (failures.length < MAX_FAILURES) failures.push(failure);
    else moreFailures += 1;
    return failure;
  };

  let expected = 1;
  let lastSeq = 0;
  /** The hash and line of the record at lastSeq. */
  let lastHash = GENESIS_HASH;
  let lastSeqLine = 0;
  /** Hashes a next record may link to: normally one; more after an inserted twin of the same seq. */
  let linkable = new Set([GENESIS_HASH]);
  let lineNo = 0;
  let records = 0;
  let lastLineMalformed = false;
  const missing = new Map<number, AuditFailure>();
  /** The lines since the last record that are no record: the seq the first of them was taken to hold, and their failures. */
  let malformedRun: { start: number; lines: number; failures: AuditFailure[] } | null = null;
  const hashBySeq = new Map<number, string>();
  /**
   * A record that jumped ahead of the sequence, held for one line: if the next record fills the sequence before it,
   * it is the one out of place (moved up), not every record between. A swap of the first and last records was
   * reported as all the others out of order.
   */
  let jumped: { seq: number; hash: string; line: number } | null = null;
  /** Records found before their place (moved up), by seq: taken as the sequence reaches them. */
  const early = new Map<number, { hash: string; line: number }>();
  /** The seq of the record on the last line read that was a record. */
  let previousSeq = 0;
  const { head, size } = await snapshot(file, logMissing);
  const headFile = headFileFor(file);

  for await (const line of logLines(file, size)) {
    lineNo += 1;
    records += 1;
    const record = parseRecord(line);
    lastLineMalformed = !record;
    const hashOk = record !== null && recordHash(record) === record.hash;
    // The hash covers only the record's own fields: one added beside them is an edit the hash cannot show.
    const unknown = record ? unknownRecordFields(record) : [];
    // scopex writes each record as JSON.stringify of it: any other text for the same values (a repeated key, whose
    // first value JSON.parse drops; reformatting) is an edit the hash cannot show either.
    const asWritten = record !== null && isAsWritten(record, line);
    const selfOk = hashOk && unknown.length === 0 && asWritten;
    if (jumped) {
      const movedUp = record !== null && selfOk && record.seq >= expected && record.seq < jumped.seq && !early.has(jumped.seq) && early.size < MAX_TRACKED_MISSING;
      if (movedUp) {
        early.set(jumped.seq, { hash: jumped.hash, line: jumped.line });
        fail({
          seq: jumped.seq,
          line: jumped.line,
          kind: 'reordered',
          problem: `record seq ${jumped.seq} is out of order: found on line ${jumped.line}, before seq ${record.seq} (line ${lineNo})`,
        });
      } else {
        skipTo(jumped.seq, jumped.hash, jumped.line);
      }
      jumped = null;
    }
    if (!record) {
      const failure = fail({ seq: expected, line: lineNo, kind: 'malformed', problem: `line ${lineNo}, where seq ${expected} was expected, is not a custody record` });
      malformedRun ??= { start: expected, lines: 0, failures: [] };
      malformedRun.lines += 1;
      if (malformedRun.failures.length < MAX_FAILURES) malformedRun.failures.push(failure);
      expected += 1;
      continue;
    }
    // Lines that are no record (a blank line, text pasted in) followed by the record they were taken to stand for,
    // intact and linked to the one before them: they were added, and took no record's place. Said so, once each, and
    // the record keeps its seq (it was called a second record with that seq, and its successor's link broken).
    if (malformedRun && selfOk && record.seq === malformedRun.start && linkable.has(record.prevHash)) {
      for (const failure of malformedRun.failures) {
        failure.seq = record.seq;
        failure.problem = `line ${failure.line} is not a custody record: an extra line (record seq ${record.seq} follows it intact, on line ${lineNo})`;
      }
      expected = malformedRun.start;
      records -= malformedRun.lines;
    }
    malformedRun = null;
    // A record whose content no longer matches its hash cannot be trusted for its seq either: it holds the place
    // the chain expects.
    const seq = selfOk ? record.seq : expected;
    if (!selfOk) {
      const renumbered = record.seq !== expected ? ` (it now says seq ${record.seq})` : '';
      const what = !hashOk
        ? 'its content no longer matches its hash'
        : unknown.length > 0
          ? `it has ${unknown.length === 1 ? 'a field' : 'fields'} the custody record format does not define (${unknown.map((key) => JSON.stringify(key)).join(', ')})`
          : 'its text is not as scopex wrote it (a repeated key, or the same values written differently or in another order)';
      fail({ seq, line: lineNo, kind: 'edited', problem: `record seq ${seq} on line ${lineNo} was edited: ${what}${renumbered}` });
    }
    if (seq === expected) {
      if (selfOk && !linkable.has(record.prevHash)) {
        const before = seq - 1;
        fail({
          seq: before >= 1 ? before : seq,
          line: lineNo,
          kind: 'chain-broken',
          problem:
            before >= 1
              ? `record seq ${seq} on line ${lineNo} does not link to record seq ${before}: seq ${before} was altered and re-hashed, or replaced`
              : `record seq 1 on line ${lineNo} does not start the chain (prevHash is not all zeros)`,
        });
      }
      advance(seq, record.hash);
    } else if (seq > expected) {
      // Only an intact record holds a seq other than the expected one: held until the next line says which moved.
      jumped = { seq, hash: record.hash, line: lineNo };
    } else {
      const gap = missing.get(seq);
      if (gap) {
        missing.delete(seq);
        gap.kind = 'reordered';
        gap.line = lineNo;
        gap.problem = `record seq ${seq} is out of order: found on line ${lineNo}, after seq ${previousSeq}`;
      } else {
        fail({ seq, line: lineNo, kind: 'inserted', problem: `record seq ${seq} on line ${lineNo} is a second record with that seq (inserted)` });
        // An inserted twin of the last record forks the chain; the next record may link to either branch.
        if (seq === lastSeq) {
          linkable.add(record.hash);
          if (head && head !== 'damaged' && seq === head.seq && record.hash === head.hash) hashBySeq.set(seq, record.hash);
        }
      }
    }
    previousSeq = seq;
  }
  if (jumped) skipTo(jumped.seq, jumped.hash, jumped.line);
  // Records moved up past the end of the log's sequence: the records between are missing.
  for (const seq of [...early.keys()].sort((a, b) => a - b)) {
    const moved = early.get(seq);
    if (moved && seq > expected) skipTo(seq, moved.hash, moved.line);
  }

  /** The sequence goes on at `seq`, found on `line`; every seq between is missing (until one turns up later). */
  function skipTo(seq: number, hash: string, line: number): void {
    const from = expected;
    const to = seq - 1;
    if (to - from + 1 <= MAX_LISTED_GAP) {
      for (let s = from; s <= to; s += 1) {
        if (failures.length >= MAX_FAILURES && missing.size >= MAX_TRACKED_MISSING) {
          // Neither listed nor remembered: counted, without a failure built for each.
          moreFailures += to - s + 1;
          break;
        }
        const failure = fail({ seq: s, line, kind: 'removed', problem: `record seq ${s} is missing (removed) before line ${line}` });
        if (missing.size < MAX_TRACKED_MISSING) missing.set(s, failure);
      }
    } else {
      fail({ seq: from, line, kind: 'removed', problem: `records seq ${from} to ${to} are missing (removed) before line ${line}` });
    }
    advance(seq, hash, line);
  }

  /** `seq` is in the sequence; so is every record found before its place (moved up) that follows it. */
  function advance(seq: number, hash: string, line = lineNo): void {
    for (let at: { hash: string; line: number } | undefined = { hash, line }, s = seq; at; s += 1, at = early.get(s)) {
      early.delete(s);
      expected = s + 1;
      lastSeq = s;
      lastHash = at.hash;
      lastSeqLine = at.line;
      linkable = new Set([at.hash]);
      if (head && head !== 'damaged' && s === head.seq) hashBySeq.set(s, at.hash);
    }
  }

  // scopex ends every record with a newline, and append refuses to chain onto a log that does not end with one (a
  // torn write): the audit says so too, however whole the last line looks (one that is not a record is failed above).
  if (!logMissing && lineNo > 0 && !lastLineMalformed && !(await endsWithNewline(file, size))) {
    fail({ seq: lastSeq, line: lineNo, kind: 'malformed', problem: `the log ends without a newline after line ${lineNo}: its last record may be cut short (a torn write)` });
  }

  let headChecked = false;
  // The last place in the sequence that the log's lines take up: a malformed line (a record cut short) holds one.
  const end = expected - 1;
  if (head === 'damaged') {
    headChecked = true;
    fail({ seq: lastSeq, line: lineNo, kind: 'malformed', problem: `the head file ${headFile} is damaged: expected {"seq","hash"}` });
  } else if (head === null) {
    // The head of a new log is seq 0: one record past it is a first append cut short before its head was written, and
    // so are the records of a first append of several that its pending file names.
    if (lastSeq > 1 && !(lastSeq <= MAX_RECORDS_PER_APPEND && (await appendUnderWay(file, 1, lastSeq, lastHash)))) {
      fail({
        seq: lastSeq,
        line: lineNo + 1,
        kind: 'removed',
        problem: `the head file ${headFile} is missing, but the log ends at seq ${lastSeq}: scopex writes it with every record, so it was removed, and with it the means to tell whether records were removed from the end`,
      });
    }
  } else {
    headChecked = true;
    if (head.seq > end) {
      const where = logMissing
        ? `: the log file is missing, and its head file says it reached seq ${head.seq}`
        : ` from the end of the log, which the head file says reached seq ${head.seq}`;
      // Listed one by one up to the same width as a gap within the log, as one range beyond it; either way counted.
      if (head.seq - end <= MAX_LISTED_GAP) {
        for (let s = end + 1; s <= head.seq; s += 1) {
          fail({ seq: s, line: lineNo + 1, kind: 'removed', problem: `record seq ${s} is missing (removed)${where}` });
        }
      } else {
        fail({ seq: end + 1, line: lineNo + 1, kind: 'removed', problem: `records seq ${end + 1} to ${head.seq} are missing (removed)${where}` });
      }
    } else {
      const seen = hashBySeq.get(head.seq);
      if (seen !== undefined && seen !== head.hash) {
        fail({ seq: head.seq, line: lineNo, kind: 'edited', problem: `record seq ${head.seq} was replaced: its hash differs from the one the head file kept` });
      }
      // Records past the head, as many as one append writes, are an append under way, whose writer holds the lock
      // until its head file is written; without one they are not confirmed by the head file (a record added by hand
      // passed so). More are unaccounted for.
      const past = lastSeq - head.seq;
      if (past >= 1 && past <= MAX_RECORDS_PER_APPEND && !(await appendUnderWay(file, head.seq + 1, lastSeq, lastHash))) {
        const which = past === 1 ? `record seq ${lastSeq} on line ${lastSeqLine} is` : `records seq ${head.seq + 1} to ${lastSeq}, ending on line ${lastSeqLine}, are`;
        fail({
          seq: past === 1 ? lastSeq : head.seq + 1,
          line: lastSeqLine,
          kind: 'inserted',
          problem: `${which} past the head file ${headFile} (seq ${head.seq}), and no scopex is writing ${past === 1 ? 'it' : 'them'}: ${pastHeadCause(past)}`,
        });
      } else if (past > MAX_RECORDS_PER_APPEND) {
        fail({ seq: head.seq + 1, line: lineNo, kind: 'inserted', problem: `records seq ${head.seq + 1} to ${lastSeq} were appended without scopex (the head file stops at seq ${head.seq})` });
      }
    }
  }

  return { ok: failures.length === 0 && moreFailures === 0, file, records, lastSeq, headChecked, failures, moreFailures };
}

/**
 * Whether the records `from` to `seq` (the last with `hash`), past the head file of the snapshot, are an append under
 * way: its writer still holds the log's lock, or has written the head file since (the lock is released only after the
 * head file is written, so the lock is looked at first). A head file past `seq` means later appends chained onto them,
 * which they do only onto records the head file confirmed.
 */
async function appendUnderWay(file: string, from: number, seq: number, hash: string): Promise<boolean> {
  if (await lockHeldByLiveWriter(file)) return true;
  // An append killed between its records and its head file: the next append confirms those its pending file names.
  if (await pendingNames(file, from, seq, hash)) return true;
  const head = await readHead(file);
  return head !== null && head !== 'damaged' && (head.seq > seq || (head.seq === seq && head.hash === hash));
}

/** How many times the head file may change under a snapshot before the audit takes the log as it then is. */
const SNAPSHOT_TRIES = 50;

/**
 * The head file and the log's length as of one moment, without taking the log's lock (an auditor may only read).
 * Appends are serialized and each writes its record before its head, so while the head file reads the same before
 * and after the log's length is taken, the log holds at most one append's records past it: those an append is
 * writing, which the audit accepts while that append holds the lock (appendUnderWay). Commands appending while a long
 * audit runs therefore never show as records added without scopex.
 */
async function snapshot(file: string, logMissing: boolean): Promise<{ head: LogHead; size: number }> {
  let head = await readHead(file);
  for (let tries = 0; ; tries += 1) {
    const size = logMissing ? 0 : (await stat(file)).size;
    const again = await readHead(file);
    if (sameHead(head, again) || tries >= SNAPSHOT_TRIES) return { head: again, size };
    head = again;
  }
}

function sameHead(a: LogHead, b: LogHead): boolean {
  return a === b || (a !== null && b !== null && a !== 'damaged' && b !== 'damaged' && a.seq === b.seq && a.hash === b.hash);
}

async function endsWithNewline(file: string, size: number): Promise<boolean> {
  const handle = await open(file, 'r');
  try {
    const last = Buffer.alloc(1);
    await handle.read(last, 0, 1, size - 1);
    return size === 0 || last[0] === 0x0a;
  } finally {
    await handle.close();
  }
}

function isNoSuchFile(error: unknown): boolean {
  return error instanceof InputError && (error.cause as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
}
