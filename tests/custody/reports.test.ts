import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { CustodyEvent } from '../../src/custody/custody-log.js';
import { createFileCustodyLog, GENESIS_HASH, headFileFor, recordHash } from '../../src/custody/file-custody-log.js';
import { notices } from '../../src/custody/notices.js';
import { parseInstant } from '../../src/custody/read-log.js';
import { band, halfYears, transparencyCsv, transparencyReport } from '../../src/custody/transparency.js';
import { InputError } from '../../src/errors.js';
import { buildCli, runCli } from '../e2e/export-helpers.js';

let dir: string;
let logFile: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'scopex-'));
  logFile = path.join(dir, 'custody.jsonl');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** Appends events, each at its own time. */
async function logEvents(events: [string, CustodyEvent][]): Promise<void> {
  let clock = new Date();
  const log = createFileCustodyLog({ file: logFile, now: () => clock });
  for (const [time, event] of events) {
    clock = new Date(time);
    await log.append(event);
  }
}

/** The same chain and head file the log writes, built in one go (an fsync per record is too slow for hundreds of records). */
function writeChain(events: [string, CustodyEvent][]): void {
  let prevHash = GENESIS_HASH;
  const lines = events.map(([time, event], i) => {
    const record = { seq: i + 1, time: new Date(time).toISOString(), ...event, prevHash };
    prevHash = recordHash(record);
    return JSON.stringify({ ...record, hash: prevHash });
  });
  writeFileSync(logFile, `${lines.join('\n')}\n`);
  writeFileSync(headFileFor(logFile), `${JSON.stringify({ seq: lines.length, hash: prevHash })}\n`);
}

const checked = (orderId: string, process: string, accounts: string[]): CustodyEvent => ({
  event: 'order.checked',
  orderId,
  details: { process, targets: accounts.length, accounts, categories: ['subscriber'] },
});
const sealed = (orderId: string, process: string, accounts: string[], items: Record<string, number>, contentDisclosed: boolean): CustodyEvent => ({
  event: 'export.sealed',
  orderId,
  details: { process, accounts, items, contentDisclosed, bytes: 10, archive: `/out/${orderId}.zip`, sha256: 'a'.repeat(64) },
});
const refused = (orderId: string, process: string | null, reasons: string[], targets: number): CustodyEvent => ({
  event: 'order.refused',
  orderId,
  details: { process, reasons, targets },
});
const due = (orderId: string, accounts: string[], notifyFrom: string | null, enterpriseAccounts: string[] = []): CustodyEvent => ({
  event: 'notification.due',
  orderId,
  details: { accounts, notifyFrom, enterpriseAccounts, enterpriseRedirect: enterpriseAccounts.length ? 'customer-unreachable' : 'not-applicable' },
});

