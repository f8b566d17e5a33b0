// A subscriber record as delivered: the account's standing facts (sign-up data, identifiers) in full, and its
// time-bound history (logins, IP addresses, payments: any list of dated events) cut to the order's date range.
import type { TimeRange } from '../sources/source-adapter.js';
import { instantInRange } from '../util/in-range.js';

/** Fields that date an event in a history list, in the order they are looked for. */
const EVENT_TIME_FIELDS = ['time', 'timestamp', 'at', 'date', 'when', 'loggedInAt', 'occurredAt'] as const;

/** How far a clock may be from UTC: a date or time written without a zone may be read anywhere from UTC-12 to UTC+14. */
const AHEAD_OF_UTC_MS = 14 * 3_600_000;
const BEHIND_UTC_MS = 12 * 3_600_000;
const DAY_MS = 24 * 3_600_000;

/**
 * When an element of a history list happened: every instant it can stand for lies from `earliest` to `latest`
 * (`latestText` is `latest` as written, for the digits past the millisecond). An instant written with its zone is
 * one instant; a time written without a zone, or a calendar date, is a span. A day's end, the next midnight, is not
 * in the day, but the test is the same: the day lies in a range ending at or after it. `timed`: written with a time
 * of day (a date and a time), not a date alone.
 */
interface EventTime {
  timed: boolean;
  /** A time field holds a value that is not read as a date (epoch seconds, RFC 2822, free text): no span is known. */
  unreadable?: true;
  earliest: number;
  latest: number;
  latestText: string;
}

/**
 * Returns a copy of the record in which every list of dated events keeps only the events inside the range (both ends
 * included). Anything else (the sign-up date, names, identifiers) is a standing fact and is kept as it is.
 *
 * Decision: a list is history as soon as one of its elements is an object carrying one of EVENT_TIME_FIELDS as a date
 * with a time of day, or holding there what is not read as a date: that is how logins, IP addresses and payments are
 * stamped, and one undated or date-only entry
 * must not make a whole event log a standing fact that goes out uncut (fail closed). In such a list:
 * - an element dated by an instant (with its zone) is kept when the instant is inside the range;
 * - an element dated only by a calendar date ("2026-02-01"), or by a time without a zone, is kept only when every
 *   instant it can stand for is inside the range, read in any zone from UTC-12 to UTC+14: a day is kept only when the
 *   whole day lies in the range however it is read (a day on the range's edge may lie outside it, and goes);
 * - an element with no date at all (a null or missing time) is kept: nothing says it is out of range;
 * - an element whose time field holds what is not read as a date (epoch seconds, RFC 2822, a day that does not exist,
 *   with or without a time, free text) goes: it may lie outside the range, and an event log must not go out uncut (fail closed). RFC 3339's
 *   lower-case `t` and `z`, and a blank for the `T`, are read.
 * A list whose elements carry no time of day at all (addresses dated by day, say) is a standing fact, as before.
 * Also returns how many events were left out.
 */
export function filterSubscriberRecord(record: unknown, range: TimeRange): { record: unknown; eventsLeftOut: number } {
  let eventsLeftOut = 0;
  const from = range.from.getTime();
  const to = range.to.getTime();

  function walk(value: unknown): unknown {
    if (Array.isArray(value)) {
      const times = value.map(eventTime);
      // An element whose time cannot be read makes the list history too: a log stamped throughout in epoch seconds
      // or RFC 2822 went out uncut, since no element was read as timed.
      if (times.some((t) => t?.timed || t?.unreadable)) {
        const kept = value.filter((_, i) => {
          const time = times[i];
          if (time === undefined) return true;
          return !time.unreadable && time.earliest >= from && instantInRange(time.latestText, time.latest, from, to);
        });
        eventsLeftOut += value.length - kept.length;
        return kept.map(walk);
      }
      return value.map(walk);
    }
    if (value !== null && typeof value === 'object') {
      const copy: Record<string, unknown> = {};
      for (const [key, field] of Object.entries(value as Record<string, unknown>)) copy[key] = walk(field);
      return copy;
    }
    return value;
  }

  return { record: walk(record), eventsLeftOut };
}

