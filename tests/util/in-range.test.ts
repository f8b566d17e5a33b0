// Date ranges compared past the millisecond. Date.parse drops digits after the millisecond, so an item stamped
// 23:59:59.0001Z was inside a range ending 23:59:59Z, and a range starting at 00:00:00.0005Z took in items stamped
// 00:00:00Z (an examiner's finding: export delivered them and verify --order called the archive in scope).
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { ScopeError } from '../../src/errors.js';
import { orderSchema } from '../../src/order/schema.js';
import { createScopeGate } from '../../src/pipeline/scope-gate.js';
import { filterSubscriberRecord } from '../../src/pipeline/subscriber-record.js';
import { inRange } from '../../src/sources/jsonl-index.js';
import type { SourceItem } from '../../src/sources/source-adapter.js';
import { instantInRange, pastTheMillisecond } from '../../src/util/in-range.js';
import { baseOrder } from '../order/fixtures.js';

const range = { from: new Date('2026-01-01T00:00:00Z'), to: new Date('2026-06-30T23:59:59Z') };

describe('an instant in a range of whole milliseconds', () => {
  it('knows the digits past the millisecond', () => {
    for (const text of ['2026-06-30T23:59:59.0001Z', '2026-06-30T23:59:59.000000001Z', '2026-06-30T23:59:59.9999+02:00']) expect(pastTheMillisecond(text)).toBe(true);
    for (const text of ['2026-06-30T23:59:59Z', '2026-06-30T23:59:59.999Z', '2026-06-30T23:59:59.000000Z', '2026-06-30T23:59:59.5-01:00']) expect(pastTheMillisecond(text)).toBe(false);
  });

  it('is inside up to the range end exactly, and outside a tenth of a millisecond past it', () => {
    const inside = (text: string) => instantInRange(text, Date.parse(text), range.from.getTime(), range.to.getTime());
    expect(inside('2026-06-30T23:59:59Z')).toBe(true);
    expect(inside('2026-06-30T23:59:59.000000Z')).toBe(true);
    expect(inside('2026-06-30T23:59:58.9999Z')).toBe(true);
    expect(inside('2026-06-30T23:59:59.0001Z')).toBe(false);
    expect(inside('2026-07-01T01:59:59.0001+02:00')).toBe(false);
    expect(inside('2026-01-01T00:00:00Z')).toBe(true);
    expect(inside('2025-12-31T23:59:59.9999Z')).toBe(false);
  });

  it('holds for the index listing, the scope gate and subscriber history alike', () => {
    expect(inRange('2026-06-30T23:59:59Z', range)).toBe(true);
    expect(inRange('2026-06-30T23:59:59.0001Z', range)).toBe(false);

    const rules = loadConfig(path.join(import.meta.dirname, '../../config/scopex.json')).legalProcess;
    const gate = createScopeGate({
      order: { process: 'search-warrant', categories: ['im.content'], dateRange: { from: '2026-01-01T00:00:00Z', to: '2026-06-30T23:59:59Z' } },
      accountIds: ['acct-a'],
      legalProcess: rules,
    });
    const item = (timestamp: string) =>
      ({ kind: 'im', accountId: 'acct-a', id: 'i1', timestamp, bytes: 1, name: 'i1.json', ref: { service: 'im', accountId: 'acct-a', itemId: 'i1', blobFile: '/b' } }) as unknown as SourceItem;
    const request = { accountId: 'acct-a', category: 'im.content' } as const;
    expect(() => gate.admit(item('2026-06-30T23:59:59Z'), request)).not.toThrow();
    expect(() => gate.admit(item('2026-06-30T23:59:59.0001Z'), request)).toThrow(ScopeError);

    const record = { logins: [{ time: '2026-06-30T23:59:59Z' }, { time: '2026-06-30T23:59:59.0001Z' }] };
    expect(filterSubscriberRecord(record, range)).toEqual({ record: { logins: [{ time: '2026-06-30T23:59:59Z' }] }, eventsLeftOut: 1 });
  });
});

describe("an order's date range", () => {
  it('is refused when an end is finer than a millisecond, and taken when the digits past it are zeros', () => {
    const order = (from: string) => orderSchema.safeParse(baseOrder({ dateRange: { from, to: '2026-06-30T23:59:59Z' } }));
    const refused = order('2026-01-01T00:00:00.0005Z');
    expect(refused.success).toBe(false);
    expect(refused.error?.issues[0]?.path).toEqual(['dateRange', 'from']);
    expect(refused.error?.issues[0]?.message).toBe('an instant to the millisecond at most (scopex compares times to the millisecond)');
    expect(order('2026-01-01T00:00:00.000000Z').success).toBe(true);
    expect(order('2026-01-01T00:00:00.001Z').success).toBe(true);
  });
});
