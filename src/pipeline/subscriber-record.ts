// A subscriber record as delivered: the account's standing facts (sign-up data, identifiers) in full, and its
// time-bound history (logins, IP addresses, payments: any list of dated events) cut to the order's date range.
import type { TimeRange } from '../sources/source-adapter.js';
import { instantInRange } from '../util/in-range.js';

/**
 * Names of fields that hold when an event happened, compared without case. A value in one is read whole: there a date
 * alone dates an event (as a day), and what is not read as a date (epoch seconds, RFC 2822, free text) is a time that
 * cannot be placed. A date with a time of day dates an event wherever it is written, whatever the field's name.
 */
const EVENT_TIME_FIELDS: ReadonlySet<string> = new Set(['time', 'timestamp', 'at', 'date', 'when', 'loggedinat', 'occurredat']);

/**
 * A date with a time of day as RFC 3339 writes it (lower-case `t` and `z`, and a blank for the `T`, read too), with
 * its zone when it has one; found anywhere in a text. Every quantifier but the fraction's is bounded and what follows
 * the fraction is optional, so the scan is linear in the text's length whatever it holds.
 */
const DATE_TIME = /\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:[Zz]|[+-]\d{2}:?\d{2})?/g;
const ZONE_AT_END = /(?:Z|[+-]\d{2}:?\d{2})$/;

/** How far a clock may be from UTC: a date or time written without a zone may be read anywhere from UTC-12 to UTC+14. */
const AHEAD_OF_UTC_MS = 14 * 3_600_000;
const BEHIND_UTC_MS = 12 * 3_600_000;
const DAY_MS = 24 * 3_600_000;

/**
 * Every instant a time as written can stand for lies from `earliest` to `latest` (`latestText` is `latest` as written,
 * for the digits past the millisecond). An instant written with its zone is one instant; a time written without a zone,
 * or a calendar date, is a span. A day's end, the next midnight, is not in the day, but the test is the same: the day
 * lies in a range ending at or after it.
 */
interface Span {
  earliest: number;
  latest: number;
  latestText: string;
}

/** A time as read: a span, with `timed` when it was written with a time of day; or `unreadable`: no span is known. */
type TimeReading = (Span & { timed: boolean }) | 'unreadable';

/** What the times an element of a history holds say about it. */
interface Dating {
  /** It holds a date with a time of day, or a time it cannot read: its list (or map) is a history. */
  marksHistory: boolean;
  /** Every time it holds lies inside the range, read in every zone it may be written in; none is unreadable. */
  inside: boolean;
}

/**
 * Returns a copy of the record in which every history keeps only the events inside the range (both ends included).
 * Anything else (the sign-up date, names, identifiers) is a standing fact and is kept as it is.
 *
 * Decision: a list is a history as soon as one of its elements holds a date with a time of day ANYWHERE in it: a field
 * at any depth whatever its name (`time`, `loginTime`, `timestampUtc`, `event.time`), a member of a tuple, a key, or a
 * string that holds one (`"2025-10-12T09:03:25Z 198.51.100.3"`); or holds in one of EVENT_TIME_FIELDS, at any depth,
 * what is not read as a date. That is how logins, IP addresses and payments are stamped, and an event log must not go
 * out uncut because its stamps are named or shaped otherwise (fail closed). An object whose keys hold such times (a
 * map keyed by time) is a history of its members in the same way. In a history:
 * - an element (a map's member: its key and value) is kept only when EVERY time it holds is inside the range; one that
 *   holds two instants, one outside, goes;
 * - an instant (with its zone) is inside when it lies in the range;
 * - a calendar date ("2026-02-01") in one of EVENT_TIME_FIELDS, or as a key, and a time without a zone, are inside
 *   only when every instant they can stand for is, read in any zone from UTC-12 to UTC+14: a day is kept only when the
 *   whole day lies in the range however it is read (a day on the range's edge may lie outside it, and goes);
 * - an element with no time at all (a null or missing time) is kept: nothing says it is out of range;
 * - an element holding a time that cannot be read (in one of EVENT_TIME_FIELDS: epoch seconds, RFC 2822, a day that
 *   does not exist, with or without a time, free text; anywhere: a date with a time of day on a day that does not
 *   exist, or at an hour that does not) goes: it may lie outside the range.
 * An element of a history that goes, goes whole, whatever standing facts it also holds (fail closed).
 * A list (or object) whose elements carry no time of day at all (addresses dated by day, say) is a standing fact, as
 * before, and so is a single object that is not in a list (the sign-up data, dated as it is).
 * Also returns how many events (elements and members) were left out.
 *
 * Linear in the record's size: each history is read once, and no pattern can backtrack over a long text.
 */
