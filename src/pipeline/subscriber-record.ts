// A subscriber record as delivered: the account's standing facts (sign-up data, identifiers) in full, and its
// time-bound history (logins, IP addresses, payments: any list of dated events) cut to the order's date range.
import type { TimeRange } from '../sources/source-adapter.js';
import { instantInRange } from '../util/in-range.js';

/** Fields that date an event in a history list, in the order they are looked for. */
const EVENT_TIME_FIELDS = ['time', 'timestamp', 'at', 'date', 'when', 'loggedInAt', 'occurredAt'] as const;

/**
 * Returns a copy of the record in which every list of dated events keeps only the events inside the range (both ends
 * included). A list is "of dated events" when every element is an object carrying one of EVENT_TIME_FIELDS as a
 * valid instant; anything else (the sign-up date, names, identifiers) is a standing fact and is kept as it is.
 * Also returns how many events were left out, for the record's own note.
 */
export function filterSubscriberRecord(record: unknown, range: TimeRange): { record: unknown; eventsLeftOut: number } {
  let eventsLeftOut = 0;
  const from = range.from.getTime();
  const to = range.to.getTime();

  function walk(value: unknown): unknown {
    if (Array.isArray(value)) {
      const times = value.map(eventTime);
      if (value.length > 0 && times.every((t) => t !== undefined)) {
        const kept = value.filter((_, i) => {
          const time = times[i]!;
          return instantInRange(time.text, time.at, from, to);
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

function eventTime(element: unknown): { text: string; at: number } | undefined {
  if (element === null || typeof element !== 'object' || Array.isArray(element)) return undefined;
  const fields = element as Record<string, unknown>;
  for (const name of EVENT_TIME_FIELDS) {
    const value = fields[name];
    if (typeof value !== 'string') continue;
    // Only full instants date an event; a bare year or a free-text date is not trusted to cut by.
    if (!/^\d{4}-\d{2}-\d{2}T/.test(value)) continue;
    const at = Date.parse(value);
    if (!Number.isNaN(at)) return { text: value, at };
  }
  return undefined;
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