describe('transparency report', () => {
  it('counts each order once, in the period its outcome was reached (or, without one, it was received in), with NSLs only in bands', async () => {
    await logEvents([
      ['2025-12-30T23:00:00Z', checked('Z-before', 'search-warrant', ['z1'])],
      ['2025-12-31T23:00:00Z', sealed('Z-before', 'search-warrant', ['z1'], { 'mail.content': 1 }, true)],
      // Received in 2025, delivered in January: a disclosure of the first half-year of 2026.
      ['2025-12-31T23:00:00Z', checked('G-before', 'search-warrant', ['g1'])],
      ['2026-01-05T00:00:00Z', sealed('G-before', 'search-warrant', ['g1'], { 'mail.content': 1 }, true)],
      ['2026-02-01T00:00:00Z', checked('A', 'search-warrant', ['a1', 'a2'])],
      ['2026-02-01T00:01:00Z', { event: 'export.started', orderId: 'A', details: {} }],
      ['2026-02-01T00:02:00Z', sealed('A', 'search-warrant', ['a1', 'a2'], { 'mail.content': 3, subscriber: 2 }, true)],
      ['2026-03-01T00:00:00Z', checked('B', 'subpoena', ['b1'])],
      ['2026-03-01T00:02:00Z', sealed('B', 'subpoena', ['b1'], { subscriber: 1 }, false)],
      ['2026-03-02T00:00:00Z', checked('C', 'court-order', ['c1'])],
      ['2026-03-02T00:02:00Z', sealed('C', 'court-order', ['c1'], {}, false)],
      ['2026-04-01T00:00:00Z', refused('D', 'subpoena', ['EXPIRED', 'UNAPPROVED'], 2)],
      ['2026-05-01T00:00:00Z', checked('N1', 'national-security-letter', ['n1', 'n2'])],
      ['2026-05-01T00:01:00Z', sealed('N1', 'national-security-letter', ['n1', 'n2'], { subscriber: 2 }, false)],
      ['2026-05-02T00:00:00Z', refused('N2', 'national-security-letter', ['CATEGORY_NOT_PERMITTED'], 1)],
      ['2026-06-30T23:59:59Z', refused('M', null, ['SCHEMA_VIOLATION'], 0)],
      ['2026-08-01T00:00:00Z', refused('E', 'search-warrant', ['ENTERPRISE_REDIRECT'], 1)],
      ['2026-09-01T00:00:00Z', checked('F', 'search-warrant', ['f1'])],
      ['2026-09-01T00:01:00Z', { event: 'export.failed', orderId: 'F', details: { code: 'ITEM_AUTH_FAILED' } }],
      ['2026-10-01T00:00:00Z', { event: 'archive.verified', orderId: 'A', details: { ok: true } }],
      ['2027-01-01T00:00:00Z', checked('H-after', 'subpoena', ['h1'])],
    ]);
    const report = await transparencyReport({
      logFile,
      from: parseInstant('2026-01-01', 'start', '--from'),
      to: parseInstant('2026-12-31', 'end', '--to'),
    });
    expect(report.logVerified).toBe(true);
    expect(report.periods).toHaveLength(2);
    const [first, second] = report.periods;
    expect(first).toMatchObject({
      from: '2026-01-01T00:00:00.000Z',
      to: '2026-06-30T23:59:59.999Z',
      ordersReceived: 6,
      ordersRefused: 2,
      refusalReasons: { EXPIRED: 1, UNAPPROVED: 1, SCHEMA_VIOLATION: 1 },
      accountsSpecified: 7,
      contentDisclosed: 2,
      nonContentOnly: 1,
      noDataFound: 1,
      notCompleted: 0,
      nationalSecurityLetters: { ordersReceived: '0-499', accountsSpecified: '0-499' },
    });
    // The NSL refusal reason must not leak through the exact figures.
    expect(first!.refusalReasons).not.toHaveProperty('CATEGORY_NOT_PERMITTED');
    expect(second).toMatchObject({
      from: '2026-07-01T00:00:00.000Z',
      ordersReceived: 2,
      ordersRefused: 1,
      refusalReasons: { ENTERPRISE_REDIRECT: 1 },
      accountsSpecified: 2,
      notCompleted: 1,
    });
    expect(report.total).toMatchObject({ ordersReceived: 8, ordersRefused: 3, accountsSpecified: 9 });
    const csv = transparencyCsv(report);
    expect(csv.split('\n')[0]).toBe('period_from,period_to,figure,value');
    expect(csv).toContain('2026-01-01T00:00:00.000Z,2026-06-30T23:59:59.999Z,orders_received,6');
    expect(csv).toContain('total.nsl.orders_received,0-499');
    const whole = await transparencyReport({ logFile, from: new Date('2026-01-01T00:00:00Z'), to: new Date('2026-12-31T23:59:59Z'), periods: 'whole' });
    expect(whole.periods).toHaveLength(1);
    expect(whole.periods[0]!.ordersReceived).toBe(8);
  });

  it('keeps a delivered order a disclosure when the same order id is refused later (checked again once expired, or a forged copy)', async () => {
    await logEvents([
      ['2026-02-01T00:00:00Z', checked('A', 'search-warrant', ['a1'])],
      ['2026-02-01T00:02:00Z', sealed('A', 'search-warrant', ['a1'], { 'mail.content': 3 }, true)],
      ['2026-02-03T00:00:00Z', refused('A', 'search-warrant', ['EXPIRED'], 1)],
      ['2026-03-01T00:00:00Z', checked('B', 'subpoena', ['b1'])],
      ['2026-03-01T00:02:00Z', sealed('B', 'subpoena', ['b1'], { subscriber: 1 }, false)],
      ['2026-03-05T00:00:00Z', refused('B', 'subpoena', ['APPROVAL_INVALID'], 1)],
    ]);
    const report = await transparencyReport({ logFile, from: parseInstant('2026-01-01', 'start', '--from'), to: parseInstant('2026-06-30', 'end', '--to') });
    expect(report.periods[0]).toMatchObject({ ordersReceived: 2, ordersRefused: 0, refusalReasons: {}, contentDisclosed: 1, nonContentOnly: 1 });
  });

  // Round 7 custody C2: counted by its first record, a draft refused in June and the order delivered in November was
  // a refusal in the first half-year's report and in no report as a delivery.
  it('counts a delivery in the half-year it was sealed in, whatever was logged of its id before', async () => {
    await logEvents([
      ['2026-06-30T12:00:00Z', refused('T', 'subpoena', ['UNAPPROVED'], 1)],
      ['2026-06-30T13:00:00Z', checked('U', 'subpoena', ['u1'])],
      ['2026-03-01T00:00:00Z', refused('R', 'subpoena', ['UNAPPROVED'], 1)],
      ['2026-11-24T10:00:00Z', checked('T', 'subpoena', ['t1'])],
      ['2026-11-24T10:01:00Z', sealed('T', 'subpoena', ['t1'], { subscriber: 1 }, false)],
      ['2026-11-24T11:00:00Z', sealed('U', 'subpoena', ['u1'], { subscriber: 1 }, false)],
      // Checked again and refused again: it stays in the half-year of its first refusal.
      ['2026-11-25T00:00:00Z', refused('R', 'subpoena', ['EXPIRED'], 1)],
    ]);
    const firstHalf = await transparencyReport({ logFile, from: parseInstant('2026-01-01', 'start', '--from'), to: parseInstant('2026-06-30', 'end', '--to') });
    // Published at the end of June: what was known then.
    expect(firstHalf.total).toMatchObject({ ordersReceived: 3, ordersRefused: 2, notCompleted: 1, nonContentOnly: 0 });
    const secondHalf = await transparencyReport({ logFile, from: parseInstant('2026-07-01', 'start', '--from'), to: parseInstant('2026-12-31', 'end', '--to') });
    expect(secondHalf.total).toMatchObject({ ordersReceived: 2, ordersRefused: 0, nonContentOnly: 2, notCompleted: 0 });
    const year = await transparencyReport({ logFile, from: parseInstant('2026-01-01', 'start', '--from'), to: parseInstant('2026-12-31', 'end', '--to') });
    expect(year.periods[0]).toMatchObject({ ordersReceived: 1, ordersRefused: 1, refusalReasons: { EXPIRED: 1 } });
    expect(year.periods[1]).toMatchObject({ ordersReceived: 2, nonContentOnly: 2 });
  });

  // Round 7 custody C1: the process came from the first record naming one, so a refused draft of the letter's id
  // under another process put the letter among the exact figures.
  it('keeps an order id any record gives as a national-security letter out of every exact figure', async () => {
    await logEvents([
      ['2026-08-01T00:00:00Z', refused('N', 'court-order', ['UNAPPROVED'], 1)],
      ['2026-08-02T00:00:00Z', checked('N', 'national-security-letter', ['n1'])],
      ['2026-08-02T00:01:00Z', sealed('N', 'national-security-letter', ['n1'], { subscriber: 1 }, false)],
      ['2026-08-03T00:00:00Z', checked('P', 'national-security-letter', ['p1'])],
      ['2026-08-04T00:00:00Z', refused('P', 'subpoena', ['APPROVAL_INVALID'], 1)],
    ]);
    const report = await transparencyReport({ logFile, from: parseInstant('2026-07-01', 'start', '--from'), to: parseInstant('2026-12-31', 'end', '--to') });
    expect(report.total).toMatchObject({ ordersReceived: 0, ordersRefused: 0, refusalReasons: {}, accountsSpecified: 0, nonContentOnly: 0, notCompleted: 0 });
  });

  it('bands national-security letters in steps of 500 and never shows the exact count', async () => {
    const events: [string, CustodyEvent][] = [];
    for (let i = 0; i < 501; i += 1) events.push(['2026-03-01T00:00:00Z', refused(`NSL-${i}`, 'national-security-letter', ['EXPIRED'], 1)]);
    writeChain(events);
    const report = await transparencyReport({ logFile, from: new Date('2026-01-01T00:00:00Z'), to: new Date('2026-06-30T23:59:59Z') });
    expect(report.logVerified).toBe(true);
    expect(report.total.nationalSecurityLetters).toEqual({ ordersReceived: '500-999', accountsSpecified: '500-999' });
    expect(report.total.ordersReceived).toBe(0);
    expect(JSON.stringify(report)).not.toContain('501');
  });

  it('bands and half-years', () => {
    expect([band(0), band(499), band(500), band(999), band(1000)]).toEqual(['0-499', '0-499', '500-999', '500-999', '1000-1499']);
    const slices = halfYears(new Date('2025-05-10T00:00:00Z'), new Date('2026-02-01T00:00:00Z'));
    expect(slices.map(([a, b]) => [a.toISOString(), b.toISOString()])).toEqual([
      ['2025-05-10T00:00:00.000Z', '2025-06-30T23:59:59.999Z'],
      ['2025-07-01T00:00:00.000Z', '2025-12-31T23:59:59.999Z'],
      ['2026-01-01T00:00:00.000Z', '2026-02-01T00:00:00.000Z'],
    ]);
  });

  it('cuts half-years in any year, also in years 0 to 99 (which Date.UTC would read as 1900 to 1999)', () => {
    const iso = (from: string, to: string) => halfYears(new Date(from), new Date(to)).map(([a, b]) => [a.toISOString(), b.toISOString()]);
    expect(iso('0001-01-01T00:00:00Z', '0002-12-31T23:59:59.999Z')).toEqual([
      ['0001-01-01T00:00:00.000Z', '0001-06-30T23:59:59.999Z'],
      ['0001-07-01T00:00:00.000Z', '0001-12-31T23:59:59.999Z'],
      ['0002-01-01T00:00:00.000Z', '0002-06-30T23:59:59.999Z'],
      ['0002-07-01T00:00:00.000Z', '0002-12-31T23:59:59.999Z'],
    ]);
    expect(iso('0099-10-01T00:00:00Z', '0100-02-01T00:00:00Z')).toEqual([
      ['0099-10-01T00:00:00.000Z', '0099-12-31T23:59:59.999Z'],
      ['0100-01-01T00:00:00.000Z', '0100-02-01T00:00:00.000Z'],
    ]);
  });

  it('refuses dates without a zone or that do not parse', () => {
    expect(() => parseInstant('2026-13-45', 'start', '--from')).toThrow(InputError);
    expect(() => parseInstant('2026-01-01T00:00:00', 'start', '--from')).toThrow(InputError);
    expect(() => parseInstant('yesterday', 'start', '--from')).toThrow(InputError);
    expect(parseInstant('2026-01-01T05:00:00+02:00', 'start', '--from').toISOString()).toBe('2026-01-01T03:00:00.000Z');
  });
});