export function filterSubscriberRecord(record: unknown, range: TimeRange): { record: unknown; eventsLeftOut: number } {
  let eventsLeftOut = 0;
  const from = range.from.getTime();
  const to = range.to.getTime();
  const inRange = (span: Span): boolean => span.earliest >= from && instantInRange(span.latestText, span.latest, from, to);

  /** Reads every time `value` holds (an element of a list, or a map's member as the object `{ key: value }`). */
  function dating(value: unknown): Dating {
    const result: Dating = { marksHistory: false, inside: true };
    const note = (reading: TimeReading | undefined): void => {
      if (reading === undefined) return;
      if (reading === 'unreadable') {
        result.marksHistory = true;
        result.inside = false;
        return;
      }
      if (reading.timed) result.marksHistory = true;
      if (!inRange(reading)) result.inside = false;
    };
    // A stack, not recursion: the walk is linear in the element and its depth is no concern of the call stack.
    const pending: unknown[] = [value];
    while (pending.length > 0 && !(result.marksHistory && !result.inside)) {
      const next = pending.pop();
      if (typeof next === 'string') {
        for (const reading of dateTimesIn(next)) note(reading);
      } else if (Array.isArray(next)) {
        for (const member of next) pending.push(member);
      } else if (next !== null && typeof next === 'object') {
        for (const [key, field] of Object.entries(next as Record<string, unknown>)) {
          for (const reading of dateTimesIn(key)) note(reading);
          note(calendarDay(key) ?? undefined);
          if (EVENT_TIME_FIELDS.has(key.toLowerCase())) note(timeField(field));
          pending.push(field);
        }
      }
    }
    return result;
  }

  function walk(value: unknown): unknown {
    if (Array.isArray(value)) {
      const datings = value.map(dating);
      if (!datings.some((d) => d.marksHistory)) return value.slice();
      // Every time a kept element holds is inside the range: nothing in it is cut further.
      const kept = value.filter((_, i) => datings[i]?.inside ?? false);
      eventsLeftOut += value.length - kept.length;
      return kept;
    }
    if (value !== null && typeof value === 'object') {
      const entries = Object.entries(value as Record<string, unknown>);
      // Object.fromEntries defines every key as the object's own, "__proto__" too (an assignment would set the prototype).
      if (entries.some(([key]) => hasDateTime(key))) {
        const kept = entries.filter(([key, field]) => dating({ [key]: field }).inside);
        eventsLeftOut += entries.length - kept.length;
        return Object.fromEntries(kept);
      }
      return Object.fromEntries(entries.map(([key, field]) => [key, walk(field)]));
    }
    return value;
  }

  return { record: walk(record), eventsLeftOut };
}

/** Whether `text` holds a date with a time of day (readable or not). */
function hasDateTime(text: string): boolean {
  return dateTimesIn(text).next().done === false;
}

/** Every date with a time of day in `text`, read; one on a day or at an hour that does not exist is unreadable. */
function* dateTimesIn(text: string): Generator<TimeReading> {
  // matchAll reads a copy of DATE_TIME from its lastIndex, which nothing else moves: every scan starts at 0.
  for (const [written] of text.matchAll(DATE_TIME)) {
    // RFC 3339 allows a lower-case t and z, and (section 5.6, NOTE) a blank between the date and the time.
    const value = `${written.slice(0, 10)}T${written.slice(11)}`.replace(/z$/, 'Z');
    yield readDateTime(value) ?? 'unreadable';
  }
}

/** A calendar date alone (`yyyy-mm-dd`, the whole text) as the day it stands for in any zone, or null. */
function calendarDay(text: string): TimeReading | null {
  if (text.length !== 10) return null;
  // A calendar date that exists (Date.UTC would roll 2026-02-30 over into March).
  const midnight = existingDay(text);
  return midnight === null ? null : { timed: false, earliest: midnight - AHEAD_OF_UTC_MS, latest: midnight + DAY_MS + BEHIND_UTC_MS, latestText: '' };
}

/**
 * What a value in one of EVENT_TIME_FIELDS says, read whole: undefined for no time (null), else a span, or unreadable.
 */
function timeField(field: unknown): TimeReading | undefined {
  if (field === undefined || field === null) return undefined;
  if (typeof field !== 'string') return 'unreadable';
  // RFC 3339 allows a lower-case t and z, and (section 5.6, NOTE) a blank between the date and the time.
  const blankOrLower = /^\d{4}-\d{2}-\d{2}[t ]\d{2}:\d{2}/.test(field);
  let value = blankOrLower ? `${field.slice(0, 10)}T${field.slice(11)}` : field;
  if (value.endsWith('z') && value.lastIndexOf('T', value.length - 2) >= 0) value = `${value.slice(0, -1)}Z`;

  if (/^\d{4}-\d{2}-\d{2}$/.test(value)) return calendarDay(value) ?? 'unreadable';
  // Only dates with a time date an event to the instant; a bare year or a free-text date is not trusted to cut by.
  return readDateTime(value) ?? 'unreadable';
}

/**
 * A date with a time of day, `yyyy-mm-ddThh:mm...` with or without its zone, as the span it stands for; null when it
 * cannot be read: a day that does not exist (Date.parse reads 2026-02-30T10:00Z as 2 March), an hour that does not,
 * or anything else.
 */
function readDateTime(value: string): TimeReading | null {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/.test(value) || existingDay(value.slice(0, 10)) === null) return null;
  if (ZONE_AT_END.test(value)) {
    const at = Date.parse(value);
    return Number.isNaN(at) ? null : { timed: true, earliest: at, latest: at, latestText: value };
  }
  // No zone: Date.parse would read it in this machine's zone. Read it as UTC, then widen it to every zone.
  const at = Date.parse(`${value}Z`);
  return Number.isNaN(at) ? null : { timed: true, earliest: at - AHEAD_OF_UTC_MS, latest: at + BEHIND_UTC_MS, latestText: value };
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
