// A subscriber record as delivered: the account's standing facts (sign-up data, identifiers) in full, and its
// time-bound history (logins, IP addresses, payments: any list of dated events) cut to the order's date range.
import type { TimeRange } from '../sources/source-adapter.js';

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
          const at = times[i]!;
          return at >= from && at <= to;
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

function eventTime(element: unknown): number | undefined {
  if (element === null || typeof element !== 'object' || Array.isArray(element)) return undefined;
  const fields = element as Record<string, unknown>;
  for (const name of EVENT_TIME_FIELDS) {
    const value = fields[name];
    if (typeof value !== 'string') continue;
    // Only full instants date an event; a bare year or a free-text date is not trusted to cut by.
    if (!/^\d{4}-\d{2}-\d{2}T/.test(value)) continue;
    const at = Date.parse(value);
    if (!Number.isNaN(at)) return at;
  }
  return undefined;
}
