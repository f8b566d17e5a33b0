// An identifier that moved to another account after the order file was first checked: TARGETS_MOVED (round 12 F3).
import { appendFileSync, copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createFileCustodyLog } from '../../src/custody/file-custody-log.js';
import { exitCodeFor, OrderError } from '../../src/errors.js';
import type { OrderContext } from '../../src/order/check-order.js';
import { checkOrder } from '../../src/order/check-order.js';
import { reportOrderCheck } from '../../src/order/check-report.js';
import { findFirstCheck, targetsMovedReason, type FirstCheck } from '../../src/order/earlier-resolution.js';
import type { Order } from '../../src/order/schema.js';
import type { ResolvedAccount } from '../../src/order/targets.js';
import type { Account } from '../../src/sources/account-directory.js';
import { ACCOUNTS, approve, baseOrder, makeFixture, memoryDirectory, runOrderCommand, writeOrder } from './fixtures.js';

const fx = makeFixture();
afterAll(() => fx.cleanup());

let logs = 0;
/** A context of its own custody log (none there yet), with the directory given. */
function context(accounts: Account[] = ACCOUNTS): OrderContext {
  return { ...fx.ctx, directory: memoryDirectory(accounts) };
}
function withLog(ctx: OrderContext, logFile: string): OrderContext {
  return { ...ctx, config: { ...ctx.config, custodyLogFile: logFile } };
}
function freshLog(): string {
  logs += 1;
  return path.join(fx.dir, `custody-${logs}`, 'custody.jsonl');
}

/** The directory with alice's email moved to a new account (the address recycled). */
const RECYCLED: Account = { id: 'acc-zed', tenant: 'consumer', tenantType: 'consumer', identifiers: [{ type: 'email', value: 'alice@contoso.example' }] };
const MOVED: Account[] = [
  ...ACCOUNTS.map((account) =>
    account.id === 'acc-alice' ? { ...account, identifiers: account.identifiers.filter((identifier) => identifier.type !== 'email') } : account,
  ),
  RECYCLED,
];

const emailOnly = (overrides: Partial<Order> = {}) => approve(baseOrder({ targets: [{ type: 'email', value: 'alice@contoso.example' }], ...overrides }), fx.pki.reviewer);

/** `order check` as the CLI runs it: the report, and its custody record appended. */
async function check(file: string, ctx: OrderContext) {
  const outcome = await reportOrderCheck(file, ctx);
  if (outcome.custody) await createFileCustodyLog({ file: ctx.config.custodyLogFile }).append(outcome.custody);
  return outcome;
}

