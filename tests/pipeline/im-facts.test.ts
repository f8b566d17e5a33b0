// The IM message reader (src/pipeline/im-facts.ts) against JSON.parse: the same messages are JSON objects, the same
// three fields are read with the same values, in chunks of any size; and what JSON.parse does not tell (a field stated
// twice, a byte order mark, UTF-16) is read as a careful reader would.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createImFactsCollector, MAX_FIELD_BYTES } from '../../src/pipeline/im-facts.js';

const FIELDS = ['conversationId', 'participants', 'sentAt'];

/** What the collector finds in `bytes`, handed over in chunks of the given sizes (in turn). */
function read(bytes: Buffer, sizes: number[] = [bytes.length || 1]) {
  const collector = createImFactsCollector();
  for (let at = 0, k = 0; at < bytes.length; k++) {
    const n = Math.max(1, sizes[k % sizes.length]!);
    collector.push(bytes.subarray(at, at + n));
    at += n;
  }
  return collector.facts();
}

/** The three fields as JSON.parse reads them, or null when the text is no JSON object. */
function parsed(text: string): Record<string, unknown> | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
  const record = value as Record<string, unknown>;
  return Object.fromEntries(FIELDS.filter((field) => Object.hasOwn(record, field)).map((field) => [field, record[field]]));
}

const chunkSizes = fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 1 });

describe('createImFactsCollector', () => {
  it('reads the fields JSON.parse reads, in chunks of any size (a key may be written with escapes)', () => {
    const keys = fc.constantFrom('conversationId', 'participants', 'sentAt', 'text', 'sent\\u0041t');
    fc.assert(
      fc.property(fc.dictionary(keys, fc.jsonValue()), fc.jsonValue(), chunkSizes, fc.boolean(), (fields, text, sizes, pretty) => {
        const message = JSON.stringify({ ...fields, text }, null, pretty ? 2 : undefined).replace('"sent\\\\u0041t"', '"sent\\u0041t"');
        const facts = read(Buffer.from(message), sizes);
        expect(facts).not.toBeNull();
        // "sent\u0041t" beside "sentAt" is one field stated twice: neither value is taken.
        for (const field of facts!.repeated) expect(Object.hasOwn(facts!.values, field)).toBe(false);
        if (facts!.repeated.length === 0) expect(facts!.values).toEqual(parsed(message));
      }),
      { numRuns: 3000 },
    );
  });

  it('takes as a JSON object exactly what JSON.parse takes as one: random text, and valid messages with one change', () => {
    fc.assert(
      fc.property(fc.string(), chunkSizes, (text, sizes) => {
        const facts = read(Buffer.from(text), sizes);
        const expected = parsed(text);
        expect(facts === null, text).toBe(expected === null);
        if (expected) expect(facts!.values).toEqual(expected);
      }),
      { numRuns: 5000 },
    );
    const change = fc.constantFrom('', ' ', ',', '"', '[', ']', '{', '}', ':', '0', '-', '.', 'e', '\\', 'u', 't', '\n');
    const fields = fc.dictionary(fc.constantFrom('conversationId', 'participants', 'sentAt', 'x'), fc.jsonValue());
    fc.assert(
      fc.property(fields, fc.nat(), change, fc.boolean(), chunkSizes, (record, at, character, replace, sizes) => {
        let text = JSON.stringify(record);
        const i = at % (text.length + 1);
        text = text.slice(0, i) + character + text.slice(replace ? i + 1 : i);
        const facts = read(Buffer.from(text), sizes);
        const expected = parsed(text);
        expect(facts === null, text).toBe(expected === null);
        if (expected && facts!.repeated.length === 0) expect(facts!.values).toEqual(expected);
      }),
      { numRuns: 30000 },
    );
    for (const text of ['{"a":1', '{"a":01}', '{"a":1.}', '{"a":-}', '{"a":tru}', '{} x', '{"a":[1,]}', '{,}', '{"a" 1}', '{"a":"\\x"}', '[]', '"s"', '1', '{"a":[[false.]]}']) {
      expect(read(Buffer.from(text), [1]), text).toBeNull();
    }
    expect(read(Buffer.from(' {"sentAt" : -0.5E-3 , "a":{"sentAt":1},"participants":[ ]} '), [1])?.values).toEqual({ sentAt: -0.5e-3, participants: [] });
  });

  it('names a field stated twice, skips a UTF-8 byte order mark, follows a UTF-16 one, and names a value too long to keep', () => {
    expect(read(Buffer.from('{"sentAt":"a","text":"x","sentAt":"b"}'), [3])).toEqual({ values: {}, repeated: ['sentAt'], tooLong: [] });
    expect(read(Buffer.from('\ufeff{"sentAt":"a"}'), [1])?.values).toEqual({ sentAt: 'a' });
    for (const encoding of ['utf16le', 'utf16be'] as const) {
      const utf16 = encoding === 'utf16le' ? Buffer.from('\ufeff{"participants":["p\u00e9"]}', 'utf16le') : Buffer.from('\ufeff{"participants":["p\u00e9"]}', 'utf16le').swap16();
      expect(read(utf16, [1]), encoding)?.toMatchObject({ values: { participants: ['p\u00e9'] } });
    }
    const long = Buffer.from(`{"participants":["${'x'.repeat(MAX_FIELD_BYTES)}"],"sentAt":"a"}`);
    expect(read(long, [65536])).toEqual({ values: { sentAt: 'a' }, repeated: [], tooLong: ['participants'] });
  });
});
