// One export of an order into an output folder at a time: `<outDir>/.<orderId>.lock`, created with O_EXCL before the
// export touches anything of that order there (stale .partial, temp folders) and removed after it has cleaned up.
import { randomBytes } from 'node:crypto';
import { link, open, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';
import type { BigIntStats } from 'node:fs';
import { InputError } from '../errors.js';
import { processIdentity } from '../util/process-identity.js';

/** Held by one export; release() removes the lock file if it is still this lock's, and never throws. */
export interface OrderLock {
  readonly file: string;
  release(): Promise<void>;
}

/**
 * An unreadable lock file (empty, cut short, not ours) younger than this may be one whose owner is still writing it
 * (that takes microseconds after the O_EXCL create); older, it is what a crash between the create and the write left.
 * Minutes, not seconds, because the lock's time comes from the file system's clock, which may be another machine's.
 */
export const UNREADABLE_LOCK_STALE_MS = 2 * 60_000;

const MAX_LOCK_BYTES = 4096;

/** What the lock file holds (one JSON line). */
interface LockOwner {
  pid: number;
  host: string;
  /** The process's boot id and start time (Linux), so that a pid reused after a crash or a restart is not taken for it. */
  process: string | null;
  orderId: string;
  startedAt: string;
}

/** A lock held by an export: its owner when the lock could be read (a lock being written has none yet). */
type Found = { kind: 'gone' } | { kind: 'stale'; file: BigIntStats } | { kind: 'held'; message: string; owner: LockOwner | undefined };

export function orderLockFile(outDir: string, orderId: string): string {
  return path.join(outDir, `.${orderId}.lock`);
}

/**
 * Takes the order's lock in `outDir` (which must exist), or throws InputError('OUTPUT_BUSY') naming the export that
 * holds it. A lock is stale, and taken over, when it names a process of this host that is no longer running (or whose
 * pid now belongs to another process), or when it is unreadable and older than UNREADABLE_LOCK_STALE_MS. A lock
 * from another host is never taken over: its process cannot be checked from here.
 */
export async function acquireOrderLock(outDir: string, orderId: string): Promise<OrderLock> {
  const file = orderLockFile(outDir, orderId);
  const owner: LockOwner = {
    pid: process.pid,
    host: hostname(),
    process: await processIdentity(process.pid),
    orderId,
    startedAt: new Date().toISOString(),
  };
  // Two creates at most: the second after a stale lock was moved aside (or vanished) between the first and the look.
  for (let attempt = 1; ; attempt += 1) {
    const lock = await createLock(file, owner);
    if (lock) return lock;
    const found = await inspect(file, outDir, orderId);
    if (found.kind === 'held') throw new InputError('OUTPUT_BUSY', found.message);
    if (attempt === 2) {
      throw new InputError(
        'OUTPUT_BUSY',
        `the lock ${file} of order ${orderId} was being replaced by another export at the same time; nothing was changed.`,
      );
    }
    if (found.kind === 'stale') await takeOver(file, found.file);
  }
}

/**
 * The export that holds the order's lock in `outDir` now, or null when none does (no lock, or a stale one, which the
 * next export takes over). `waitable`: its end can be seen from here, by polling this again (a process of this host
 * other than this one, or a lock still being written); a lock of another host, or of this very process, is not.
 */
export async function orderLockHolder(
  outDir: string,
  orderId: string,
): Promise<{ message: string; waitable: boolean; waiting: string } | null> {
  const file = orderLockFile(outDir, orderId);
  const found = await inspect(file, outDir, orderId);
  if (found.kind !== 'held') return null;
  const { owner } = found;
  // What a waiter says while it waits: a lock not written yet is most often one a crash left, and it is waited for
  // until it is UNREADABLE_LOCK_STALE_MS old, which is long enough to want a word.
  const waiting = owner
    ? `another export of order ${orderId} into ${outDir} is running (pid ${owner.pid}); waiting for it to end`
    : `the lock ${file} of order ${orderId} is not written yet (an export starting, or one that ended while starting); ` +
      `waiting for it, at most until it is ${UNREADABLE_LOCK_STALE_MS / 60_000} minutes old`;
  return { message: found.message, waitable: !owner || (owner.host === hostname() && owner.pid !== process.pid), waiting };
}

async function createLock(file: string, owner: LockOwner): Promise<OrderLock | undefined> {
  let handle: FileHandle;
  try {
    handle = await open(file, 'wx', 0o644);
  } catch (error) {
    if (errorCode(error) === 'EEXIST') return undefined;
    throw error;
  }
  let held: BigIntStats;
  try {
    await handle.writeFile(`${JSON.stringify(owner)}\n`, 'utf8');
    held = await handle.stat({ bigint: true });
  } catch (error) {
    await handle.close().catch(() => undefined);
    await unlink(file).catch(() => undefined);
    throw error;
  }
  await handle.close();
  let released = false;
  return {
    file,
    async release() {
      if (released) return;
      released = true;
      try {
        // Only this lock's own file: had it been taken over (it cannot while this process runs), the new one stays.
        if (sameFile(await stat(file, { bigint: true }), held)) await unlink(file);
      } catch {
        // Gone, or the folder went away: a lock left behind names this process, and is stale once it has ended.
      }
    },
  };
}

async function inspect(file: string, outDir: string, orderId: string): Promise<Found> {
  let handle: FileHandle;
  try {
    handle = await open(file, 'r');
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return { kind: 'gone' };
    throw error;
  }
  try {
    const info = await handle.stat({ bigint: true });
    const owner = info.size <= MAX_LOCK_BYTES ? parseOwner(await handle.readFile('utf8')) : undefined;
    const running = `an export of order ${orderId} into ${outDir}`;
    if (!owner) {
      if (Date.now() - Number(info.mtimeMs) > UNREADABLE_LOCK_STALE_MS) return { kind: 'stale', file: info };
      return { kind: 'held', message: `${running} is starting (its lock ${file} is not written yet); nothing was changed.`, owner };
    }
    if (owner.host !== hostname()) {
      return {
        kind: 'held',
        message: `${running} holds the lock ${file} on host ${owner.host} (pid ${owner.pid}), which cannot be checked from here; nothing was changed (delete the lock once that export has ended).`,
        owner,
      };
    }
    if (await isRunning(owner)) return { kind: 'held', message: `${running} is already running (pid ${owner.pid}); nothing was changed.`, owner };
    return { kind: 'stale', file: info };
  } finally {
    await handle.close();
  }
}

/**
 * Moves the stale lock aside under a name of its own, then deletes it. Two exports may both judge one lock stale: only
 * one rename finds it; the other finds nothing, or (if the first has already created its own lock) that new lock, which
 * is put back at once.
 */
async function takeOver(file: string, stale: BigIntStats): Promise<void> {
  const aside = `${file}.stale-${randomBytes(4).toString('hex')}`;
  try {
    await rename(file, aside);
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return;
    throw error;
  }
  const moved = await stat(aside, { bigint: true }).catch(() => undefined);
  if (moved && !sameFile(moved, stale)) {
    await link(aside, file).catch(async (error: unknown) => {
      // No hard links on this file system: rename back, unless yet another lock has appeared meanwhile.
      if (errorCode(error) !== 'EEXIST' && !(await stat(file).then(() => true, () => false))) await rename(aside, file);
    });
  }
  await unlink(aside).catch(() => undefined);
}

function parseOwner(text: string): LockOwner | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const { pid, host, process: identity, orderId, startedAt } = value as Record<string, unknown>;
  if (typeof pid !== 'number' || !Number.isSafeInteger(pid) || pid < 1 || pid > 0x7fffffff) return undefined;
  if (typeof host !== 'string' || host === '' || (identity !== null && typeof identity !== 'string')) return undefined;
  if (typeof orderId !== 'string' || typeof startedAt !== 'string') return undefined;
  return { pid, host, process: identity, orderId, startedAt };
}

async function isRunning(owner: LockOwner): Promise<boolean> {
  try {
    process.kill(owner.pid, 0);
  } catch (error) {
    // EPERM: it runs, as another user. Anything else that is not "no such process": assume it runs.
    if (errorCode(error) === 'ESRCH') return false;
  }
  if (owner.process === null) return true;
  // A pid is reused: after a crash, a reboot, or a new container whose processes count from 1 again.
  const current = await processIdentity(owner.pid);
  return current === null || current === owner.process;
}

function sameFile(a: BigIntStats, b: BigIntStats): boolean {
  return a.ino === b.ino && a.dev === b.dev;
}

function errorCode(error: unknown): unknown {
  return (error as { code?: unknown } | null)?.code;
}