describe('order check of a file checked before', () => {
  it('refuses it (exit 3, TARGETS_MOVED, logged as a refusal) when a target now names another account', async () => {
    const log = freshLog();
    const file = writeOrder(fx.dir, emailOnly());
    const first = await check(file, withLog(context(), log));
    expect(first.report.verdict).toBe('APPROVED');
    expect(first.custody?.details).toMatchObject({ accounts: ['acc-alice'], targetAccounts: ['acc-alice'] });

    const second = await check(file, withLog(context(MOVED), log));
    expect(second.report.verdict).toBe('REFUSED');
    expect(second.report.reasons.map((reason) => reason.code)).toEqual(['TARGETS_MOVED']);
    expect(second.error).toBeInstanceOf(OrderError);
    expect(exitCodeFor(second.error)).toBe(3);
    expect(second.custody).toMatchObject({ event: 'order.refused', details: { reasons: ['TARGETS_MOVED'] } });
    // The message names the target, the accounts then and now, and when it was first checked.
    const message = second.report.reasons[0]!.message;
    for (const fact of ['targets.0', 'alice@contoso.example', 'acc-alice', 'acc-zed', 'seq 1']) expect(message).toContain(fact);
    // checkOrder (the library's one-call gate) holds it to the log too.
    await expect(checkOrder(file, withLog(context(MOVED), log))).rejects.toMatchObject({ code: 'TARGETS_MOVED' });
  });

  it('approves it while the targets name the same accounts, and when there is no log yet', async () => {
    const log = freshLog();
    const file = writeOrder(fx.dir, emailOnly());
    expect((await check(file, withLog(context(), log))).report.verdict).toBe('APPROVED');
    expect((await check(file, withLog(context(), log))).report.verdict).toBe('APPROVED');
  });

  it('holds it to the FIRST check: a later check that logged the new account does not make it stand', async () => {
    const log = freshLog();
    const file = writeOrder(fx.dir, emailOnly());
    await check(file, withLog(context(), log));
    const raw = readFileSync(file);
    // What an older scopex would have logged at the second check, with the address moved.
    const sha256 = (await import('node:crypto')).createHash('sha256').update(raw).digest('hex');
    await createFileCustodyLog({ file: log }).append({ event: 'order.checked', orderId: 'LE-2026-000123', details: { accounts: ['acc-zed'], sha256 } });
    const again = await check(file, withLog(context(MOVED), log));
    expect(again.report.reasons.map((reason) => reason.code)).toEqual(['TARGETS_MOVED']);
    // Moved back, it is what the reviewer saw again.
    expect((await check(file, withLog(context(), log))).report.verdict).toBe('APPROVED');
  });

  it('starts afresh with a new approval (another file hash), and ignores other orders and refusals', async () => {
    const log = freshLog();
    await check(writeOrder(fx.dir, emailOnly()), withLog(context(), log));
    // The same order id approved again (the reviewer saw acc-zed): a new file, checked afresh.
    const reapproved = writeOrder(
      fx.dir,
      approve(baseOrder({ targets: [{ type: 'email', value: 'alice@contoso.example' }] }), fx.pki.reviewer, new Date('2026-10-03T09:00:00Z')),
    );
    expect((await check(reapproved, withLog(context(MOVED), log))).report.verdict).toBe('APPROVED');
    // Another order id with the same targets: nothing of it in the log.
    expect((await check(writeOrder(fx.dir, emailOnly({ id: 'LE-2026-000999' })), withLog(context(MOVED), log))).report.verdict).toBe('APPROVED');
  });

  it('reads past lines that are not records (as the other readers of the log do), and a log that is not there is no check', async () => {
    const log = freshLog();
    const file = writeOrder(fx.dir, emailOnly());
    mkdirSync(path.dirname(log), { recursive: true });
    writeFileSync(log, 'not json\n{"seq":0}\n\n');
    const sha256 = (await import('node:crypto')).createHash('sha256').update(readFileSync(file)).digest('hex');
    expect(await findFirstCheck(log, 'LE-2026-000123', sha256)).toBeNull();
    expect(await findFirstCheck(path.join(fx.dir, 'nowhere', 'custody.jsonl'), 'LE-2026-000123', sha256)).toBeNull();
    // A hand-written record in the middle of junk still counts (audit verify is what judges the log's integrity).
    appendFileSync(
      log,
      `${JSON.stringify({ seq: 1, time: '2026-10-05T00:00:00.000Z', event: 'order.checked', orderId: 'LE-2026-000123', details: { accounts: ['acc-alice'], sha256 }, prevHash: '0'.repeat(64), hash: 'a'.repeat(64) })}\n{torn`,
    );
    expect(await findFirstCheck(log, 'LE-2026-000123', sha256)).toEqual({ seq: 1, time: '2026-10-05T00:00:00.000Z', accounts: ['acc-alice'], targetAccounts: null });
    const refused = await reportOrderCheck(file, withLog(context(MOVED), log));
    expect(refused.report.reasons.map((reason) => reason.code)).toEqual(['TARGETS_MOVED']);
  });

  it('is not judged while a target does not resolve at all (that is its own reason)', async () => {
    const log = freshLog();
    const file = writeOrder(fx.dir, emailOnly());
    await check(file, withLog(context(), log));
    const gone = ACCOUNTS.map((account) => (account.id === 'acc-alice' ? { ...account, identifiers: [] } : account));
    const outcome = await check(file, withLog(context(gone), log));
    expect(outcome.report.reasons.map((reason) => reason.code)).toEqual(['TARGET_UNRESOLVED']);
  });
});

