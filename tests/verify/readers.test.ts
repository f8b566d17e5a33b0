// The small readers the verifier is built from: streaming JSON array, manifests, bag-info, names, DER.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bagInfoProblem, checkBagitDeclaration, decodeManifestPath, ManifestReader, parseBagInfo } from '../../src/verify/bag-files.js';
import { DerError, readNode, readRoot } from '../../src/verify/der.js';
import { JsonArrayReader } from '../../src/verify/json-array-reader.js';
import { splitAt } from '../helpers/split-at.js';
import { unsafeNameReason } from '../../src/verify/names.js';

function readArray(chunks: Buffer[]): { values: unknown[]; problems: string[] } {
  const values: unknown[] = [];
  const problems: string[] = [];
  const reader = new JsonArrayReader((value) => values.push(value), (message) => problems.push(message));
  for (const chunk of chunks) reader.update(chunk);
  reader.end();
  return { values, problems };
}

describe('JsonArrayReader', () => {
  it('yields the same records however the bytes are chunked', () => {
    const record = fc.record({
      path: fc.string(),
      bytes: fc.nat(),
      nested: fc.array(fc.oneof(fc.string(), fc.integer(), fc.constant(null), fc.dictionary(fc.string(), fc.string()))),
    });
    fc.assert(
      fc.property(fc.array(record, { maxLength: 20 }), fc.array(fc.nat(), { maxLength: 12 }), fc.boolean(), (records, cuts, pretty) => {
        const bytes = Buffer.from(JSON.stringify(records, null, pretty ? 2 : undefined));
        const { values, problems } = readArray(splitAt(bytes, cuts));
        expect(problems).toEqual([]);
        expect(values).toEqual(records);
      }),
      { numRuns: 200 },
    );
  });

  it('reports truncation, trailing data, non-object elements and a missing array', () => {
    expect(readArray([Buffer.from('[{"a":1},{"b":')]).problems).toHaveLength(1);
    expect(readArray([Buffer.from('[{"a":1}] extra')]).problems).toHaveLength(1);
    expect(readArray([Buffer.from('[1,2]')]).problems).toHaveLength(1);
    expect(readArray([Buffer.from('{"a":1}')]).problems).toHaveLength(1);
    expect(readArray([Buffer.from('[{"a":1} {"b":2}]')]).problems).toHaveLength(1);
    expect(readArray([Buffer.from('[{"a":nope}]')]).problems).toHaveLength(1);
    expect(readArray([Buffer.from(' [ ] ')])).toEqual({ values: [], problems: [] });
  });

  it('refuses a record larger than its cap without holding it', () => {
    const huge = Buffer.from(`[{"x":"${'a'.repeat(2 * 1024 * 1024)}"}]`);
    const { values, problems } = readArray(splitAt(huge, [1000, 500_000, 1_500_000]));
    expect(values).toEqual([]);
    expect(problems).toHaveLength(1);
  });
});

describe('ManifestReader', () => {
  const hash = 'a'.repeat(64);

  it('reads LF and CRLF lines across chunk boundaries, with percent-encoded paths', () => {
    const reader = new ManifestReader();
    const text = Buffer.from(`${hash}  data/a.txt\r\n${'B'.repeat(64)} data/line%0Abreak%25.txt\n`);
    for (const chunk of splitAt(text, [3, 70, 71, 90])) reader.update(chunk);
    reader.end();
    expect(reader.problems).toEqual([]);
    expect([...reader.entries].map(([path, slot]) => [path, reader.hash(slot)])).toEqual([
      ['data/a.txt', hash],
      ['data/line\nbreak%.txt', 'b'.repeat(64)],
    ]);
  });

  it('reports malformed and repeated lines, and stops keeping lines beyond its cap', () => {
    const reader = new ManifestReader(2);
    reader.update(Buffer.from(`${hash}  data/a\nnot a line\n${hash}  data/a\n${hash}  data/b\n${hash}  data/c\n${hash}  data/d\n`));
    reader.end();
    expect(reader.entries.size).toBe(2);
    expect(reader.problems.map((problem) => problem.line)).toEqual([2, 3, 5]);
  });

  it('keeps the first problems up to its cap and counts the rest, however many lines a hostile manifest has', () => {
    const lines = 200_000;
    const junk = Buffer.from(`${hash}  data/a\n${'x\n'.repeat(lines)}${hash}  data/b\n`);
    const capped = new ManifestReader(Number.MAX_SAFE_INTEGER, 5);
    capped.update(junk);
    capped.end();
    expect(capped.problemCount).toBe(lines);
    expect(capped.problems.map((problem) => problem.line)).toEqual([2, 3, 4, 5, 6]);
    expect([...capped.entries.keys()]).toEqual(['data/a', 'data/b']);
    const uncapped = new ManifestReader();
    uncapped.update(junk.subarray(0, 4 * 1024));
    uncapped.end();
    expect(capped.problems).toEqual(uncapped.problems.slice(0, 5));
  });

  it('decodes only the three RFC 8493 escapes', () => {
    expect(decodeManifestPath('data/%41%0d%0A%25')).toBe('data/%41\r\n%');
  });
});