describe('notices', () => {
  it('lists holders that may be told, those still gagged, and enterprise demands to redirect', async () => {
    await logEvents([
      ['2026-02-01T00:00:00Z', due('NO-GAG', ['a1', 'a2'], null)],
      ['2026-02-02T00:00:00Z', due('GAG-PAST', ['b1'], '2026-06-01T00:00:00Z', ['b1'])],
      ['2026-02-03T00:00:00Z', due('GAG-FUTURE', ['c1'], '2027-06-30T00:00:00Z')],
      ['2026-02-04T00:00:00Z', refused('ENT', 'search-warrant', ['ENTERPRISE_REDIRECT'], 1)],
      ['2026-02-05T00:00:00Z', refused('ENT-LATER-OK', 'search-warrant', ['ENTERPRISE_REDIRECT'], 1)],
      ['2026-02-06T00:00:00Z', sealed('ENT-LATER-OK', 'search-warrant', ['e1'], { subscriber: 1 }, false)],
      ['2026-02-07T00:00:00Z', refused('EXP', 'subpoena', ['EXPIRED'], 1)],
      // A re-export replaces the earlier notice for the same order.
      ['2026-02-08T00:00:00Z', due('REDONE', ['d1'], null)],
      ['2026-02-09T00:00:00Z', due('REDONE', ['d1'], '2027-01-01T00:00:00Z')],
      // Logged after the as-of date: not known yet.
      ['2026-11-01T00:00:00Z', due('LATER', ['x1'], null)],
    ]);
    const result = await notices({ logFile, asOf: new Date('2026-10-01T00:00:00Z') });
    expect(result.notify).toEqual([
      { orderId: 'GAG-PAST', accounts: ['b1'], enterpriseAccounts: ['b1'], notifyFrom: '2026-06-01T00:00:00Z' },
      { orderId: 'NO-GAG', accounts: ['a1', 'a2'], enterpriseAccounts: [], notifyFrom: null },
    ]);
    expect(result.withheld.map((w) => [w.orderId, w.until])).toEqual([
      ['GAG-FUTURE', '2027-06-30T00:00:00Z'],
      ['REDONE', '2027-01-01T00:00:00Z'],
    ]);
    expect(result.redirect.map((r) => r.orderId)).toEqual(['ENT']);

    const later = await notices({ logFile, asOf: new Date('2027-07-01T00:00:00Z') });
    expect(later.notify.map((n) => n.orderId)).toEqual(['GAG-FUTURE', 'GAG-PAST', 'LATER', 'NO-GAG', 'REDONE']);
    expect(later.withheld).toEqual([]);
  });
});