describe('targetsMovedReason', () => {
  const alice = ACCOUNTS[0]!;
  const bob = { ...ACCOUNTS[1]!, tenantType: 'consumer' as const };
  const order = baseOrder({
    targets: [
      { type: 'email', value: 'alice@contoso.example' },
      { type: 'im-handle', value: 'live:alice' },
    ],
  });
  const firstCheck = (accounts: string[], targetAccounts: (string | null)[] | null): FirstCheck => ({ seq: 7, time: '2026-10-05T00:00:00.000Z', accounts, targetAccounts });
  const resolved = (...pairs: [Account, number[]][]): ResolvedAccount[] =>
    pairs.map(([account, indexes]) => ({ account, targets: indexes.map((index) => ({ ...order.targets[index]! })) as ResolvedAccount['targets'] }));

  it('is null for the same set of accounts, in any order', () => {
    expect(targetsMovedReason(order, firstCheck(['acc-alice'], ['acc-alice', 'acc-alice']), resolved([alice, [0, 1]]))).toBeNull();
    expect(targetsMovedReason(order, firstCheck(['acc-bob', 'acc-alice'], null), resolved([alice, [0]], [bob, [1]]))).toBeNull();
  });

  it('names the target whose account changed, from the per-target record, when the set shrinks', () => {
    // Two targets, two accounts then; the handle moved onto alice's account: no target names a new account.
    const reason = targetsMovedReason(order, firstCheck(['acc-alice', 'acc-bob'], ['acc-alice', 'acc-bob']), resolved([alice, [0, 1]]));
    expect(reason?.code).toBe('TARGETS_MOVED');
    expect(reason?.message).toContain('targets.1 (im-handle "live:alice") named acc-bob, now acc-alice');
    expect(reason?.message).not.toContain('targets.0');
  });

  it('without the per-target record (an older log), names the targets that name an account not named then', () => {
    const reason = targetsMovedReason(order, firstCheck(['acc-alice'], null), resolved([alice, [0]], [bob, [1]]));
    expect(reason?.message).toContain('targets.1 (im-handle "live:alice") now names acc-bob');
    expect(reason?.message).not.toContain('targets.0');
    // And all of them when none does (the set only shrank).
    const shrunk = targetsMovedReason(order, firstCheck(['acc-alice', 'acc-bob'], null), resolved([alice, [0, 1]]));
    expect(shrunk?.message).toContain('targets.0');
    expect(shrunk?.message).toContain('targets.1');
  });

  it('never quotes what may be key material', () => {
    const hex = 'd41d8cd98f00b204e9800998ecf8427e';
    const keyish = baseOrder({ targets: [{ type: 'im-handle', value: `live:.cid.${hex}` }] });
    const account: Account = { id: 'acc-new', tenant: 'consumer', tenantType: 'consumer', identifiers: [] };
    const reason = targetsMovedReason(keyish, firstCheck(['acc-old'], ['acc-old']), [{ account, targets: [{ type: 'im-handle', value: `live:.cid.${hex}` }] }]);
    expect(reason?.code).toBe('TARGETS_MOVED');
    expect(reason?.message).not.toContain(hex);
  });
});

describe('scopex order check (CLI)', () => {
  const root = path.join(fx.dir, 'cli');
  const directoryFile = path.join(root, 'stores', 'directory.json');
  const writeDirectory = (accounts: Account[]) => writeFileSync(directoryFile, JSON.stringify({ schema: 'scopex.directory/v1', accounts }));
  beforeEach(() => {
    mkdirSync(path.join(root, 'stores'), { recursive: true });
    copyFileSync(path.join(import.meta.dirname, '../../config/legal-process.json'), path.join(root, 'legal-process.json'));
    copyFileSync(fx.caFile, path.join(root, 'ca.cert.pem'));
    writeFileSync(path.join(root, 'signer.cert.pem'), fx.pki.signer.certificatePem);
    writeFileSync(
      path.join(root, 'config.json'),
      JSON.stringify({
        schema: 'scopex.config/v1',
        organization: 'Test',
        legalProcess: 'legal-process.json',
        stores: 'stores',
        keys: { masterKey: 'master.key', dataKeys: 'data-keys.json' },
        reviewerCa: ['ca.cert.pem'],
        signer: { certificate: 'signer.cert.pem', key: 'signer.key.pem' },
        custodyLog: 'custody.jsonl',
      }),
    );
  });
  afterEach(() => vi.restoreAllMocks());

  const run = (argv: string[]) => runOrderCommand(argv, path.join(root, 'config.json'));

  it('exit 0, then exit 3 with TARGETS_MOVED once the address names another account', async () => {
    const now = Date.now();
    const current = { issuedAt: new Date(now - 86_400_000).toISOString(), expiresAt: new Date(now + 86_400_000).toISOString() };
    const order = baseOrder({ targets: [{ type: 'email', value: 'alice@contoso.example' }], ...current });
    const file = writeOrder(root, approve(order, fx.pki.reviewer, new Date(now - 3_600_000)));
    writeDirectory(ACCOUNTS);
    expect((await run(['order', 'check', file, '--json'])).exit).toBe(0);
    writeDirectory(MOVED);
    const refused = await run(['order', 'check', file, '--json']);
    expect(refused.exit).toBe(3);
    expect((JSON.parse(refused.stdout) as { reasons: { code: string }[] }).reasons.map((reason) => reason.code)).toEqual(['TARGETS_MOVED']);
    const events = readFileSync(path.join(root, 'custody.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line) as { event: string; details: Record<string, unknown> });
    expect(events.map((event) => event.event)).toEqual(['order.checked', 'order.refused']);
    expect(events[1]!.details['reasons']).toEqual(['TARGETS_MOVED']);
  });
});
