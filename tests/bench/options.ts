// Command-line flags of `npm run bench` and the sizes they select.
import os from 'node:os';
import { parseArgs } from 'node:util';
import { GiB, MiB } from './stats.js';
import type { WorldSpec } from './world.js';

export interface BenchOptions {
  quick: boolean;
  runs: number;
  out: string | null;
  keep: boolean;
  series: boolean;
  skipBiggest: boolean;
  skipBatch: boolean;
  cacheDir: string | null;
  tmpDir: string;
  seed: number;
  diskMiB: number;
  cli: string | null;
}

export interface BenchPlan {
  large: WorldSpec;
  small: WorldSpec;
  /** The batch world, or 'small' to split the small world's accounts instead of generating another. */
  batch: WorldSpec | 'small';
  batchOrders: number;
  /** Extra worlds of the scaling series (the large and small worlds are its middle points). */
  itemSeries: WorldSpec[];
  byteSeries: WorldSpec[];
}

export const USAGE = `usage: npm run bench -- [flags]

  --quick           tiny sizes (about 2k items, 40 MiB), one run each, the batch on the small world:
                    about a minute
  --runs N          run every timed figure N times and report the median (default 3; 1 with --quick)
  --series          add the scaling series (10k / 200k items; 100 MiB / 4 GiB) to the large and small worlds
  --skip-biggest    with --series: leave out the 200k-item and 4 GiB worlds
  --skip-batch      leave out the batch figure (8 orders, concurrency 1 vs 2)
  --out FILE        where to write the figures as JSON (default: bench-results.json in the temp folder)
  --keep            keep the generated worlds, archives and extracted files
  --cache DIR       reuse worlds generated earlier into DIR (keyed by every generation parameter)
  --tmp DIR         parent of the temp folder (default: the OS temp folder)
  --seed S          world seed (default 7)
  --disk-mib N      size of the dd write used to measure the disk (default 1024, 256 with --quick)
  --cli FILE        the scopex entry point to drive (default: dist/bin/main.js of this checkout),
                    e.g. an older build kept aside, to compare before and after a change
  --help            this text
`;

export function parseOptions(argv: string[]): BenchOptions | 'help' {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      quick: { type: 'boolean', default: false },
      runs: { type: 'string' },
      out: { type: 'string' },
      keep: { type: 'boolean', default: false },
      series: { type: 'boolean', default: false },
      'skip-biggest': { type: 'boolean', default: false },
      'skip-batch': { type: 'boolean', default: false },
      cache: { type: 'string' },
      tmp: { type: 'string' },
      seed: { type: 'string' },
      'disk-mib': { type: 'string' },
      cli: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) return 'help';
  const quick = values.quick;
  return {
    quick,
    runs: positiveInteger('--runs', values.runs, quick ? 1 : 3),
    out: values.out ?? null,
    keep: values.keep,
    series: values.series,
    skipBiggest: values['skip-biggest'],
    skipBatch: values['skip-batch'],
    cacheDir: values.cache ?? null,
    tmpDir: values.tmp ?? os.tmpdir(),
    seed: positiveInteger('--seed', values.seed, 7),
    diskMiB: positiveInteger('--disk-mib', values['disk-mib'], quick ? 256 : 1024),
    cli: values.cli ?? null,
  };
}

function positiveInteger(flag: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${flag}: expected a positive integer, found "${text}"`);
  return value;
}

/**
 * Worlds have at least 5 accounts (the generator's floor) and are sized in bytes. The small-items profile
 * spreads its bytes over mail (mostly 2-6 KiB, some with attachments), storage and IM, over every tenant
 * type; the order names consumer accounts only. Measured on this generator: about 7,000 requested bytes
 * per exported item. The real counts are read from each archive; the labels are the aim.
 */
const SMALL_WORLD_BYTES_PER_EXPORTED_ITEM = 7_000;
/** Large-items worlds: the consumer accounts hold about 64% of the bytes (measured: 684 MB of a 1 GiB world). */
const LARGE_WORLD_EXPORTED_SHARE = 0.64;

export function planFor(options: BenchOptions): BenchPlan {
  const seed = options.seed;
  const items = (label: string, count: number, accounts: number): WorldSpec => ({
    label,
    profile: 'small-items',
    bytes: count * SMALL_WORLD_BYTES_PER_EXPORTED_ITEM,
    accounts,
    seed,
  });
  const large = (label: string, exportedBytes: number, accounts: number): WorldSpec => ({
    label,
    profile: 'large-items',
    bytes: Math.round(exportedBytes / LARGE_WORLD_EXPORTED_SHARE),
    accounts,
    seed,
  });
  if (options.quick) {
    // The batch runs on the small world (16 accounts give at least 8 consumer accounts) to save a generation.
    return {
      large: large('large', 40 * MiB, 5),
      small: items('small', 2_000, 16),
      batch: 'small',
      batchOrders: 8,
      itemSeries: [items('series-1k', 1_000, 5), items('series-8k', 8_000, 5)],
      byteSeries: [large('series-16MiB', 16 * MiB, 5), large('series-256MiB', 256 * MiB, 5)],
    };
  }
  return {
    large: large('large', 1 * GiB, 5),
    small: items('small', 50_000, 16),
    batch: { label: 'batch', profile: 'realistic', bytes: 512 * MiB, accounts: 24, seed },
    batchOrders: 8,
    itemSeries: [items('series-10k', 10_000, 8), items('series-200k', 200_000, 24)],
    byteSeries: [large('series-100MiB', 100 * MiB, 5), large('series-4GiB', 4 * GiB, 8)],
  };
}
