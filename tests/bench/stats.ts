// Summaries of repeated measurements: the median is the figure, min and max show the spread.

export interface Summary {
  median: number;
  min: number;
  max: number;
  samples: number[];
}

export function summarize(samples: readonly number[]): Summary {
  if (samples.length === 0) throw new Error('summarize: expected at least one sample, found none');
  const sorted = [...samples].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
  return { median, min: sorted[0]!, max: sorted.at(-1)!, samples: [...samples] };
}

/** Runs a measurement `runs` times, one after the other, and summarizes one number of each. */
export async function repeat<T>(runs: number, measure: (index: number) => Promise<T>, pick: (result: T) => number): Promise<{ summary: Summary; results: T[] }> {
  const results: T[] = [];
  for (let index = 0; index < runs; index++) results.push(await measure(index));
  return { summary: summarize(results.map(pick)), results };
}

export const MB = 1_000_000;
export const MiB = 1024 * 1024;
export const GiB = 1024 * MiB;
