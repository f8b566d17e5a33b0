// A delivered metadata file's lines as verify reads them: whatever the chunking, the same summary.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { METADATA_FIELDS } from '../../src/pipeline/metadata-fields.js';
import { imMetadata, mailMetadata, storageMetadata } from '../../src/pipeline/metadata.js';
import { MAX_LINE_BYTES, MetadataLines, type MetadataSummary } from '../../src/verify/metadata-lines.js';
import { metadataLines } from './fixtures.js';

function summarise(data: Buffer, cuts: number[] = [], category: keyof typeof METADATA_FIELDS = 'mail.metadata'): MetadataSummary {
  let summary: MetadataSummary | null = null;
  const sink = new MetadataLines(category, (done) => (summary = done));
  let at = 0;
  for (const cut of [...cuts].sort((a, b) => a - b)) {
    sink.update(data.subarray(at, cut));
    at = cut;
  }
  sink.update(data.subarray(at));
  sink.end();
  return summary as unknown as MetadataSummary;
}

const GOOD = metadataLines([
  { sourceId: 'm-1', timestamp: '2026-03-01T00:00:00Z', from: 'a@x.example', to: null, date: null, size: 1 },
  { sourceId: 'm-2', timestamp: '2026-01-01T00:00:00.0001Z', from: 'a@x.example', to: 'b@x.example', date: null, size: 2 },
  { sourceId: 'm-3', timestamp: '2026-06-30T23:59:59.000Z', from: 'a@x.example', to: null, date: null, size: 3 },
  { sourceId: 'm-4', timestamp: '2026-06-30T23:59:59.0005Z', from: 'a@x.example', to: null, date: null, size: 4 },
]);

