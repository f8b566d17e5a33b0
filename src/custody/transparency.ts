// Transparency-report figures, computed from the custody log alone.
import type { CustodyRecord } from './custody-log.js';
import { readCustodyRecords, stringArray } from './read-log.js';
import { verifyCustodyLog } from './verify-log.js';

export interface TransparencyOptions {
  logFile: string;
  from: Date;
  to: Date;
  /** 'half-year' (default) splits the window at 1 January and 1 July (UTC), as transparency reports are published. */
  periods?: 'half-year' | 'whole';
}

/** Exact figures for every process except national-security letters, which appear only in bands. */
export interface PeriodFigures {
  from: string;
  to: string;
  ordersReceived: number;
  ordersRefused: number;
  /** Refused orders per reason code (an order refused for two reasons counts under both). */
  refusalReasons: Record<string, number>;
  /** Sum over the orders of the accounts each named (resolved accounts; for an order refused before resolution, its targets). */
  accountsSpecified: number;
  contentDisclosed: number;
  nonContentOnly: number;
  noDataFound: number;
  /** Received, neither refused nor sealed (failed, aborted, scope incident, or still running at the window's end). */
  notCompleted: number;
  nationalSecurityLetters: { ordersReceived: string; accountsSpecified: string };
}

export interface TransparencyReport {
  from: string;
  to: string;
  /** Whether the custody log passed audit verification when the figures were computed. */
  logVerified: boolean;
  periods: PeriodFigures[];
  total: PeriodFigures;
}

export const NSL_BAND = 500;
const NSL = 'national-security-letter';

/** "0-499", "500-999", ...: national-security-letter figures are never published exactly. */
export function band(count: number, width: number = NSL_BAND): string {
  const low = Math.floor(count / width) * width;
  return `${low}-${low + width - 1}`;
}

interface OrderState {
  orderId: string;
  /** When the order was first logged. */
  received: number;
  /** When its outcome was reached: its first seal, or else its first refusal (null while it has neither). */
  decided: number | null;
  process: string | null;
  accountsChecked: number | null;
  targetsRefused: number | null;
  outcome: 'refused' | 'sealed' | null;
  reasons: string[];
  contentDisclosed: boolean;
  items: number;
}

const RECEIVING_EVENTS = new Set(['order.checked', 'order.refused', 'export.started', 'export.sealed', 'export.failed', 'scope.incident']);

export async function transparencyReport(options: TransparencyOptions): Promise<TransparencyReport> {
  const from = options.from.getTime();
  const to = options.to.getTime();
  const orders = new Map<string, OrderState>();
  for await (const record of readCustodyRecords(options.logFile)) {
    const time = Date.parse(record.time);
    // An order's outcome is the one it has by the window's end, and it belongs to the period in which that outcome was
    // reached (sealed, or else first refused), or, without one, to the period it was first logged in. Counted by its first
    // record, a draft refused in June and the order delivered in November showed as a refusal in the first half-year
    // and nowhere in the second, so the delivery was in no report published at the end of a period.
    if (!(time <= to)) continue;
    if (!RECEIVING_EVENTS.has(record.event)) continue;
    let state = orders.get(record.orderId);
    if (!state) {
      state = {
        orderId: record.orderId,
        received: time,
        decided: null,
        process: null,
        accountsChecked: null,
        targetsRefused: null,
        outcome: null,
        reasons: [],
        contentDisclosed: false,
        items: 0,
      };
      orders.set(record.orderId, state);
    }
    apply(state, record, time);
  }
  const audit = await verifyCustodyLog(options.logFile);

  const slices = options.periods === 'whole' ? [[options.from, options.to] as const] : halfYears(options.from, options.to);
  const counted = (order: OrderState) => order.decided ?? order.received;
  const periods = slices.map(([start, end]) =>
    figures(start, end, [...orders.values()].filter((o) => counted(o) >= start.getTime() && counted(o) <= end.getTime())),
  );
  return {
    from: options.from.toISOString(),
    to: options.to.toISOString(),
    logVerified: audit.ok,
    periods,
    total: figures(options.from, options.to, [...orders.values()].filter((o) => counted(o) >= from)),
  };
}

function apply(state: OrderState, record: CustodyRecord, time: number): void {
  const details = record.details;
  const process = typeof details['process'] === 'string' ? details['process'] : null;
  // An order id that any record gives as a national-security letter stays out of every exact figure: a draft or a
  // forged copy refused under another process first must not put the letter among the exact counts.
  if (process === NSL || (state.process === null && process !== null)) state.process = process;
  switch (record.event) {
    case 'order.checked':
      state.accountsChecked = stringArray(details['accounts']).length;
      break;
    case 'order.refused':
      // A delivery stays a delivery: the same order refused later (checked again once expired, or an altered copy
      // with its id) does not take back what was handed over.
      if (state.outcome === 'sealed') break;
      // Checked again and refused again, it stays in the period of its first refusal (counted there once).
      if (state.outcome === null) state.decided = time;
      state.outcome = 'refused';
      state.reasons = stringArray(details['reasons']);
      if (typeof details['targets'] === 'number') state.targetsRefused = details['targets'];
      break;
    case 'export.sealed': {
      // A second seal (a re-export with --force) is the same delivery.
      if (state.outcome !== 'sealed') state.decided = time;
      state.outcome = 'sealed';
      state.contentDisclosed = details['contentDisclosed'] === true;
      const items = details['items'];
      state.items =
        items && typeof items === 'object' ? Object.values(items).reduce<number>((sum, n) => sum + (typeof n === 'number' ? n : 0), 0) : 0;
      if (state.accountsChecked === null) state.accountsChecked = stringArray(details['accounts']).length;
      break;
    }
    default:
      break;
  }
}

