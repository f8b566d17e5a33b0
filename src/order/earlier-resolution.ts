// What this very order file's targets resolved to when it was first checked, read back from the custody log: the
// accounts the reviewer was shown. An identifier moved to another account since then (a recycled address) would
// otherwise hand over a stranger's data under the approval (round 12 scope F3), so that is a refusal: TARGETS_MOVED.
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { resolveLogFile } from '../custody/file-custody-log.js';
import { readCustodyRecords, stringArray } from '../custody/read-log.js';
import { redactKeyMaterial } from '../util/key-material.js';
import type { OrderReason } from './approval-verify.js';
import type { Order, OrderTarget } from './schema.js';
import type { ResolvedAccount } from './targets.js';

/** The first `order.checked` record of one order file (its id and the SHA-256 of its bytes). */
export interface FirstCheck {
  seq: number;
  time: string;
  /** The accounts the order resolved to then. */
  accounts: string[];
  /** The account each target named then, in the order's target order; null in records written before it was logged. */
  targetAccounts: (string | null)[] | null;
}

/**
 * The account each of the order's targets names, in target order (null for a target that names none): logged with
 * every check (check-report.ts, checkedOrderEvent), so that a later check can name the very target that moved.
 */
export function targetAccountIds(order: Order, accounts: readonly ResolvedAccount[]): (string | null)[] {
  return order.targets.map((target) => accounts.find((resolved) => resolved.targets.some((t) => sameTarget(t, target)))?.account.id ?? null);
}

/**
 * The first `order.checked` record in the custody log `logFile` of the order `orderId` whose file has SHA-256
 * `sha256`, or null when there is none (also when there is no log yet). Read one line at a time, and only as far as
 * that record; lines that are not records are skipped, as every reader of the log does (audit verify names them).
 */
export async function findFirstCheck(logFile: string, orderId: string, sha256: string): Promise<FirstCheck | null> {
  const file = await resolveLogFile(logFile);
  if (!(await exists(file))) return null;
  for await (const record of readCustodyRecords(file, sha256)) {
    const { details } = record;
    if (record.event !== 'order.checked' || record.orderId !== orderId || details['sha256'] !== sha256) continue;
    // A record without its accounts is not one scopex wrote: it says nothing of what the reviewer saw.
    if (!Array.isArray(details['accounts'])) continue;
    const logged = details['targetAccounts'];
    const targetAccounts = Array.isArray(logged) && logged.every((id) => id === null || typeof id === 'string') ? (logged as (string | null)[]) : null;
    return { seq: record.seq, time: record.time, accounts: stringArray(details['accounts']), targetAccounts };
  }
  return null;
}

/**
 * TARGETS_MOVED when `accounts`, what the order's targets resolve to now, is another set of accounts than `first`
 * says they resolved to; null when it is the same set. The targets named are those whose account changed (when the
 * first record says which account each target named), or else those that name an account not named then, or else
 * all of them.
 */
export function targetsMovedReason(order: Order, first: FirstCheck, accounts: readonly ResolvedAccount[]): OrderReason | null {
  const now = [...new Set(accounts.map((resolved) => resolved.account.id))];
  const then = [...new Set(first.accounts)];
  if (now.length === then.length && now.every((id) => then.includes(id))) return null;
  const nowByTarget = targetAccountIds(order, accounts);
  const thenByTarget = first.targetAccounts?.length === order.targets.length ? first.targetAccounts : null;
  let moved = order.targets
    .map((target, index) => ({ target, index, was: thenByTarget?.[index] ?? null, is: nowByTarget[index] ?? null }))
    .filter(({ was, is }) => (thenByTarget ? was !== is : is === null || !then.includes(is)));
  if (moved.length === 0) moved = order.targets.map((target, index) => ({ target, index, was: null, is: nowByTarget[index] ?? null }));
  const named = moved.map(({ target, index, was, is }) => {
    const field = `targets.${index} (${target.type} ${JSON.stringify(target.value)})`;
    return was === null ? `${field} now names ${is ?? 'no account'}` : `${field} named ${was}, now ${is ?? 'no account'}`;
  });
  const message =
    `order ${order.id}: its targets name ${listed(now)}, not ${listed(then)} as when this order file was first checked, at ${first.time} ` +
    `(custody record seq ${first.seq}): ${named.join('; ')}; have the order reviewed and approved again (a new approval is a new file, checked afresh)`;
  return { code: 'TARGETS_MOVED', message: redactKeyMaterial(message) };
}

/**
 * TARGETS_MOVED when this very order file (its id and the SHA-256 of `raw`) was checked before, per the custody log
 * `logFile`, and its targets now resolve to `accounts`, another set than they did then; null otherwise.
 */
export async function earlierResolutionReason(order: Order, raw: Uint8Array, accounts: readonly ResolvedAccount[], logFile: string): Promise<OrderReason | null> {
  const first = await findFirstCheck(logFile, order.id, createHash('sha256').update(raw).digest('hex'));
  return first ? targetsMovedReason(order, first, accounts) : null;
}

function sameTarget(a: { type: string; value: string }, b: OrderTarget): boolean {
  return a.type === b.type && a.value === b.value;
}

function listed(ids: readonly string[]): string {
  return ids.length === 0 ? 'no account' : ids.join(', ');
}

/** Whether the log is there; any other failure to look is left to the reader, which names it (exit 2). */
async function exists(file: string): Promise<boolean> {
  try {
    await fs.stat(file);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    return true;
  }
}
