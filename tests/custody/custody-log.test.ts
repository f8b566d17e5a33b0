import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, utimesSync, writeFileSync } from 'node:fs';
import fs from 'node:fs';
import os, { hostname } from 'node:os';
import path from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { createFileCustodyLog, GENESIS_HASH, headFileFor, lockFileFor, pendingFileFor, recordHash } from '../../src/custody/file-custody-log.js';
import { readCustodyRecords } from '../../src/custody/read-log.js';
import { verifyCustodyLog } from '../../src/custody/verify-log.js';
import type { CustodyRecord } from '../../src/custody/custody-log.js';
import { exitCodeFor, IntegrityError, InputError } from '../../src/errors.js';
import { buildCli, runCli } from '../e2e/export-helpers.js';
import { processIdentity } from '../../src/util/process-identity.js';

const repo = path.resolve(import.meta.dirname, '../..');
const distModule = path.join(repo, 'dist/src/custody/file-custody-log.js');

let dir: string;
let logFile: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'scopex-'));
  logFile = path.join(dir, 'nested', 'custody.jsonl');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

async function writeLog(count: number): Promise<string[]> {
  const log = createFileCustodyLog({ file: logFile });
  for (let i = 1; i <= count; i += 1) {
    await log.append({ event: 'order.checked', orderId: `LE-${i}`, details: { n: i } });
  }
  return readLines();
}
function readLines(): string[] {
  return readFileSync(logFile, 'utf8').split('\n').filter((l) => l.length > 0);
}
function writeLines(lines: string[]): void {
  writeFileSync(logFile, lines.map((l) => `${l}\n`).join(''));
}
/** The chain and head file append writes, built in one go (an fsync per record is too slow for thousands). */
function writeChainWithHead(count: number): string[] {
  let prevHash = GENESIS_HASH;
  const lines: string[] = [];
  for (let seq = 1; seq <= count; seq += 1) {
    const record = { seq, time: '2026-10-01T00:00:00.000Z', event: 'order.checked' as const, orderId: `LE-${seq}`, details: { n: seq }, prevHash };
    prevHash = recordHash(record);
    lines.push(JSON.stringify({ ...record, hash: prevHash }));
  }
  mkdirSync(path.dirname(logFile), { recursive: true });
  writeLines(lines);
  writeFileSync(headFileFor(logFile), `${JSON.stringify({ seq: count, hash: prevHash })}\n`);
  return lines;
}
/** What an append must leave alone when it refuses: the log (or its absence) and the head file, byte for byte. */
function snapshot(): { log: string | null; head: string | null } {
  const read = (file: string) => (existsSync(file) ? readFileSync(file, 'utf8') : null);
  return { log: read(logFile), head: read(headFileFor(logFile)) };
}
async function expectRefused(message: RegExp): Promise<void> {
  const before = snapshot();
  const error = await createFileCustodyLog({ file: logFile })
    .append({ event: 'order.checked', orderId: 'LE-NEXT', details: {} })
    .then(
      () => null,
      (e: unknown) => e,
    );
  expect(error).toBeInstanceOf(IntegrityError);
  expect(error).toMatchObject({ code: 'AUDIT_LOG_BROKEN' });
  const text = (error as Error).message;
  expect(text).toMatch(message);
  expect(text).toContain(logFile);
  expect(text).toMatch(/; nothing was appended; run scopex audit verify /);
  expect(text).not.toContain('\n');
  expect(snapshot()).toEqual(before);
  expect(existsSync(lockFileFor(logFile))).toBe(false);
}

/**
 * The log, ending `last` records in past its head file that its pending file names, passes audit; the next append
 * confirms them (its head file written, the pending file gone), and the log passes again.
 */
async function expectConfirmedByNextAppend(last: number): Promise<void> {
  expect(await verifyCustodyLog(logFile)).toMatchObject({ ok: true, lastSeq: last, failures: [] });
  expect((await createFileCustodyLog({ file: logFile }).append({ event: 'order.checked', orderId: `LE-${last + 1}`, details: {} })).seq).toBe(last + 1);
  expect(JSON.parse(readFileSync(headFileFor(logFile), 'utf8'))).toMatchObject({ seq: last + 1 });
  expect(existsSync(pendingFileFor(logFile))).toBe(false);
  expect(await verifyCustodyLog(logFile)).toMatchObject({ ok: true, lastSeq: last + 1, failures: [] });
}