function figures(start: Date, end: Date, orders: OrderState[]): PeriodFigures {
  const result: PeriodFigures = {
    from: start.toISOString(),
    to: end.toISOString(),
    ordersReceived: 0,
    ordersRefused: 0,
    refusalReasons: {},
    accountsSpecified: 0,
    contentDisclosed: 0,
    nonContentOnly: 0,
    noDataFound: 0,
    notCompleted: 0,
    nationalSecurityLetters: { ordersReceived: band(0), accountsSpecified: band(0) },
  };
  let nslOrders = 0;
  let nslAccounts = 0;
  for (const order of orders) {
    const accounts = order.accountsChecked ?? order.targetsRefused ?? 0;
    // NSLs are left out of every exact figure, or the exact count would follow by subtraction.
    if (order.process === NSL) {
      nslOrders += 1;
      nslAccounts += accounts;
      continue;
    }
    result.ordersReceived += 1;
    result.accountsSpecified += accounts;
    switch (order.outcome) {
      case 'refused':
        result.ordersRefused += 1;
        for (const reason of new Set(order.reasons)) result.refusalReasons[reason] = (result.refusalReasons[reason] ?? 0) + 1;
        break;
      case 'sealed':
        if (order.contentDisclosed) result.contentDisclosed += 1;
        else if (order.items > 0) result.nonContentOnly += 1;
        else result.noDataFound += 1;
        break;
      case null:
        result.notCompleted += 1;
        break;
    }
  }
  result.nationalSecurityLetters = { ordersReceived: band(nslOrders), accountsSpecified: band(nslAccounts) };
  return result;
}

/** A report has at most this many half-year columns (50 years); a longer window is refused unless it is one period. */
export const MAX_HALF_YEARS = 100;

/** How many half-years the window touches, counted without cutting it (a window of millennia is no work). */
export function countHalfYears(from: Date, to: Date): number {
  const index = (date: Date) => date.getUTCFullYear() * 2 + (date.getUTCMonth() < 6 ? 0 : 1);
  return index(to) - index(from) + 1;
}

/** Midnight UTC on the first of `month` of `year`, for any year: Date.UTC reads years 0 to 99 as 1900 to 1999. */
function firstOfMonth(year: number, month: number): number {
  const date = new Date(0);
  date.setUTCFullYear(year, month, 1);
  return date.getTime();
}

/** The window cut at 1 January and 1 July (UTC), each slice inclusive at both ends. */
export function halfYears(from: Date, to: Date): (readonly [Date, Date])[] {
  const slices: (readonly [Date, Date])[] = [];
  let start = from;
  while (start.getTime() <= to.getTime()) {
    const year = start.getUTCFullYear();
    const nextBoundary = start.getUTCMonth() < 6 ? firstOfMonth(year, 6) : firstOfMonth(year + 1, 0);
    const end = new Date(Math.min(nextBoundary - 1, to.getTime()));
    slices.push([start, end] as const);
    start = new Date(nextBoundary);
  }
  return slices;
}

/** Long-format CSV: one row per period and figure, so new reason codes never change the columns. */
export function transparencyCsv(report: TransparencyReport): string {
  const rows = ['period_from,period_to,figure,value'];
  for (const period of [...report.periods, report.total]) {
    const label = period === report.total ? 'total' : '';
    const add = (figure: string, value: number | string) =>
      rows.push(`${period.from},${period.to},${label ? `${label}.` : ''}${figure},${value}`);
    add('orders_received', period.ordersReceived);
    add('orders_refused', period.ordersRefused);
    for (const [reason, count] of Object.entries(period.refusalReasons).sort()) add(`refused_reason.${reason}`, count);
    add('accounts_specified', period.accountsSpecified);
    add('content_disclosed', period.contentDisclosed);
    add('non_content_only', period.nonContentOnly);
    add('no_data_found', period.noDataFound);
    add('not_completed', period.notCompleted);
    add('nsl.orders_received', period.nationalSecurityLetters.ordersReceived);
    add('nsl.accounts_specified', period.nationalSecurityLetters.accountsSpecified);
  }
  // The CSV's counterpart of the JSON's logVerified, so that a saved file still says whether its log passed audit.
  rows.push(`${report.from},${report.to},log_verified,${report.logVerified}`);
  return `${rows.join('\n')}\n`;
}
