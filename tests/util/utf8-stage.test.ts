// Text staged as UTF-8 bytes must come out exactly as written, whatever the characters and wherever blocks end.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { openTextSink } from '../../src/pipeline/stages.js';
import { LineSpool } from '../../src/seal/line-spool.js';
import { Utf8Stage } from '../../src/util/utf8-stage.js';

const folder = mkdtempSync(path.join(os.tmpdir(), 'scopex-utf8-stage-'));
afterAll(() => rmSync(folder, { recursive: true, force: true }));

describe('Utf8Stage', () => {
  it('takes exactly the bytes appended, up to the last byte of its size, and refuses what does not fit', () => {
    const stage = new Utf8Stage(8);
    expect(stage.tryAppend('aaaaa')).toBe(true);
    expect(stage.tryAppend('é')).toBe(true); // 2 bytes: 7
    expect(stage.tryAppend('😀')).toBe(false); // 4 bytes would make 11
    expect(stage.tryAppend('b')).toBe(true); // 8: full
    expect(stage.tryAppend('c')).toBe(false);
    expect(stage.bytes).toBe(8);
    expect(stage.take().toString('utf8')).toBe('aaaaaéb');
    expect(stage.bytes).toBe(0);
    expect(stage.take()).toHaveLength(0);
  });

  it('hands over bytes that later appends do not touch', () => {
    const stage = new Utf8Stage(16);
    stage.tryAppend('first');
    const first = stage.take();
    stage.tryAppend('SECOND');
    expect(first.toString('utf8')).toBe('first');
    expect(stage.take().toString('utf8')).toBe('SECOND');
  });

  it('matches Buffer.from for any text appended while it fits', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ unit: 'binary', maxLength: 40 }), { maxLength: 30 }), fc.integer({ min: 1, max: 200 }), (parts, size) => {
        const stage = new Utf8Stage(size);
        const taken: Buffer[] = [];
        for (const part of parts) {
          if (stage.tryAppend(part)) continue;
          taken.push(stage.take());
          if (!stage.tryAppend(part)) taken.push(Buffer.from(part, 'utf8'));
        }
        taken.push(stage.take());
        expect(Buffer.concat(taken).equals(Buffer.from(parts.join(''), 'utf8'))).toBe(true);
        for (const block of taken.slice(0, -1)) expect(block.length).toBeLessThanOrEqual(Math.max(size, ...parts.map((part) => Buffer.byteLength(part))));
      }),
    );
  });
});

/** Lines of mixed scripts totalling a few blocks, with one line longer than any block. */
function sampleLines(): string[] {
  const lines: string[] = [];
  for (let index = 0; index < 12_000; index += 1) lines.push(`${index}\tRésumé ✓ 😀 ${'x'.repeat(index % 50)}\n`);
  lines.splice(5_000, 0, `${'Ω'.repeat(200_000)}\n`);
  return lines;
}

describe('text files written through a stage', () => {
  it('LineSpool writes every line, in order, byte for byte', async () => {
    const lines = sampleLines();
    const spool = await LineSpool.create(path.join(folder, 'spool.txt'));
    for (const line of lines) await spool.append(line);
    await spool.close();
    expect(readFileSync(spool.file, 'utf8')).toBe(lines.join(''));
  });

  it('a text sink writes every line, in order, byte for byte', async () => {
    const lines = sampleLines();
    const sink = await openTextSink(path.join(folder, 'sink.jsonl'));
    for (const line of lines) await sink.write(line);
    await sink.close();
    expect(readFileSync(sink.file, 'utf8')).toBe(lines.join(''));
  });
});