describe('file custody log', () => {
  it('chains records: seq from 1, genesis prevHash, hash of the canonical record', async () => {
    const log = createFileCustodyLog({ file: logFile, now: () => new Date('2026-10-01T00:00:00Z') });
    const first = await log.append({ event: 'order.checked', orderId: 'LE-1', details: { accounts: ['a1'], z: 1, a: 2 } });
    const second = await log.append({ event: 'export.sealed', orderId: 'LE-1', details: {} });
    expect(first.seq).toBe(1);
    expect(first.prevHash).toBe(GENESIS_HASH);
    expect(first.time).toBe('2026-10-01T00:00:00.000Z');
    expect(first.hash).toBe(recordHash(first));
    expect(second.seq).toBe(2);
    expect(second.prevHash).toBe(first.hash);
    const lines = readLines();
    expect(lines).toHaveLength(2);
    expect(JSON.parse(lines[1]!)).toEqual(second);
    expect(existsSync(lockFileFor(logFile))).toBe(false);
    expect(JSON.parse(readFileSync(headFileFor(logFile), 'utf8'))).toEqual({ seq: 2, hash: second.hash });
    expect((await verifyCustodyLog(logFile)).ok).toBe(true);
  });

  it('refuses details that carry a private key, and logs nothing for it', async () => {
    const log = createFileCustodyLog({ file: logFile });
    await expect(
      log.append({ event: 'export.failed', orderId: 'LE-1', details: { note: '-----BEGIN PRIVATE KEY-----\nMIIE...' } }),
    ).rejects.toThrow(TypeError);
    await log.append({ event: 'export.failed', orderId: 'LE-1', details: { ok: true } });
    expect(readLines()).toHaveLength(1);
    expect(readFileSync(logFile, 'utf8')).not.toContain('PRIVATE KEY');
  });

  it('serializes 200 concurrent appends in one process into one unbroken chain', async () => {
    const a = createFileCustodyLog({ file: logFile });
    const b = createFileCustodyLog({ file: logFile });
    const records = await Promise.all(
      Array.from({ length: 200 }, (_, i) => (i % 2 ? a : b).append({ event: 'export.started', orderId: `LE-${i}`, details: { i } })),
    );
    expect(new Set(records.map((r) => r.seq)).size).toBe(200);
    const report = await verifyCustodyLog(logFile);
    expect(report).toMatchObject({ ok: true, records: 200, lastSeq: 200, headChecked: true });
  });

  it('recovers a stale lock left by a dead process', async () => {
    const log = createFileCustodyLog({ file: logFile, lockTimeoutMs: 5000 });
    await log.append({ event: 'order.checked', orderId: 'LE-1', details: {} });
    // A pid that is not running: a finished child's.
    const dead = spawnSync(process.execPath, ['-e', '0']).pid!;
    writeFileSync(lockFileFor(logFile), JSON.stringify({ pid: dead, nonce: 'x', time: Date.now() }));
    const record = await log.append({ event: 'order.checked', orderId: 'LE-2', details: {} });
    expect(record.seq).toBe(2);
    expect(existsSync(lockFileFor(logFile))).toBe(false);
  });

  it("never breaks the lock of a live holder on this host, however old: its record is still to come; a waiter gives up naming the lock", async () => {
    const log = createFileCustodyLog({ file: logFile, lockTimeoutMs: 300 });
    await log.append({ event: 'order.checked', orderId: 'LE-1', details: {} });
    const identity = await processIdentity(process.pid);
    writeFileSync(lockFileFor(logFile), JSON.stringify({ pid: process.pid, nonce: 'stalled', time: 0, host: hostname(), process: identity }));
    const old = new Date(Date.now() - 120_000);
    utimesSync(lockFileFor(logFile), old, old);
    const before = snapshot();
    // Busy, not broken (exit 2): the log itself is intact.
    const busy = await log.append({ event: 'order.checked', orderId: 'LE-2', details: {} }).catch((e: unknown) => e);
    expect(busy).toBeInstanceOf(InputError);
    expect(busy).toMatchObject({ code: 'OUTPUT_BUSY' });
    expect(exitCodeFor(busy)).toBe(2);
    expect((busy as Error).message).toContain(`custody log lock ${lockFileFor(logFile)} is held by another process`);
    expect((await verifyCustodyLog(logFile)).ok).toBe(true);
    expect(snapshot()).toEqual(before);
    expect(existsSync(lockFileFor(logFile))).toBe(true);
  });

  it('breaks the lock of a pid that now belongs to another process (its start time differs), and of another host never', async () => {
    const log = createFileCustodyLog({ file: logFile, lockTimeoutMs: 300 });
    await log.append({ event: 'order.checked', orderId: 'LE-1', details: {} });
    writeFileSync(lockFileFor(logFile), JSON.stringify({ pid: process.pid, nonce: 'reused', time: Date.now(), host: hostname(), process: 'another-boot:1' }));
    expect((await log.append({ event: 'order.checked', orderId: 'LE-2', details: {} })).seq).toBe(2);
    writeFileSync(lockFileFor(logFile), JSON.stringify({ pid: 1, nonce: 'far', time: 0, host: `not-${hostname()}`, process: null }));
    const old = new Date(Date.now() - 120_000);
    utimesSync(lockFileFor(logFile), old, old);
    await expect(log.append({ event: 'order.checked', orderId: 'LE-3', details: {} })).rejects.toMatchObject({ code: 'OUTPUT_BUSY' });
  });

  it('breaks a lock without its holder\'s host and process (an older scopex) once it is older than any append could take', async () => {
    const log = createFileCustodyLog({ file: logFile, lockTimeoutMs: 5000 });
    await log.append({ event: 'order.checked', orderId: 'LE-1', details: {} });
    writeFileSync(lockFileFor(logFile), JSON.stringify({ pid: process.pid, nonce: 'old', time: 0 }));
    const old = new Date(Date.now() - 120_000);
    utimesSync(lockFileFor(logFile), old, old);
    expect((await log.append({ event: 'order.checked', orderId: 'LE-2', details: {} })).seq).toBe(2);
  });

  it('lets go of its lock with no file descriptor to spare (a low ulimit -n), so that its next append does not wait for it', async () => {
    const log = createFileCustodyLog({ file: logFile, lockTimeoutMs: 2000 });
    await log.append({ event: 'order.checked', orderId: 'LE-1', details: {} });
    // Every read of the lock file fails as with no descriptor left: the lock used to be read back before removal.
    const lock = lockFileFor(logFile);
    const readFile = fs.promises.readFile;
    const emfile = () => Promise.reject(Object.assign(new Error(`EMFILE: too many open files, open '${lock}'`), { code: 'EMFILE' }));
    const spy = vi.spyOn(fs.promises, 'readFile').mockImplementation(((file: unknown, ...rest: unknown[]) =>
      String(file) === lock ? emfile() : (readFile as (...args: unknown[]) => Promise<unknown>)(file, ...rest)) as typeof readFile);
    try {
      await log.append({ event: 'order.checked', orderId: 'LE-2', details: {} });
      expect(existsSync(lock)).toBe(false);
      // Before, this waited for the lock left above to be 30 s old (here: gave up after 2 s).
      expect((await log.append({ event: 'order.checked', orderId: 'LE-3', details: {} })).seq).toBe(3);
    } finally {
      spy.mockRestore();
    }
  });

  it('waits for a live lock, then gives up with OUTPUT_BUSY (exit 2: busy, not broken)', async () => {
    const log = createFileCustodyLog({ file: logFile, lockTimeoutMs: 200 });
    await log.append({ event: 'order.checked', orderId: 'LE-1', details: {} });
    writeFileSync(lockFileFor(logFile), JSON.stringify({ pid: process.pid, nonce: 'held', time: Date.now() }));
    await expect(log.append({ event: 'order.checked', orderId: 'LE-2', details: {} })).rejects.toMatchObject({
      code: 'OUTPUT_BUSY',
    });
    rmSync(lockFileFor(logFile));
    expect((await log.append({ event: 'order.checked', orderId: 'LE-2', details: {} })).seq).toBe(2);
  });

  it('refuses to append after a torn last line', async () => {
    await writeLog(2);
    writeFileSync(logFile, `${readFileSync(logFile, 'utf8')}{"seq":3,"ti`);
    const log = createFileCustodyLog({ file: logFile });
    await expect(log.append({ event: 'order.checked', orderId: 'LE-3', details: {} })).rejects.toBeInstanceOf(IntegrityError);
  });

  it('refuses to append after a last record with a field the format does not define', async () => {
    const lines = await writeLog(2);
    lines[1] = lines[1]!.replace(/^{/, '{"note":"added by hand",');
    writeLines(lines);
    const log = createFileCustodyLog({ file: logFile });
    await expect(log.append({ event: 'order.checked', orderId: 'LE-3', details: {} })).rejects.toBeInstanceOf(IntegrityError);
  });

  it('refuses to append after a last record with a repeated key', async () => {
    const lines = await writeLog(2);
    lines[1] = lines[1]!.replace(/^{/, '{"event":"export.sealed",');
    writeLines(lines);
    const log = createFileCustodyLog({ file: logFile });
    await expect(log.append({ event: 'order.checked', orderId: 'LE-3', details: {} })).rejects.toBeInstanceOf(IntegrityError);
  });

  it('keeps one chain when two processes append at once', async () => {
    if (!existsSync(distModule)) spawnSync('npx', ['tsc', '-p', '.'], { cwd: repo, stdio: 'ignore' });
    expect(existsSync(distModule)).toBe(true);
    const script = `
      const { createFileCustodyLog } = await import(${JSON.stringify(distModule)});
      const log = createFileCustodyLog({ file: process.argv[1] });
      const who = process.argv[2];
      await Promise.all(Array.from({ length: 100 }, (_, i) => log.append({ event: 'export.started', orderId: who + '-' + i, details: { i } })));
    `;
    const run = (who: string) =>
      new Promise<number>((resolve, reject) => {
        const child = spawn(process.execPath, ['--input-type=module', '-e', script, logFile, who], { stdio: 'inherit' });
        child.on('error', reject);
        child.on('exit', (code) => resolve(code ?? -1));
      });
    const codes = await Promise.all([run('A'), run('B')]);
    expect(codes).toEqual([0, 0]);
    const report = await verifyCustodyLog(logFile);
    expect(report).toMatchObject({ ok: true, records: 200, lastSeq: 200 });
    const ids = readLines().map((l) => (JSON.parse(l) as { orderId: string }).orderId);
    expect(ids.filter((id) => id.startsWith('A-'))).toHaveLength(100);
  }, 30_000);
});

describe('a custody log named through a symbolic link', () => {
  it('keeps one head file and one lock, beside the file itself, whichever path appends', async () => {
    await writeLog(1);
    const linkDir = path.join(dir, 'other');
    mkdirSync(linkDir);
    const link = path.join(linkDir, 'link.jsonl');
    fs.symlinkSync(logFile, link);
    const viaLink = createFileCustodyLog({ file: link });
    await viaLink.append({ event: 'order.checked', orderId: 'LE-link', details: {} });
    // Before: the link got a head file of its own, and the next append through the real path refused the log.
    await createFileCustodyLog({ file: logFile }).append({ event: 'order.checked', orderId: 'LE-real', details: {} });
    await viaLink.append({ event: 'order.checked', orderId: 'LE-link-2', details: {} });
    expect(existsSync(headFileFor(link))).toBe(false);
    expect(readdirSync(linkDir)).toEqual(['link.jsonl']);
    expect(readLines().map((line) => (JSON.parse(line) as CustodyRecord).orderId)).toEqual(['LE-1', 'LE-link', 'LE-real', 'LE-link-2']);
    for (const file of [logFile, link]) expect((await verifyCustodyLog(file)).ok).toBe(true);
  });
});

describe('verifyCustodyLog', () => {
  it('fails a log whose last newline was removed, as append refuses to chain onto it (a torn write)', async () => {
    await writeLog(3);
    const text = readFileSync(logFile, 'utf8');
    writeFileSync(logFile, text.slice(0, -1));
    const report = await verifyCustodyLog(logFile);
    expect(report.ok).toBe(false);
    expect(report.failures).toEqual([expect.objectContaining({ seq: 3, line: 3, kind: 'malformed', problem: expect.stringMatching(/ends without a newline/) as unknown })]);
    const log = createFileCustodyLog({ file: logFile });
    await expect(log.append({ event: 'order.checked', orderId: 'LE-4', details: {} })).rejects.toBeInstanceOf(IntegrityError);
  });

  it('fails a record whose line ends in CR LF, or holds a lone CR, which scopex never writes', async () => {
    const lines = await writeLog(4);
    writeFileSync(logFile, lines.map((line, i) => (i === 1 ? `${line}\r\n` : i === 2 ? `{\r${line.slice(1)}\n` : `${line}\n`)).join(''));
    const report = await verifyCustodyLog(logFile);
    expect(report).toMatchObject({ ok: false, records: 4, lastSeq: 4 });
    expect(report.failures).toEqual([
      expect.objectContaining({ seq: 2, line: 2, kind: 'edited', problem: expect.stringMatching(/not as scopex wrote it/) as unknown }),
      expect.objectContaining({ seq: 3, line: 3, kind: 'edited' }),
    ]);
  });

  it('fails a record whose fields were reordered (same values, same hash), as not as scopex wrote it', async () => {
    const lines = await writeLog(3);
    const reordered = Object.fromEntries(Object.entries(JSON.parse(lines[1]!) as Record<string, unknown>).reverse());
    writeFileSync(logFile, [lines[0], JSON.stringify(reordered), lines[2]].map((line) => `${line}\n`).join(''));
    const report = await verifyCustodyLog(logFile);
    expect(report.ok).toBe(false);
    expect(report.failures).toEqual([
      expect.objectContaining({ seq: 2, line: 2, kind: 'edited', problem: expect.stringMatching(/not as scopex wrote it \(.*in another order\)/) as unknown }),
    ]);
  });

  it('reads the log as of one moment: records appended while it audits are not records added without scopex', async () => {
    writeChainWithHead(40_000);
    const log = createFileCustodyLog({ file: logFile });
    const appends = (async () => {
      for (let i = 0; i < 30; i += 1) await log.append({ event: 'order.checked', orderId: `LE-LATE-${i}`, details: {} });
    })();
    const reports = [];
    for (let i = 0; i < 3; i += 1) reports.push(await verifyCustodyLog(logFile));
    await appends;
    for (const report of reports) expect(report).toMatchObject({ ok: true, failures: [], moreFailures: 0 });
    expect(await verifyCustodyLog(logFile)).toMatchObject({ ok: true, records: 40_030 });
  });

  it('accepts an intact log and reports a missing one as unreadable input', async () => {
    await writeLog(5);
    expect(await verifyCustodyLog(logFile)).toMatchObject({ ok: true, records: 5, failures: [] });
    await expect(verifyCustodyLog(path.join(dir, 'none.jsonl'))).rejects.toBeInstanceOf(InputError);
  });

  it('reports a folder given as the log as unreadable input, not a crash, in audit and in the reports', async () => {
    await expect(verifyCustodyLog(dir)).rejects.toMatchObject({ name: 'InputError', code: 'FILE_UNREADABLE' });
    await expect(readCustodyRecords(dir).next()).rejects.toMatchObject({ name: 'InputError', code: 'FILE_UNREADABLE' });
  });

  // Round 7 custody C5: fsync on /dev/null or a FIFO failed, as an internal error (exit 1).
  it('refuses to append to a log that is a device, a pipe or a folder: exit 2, one sentence, no lock file left beside it', async () => {
    const fifo = path.join(dir, 'fifo.jsonl');
    spawnSync('mkfifo', [fifo]);
    for (const [file, what] of [[fifo, 'it is not a regular file (a device or a pipe)'], ['/dev/null', 'it is not a regular file (a device or a pipe)'], [dir, 'it is a folder']] as const) {
      const error = await createFileCustodyLog({ file }).append({ event: 'order.checked', orderId: 'LE-1', details: {} }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InputError);
      expect((error as InputError).message).toBe(`cannot append to custody log ${file}: ${what}; nothing was appended.`);
      expect(existsSync(lockFileFor(file))).toBe(false);
    }
  });

  it('accepts one append\'s records past the head (up to two) while a live writer on this host holds the lock, not three', async () => {
    const records = (await writeLog(4)).map((line) => JSON.parse(line) as CustodyRecord);
    const headAt = (seq: number) => writeFileSync(headFileFor(logFile), `${JSON.stringify({ seq, hash: records[seq - 1]!.hash })}\n`);
    // This process, as the writer between its records and its head file.
    const writing = async () =>
      writeFileSync(lockFileFor(logFile), JSON.stringify({ pid: process.pid, nonce: 'writing', time: Date.now(), host: hostname(), process: await processIdentity(process.pid) }));
    headAt(3);
    await writing();
    expect(await verifyCustodyLog(logFile)).toMatchObject({ ok: true, lastSeq: 4, headChecked: true, failures: [] });
    // Its head file written and its lock let go: the record is the head's.
    headAt(4);
    rmSync(lockFileFor(logFile));
    expect((await verifyCustodyLog(logFile)).ok).toBe(true);
    // Two past the head: the records of one append (export's sealed archive and the notice it makes due) under way.
    headAt(2);
    await writing();
    expect(await verifyCustodyLog(logFile)).toMatchObject({ ok: true, lastSeq: 4, failures: [] });
    // With no writer, they are not confirmed.
    rmSync(lockFileFor(logFile));
    expect((await verifyCustodyLog(logFile)).failures).toEqual([
      expect.objectContaining({
        seq: 3,
        line: 4,
        kind: 'inserted',
        problem: expect.stringMatching(/^records seq 3 to 4, ending on line 4, are past the head file \S+ \(seq 2\), and no scopex is writing them: they were added without scopex, /),
      }),
    ]);
    // Three past the head: more than any append writes, whoever holds the lock.
    headAt(1);
    await writing();
    expect((await verifyCustodyLog(logFile)).failures).toEqual([expect.objectContaining({ seq: 2, kind: 'inserted' })]);
  });

  // A record appended by hand, its hash recomputed and the head file untouched, passed as an append cut short, and the
  // next append took it into the head file: after that nothing told it from the others.
  it('fails one record past the head that no live writer is writing: added by hand, or left by a killed scopex', async () => {
    const lines = await writeLog(3);
    const last = JSON.parse(lines[2]!) as CustodyRecord;
    const forged = { seq: 4, time: '2026-11-24T00:30:00.000Z', event: 'order.checked' as const, orderId: 'LE-FORGED', details: {}, prevHash: last.hash };
    writeLines([...lines, JSON.stringify({ ...forged, hash: recordHash(forged) })]);
    const expectUnconfirmed = async () => {
      const report = await verifyCustodyLog(logFile);
      expect(report).toMatchObject({ ok: false, lastSeq: 4, headChecked: true, moreFailures: 0 });
      expect(report.failures).toEqual([expect.objectContaining({ seq: 4, line: 4, kind: 'inserted' })]);
      expect(report.failures[0]!.problem).toMatch(/^record seq 4 on line 4 is past the head file \S+\.head \(seq 3\), and no scopex is writing it: .*confirm it by writing its seq and hash to the head file; if not, remove it\)$/);
    };
    await expectUnconfirmed();
    // A lock whose holder is gone (a scopex killed between its record and its head file), or of another host, or
    // without a host (an older scopex's) is no writer at work.
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString();
    for (const holder of [
      { pid: Number(dead), host: hostname(), process: null },
      { pid: process.pid, host: `not-${hostname()}`, process: null },
      { pid: process.pid },
      { pid: process.pid, host: hostname(), process: 'another-boot:1' },
      { pid: 0, host: hostname(), process: null },
    ]) {
      writeFileSync(lockFileFor(logFile), JSON.stringify({ nonce: 'x', time: Date.now(), ...holder }));
      await expectUnconfirmed();
    }
    rmSync(lockFileFor(logFile));
    await expectRefused(
      /^custody log \S+ ends at seq 4, one record past its head file \S+\.head \(seq 3\), and no scopex is writing it: it was added without scopex, or by a scopex killed before it wrote the head file, .*; nothing was appended; run scopex audit verify /,
    );
    await expectUnconfirmed();
    // Confirmed by a person (its seq and hash in the head file), it is part of the log.
    writeFileSync(headFileFor(logFile), `${JSON.stringify({ seq: 4, hash: recordHash(forged) })}\n`);
    expect((await verifyCustodyLog(logFile)).ok).toBe(true);
    expect((await createFileCustodyLog({ file: logFile }).append({ event: 'order.checked', orderId: 'LE-5', details: {} })).seq).toBe(5);
    expect((await verifyCustodyLog(logFile)).ok).toBe(true);
  });

  // A kill (SIGKILL, an OOM kill) between a record and its head file left the log refusing every later command until a
  // person wrote the head file by hand: the crash test of export met it. The pending file an append writes first
  // tells that record from one added by hand.
  it('confirms the record of an append killed before its head file, which its pending file names; not one it does not name', async () => {
    const lines = await writeLog(3);
    expect(existsSync(pendingFileFor(logFile))).toBe(false);
    const last = JSON.parse(lines[2]!) as CustodyRecord;
    const killed = { seq: 4, time: '2026-11-24T00:30:00.000Z', event: 'order.checked' as const, orderId: 'LE-KILLED', details: {}, prevHash: last.hash };
    const hash = recordHash(killed);
    writeLines([...lines, JSON.stringify({ ...killed, hash })]);
    // A pending file naming another record (a kill before the record was written, then a record added by hand): refused.
    writeFileSync(pendingFileFor(logFile), `${JSON.stringify({ seq: 4, hash: 'f'.repeat(64) })}\n`);
    expect((await verifyCustodyLog(logFile)).failures).toEqual([expect.objectContaining({ seq: 4, kind: 'inserted' })]);
    await expectRefused(/one record past its head file/);
    // The one that names it: audit verify takes it as an append cut short, and the next append confirms it.
    writeFileSync(pendingFileFor(logFile), `${JSON.stringify({ seq: 4, hash })}\n`);
    await expectConfirmedByNextAppend(4);
  });

  // Export's sealed archive and its notice were two appends: a full disk between them left a seal of a withheld
  // archive in the log, with nothing after it to say so.
  it('appends several events as one: all their records, chained, under one head file, or none', async () => {
    await writeLog(2);
    const log = createFileCustodyLog({ file: logFile, now: () => new Date('2026-11-24T01:00:00Z') });
    const [sealed, notice] = await log.appendAll([
      { event: 'export.sealed', orderId: 'LE-9', details: { archive: 'LE-9.zip' } },
      { event: 'notification.due', orderId: 'LE-9', details: { accounts: [] } },
    ]);
    expect(sealed).toMatchObject({ seq: 3, event: 'export.sealed', time: '2026-11-24T01:00:00.000Z' });
    expect(notice).toMatchObject({ seq: 4, event: 'notification.due', prevHash: sealed!.hash, hash: recordHash(notice!) });
    expect(readLines().slice(2).map((line) => JSON.parse(line) as CustodyRecord)).toEqual([sealed, notice]);
    expect(JSON.parse(readFileSync(headFileFor(logFile), 'utf8'))).toEqual({ seq: 4, hash: notice!.hash });
    expect(existsSync(pendingFileFor(logFile))).toBe(false);
    expect((await verifyCustodyLog(logFile)).ok).toBe(true);
    // A bad event among them, none, or more than one append writes: nothing is appended.
    const before = snapshot();
    await expect(
      log.appendAll([
        { event: 'export.sealed', orderId: 'LE-9', details: {} },
        { event: 'notification.due', orderId: '', details: {} },
      ]),
    ).rejects.toThrow(TypeError);
    await expect(log.appendAll([])).rejects.toThrow(/1 to 2 records, not 0/);
    const three = { event: 'order.checked', orderId: 'LE-9', details: {} } as const;
    await expect(log.appendAll([three, three, three])).rejects.toThrow(/1 to 2 records, not 3/);
    expect(snapshot()).toEqual(before);
  });

  it('confirms the records of an append of two killed before its head file, which its pending file names from the first', async () => {
    const lines = await writeLog(3);
    const third = JSON.parse(lines[2]!) as CustodyRecord;
    const sealed = { seq: 4, time: '2026-11-24T00:30:00.000Z', event: 'export.sealed' as const, orderId: 'LE-KILLED', details: {}, prevHash: third.hash };
    const sealedHash = recordHash(sealed);
    const notice = { seq: 5, time: sealed.time, event: 'notification.due' as const, orderId: 'LE-KILLED', details: {}, prevHash: sealedHash };
    const noticeHash = recordHash(notice);
    writeLines([...lines, JSON.stringify({ ...sealed, hash: sealedHash }), JSON.stringify({ ...notice, hash: noticeHash })]);
    const pending = (mark: object) => writeFileSync(pendingFileFor(logFile), `${JSON.stringify(mark)}\n`);
    // No pending file, one naming only the last record, one from another seq, one naming more than an append writes:
    // records a person must tell from records added by hand.
    for (const mark of [null, { seq: 5, hash: noticeHash }, { seq: 5, hash: noticeHash, from: 5 }, { seq: 5, hash: noticeHash, from: 3 }]) {
      if (mark === null) rmSync(pendingFileFor(logFile), { force: true });
      else pending(mark);
      expect((await verifyCustodyLog(logFile)).failures).toEqual([expect.objectContaining({ seq: 4, kind: 'inserted' })]);
      await expectRefused(/ends at seq 5, 2 records past its head file \S+ \(seq 3\), and no scopex is writing them: they were added without scopex/);
    }
    pending({ seq: 5, hash: noticeHash, from: 4 });
    await expectConfirmedByNextAppend(5);
  });

  it('confirms a first append of two killed before the log had a head file, and only with its pending file', async () => {
    const first = { seq: 1, time: '2026-11-24T00:30:00.000Z', event: 'export.sealed' as const, orderId: 'LE-1', details: {}, prevHash: GENESIS_HASH };
    const firstHash = recordHash(first);
    const second = { seq: 2, time: first.time, event: 'notification.due' as const, orderId: 'LE-1', details: {}, prevHash: firstHash };
    const secondHash = recordHash(second);
    mkdirSync(path.dirname(logFile), { recursive: true });
    writeLines([JSON.stringify({ ...first, hash: firstHash }), JSON.stringify({ ...second, hash: secondHash })]);
    expect((await verifyCustodyLog(logFile)).failures).toEqual([expect.objectContaining({ seq: 2, kind: 'removed' })]);
    await expectRefused(/ends at seq 2 but has no head file/);
    writeFileSync(pendingFileFor(logFile), `${JSON.stringify({ seq: 2, hash: secondHash, from: 1 })}\n`);
    expect(await verifyCustodyLog(logFile)).toMatchObject({ ok: true, lastSeq: 2, failures: [] });
    expect((await createFileCustodyLog({ file: logFile }).append({ event: 'order.checked', orderId: 'LE-3', details: {} })).seq).toBe(3);
    expect(await verifyCustodyLog(logFile)).toMatchObject({ ok: true, lastSeq: 3, failures: [] });
  });

  it('takes a head file with a pending file\'s "from" for a damaged one', async () => {
    const records = (await writeLog(2)).map((line) => JSON.parse(line) as CustodyRecord);
    writeFileSync(headFileFor(logFile), `${JSON.stringify({ seq: 2, hash: records[1]!.hash, from: 1 })}\n`);
    expect((await verifyCustodyLog(logFile)).failures).toEqual([expect.objectContaining({ kind: 'malformed', problem: expect.stringContaining('is damaged') })]);
    await expectRefused(/has a damaged head file/);
  });

  for (const k of [1, 3, 6]) {
    it(`catches an edit of record ${k}`, async () => {
      const lines = await writeLog(6);
      const record = JSON.parse(lines[k - 1]!) as { details: { n: number } };
      record.details.n = 999;
      lines[k - 1] = JSON.stringify(record);
      writeLines(lines);
      const report = await verifyCustodyLog(logFile);
      expect(report.ok).toBe(false);
      expect(report.failures).toEqual([expect.objectContaining({ seq: k, kind: 'edited', line: k })]);
    });

    it(`catches an edit of record ${k} with its hash recomputed`, async () => {
      const lines = await writeLog(6);
      const record = JSON.parse(lines[k - 1]!) as CustodyRecord;
      record.orderId = 'FORGED';
      record.hash = recordHash(record);
      lines[k - 1] = JSON.stringify(record);
      writeLines(lines);
      const report = await verifyCustodyLog(logFile);
      expect(report.ok).toBe(false);
      expect(report.failures.map((f) => f.seq)).toEqual([k]);
    });

    it(`catches a field added to record ${k}, which its hash does not cover`, async () => {
      const lines = await writeLog(6);
      lines[k - 1] = lines[k - 1]!.replace(/}$/, ',"extra":1}');
      writeLines(lines);
      const report = await verifyCustodyLog(logFile);
      expect(report.ok).toBe(false);
      expect(report.failures).toEqual([expect.objectContaining({ seq: k, kind: 'edited', line: k })]);
      expect(report.failures[0]!.problem).toContain('"extra"');
    });

    it(`catches a repeated key in record ${k}, whose first value JSON.parse would drop`, async () => {
      const lines = await writeLog(6);
      lines[k - 1] = lines[k - 1]!.replace(/^{/, '{"orderId":"SHOWN-TO-A-READER",');
      writeLines(lines);
      const report = await verifyCustodyLog(logFile);
      expect(report.ok).toBe(false);
      expect(report.failures).toEqual([expect.objectContaining({ seq: k, kind: 'edited', line: k })]);
      expect(report.failures[0]!.problem).toContain('not as scopex wrote it');
    });

    it(`catches record ${k} rewritten with the same values in other text`, async () => {
      const lines = await writeLog(6);
      lines[k - 1] = JSON.stringify(JSON.parse(lines[k - 1]!), null, 1).replace(/\n/g, '');
      writeLines(lines);
      const report = await verifyCustodyLog(logFile);
      expect(report.failures).toEqual([expect.objectContaining({ seq: k, kind: 'edited', line: k })]);
    });

    it(`catches the removal of record ${k}`, async () => {
      const lines = await writeLog(6);
      lines.splice(k - 1, 1);
      writeLines(lines);
      const report = await verifyCustodyLog(logFile);
      expect(report.ok).toBe(false);
      expect(report.failures).toEqual([expect.objectContaining({ seq: k, kind: 'removed' })]);
    });

    it(`catches a record inserted before record ${k}`, async () => {
      const lines = await writeLog(6);
      const previous = k > 1 ? (JSON.parse(lines[k - 2]!) as { hash: string }).hash : GENESIS_HASH;
      const forged = { seq: k, time: '2026-01-01T00:00:00.000Z', event: 'order.checked' as const, orderId: 'FORGED', details: {}, prevHash: previous };
      lines.splice(k - 1, 0, JSON.stringify({ ...forged, hash: recordHash(forged) }));
      writeLines(lines);
      const report = await verifyCustodyLog(logFile);
      expect(report.ok).toBe(false);
      expect(report.failures).toEqual([expect.objectContaining({ seq: k, kind: 'inserted' })]);
    });
  }

  for (const k of [1, 3, 5]) {
    it(`catches records ${k} and ${k + 1} swapped`, async () => {
      const lines = await writeLog(6);
      [lines[k - 1], lines[k]] = [lines[k]!, lines[k - 1]!];
      writeLines(lines);
      const report = await verifyCustodyLog(logFile);
      expect(report.ok).toBe(false);
      // Record k + 1 comes first, and the record after it fills the sequence before it: it moved up.
      expect(report.failures).toEqual([expect.objectContaining({ seq: k + 1, line: k, kind: 'reordered' })]);
    });
  }

  // Each case: the order of the six records' lines, and the records named out of order (seq and line), the only
  // problems. A swap of the first and last records was reported as every record out of order.
  const moves: { name: string; order: number[]; moved: [seq: number, line: number][] }[] = [
    { name: 'the first and last records swapped', order: [6, 2, 3, 4, 5, 1], moved: [[6, 1], [1, 6]] },
    { name: 'record 5 moved up after record 1', order: [1, 5, 2, 3, 4, 6], moved: [[5, 2]] },
    { name: 'record 2 moved down after record 5', order: [1, 3, 4, 5, 2, 6], moved: [[2, 5]] },
    { name: 'record 3 moved to the end', order: [1, 2, 4, 5, 6, 3], moved: [[3, 6]] },
    { name: 'record 6 moved to the start', order: [6, 1, 2, 3, 4, 5], moved: [[6, 1]] },
    { name: 'records 2 and 5 swapped', order: [1, 5, 3, 4, 2, 6], moved: [[5, 2], [2, 5]] },
  ];
  for (const { name, order, moved } of moves) {
    it(`names only the records out of place: ${name}`, async () => {
      const lines = await writeLog(6);
      writeLines(order.map((seq) => lines[seq - 1]!));
      const report = await verifyCustodyLog(logFile);
      expect(report.ok).toBe(false);
      expect(report.failures.map((failure) => [failure.seq, failure.line, failure.kind])).toEqual(
        moved.map(([seq, line]) => [seq, line, 'reordered']),
      );
    });
  }

  it('names the missing records when a record moved up has no place left in the log', async () => {
    const lines = await writeLog(6);
    // Record 5 removed, record 6 moved up after record 1.
    writeLines([1, 6, 2, 3, 4].map((seq) => lines[seq - 1]!));
    const report = await verifyCustodyLog(logFile);
    expect(report.failures.map((failure) => [failure.seq, failure.kind])).toEqual([[6, 'reordered'], [5, 'removed']]);
  });

  it('catches a duplicated line and a garbage line', async () => {
    const lines = await writeLog(4);
    lines.splice(2, 0, lines[0]!);
    writeLines(lines);
    let report = await verifyCustodyLog(logFile);
    expect(report.failures).toEqual([expect.objectContaining({ seq: 1, kind: 'inserted', line: 3 })]);
    writeLines([...readLines().filter((_, i) => i !== 2), 'not json']);
    report = await verifyCustodyLog(logFile);
    expect(report.ok).toBe(false);
    expect(report.failures.some((f) => f.kind === 'malformed')).toBe(true);
  });

  it('names lines added before a record as extra lines, once each, and nothing of the intact records around them', async () => {
    const original = await writeLog(5);
    for (const added of [[''], ['not json', '{"seq":3}']]) {
      const lines = [...original];
      lines.splice(2, 0, ...added);
      writeLines(lines);
      const report = await verifyCustodyLog(logFile);
      expect(report.ok).toBe(false);
      expect(report.records).toBe(5);
      expect(report.failures).toEqual(
        added.map((_, i) => ({
          seq: 3,
          line: 3 + i,
          kind: 'malformed',
          problem: `line ${3 + i} is not a custody record: an extra line (record seq 3 follows it intact, on line ${3 + added.length})`,
        })),
      );
    }
    // A line that took a record's place is still that record's problem: the next one does not link past it.
    const lines = [...original];
    lines[2] = 'not json';
    writeLines(lines);
    expect((await verifyCustodyLog(logFile)).failures.map((f) => [f.seq, f.kind])).toEqual([
      [3, 'malformed'],
      [3, 'chain-broken'],
    ]);
  });

  it('catches every removed record, each by its seq', async () => {
    const lines = await writeLog(8);
    writeLines(lines.filter((_, i) => i !== 2 && i !== 3 && i !== 6));
    const report = await verifyCustodyLog(logFile);
    expect(report.failures.map((f) => [f.seq, f.kind])).toEqual([
      [3, 'removed'],
      [4, 'removed'],
      [7, 'removed'],
    ]);
  });
});

describe('the head file, on append', () => {
  // A removed tail used to be caught by audit verify only until the next append, which numbered its record after the
  // new last one and overwrote the head file: audit verify then said intact.
  it('refuses to chain onto a log whose last records were removed, so that audit verify still names them', async () => {
    const lines = await writeLog(5);
    writeLines(lines.slice(0, 3));
    await expectRefused(
      /^custody log \S+ does not agree with its head file \S+\.head: the head file says seq 5, but the log ends at seq 3: records seq 4 to 5 were removed from its end;/,
    );
    writeLines(lines.slice(0, 4));
    await expectRefused(/the head file says seq 5, but the log ends at seq 4: record seq 5 was removed from its end;/);
    const report = await verifyCustodyLog(logFile);
    expect(report.failures).toEqual([expect.objectContaining({ seq: 5, kind: 'removed' })]);
    writeLines(lines);
    expect((await createFileCustodyLog({ file: logFile }).append({ event: 'order.checked', orderId: 'LE-6', details: {} })).seq).toBe(6);
    expect((await verifyCustodyLog(logFile)).ok).toBe(true);
  });

  it('refuses a last record that is not the one the head file names, and more than one record past it', async () => {
    const lines = await writeLog(5);
    const last = JSON.parse(lines[4]!) as CustodyRecord;
    const replaced = { ...last, orderId: 'FORGED' };
    writeLines([...lines.slice(0, 4), JSON.stringify({ ...replaced, hash: recordHash(replaced) })]);
    await expectRefused(/the head file says seq 5, but the log ends at seq 5, whose hash differs from the one the head file kept;/);
    writeLines(lines);
    // Two past the head may be one append's, for a person to tell apart; three are more than any append writes.
    const third = JSON.parse(lines[2]!) as CustodyRecord;
    writeFileSync(headFileFor(logFile), `${JSON.stringify({ seq: 3, hash: third.hash })}\n`);
    await expectRefused(/ends at seq 5, 2 records past its head file \S+ \(seq 3\), and no scopex is writing them: they were added without scopex, or by a scopex killed/);
    const second = JSON.parse(lines[1]!) as CustodyRecord;
    writeFileSync(headFileFor(logFile), `${JSON.stringify({ seq: 2, hash: second.hash })}\n`);
    await expectRefused(/the head file says seq 2, but the log ends at seq 5: records seq 3 to 5 were added without scopex;/);
    // One record past the head, but not linked to it.
    writeFileSync(headFileFor(logFile), `${JSON.stringify({ seq: 4, hash: second.hash })}\n`);
    await expectRefused(/the head file says seq 4, but the log ends at seq 5, which does not link to the record the head file names;/);
  });

  it('refuses a log emptied or removed while its head file says it held records, without creating it again', async () => {
    await writeLog(3);
    truncateSync(logFile, 0);
    await expectRefused(/^custody log \S+ is empty, but its head file \S+ says it reached seq 3: records were removed;/);
    rmSync(logFile);
    await expectRefused(/^custody log \S+ is missing, but its head file \S+ says it reached seq 3;/);
    expect(existsSync(logFile)).toBe(false);
  });

  it('refuses a damaged head file, which it would otherwise overwrite', async () => {
    await writeLog(2);
    for (const head of ['garbage', '', '{"seq":2}', '{"seq":0,"hash":"' + '0'.repeat(64) + '"}', 'x'.repeat(5000)]) {
      writeFileSync(headFileFor(logFile), head);
      await expectRefused(/^custody log \S+ has a damaged head file \S+ \(expected \{"seq","hash"\}\), so its end cannot be checked;/);
    }
  });

  it('refuses a log with records but no head file, save a lone first record (a first append cut short)', async () => {
    const lines = await writeLog(3);
    rmSync(headFileFor(logFile));
    await expectRefused(/^custody log \S+ ends at seq 3 but has no head file \S+\.head, which scopex writes with every record: it was removed/);
    writeLines(lines.slice(0, 1));
    const second = await createFileCustodyLog({ file: logFile }).append({ event: 'order.checked', orderId: 'LE-2', details: {} });
    expect(second).toMatchObject({ seq: 2, prevHash: (JSON.parse(lines[0]!) as CustodyRecord).hash });
    expect(JSON.parse(readFileSync(headFileFor(logFile), 'utf8'))).toEqual({ seq: 2, hash: second.hash });
    expect((await verifyCustodyLog(logFile)).ok).toBe(true);
  });

  it('starts an empty log with no head file at seq 1', async () => {
    mkdirSync(path.dirname(logFile), { recursive: true });
    writeFileSync(logFile, '');
    expect(await verifyCustodyLog(logFile)).toMatchObject({ ok: true, records: 0, headChecked: false });
    expect((await createFileCustodyLog({ file: logFile }).append({ event: 'order.checked', orderId: 'LE-1', details: {} })).seq).toBe(1);
    expect((await verifyCustodyLog(logFile)).ok).toBe(true);
  });
});

describe('the head file, in audit verify', () => {
  it('fails a log with records whose head file was removed, but not a new log or a lone first record', async () => {
    const lines = await writeLog(5);
    rmSync(headFileFor(logFile));
    writeLines(lines.slice(0, 3));
    const report = await verifyCustodyLog(logFile);
    expect(report).toMatchObject({ ok: false, headChecked: false, lastSeq: 3, moreFailures: 0 });
    expect(report.failures).toEqual([expect.objectContaining({ seq: 3, kind: 'removed' })]);
    expect(report.failures[0]!.problem).toMatch(/^the head file \S+\.head is missing, but the log ends at seq 3: scopex writes it with every record, so it was removed/);
    writeLines(lines.slice(0, 1));
    expect(await verifyCustodyLog(logFile)).toMatchObject({ ok: true, records: 1, headChecked: false });
  });

  it('reports a log file removed while its head file is there as every record removed, and one without either as unreadable', async () => {
    await writeLog(3);
    rmSync(logFile);
    const report = await verifyCustodyLog(logFile);
    expect(report).toMatchObject({ ok: false, records: 0, lastSeq: 0, headChecked: true });
    expect(report.failures.map((f) => [f.seq, f.kind])).toEqual([
      [1, 'removed'],
      [2, 'removed'],
      [3, 'removed'],
    ]);
    expect(report.failures[0]!.problem).toBe('record seq 1 is missing (removed): the log file is missing, and its head file says it reached seq 3');
    rmSync(headFileFor(logFile));
    await expect(verifyCustodyLog(logFile)).rejects.toMatchObject({ name: 'InputError', code: 'FILE_UNREADABLE' });
  });

  it('counts every problem after a large truncation: the listed ones plus moreFailures', async () => {
    const lines = writeChainWithHead(1300);
    // Cut in the middle of record 200: its line is malformed, and records 201 to 1300 are gone.
    writeFileSync(logFile, `${lines.slice(0, 199).join('\n')}\n${lines[199]!.slice(0, 40)}`);
    let report = await verifyCustodyLog(logFile);
    expect(report.failures.map((f) => [f.seq, f.kind, f.problem])).toEqual([
      [200, 'malformed', expect.stringContaining('line 200, where seq 200 was expected') as string],
      [201, 'removed', 'records seq 201 to 1300 are missing (removed) from the end of the log, which the head file says reached seq 1300'],
    ]);
    expect(report.moreFailures).toBe(0);
    truncateSync(logFile, 0);
    report = await verifyCustodyLog(logFile);
    expect(report.failures.map((f) => f.problem)).toEqual([
      'records seq 1 to 1300 are missing (removed) from the end of the log, which the head file says reached seq 1300',
    ]);
    expect(report.moreFailures).toBe(0);
    // A removed tail no wider than a listed gap is one problem per record, and past the cap the rest are counted.
    writeLines(lines.slice(0, 300).map((line) => `${line.slice(0, -1)},"x":1}`));
    report = await verifyCustodyLog(logFile);
    expect(report.failures).toHaveLength(1000);
    expect(report.failures.filter((f) => f.kind === 'edited')).toHaveLength(300);
    expect(report.failures[300]).toMatchObject({ seq: 301, kind: 'removed' });
    expect(report.moreFailures).toBe(300);
    expect(report.failures.length + report.moreFailures).toBe(1300);
  });
});

describe('audit verify, in bounded memory', () => {
  // Every missing seq used to be remembered, each with its failure: a 4 MB log of 17,000 records 1,001 apart took
  // gigabytes and over half a minute, then died of "Map maximum size exceeded" (an internal error, exit 1).
  it('checks a log of many gaps quickly, counting every missing record, and still names one that turns up later', async () => {
    let prevHash = GENESIS_HASH;
    const lines: string[] = [];
    const add = (seq: number) => {
      const record = { seq, time: '2026-10-01T00:00:00.000Z', event: 'order.checked' as const, orderId: 'LE-1', details: {}, prevHash };
      prevHash = recordHash(record);
      lines.push(JSON.stringify({ ...record, hash: prevHash }));
      return prevHash;
    };
    let last = '';
    for (let i = 0; i < 17_000; i += 1) last = add(1 + 1001 * i);
    const lastSeq = 1 + 1001 * 16_999;
    add(2);
    mkdirSync(path.dirname(logFile), { recursive: true });
    writeLines(lines);
    writeFileSync(headFileFor(logFile), `${JSON.stringify({ seq: lastSeq, hash: last })}\n`);
    const started = Date.now();
    const report = await verifyCustodyLog(logFile);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(report).toMatchObject({ ok: false, lastSeq, records: 17_001 });
    expect(report.failures).toHaveLength(1000);
    expect(report.failures[0]).toMatchObject({ seq: 2, kind: 'reordered', line: 17_001 });
    expect(report.failures[1]).toMatchObject({ seq: 3, kind: 'removed' });
    expect(report.failures.length + report.moreFailures).toBe(16_999 * 1000);
  }, 60_000);

  // Each twin used to copy the list of hashes the next record may link to: 60,000 twins took over 30 seconds.
  it('checks a log of many forged twins of one record in linear time, each one a problem', async () => {
    const record = (n: number | null) => {
      const details = n === null ? {} : { n };
      const unhashed = { seq: 1, time: '2026-10-01T00:00:00.000Z', event: 'order.checked' as const, orderId: 'LE-1', details, prevHash: GENESIS_HASH };
      return { ...unhashed, hash: recordHash(unhashed) };
    };
    const first = record(null);
    mkdirSync(path.dirname(logFile), { recursive: true });
    writeLines([JSON.stringify(first), ...Array.from({ length: 60_000 }, (_, n) => JSON.stringify(record(n)))]);
    writeFileSync(headFileFor(logFile), `${JSON.stringify({ seq: 1, hash: first.hash })}\n`);
    const started = Date.now();
    const report = await verifyCustodyLog(logFile);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(report.failures[0]).toMatchObject({ seq: 1, kind: 'inserted', line: 2 });
    expect(report.failures.length + report.moreFailures).toBe(60_000);
  }, 60_000);
});

describe('audit verify (the command)', () => {
  beforeAll(() => buildCli());

  const audit = (...extra: string[]) => runCli(['audit', 'verify', logFile, ...extra]);
  const oneLine = (stderr: string) => {
    const lines = stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    return lines[0]!;
  };

  it('exits 4 for a removed head file or a removed log file, and 0 for a new one', async () => {
    await writeLog(3);
    const head = readFileSync(headFileFor(logFile));
    rmSync(headFileFor(logFile));
    let run = await audit();
    expect(run.code, run.stderr).toBe(4);
    expect(run.stdout).toContain('3 records, last seq 3 (no head file)');
    expect(oneLine(run.stderr)).toMatch(new RegExp(`^scopex: custody log ${logFile} is broken: 1 problem, first at seq 3: the head file ${logFile}\\.head is missing`));

    writeFileSync(headFileFor(logFile), head);
    rmSync(logFile);
    run = await audit('--json');
    expect(run.code, run.stderr).toBe(4);
    expect(JSON.parse(run.stdout)).toMatchObject({ ok: false, records: 0, moreFailures: 0, failures: [{ seq: 1, kind: 'removed' }, { seq: 2 }, { seq: 3 }] });
    expect(oneLine(run.stderr)).toMatch(/is broken: 3 problems, first at seq 1: record seq 1 is missing \(removed\): the log file is missing, and its head file says it reached seq 3$/);

    writeFileSync(logFile, '');
    run = await audit();
    expect(run.code, run.stderr).toBe(4);
    expect(oneLine(run.stderr)).toMatch(/is broken: 3 problems, first at seq 1: record seq 1 is missing \(removed\) from the end of the log/);

    rmSync(headFileFor(logFile));
    run = await audit();
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('0 records, last seq 0 (a new log: no head file yet)');
    rmSync(logFile);
    run = await audit();
    expect(run.code).toBe(2);
    expect(oneLine(run.stderr)).toMatch(/cannot read custody log .*: no such file/);
  });

  it('exits 4 for a record appended by hand past the head file, naming its seq', async () => {
    const lines = await writeLog(3);
    const forged = { seq: 4, time: '2026-11-24T00:30:00.000Z', event: 'order.checked' as const, orderId: 'LE-FORGED', details: {}, prevHash: (JSON.parse(lines[2]!) as CustodyRecord).hash };
    writeLines([...lines, JSON.stringify({ ...forged, hash: recordHash(forged) })]);
    let run = await audit();
    expect(run.code, run.stderr).toBe(4);
    expect(oneLine(run.stderr)).toMatch(/is broken: 1 problem, first at seq 4: record seq 4 on line 4 is past the head file \S+\.head \(seq 3\), and no scopex is writing it: /);
    run = await audit('--json');
    expect(run.code).toBe(4);
    expect(JSON.parse(run.stdout)).toMatchObject({ ok: false, records: 4, lastSeq: 4, headChecked: true, failures: [{ seq: 4, kind: 'inserted' }] });
  });

  it('counts a removed tail wider than a listed gap as one problem naming the range', async () => {
    writeChainWithHead(2558);
    truncateSync(logFile, 0);
    const run = await audit('--json');
    expect(run.code, run.stderr).toBe(4);
    expect(JSON.parse(run.stdout)).toMatchObject({ moreFailures: 0, failures: [{ seq: 1, kind: 'removed' }] });
    expect(oneLine(run.stderr)).toMatch(/is broken: 1 problem, first at seq 1: records seq 1 to 2558 are missing \(removed\) from the end of the log, which the head file says reached seq 2558$/);
  });

  it('gives the total of problems beyond the listed 1000, a record cut short counted once', async () => {
    const lines = writeChainWithHead(1300);
    // 300 edited records, record 301 cut short, records 302 to 1300 removed: 300 + 1 + 999 problems.
    const edited = lines.slice(0, 300).map((line) => `${line.slice(0, -1)},"x":1}\n`);
    writeFileSync(logFile, `${edited.join('')}${lines[300]!.slice(0, 40)}`);
    const run = await audit('--json');
    expect(run.code).toBe(4);
    const report = JSON.parse(run.stdout) as { failures: unknown[]; moreFailures: number };
    expect(report.failures).toHaveLength(1000);
    expect(report.moreFailures).toBe(300);
    expect(oneLine(run.stderr)).toMatch(/is broken: 1300 problems, first at seq 1:/);
  });
});
