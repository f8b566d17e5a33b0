// Counting the keys a JSON text writes per object, to find a key written twice that JSON.parse silently merged.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { eachObjectKeyCount, keyCount, objectKeyCount } from '../../src/util/json-keys.js';

/** Each object's count, checked against objectKeyCount's for the first. */
function counts(text: string): number[] {
  const found: number[] = [];
  eachObjectKeyCount(text, (keys) => found.push(keys));
  expect(objectKeyCount(text)).toBe(found[0]);
  return found;
}

describe('eachObjectKeyCount', () => {
  it('counts the keys of the outermost objects only, one call per object', () => {
    expect(counts('{"a":1,"b":{"c":2,"d":3},"e":[{"f":4}]}')).toEqual([3]);
    expect(counts('{"a":1},\n{"a":1,"b":2}')).toEqual([1, 2]);
    expect(counts('{}')).toEqual([0]);
  });

  it('sees a key written twice, whatever the spacing', () => {
    expect(counts('{"timestamp":"2019-01-01T00:00:00Z","timestamp":"2026-05-05T02:58:51Z"}')).toEqual([2]);
    expect(counts('{ "a" : 1 ,\n\t"a"\r\n:\n2 }')).toEqual([2]);
    expect(keyCount(JSON.parse('{"a":1,"a":2}') as object)).toBe(1);
  });

  it('is not misled by colons, quotes, escapes and braces inside strings', () => {
    expect(counts(String.raw`{"a":"x\":1,\"b\":{","c\\":"}:{","d":"\\"}`)).toEqual([3]);
    expect(counts(String.raw`{"\"a":"\u0022:","b":[":",{"c":"}"}]}`)).toEqual([2]);
  });

  it('agrees with JSON.parse on any object without repeated keys, and counts one more for a key repeated', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 8 }), fc.string(), (record, repeated) => {
        const text = JSON.stringify(record);
        expect(counts(text)).toEqual([keyCount(JSON.parse(text) as object)]);
        const doubled = `{${JSON.stringify(repeated)}:1${text === '{}' ? '' : ','}${text.slice(1)}`;
        const parsed = JSON.parse(doubled) as object;
        const written = counts(doubled)[0] as number;
        expect(written).toBe(Object.keys(record).length + 1);
        expect(written === keyCount(parsed)).toBe(!Object.hasOwn(record, repeated));
      }),
    );
  });
});
