// Thousands of mutated orders: reading and evaluating never crashes, and the only outcomes are exit 0, 2 or 3.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { exitCodeFor, InputError, OrderError } from '../../src/errors.js';
import { evaluateOrder } from '../../src/order/check-order.js';
import { readOrderFile } from '../../src/order/read-order.js';
import { approve, baseOrder, makeFixture } from './fixtures.js';

const fx = makeFixture();
afterAll(() => fx.cleanup());

const approved = approve(baseOrder(), fx.pki.reviewer);
const approvedText = `${JSON.stringify(approved, null, 2)}\n`;
const file = path.join(fx.dir, 'mutant.json');

/** The exit code `scopex order check` would end with; throws on anything that is not a coded outcome. */
async function outcome(content: string | Buffer): Promise<number> {
  writeFileSync(file, content);
  try {
    const { order, raw } = await readOrderFile(file);
    const evaluation = evaluateOrder(order, raw, fx.ctx);
    return evaluation.reasons.length === 0 ? 0 : 3;
  } catch (error) {
    if (error instanceof InputError || error instanceof OrderError) return exitCodeFor(error);
    throw error;
  }
}

const seen = new Map<number, number>();
const record = (code: number) => seen.set(code, (seen.get(code) ?? 0) + 1);

// Text mutations: replace, delete, insert or duplicate a slice of the approved order's JSON text.
const textMutation = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 40 }) }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), text: fc.string({ maxLength: 12, unit: 'binary' }) }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), text: fc.constantFrom('"__proto__":1,', '"id":"x",', '{', '}', ',', '"', '\\u0000', '\ufeff') }),
  fc.record({ kind: fc.constant('duplicate' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 80 }) }),
);

function mutateText(base: Buffer, mutations: { kind: string; at: number; bit?: number; length?: number; text?: string }[]): Buffer {
  let bytes = Buffer.from(base);
  for (const m of mutations) {
    const at = m.at % (bytes.length + 1);
    switch (m.kind) {
      case 'flip':
        if (at < bytes.length) bytes[at] = bytes[at]! ^ (1 << (m.bit ?? 0));
        break;
      case 'delete':
        bytes = Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + (m.length ?? 1))]);
        break;
      case 'insert':
        bytes = Buffer.concat([bytes.subarray(0, at), Buffer.from(m.text ?? ''), bytes.subarray(at)]);
        break;
      case 'duplicate':
        bytes = Buffer.concat([bytes.subarray(0, at + (m.length ?? 1)), bytes.subarray(at)]);
        break;
    }
  }
  return bytes;
}

// Object mutations: set, delete or add a field anywhere in the order to an arbitrary JSON value.
const paths: string[][] = [];
(function collect(value: unknown, at: string[]) {
  paths.push(at);
  if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) collect(v, [...at, k]);
})(approved, []);

const objectMutation = fc.record({
  path: fc.constantFrom(...paths),
  action: fc.constantFrom('set', 'delete', 'add'),
  key: fc.constantFrom('extra', '__proto__', 'constructor', 'value', 'type', 'approval', '0'),
  value: fc.oneof(
    fc.jsonValue({ maxDepth: 2 }),
    fc.constantFrom('*', '@contoso.example', 'bob@fabrikam.example', '2026-10-01T00:00:00', '2099-01-01T00:00:00Z', 'subpoena', 'mail.content', ''),
  ),
});

function mutateObject(mutations: { path: string[]; action: string; key: string; value: unknown }[]): string {
  const copy = structuredClone(approved) as unknown as Record<string, unknown>;
  for (const m of mutations) {
    let parent: unknown = copy;
    for (const k of m.path.slice(0, -1)) parent = parent && typeof parent === 'object' ? (parent as Record<string, unknown>)[k] : undefined;
    if (!parent || typeof parent !== 'object') continue;
    const last = m.path[m.path.length - 1];
    const target = parent as Record<string, unknown>;
    if (m.action === 'set' && last !== undefined) target[last] = m.value;
    else if (m.action === 'delete' && last !== undefined) delete target[last];
    else if (m.action === 'add') {
      const holder = last === undefined ? target : target[last];
      if (holder && typeof holder === 'object') Object.defineProperty(holder, m.key, { value: m.value, enumerable: true, writable: true, configurable: true });
    }
  }
  return JSON.stringify(copy, null, 2);
}

describe('mutated orders never crash order check', () => {
  it('the unmutated order is approved (the property runs over a passing base)', async () => {
    expect(await outcome(approvedText)).toBe(0);
  });

  it('1000 mutated JSON texts end in exit 2 or 3 (or 0 when the change is only whitespace)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(textMutation, { minLength: 1, maxLength: 4 }), async (mutations) => {
        const code = await outcome(mutateText(Buffer.from(approvedText), mutations));
        record(code);
        expect([0, 2, 3]).toContain(code);
      }),
      { numRuns: 1000, seed: 20261001 },
    );
  });

  it('1000 mutated order objects end in exit 2 or 3', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(objectMutation, { minLength: 1, maxLength: 3 }), async (mutations) => {
        const text = mutateObject(mutations);
        const code = await outcome(text);
        record(code);
        expect([0, 2, 3]).toContain(code);
        // Any change that survives parsing changes signed bytes, so it can never pass as approved...
        if (code === 0) expect(JSON.parse(text)).toEqual(JSON.parse(approvedText));
      }),
      { numRuns: 1000, seed: 20261002 },
    );
  });

  it('both malformed (2) and refused (3) outcomes were reached', () => {
    expect(seen.get(2) ?? 0).toBeGreaterThan(100);
    expect(seen.get(3) ?? 0).toBeGreaterThan(100);
  });
});
