// readAhead prepares items ahead of the export's consumer in batches: order kept, every item prepared once, and the
// items prepared but not yet done with (the consumer's batch included) within the limits.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { oneByOne, readAhead } from '../../src/pipeline/stages.js';

async function* batchesOf<T>(items: T[], sizes: number[], closed?: { value: boolean }): AsyncGenerator<T[]> {
  try {
    let at = 0;
    for (let index = 0; at < items.length; index++) {
      const size = Math.max(1, sizes.length === 0 ? items.length : (sizes[index % sizes.length] as number));
      yield items.slice(at, at + size);
      at += size;
    }
  } finally {
    if (closed) closed.value = true;
  }
}

describe('readAhead', () => {
  it('hands on every item once, in order, within the item and weight limits', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 0, max: 50 }), { maxLength: 200 }),
        fc.array(fc.integer({ min: 1, max: 40 }), { maxLength: 5 }),
        fc.integer({ min: 1, max: 32 }),
        fc.integer({ min: 1, max: 200 }),
        async (weights, sizes, items, weight) => {
          const indexes = weights.map((_, index) => index);
          let prepared = 0;
          let done = 0;
          let preparedWeight = 0;
          let doneWeight = 0;
          let worst = { items: 0, weight: 0 };
          const prepare = (index: number) => {
            prepared += 1;
            preparedWeight += weights[index] as number;
            worst = { items: Math.max(worst.items, prepared - done), weight: Math.max(worst.weight, preparedWeight - doneWeight - (weights[index] as number)) };
            return index;
          };
          const seen: number[] = [];
          for await (const batch of readAhead(batchesOf(indexes, sizes), prepare, { items, weight, weigh: (index) => weights[index] as number })) {
            expect(batch.length).toBeGreaterThan(0);
            expect(batch.length).toBeLessThanOrEqual(Math.max(1, Math.floor(items / 2)));
            seen.push(...batch);
            // The consumer is done with the batch once it asks for the next one.
            done += batch.length;
            doneWeight += batch.reduce((sum, index) => sum + (weights[index] as number), 0);
          }
          expect(seen).toEqual(indexes);
          expect(worst.items).toBeLessThanOrEqual(items);
          // Before the last item prepared, the weight was under the limit (at least one item is always taken).
          expect(worst.weight).toBeLessThan(Math.max(weight, 1));
        },
      ),
      { numRuns: 200 },
    );
  });

  it('keeps half of what it prepared in flight while the consumer has the other half', async () => {
    const log: string[] = [];
    const source = batchesOf(
      Array.from({ length: 10 }, (_, index) => index),
      [10],
    );
    const prepare = (index: number): number => {
      log.push(`prepare ${index}`);
      return index;
    };
    for await (const batch of readAhead(source, prepare, { items: 8 })) log.push(`consume ${batch.join(',')}`);
    expect(log.slice(0, 10)).toEqual(['prepare 0', 'prepare 1', 'prepare 2', 'prepare 3', 'prepare 4', 'prepare 5', 'prepare 6', 'prepare 7', 'consume 0,1,2,3', 'prepare 8']);
    expect(log.filter((entry) => entry.startsWith('consume'))).toEqual(['consume 0,1,2,3', 'consume 4,5,6,7', 'consume 8,9']);
  });

  it('closes its source when the consumer stops early, and when preparing an item fails', async () => {
    const closed = { value: false };
    for await (const batch of readAhead(batchesOf([1, 2, 3, 4, 5, 6], [2], closed), (item) => item, { items: 2 })) {
      expect(batch).toEqual([1]);
      break;
    }
    expect(closed.value).toBe(true);

    const closedOnFailure = { value: false };
    const refuseThree = (item: number): number => {
      if (item === 3) throw new Error('item 3 is out of scope');
      return item;
    };
    const failing = readAhead(batchesOf([1, 2, 3], [], closedOnFailure), refuseThree, { items: 8 });
    const consume = async (): Promise<void> => {
      for await (const batch of failing) void batch;
    };
    await expect(consume()).rejects.toThrow('item 3 is out of scope');
    expect(closedOnFailure.value).toBe(true);
  });

  it('stops at an aborted signal before it pulls more from the source', async () => {
    const controller = new AbortController();
    const pulled: number[][] = [];
    async function* source(): AsyncGenerator<number[]> {
      for (let index = 0; index < 5; index++) {
        pulled.push([index]);
        yield [index];
      }
    }
    const consume = async (): Promise<void> => {
      for await (const batch of readAhead(source(), (item) => item, { items: 2 }, controller.signal)) {
        void batch;
        controller.abort();
      }
    };
    await expect(consume()).rejects.toThrow();
    expect(pulled.length).toBeLessThan(5);
  });

  it('oneByOne makes a batch of each item of a plain listing', async () => {
    async function* items(): AsyncGenerator<string> {
      yield 'a';
      yield 'b';
    }
    const batches: string[][] = [];
    for await (const batch of oneByOne(items())) batches.push(batch);
    expect(batches).toEqual([['a'], ['b']]);
  });
});
