// The hand-written index-line checks skip the schema parse, so each must accept only what its schema accepts.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type * as z from '../../src/util/zod.js';
import { instant } from '../../src/order/schema.js';
import { imIndexSchema, isImIndexLine } from '../../src/sources/im-adapter.js';
import { indexLineSchema, isIndexLine } from '../../src/sources/jsonl-index.js';
import { INSTANT_PATTERN } from '../../src/order/schema.js';
import { isMailIndexLine, mailIndexSchema } from '../../src/sources/mail-adapter.js';
import { isStorageIndexLine, storageIndexSchema } from '../../src/sources/storage-adapter.js';

const goodInstants = fc.date({ min: new Date(0), max: new Date(4102444800000), noInvalidDate: true }).map((date) => date.toISOString());
const instants = fc.oneof(
  { weight: 6, arbitrary: goodInstants },
  fc.constantFrom('2024-02-29T12:00:00Z', '2023-02-29T12:00:00Z', '2024-13-01T00:00:00Z', '2024-01-01T24:00:00Z'),
  fc.constantFrom('2024-01-01T00:00:00.123+05:30', '2024-01-01T00:00:00+24:00', '2024-01-01 00:00:00Z', '2024-01-01T00:00:00'),
  fc.string(),
);
const ids = fc.oneof({ weight: 6, arbitrary: fc.stringMatching(/^[A-Za-z0-9._-]{1,12}$/) }, fc.constantFrom('m-1', '.', '..', 'a/b', '', 'x'.repeat(201), 'ok.id_2'), fc.string());
const sizes = fc.oneof({ weight: 6, arbitrary: fc.nat() }, fc.constantFrom(0, -1, 1.5, 2 ** 53, 4096, Number.NaN), fc.double(), fc.integer());
const anything = fc.oneof(fc.string(), fc.integer(), fc.constant(null), fc.boolean(), fc.array(fc.string(), { maxLength: 3 }));

/** Lines that are mostly well formed, with any one field missing or of another shape. */
function lines(extra: Record<string, fc.Arbitrary<unknown>>): fc.Arbitrary<unknown> {
  const fields = { id: ids, timestamp: instants, bytes: sizes, name: fc.string(), ...extra };
  const keys = Object.keys(fields);
  const record = fc.record(
    Object.fromEntries(Object.entries(fields).map(([key, value]) => [key, fc.oneof({ weight: 12, arbitrary: value }, { weight: 1, arbitrary: anything })])),
    { requiredKeys: keys.slice(0, -1) },
  );
  return fc.oneof({ weight: 10, arbitrary: record }, { weight: 1, arbitrary: anything }, { weight: 1, arbitrary: fc.constant([]) });
}

function agrees<T>(check: (raw: unknown) => raw is T, schema: z.ZodMiniType<T>, arbitrary: fc.Arbitrary<unknown>): void {
  let accepted = 0;
  fc.assert(
    fc.property(arbitrary, (raw) => {
      if (check(raw)) {
        accepted += 1;
        const parsed = schema.safeParse(raw);
        expect(parsed.success).toBe(true);
        expect(parsed.data).toEqual(raw);
      }
    }),
    { numRuns: 3000 },
  );
  // A check that accepted nothing would agree trivially.
  expect(accepted).toBeGreaterThan(50);
}

describe('index line checks', () => {
  it('use the same instant pattern as the order schema', () => {
    const def = (instant as unknown as { _zod: { def: { pattern: RegExp } } })._zod.def;
    expect(INSTANT_PATTERN.source).toBe(def.pattern.source);
    expect(INSTANT_PATTERN.flags).toBe(def.pattern.flags);
  });

  it('accept only lines their schema accepts, unchanged', () => {
    agrees(isIndexLine, indexLineSchema, lines({}));
    agrees(isMailIndexLine, mailIndexSchema, lines({ userEncryption: fc.constantFrom(null, 'smime', 'pgp', 'rot13') }));
    agrees(isStorageIndexLine, storageIndexSchema, lines({ created: instants, modified: instants }));
    // Participants are mostly well formed, so that enough whole lines pass for the comparison to mean something.
    const participants = fc.oneof({ weight: 6, arbitrary: fc.array(fc.string()) }, fc.array(fc.oneof(fc.string(), fc.integer())));
    agrees(isImIndexLine, imIndexSchema, lines({ conversationId: fc.constantFrom('', 'c-1'), participants }));
  });

  it('accept a well-formed line of each store', () => {
    const base = { id: 'item-1', timestamp: '2024-03-01T10:00:00Z', bytes: 12, name: 'x' };
    expect(isMailIndexLine({ ...base, userEncryption: null })).toBe(true);
    // Round 10 robust D3: DESIGN.md's line is these four fields; a mail line without userEncryption is a plain message.
    expect(isMailIndexLine(base)).toBe(true);
    expect(mailIndexSchema.safeParse(base).success).toBe(true);
    expect(isMailIndexLine({ ...base, userEncryption: 'rot13' })).toBe(false);
    expect(isStorageIndexLine({ ...base, created: '2024-01-01T00:00:00+01:00', modified: '2024-01-02T00:00:00Z' })).toBe(true);
    expect(isImIndexLine({ ...base, conversationId: 'c', participants: ['a@example.com'] })).toBe(true);
    expect(isImIndexLine({ ...base, conversationId: 'c', participants: [1] })).toBe(false);
  });
});