describe('bag-info.txt and bagit.txt', () => {
  it('reads labels, repeated labels and continuation lines', () => {
    const info = parseBagInfo('Source-Organization: Contoso\nExternal-Description: first\n  continued\nPayload-Oxum: 10.2\nPayload-Oxum: 11.2\n');
    expect(info.get('External-Description')).toEqual(['first continued']);
    expect(info.get('Payload-Oxum')).toEqual(['10.2', '11.2']);
  });

  // Round 6 tamper D4: JavaScript's trim() took a BOM before the first label and a no-break space after a value away.
  it('trims only spaces and tabs around labels and values', () => {
    const info = parseBagInfo('Scopex-Account: acc-0001\u00a0\nScopex-Account: \tacc-0002 \n');
    expect(info.get('Scopex-Account')).toEqual(['acc-0001\u00a0', 'acc-0002']);
    expect(parseBagInfo('\ufeffScopex-Account: acc-0001\n').get('Scopex-Account')).toBeUndefined();
  });

  it('finds what is not RFC 8493 tags in bag-info.txt', () => {
    const good = 'Source-Organization: Contoso Cloud\nExternal-Description: first\n  continued\r\nPayload-Oxum: 10.2\n\n';
    expect(bagInfoProblem(good)).toBeNull();
    expect(bagInfoProblem(`\ufeff${good}`)).toBe('it starts with a byte order mark, which would be part of its first label');
    expect(bagInfoProblem('  continued\nPayload-Oxum: 10.2\n')).toBe('line 1 continues a value, but no label comes before it');
    expect(bagInfoProblem('Payload-Oxum: 10.2\nacc-0003\n')).toBe('line 2 is not "Label: value"');
    expect(bagInfoProblem('Payload-Oxum: 10.2\n: acc-0003\n')).toBe('line 2 is not "Label: value"');
    for (const label of ['Scopex-Account ', 'Scopex\u00a0Account', 'Scopex Account', '\u200bScopex-Account']) {
      expect(bagInfoProblem(`Payload-Oxum: 10.2\n${label}: acc-0003\n`)).toBe('line 2 has a label that is not printable ASCII without blanks');
    }
  });

  it('accepts exactly the BagIt 1.0 declaration', () => {
    expect(checkBagitDeclaration('BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n')).toBeNull();
    expect(checkBagitDeclaration('BagIt-Version: 1.0\r\nTag-File-Character-Encoding: UTF-8\r\n')).toBeNull();
    expect(checkBagitDeclaration('BagIt-Version: 2.0\nTag-File-Character-Encoding: UTF-8\n')).not.toBeNull();
    expect(checkBagitDeclaration('BagIt-Version: 0.97\nTag-File-Character-Encoding: UTF-8\n')).toBe('line 1 declares BagIt 0.97, not "BagIt-Version: 1.0"');
    expect(checkBagitDeclaration('BagIt-Version: 1.0 \nTag-File-Character-Encoding: UTF-8\n')).not.toBeNull();
    expect(checkBagitDeclaration('BagIt-Version: 1.0\nTag-File-Character-Encoding: Latin-1\n')).not.toBeNull();
  });
});

describe('unsafeNameReason', () => {
  it.each([
    ['LE-1/data/a.txt', null],
    ['LE-1/data/', null],
    ['LE-1/data/Résumé.txt', null],
    ['/etc/passwd', 'an absolute path'],
    ['C:/Windows/x', 'an absolute path'],
    ['LE-1/../x', 'a ".." segment'],
    ['LE-1/./x', 'a "." segment'],
    ['LE-1//x', 'an empty segment'],
    ['LE-1\\x', 'a backslash'],
    ['LE-1/a\nb', 'a control character'],
    ['', 'an empty name'],
  ])('%j', (name, reason) => {
    expect(unsafeNameReason(name)).toBe(reason);
  });
});

describe('DER reader', () => {
  it('reads definite lengths and refuses indefinite, non-minimal, overlong and trailing data', () => {
    expect(readRoot(Buffer.from('300302010a', 'hex'))).toMatchObject({ tag: 0x30, contentStart: 2, end: 5 });
    expect(() => readRoot(Buffer.from('3080020100000000', 'hex'))).toThrow(DerError);
    expect(() => readRoot(Buffer.from('30810302010a', 'hex'))).toThrow(DerError);
    expect(() => readRoot(Buffer.from('300502010a', 'hex'))).toThrow(DerError);
    expect(() => readRoot(Buffer.from('300302010a00', 'hex'))).toThrow(DerError);
    expect(() => readNode(Buffer.from('30', 'hex'), 0)).toThrow(DerError);
  });
});