describe('report transparency (the command)', () => {
  beforeAll(() => buildCli());

  const transparency = (from: string, to: string, ...extra: string[]) =>
    runCli(['report', 'transparency', '--from', from, '--to', to, '--log', logFile, ...extra]);

  it('gives one column per half-year, and refuses more than 100 of them (exit 2, naming the bound) unless --periods whole', async () => {
    await logEvents([['2026-02-01T00:00:00Z', checked('A', 'search-warrant', ['a1'])]]);
    const early = await transparency('0001-01-01', '0002-12-31', '--json');
    expect(early.code, early.stderr).toBe(0);
    expect((JSON.parse(early.stdout) as { periods: unknown[] }).periods).toHaveLength(4);
    const fifty = await transparency('2000-01-01', '2049-12-31', '--json');
    expect(fifty.code, fifty.stderr).toBe(0);
    expect((JSON.parse(fifty.stdout) as { periods: unknown[] }).periods).toHaveLength(100);
    for (const [from, to] of [['2000-01-01', '2050-01-01'], ['0001-01-01', '9999-12-31']] as const) {
      const refused = await transparency(from, to);
      expect(refused.code, `${from}..${to}`).toBe(2);
      expect(refused.stdout).toBe('');
      const lines = refused.stderr.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/100 half-years/);
    }
    const whole = await transparency('0001-01-01', '9999-12-31', '--periods', 'whole', '--json');
    expect(whole.code, whole.stderr).toBe(0);
    expect((JSON.parse(whole.stdout) as { total: { ordersReceived: number } }).total.ordersReceived).toBe(1);
  });

  it('prints the figures of a custody log that fails audit verification, marked as such, and exits 4 in every format', async () => {
    await logEvents([
      ['2026-02-01T00:00:00Z', checked('A', 'search-warrant', ['a1'])],
      ['2026-03-01T00:00:00Z', checked('B', 'subpoena', ['b1'])],
    ]);
    const intact = readFileSync(logFile, 'utf8');
    writeFileSync(logFile, intact.replace('"b1"', '"b2"'));
    const table = await transparency('2026-01-01', '2026-12-31');
    const json = await transparency('2026-01-01', '2026-12-31', '--json');
    const csv = await transparency('2026-01-01', '2026-12-31', '--csv');
    for (const run of [table, json, csv]) {
      expect(run.code, run.stderr).toBe(4);
      const lines = run.stderr.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toContain(logFile);
    }
    expect(table.stdout).toContain('WARNING: custody log fails audit verification');
    expect(JSON.parse(json.stdout)).toMatchObject({ logVerified: false, total: { ordersReceived: 2 } });
    expect(csv.stdout).toContain('total.orders_received,2');
    expect(csv.stdout).toContain(',log_verified,false');
    writeFileSync(logFile, intact);
    const verified = await transparency('2026-01-01', '2026-12-31', '--csv');
    expect(verified.code, verified.stderr).toBe(0);
    expect(verified.stderr).toBe('');
    expect(verified.stdout).toContain(',log_verified,true');
  });

  it('notify on a custody log that fails audit prints the notices, marked, and exits 4: nobody is told on a forged record', async () => {
    await logEvents([['2026-02-01T00:00:00Z', due('GAG', ['a1'], '2027-06-30T00:00:00Z')]]);
    const intact = readFileSync(logFile, 'utf8');
    // A gag order "ended" early by an edit of its record.
    writeFileSync(logFile, intact.replace('2027-06-30T00:00:00Z', '2026-03-01T00:00:00Z'));
    const notify = (...extra: string[]) => runCli(['notify', '--as-of', '2026-10-01', '--log', logFile, ...extra]);
    const table = await notify();
    const json = await notify('--json');
    for (const run of [table, json]) {
      expect(run.code, run.stderr).toBe(4);
      expect(run.stderr.trim().split('\n')).toEqual([expect.stringContaining('tell nobody on their word')]);
    }
    expect(table.stdout).toContain('WARNING: custody log fails audit verification');
    expect(JSON.parse(json.stdout)).toMatchObject({ logVerified: false });
    writeFileSync(logFile, intact);
    const honest = await notify('--json');
    expect(honest.code, honest.stderr).toBe(0);
    expect(JSON.parse(honest.stdout)).toMatchObject({ logVerified: true, notify: [], withheld: [{ orderId: 'GAG' }] });
  });
});