/** The first of EVENT_TIME_FIELDS that dates the element; an instant with its zone wins over a date or a zone-less time. */
function eventTime(element: unknown): EventTime | undefined {
  if (element === null || typeof element !== 'object' || Array.isArray(element)) return undefined;
  const fields = element as Record<string, unknown>;
  let loose: EventTime | undefined;
  let unreadable = false;
  for (const name of EVENT_TIME_FIELDS) {
    const field = fields[name];
    if (field === undefined || field === null) continue;
    if (typeof field !== 'string') {
      unreadable = true;
      continue;
    }
    // RFC 3339 allows a lower-case t and z, and (section 5.6, NOTE) a blank between the date and the time.
    const value = /^\d{4}-\d{2}-\d{2}[t ]\d{2}:\d{2}/.test(field) ? `${field.slice(0, 10)}T${field.slice(11)}`.replace(/z$/, 'Z') : field.replace(/(T.*)z$/, '$1Z');

    if (/^\d{4}-\d{2}-\d{2}$/.test(value)) {
      // A calendar date that exists (Date.UTC would roll 2026-02-30 over into March).
      const midnight = existingDay(value);
      if (midnight !== null) {
        loose ??= { timed: false, earliest: midnight - AHEAD_OF_UTC_MS, latest: midnight + DAY_MS + BEHIND_UTC_MS, latestText: '' };
      } else {
        unreadable = true;
      }
      continue;
    }
    // Only dates with a time date an event to the instant; a bare year or a free-text date is not trusted to cut by,
    // and neither is a day that does not exist (Date.parse reads 2026-02-30T10:00Z as 2 March).
    if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/.test(value) || existingDay(value.slice(0, 10)) === null) {
      unreadable = true;
      continue;
    }
    if (/(?:Z|[+-]\d{2}:?\d{2})$/.test(value)) {
      const at = Date.parse(value);
      if (!Number.isNaN(at)) return { timed: true, earliest: at, latest: at, latestText: value };
      unreadable = true;
      continue;
    }
    // No zone: Date.parse would read it in this machine's zone. Read it as UTC, then widen it to every zone.
    const at = Date.parse(`${value}Z`);
    if (Number.isNaN(at)) unreadable = true;
    else loose ??= { timed: true, earliest: at - AHEAD_OF_UTC_MS, latest: at + BEHIND_UTC_MS, latestText: value };
  }
  return loose ?? (unreadable ? { timed: false, unreadable: true, earliest: 0, latest: 0, latestText: '' } : undefined);
}

/** Midnight UTC of the calendar day `yyyy-mm-dd`, or null when there is no such day (Date.UTC rolls 02-30 into March). */
function existingDay(text: string): number | null {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  if (!match) return null;
  const midnight = Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3]));
  return new Date(midnight).toISOString().slice(0, 10) === text ? midnight : null;
}

/**
 * The first number literal of a JSON text that JSON.parse cannot carry exactly (its value as a JavaScript number,
 * written back, is another number: 12345678901234567890 becomes ...7000, 1e400 becomes Infinity), or null when every
 * one survives. A record is delivered as its parsed values written out again, so such a number would be delivered
 * changed, under a hash that makes the change look like the record.
 */
export function inexactNumber(text: string): string | null {
  // Strings hold no numbers of the record's own: blank them out (keeping the text's shape), then take every literal.
  const outsideStrings = text.replace(/"(?:[^"\\]|\\.)*"/g, '""');
  for (const [literal] of outsideStrings.matchAll(/-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/g)) {
    const value = Number(literal);
    if (!Number.isFinite(value) || decimalValue(String(value)) !== decimalValue(literal)) return literal;
  }
  return null;
}

/** A number literal as sign, significant digits and the exponent of its last digit: "1.10" and "11e-1" alike. */
function decimalValue(literal: string): string {
  const match = /^(-?)(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/.exec(literal);
  if (!match) return literal;
  const [, sign, whole, fraction = '', exponent = '0'] = match as unknown as [string, string, string, string | undefined, string | undefined];
  let digits = `${whole}${fraction}`.replace(/^0+/, '');
  let power = Number(exponent) - fraction.length;
  if (digits === '') return '0';
  const trailing = /0*$/.exec(digits)?.[0].length ?? 0;
  digits = digits.slice(0, digits.length - trailing);
  power += trailing;
  return `${sign}${digits}e${power}`;
}
