// The index reader splits lines itself (in batches) where it used readline: the lines, their numbers and the errors
// must be exactly what readline gave, however the file is chunked.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { createInterface } from 'node:readline';
import fc from 'fast-check';
import * as z from '../../src/util/zod.js';
import { afterAll, describe, expect, it } from 'vitest';
import { SourceError } from '../../src/errors.js';
import { LineSplitter, readJsonlIndex } from '../../src/sources/jsonl-index.js';

const folder = mkdtempSync(path.join(os.tmpdir(), 'scopex-jsonl-lines-'));
afterAll(() => rmSync(folder, { recursive: true, force: true }));

async function readlineLines(chunks: string[]): Promise<string[]> {
  const lines: string[] = [];
  for await (const line of createInterface({ input: Readable.from(chunks), crlfDelay: Infinity })) lines.push(line);
  return lines;
}

function splitterLines(chunks: string[], pause: () => boolean = () => false): string[] {
  const lines: string[] = [];
  const splitter = new LineSplitter((line) => lines.push(line));
  for (const chunk of chunks) {
    let paused = splitter.push(chunk, pause);
    while (paused) paused = splitter.resume();
  }
  splitter.end();
  return lines;
}

function cut(text: string, cuts: number[]): string[] {
  const points = [...new Set(cuts.map((at) => at % (text.length + 1)))].sort((a, b) => a - b);
  const chunks: string[] = [];
  let from = 0;
  for (const point of points) {
    if (point > from) chunks.push(text.slice(from, point));
    from = point;
  }
  if (from < text.length) chunks.push(text.slice(from));
  return chunks;
}

describe('LineSplitter', () => {
  it('ends lines at "\\n", "\\r\\n" and a lone "\\r", a "\\r\\n" cut between chunks included, and keeps a last line with no break', () => {
    expect(splitterLines(['a\nb\r\nc\rd'])).toEqual(['a', 'b', 'c', 'd']);
    expect(splitterLines(['a\r', '\nb\r', 'c\r'])).toEqual(['a', 'b', 'c']);
    expect(splitterLines(['\n\r\n', '\r'])).toEqual(['', '', '']);
    expect(splitterLines(['abc', 'def\n', 'gh'])).toEqual(['abcdef', 'gh']);
    expect(splitterLines(['x\n'])).toEqual(['x']);
    expect(splitterLines([])).toEqual([]);
  });

  it('gives the lines readline gives, however the text is cut into chunks and however often it pauses', async () => {
    const text = fc.array(fc.constantFrom('a', 'é', '😀', ' ', '{}', '\n', '\r', '\r\n', '\n\n'), { maxLength: 60 }).map((parts) => parts.join(''));
    await fc.assert(
      fc.asyncProperty(text, fc.array(fc.nat(), { maxLength: 8 }), fc.integer({ min: 0, max: 3 }), async (whole, cuts, every) => {
        const chunks = cut(whole, cuts);
        let calls = 0;
        const pause = every === 0 ? () => false : () => ++calls % every === 0;
        expect(splitterLines(chunks, pause)).toEqual(await readlineLines(chunks));
      }),
      { numRuns: 300 },
    );
  });

  it('after a pause, resume goes on where it stopped and a chunk used up is not resumed', () => {
    const lines: string[] = [];
    const splitter = new LineSplitter((line) => lines.push(line));
    let pauses = 0;
    const pauseOnceAfterA = (): boolean => lines.length === 1 && pauses++ === 0;
    expect(splitter.push('a\nb\nc', pauseOnceAfterA)).toBe(true);
    expect(lines).toEqual(['a']);
    expect(splitter.resume()).toBe(false);
    expect(lines).toEqual(['a', 'b']);
    expect(splitter.resume()).toBe(false); // "c" waits for its line break, and resume does not lose it
    splitter.end();
    expect(lines).toEqual(['a', 'b', 'c']);
  });
});

describe('readJsonlIndex', () => {
  const schema = z.object({ n: z.number() });
  const accepts = (raw: unknown): raw is { n: number } => typeof (raw as { n?: unknown } | null)?.n === 'number';

  async function collect(file: string): Promise<{ batches: number[][]; lines: number[]; error: unknown }> {
    const batches: number[][] = [];
    const lines: number[] = [];
    try {
      for await (const batch of readJsonlIndex({ file, schema, accepts })) {
        batches.push(batch.map((line) => line.entry.n));
        lines.push(...batch.map((line) => line.line));
      }
    } catch (error) {
      return { batches, lines, error };
    }
    return { batches, lines, error: undefined };
  }

  it('yields every line with its number in batches of at most 512, blank lines skipped but counted', async () => {
    const file = path.join(folder, 'many.jsonl');
    const rows = Array.from({ length: 1500 }, (_, n) => (n === 10 ? '   ' : JSON.stringify({ n })));
    writeFileSync(file, `${rows.join('\r\n')}\r\n`);
    const { batches, lines, error } = await collect(file);
    expect(error).toBeUndefined();
    expect(batches.flat()).toEqual(Array.from({ length: 1500 }, (_, n) => n).filter((n) => n !== 10));
    expect(lines[10]).toBe(12);
    expect(batches.length).toBeGreaterThan(2);
    for (const batch of batches) expect(batch.length).toBeLessThanOrEqual(512);
  });

  it('yields the good lines before a bad one, then fails naming the file and the bad line', async () => {
    const file = path.join(folder, 'bad.jsonl');
    writeFileSync(file, `{"n":1}\n{"n":2}\n{"n":3\n{"n":4}\n`);
    const { batches, error } = await collect(file);
    expect(batches.flat()).toEqual([1, 2]);
    expect(error).toBeInstanceOf(SourceError);
    expect((error as SourceError).code).toBe('INDEX_CORRUPT');
    expect((error as Error).message).toContain(`index ${file} line 3 is not valid JSON`);
  });

  it('refuses a line the schema refuses, after the lines before it', async () => {
    const file = path.join(folder, 'schema.jsonl');
    writeFileSync(file, `{"n":1}\n{"n":"two"}\n`);
    const { batches, error } = await collect(file);
    expect(batches.flat()).toEqual([1]);
    expect((error as Error).message).toContain('line 2 does not fit the index schema');
  });
});
