// What a run of an order killed before its clean-up (SIGKILL, an out-of-memory kill, a power cut) leaves in the output
// folder, and its removal by a later run of the order, which holds the order's lock and so knows them to be a dead run's.
import { readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { acquireOrderLock } from './order-lock.js';

/** The prefix of the temp folder the sealer keeps the archive's manifest in while it writes it. */
export function sealTempPrefix(orderId: string): string {
  return `.${orderId}.seal-`;
}

/** The prefix of the temp folder an export keeps its metadata lines and production.json in until they are sealed. */
export function exportScratchPrefix(orderId: string): string {
  return `.${orderId}.export-`;
}

/** Exactly the name mkdtemp gives a temp folder of `prefix` (six letters or digits), and no other order's name. */
export function isTempFolderOf(prefix: string, name: string): boolean {
  return name.length === prefix.length + 6 && name.startsWith(prefix) && /^[A-Za-z0-9]{6}$/.test(name.slice(prefix.length));
}

/**
 * Removes what dead runs of the order left in `outDir`: the archive's `.partial` (after publication, a second name of
 * the delivered archive), the sealer's and the export's temp folders (the latter holds decrypted metadata lines), and
 * a lock moved aside to be deleted. Only the caller's order's: another order's names may start with this one's. Call
 * it only while holding the order's lock (order-lock.ts): no live run of the order then has files here.
 */
export async function removeDeadRunFiles(outDir: string, orderId: string): Promise<void> {
  await rm(path.join(outDir, `${orderId}.zip.partial`), { force: true });
  const staleLock = `.${orderId}.lock.stale-`;
  for (const entry of await readdir(outDir, { withFileTypes: true })) {
    const file = path.join(outDir, entry.name);
    if (entry.isDirectory() && (isTempFolderOf(sealTempPrefix(orderId), entry.name) || isTempFolderOf(exportScratchPrefix(orderId), entry.name))) {
      await rm(file, { recursive: true, force: true });
    } else if (entry.isFile() && entry.name.startsWith(staleLock) && /^[0-9a-f]{8}$/.test(entry.name.slice(staleLock.length))) {
      await rm(file, { force: true });
    }
  }
}

/**
 * For a run that goes no further (batch's skip of an archive already there, an order refused): takes the order's lock
 * when it is free, removes what dead runs left (removeDeadRunFiles), and lets go. Never throws: a folder that is not
 * there, or that it cannot tidy (read-only, or a run of the order at work), is left as it is.
 */
export async function tidyAfterDeadRuns(outDir: string, orderId: string): Promise<void> {
  const lock = await acquireOrderLock(outDir, orderId).catch(() => null);
  if (!lock) return;
  try {
    await removeDeadRunFiles(outDir, orderId).catch(() => undefined);
  } finally {
    await lock.release();
  }
}