describe('metadata lines', () => {
  it('counts the lines and keeps the earliest and latest time, past the millisecond', () => {
    expect(summarise(GOOD)).toEqual({
      lines: 4,
      earliest: { line: 2, text: '2026-01-01T00:00:00.0001Z', at: Date.parse('2026-01-01T00:00:00Z') },
      latest: { line: 4, text: '2026-06-30T23:59:59.0005Z', at: Date.parse('2026-06-30T23:59:59Z') },
      problem: null,
      problems: 0,
    });
  });

  it('gives the same summary however the file is cut into chunks', () => {
    const whole = summarise(GOOD);
    fc.assert(fc.property(fc.array(fc.integer({ min: 0, max: GOOD.length }), { maxLength: 8 }), (cuts) => {
      expect(summarise(GOOD, cuts)).toEqual(whole);
    }));
  });

  it('names the first line that is not a metadata line, and counts them all', () => {
    const lines = GOOD.toString('utf8').split('\n');
    const bad = (index: number, text: string) => Buffer.from(lines.map((line, at) => (at === index ? text : line)).join('\n'));
    const subject = lines[1]!.replace('"size":2,', '"size":2,"subject":"secret",');
    expect(summarise(bad(1, subject)).problem).toEqual({ line: 2, message: 'it has a field "subject" that metadata lines do not have' });
    expect(summarise(bad(1, subject.replace('"subject"', '"\\u001b[2J"'))).problem?.message).toBe('it has a field (not shown) that metadata lines do not have');
    const reordered = JSON.stringify(Object.fromEntries(Object.entries(JSON.parse(lines[0]!) as object).reverse()));
    expect(summarise(bad(0, reordered)).problem?.message).toMatch(/^its fields are not sourceId, timestamp, from, .*, in that order$/);
    expect(summarise(bad(2, '')).problem).toEqual({ line: 3, message: 'it is not JSON' });
    expect(summarise(bad(2, '[1]')).problem).toEqual({ line: 3, message: 'it is not a JSON object' });
    expect(summarise(bad(0, lines[0]!.replace('"2026-03-01T00:00:00Z"', '"yesterday"'))).problem).toEqual({ line: 1, message: 'its timestamp is not a time' });
    const two = summarise(Buffer.from(`x\n${lines.slice(1).join('\n')}y\n`));
    expect([two.problem, two.problems, two.lines]).toEqual([{ line: 1, message: 'it is not JSON' }, 2, 5]);
  });

  it('reads a last line without a newline, and refuses a line longer than it holds without holding it', () => {
    const noNewline = summarise(GOOD.subarray(0, GOOD.length - 1));
    expect(noNewline).toEqual(summarise(GOOD));
    const long = Buffer.concat([Buffer.from('{"sourceId":"'), Buffer.alloc(MAX_LINE_BYTES, 0x61), Buffer.from('"}\n'), GOOD]);
    const summary = summarise(long, [1000, MAX_LINE_BYTES / 2, MAX_LINE_BYTES + 5]);
    expect(summary.problem).toEqual({ line: 1, message: `it is longer than ${MAX_LINE_BYTES} bytes` });
    expect([summary.lines, summary.problems, summary.earliest?.line]).toEqual([5, 1, 3]);
  });

  it('holds mail, storage and IM lines to the fields export writes for them', () => {
    const mail = mailMetadata({ id: 'm-1', timestamp: '2026-02-01T00:00:00Z', bytes: 5, indexLine: { from: 'a@x.example' } } as never, 'customer-key', null);
    expect(Object.keys(mail)).toEqual(METADATA_FIELDS['mail.metadata']);
    const storage = storageMetadata({ id: 's-1', timestamp: '2026-02-01T00:00:00Z', name: 'a/b.txt', bytes: 5, created: '2026-01-01T00:00:00Z', modified: '2026-02-01T00:00:00Z' } as never);
    const im = imMetadata({ id: 'i-1', timestamp: '2026-02-01T00:00:00Z', conversationId: 'c', participants: ['x'], bytes: 5 } as never);
    expect(Object.keys(storage)).toEqual(METADATA_FIELDS['storage.metadata']);
    expect(Object.keys(im)).toEqual(METADATA_FIELDS['im.metadata']);
    expect(summarise(Buffer.from(`${JSON.stringify(storage)}\n`), [], 'storage.metadata').problems).toBe(0);
    expect(summarise(Buffer.from(`${JSON.stringify(im)}\n`), [], 'im.metadata').problems).toBe(0);
    expect(summarise(Buffer.from(`${JSON.stringify(im)}\n`), [], 'storage.metadata').problems).toBe(1);
    // Each field of its type, and an IM line's time is its timestamp (round 6 tamper D1).
    const problem = (category: 'im.metadata' | 'storage.metadata', line: object) => summarise(Buffer.from(`${JSON.stringify(line)}\n`), [], category).problem?.message;
    expect(problem('im.metadata', { ...im, time: '2019-01-01T00:00:00Z' })).toBe('its time is not its timestamp');
    expect(problem('im.metadata', { ...im, participants: [{ id: 'x' }] })).toBe('its participants is not a list of texts');
    expect(problem('storage.metadata', { ...storage, created: { at: '2019-01-01T00:00:00Z' } })).toBe('its created is not a text');
    expect(problem('storage.metadata', { ...storage, size: 1.5 })).toBe('its size is not a count of bytes');
    // A file's timestamp is its last modification (round 12 scope F1): another modified time is refused, the same
    // instant written in another zone is not.
    expect(problem('storage.metadata', { ...storage, modified: '2027-03-01T00:00:00Z' })).toBe('its modified time is not its timestamp');
    expect(problem('storage.metadata', { ...storage, modified: '2026-02-01T00:00:00.0001Z' })).toBe('its modified time is not its timestamp');
    expect(problem('storage.metadata', { ...storage, modified: '2026-02-01T01:00:00+01:00' })).toBeUndefined();
  });

  it('takes mail lines written before headerBytesReplaced, and no other field list', () => {
    const mail = mailMetadata({ id: 'm-1', timestamp: '2026-02-01T00:00:00Z', bytes: 5, indexLine: { from: 'a@x.example' } } as never, 'customer-key', null);
    const { headerBytesReplaced, ...earlier } = mail;
    expect(headerBytesReplaced).toBe(false);
    expect(summarise(Buffer.from(`${JSON.stringify(mail)}\n${JSON.stringify(earlier)}\n`)).problems).toBe(0);
    const { headerTruncated, ...older } = earlier;
    expect(headerTruncated).toBe(false);
    expect(summarise(Buffer.from(`${JSON.stringify(older)}\n`)).problem?.message).toMatch(/^its fields are not sourceId, /);
    expect(summarise(Buffer.from(`${JSON.stringify({ ...earlier, headerBytesReplaced })}\n`)).problems).toBe(0);
    expect(summarise(Buffer.from(`${JSON.stringify({ headerBytesReplaced, ...earlier })}\n`)).problems).toBe(1);
  });
});
