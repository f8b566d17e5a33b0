// Issue 7's targets, judged on the figures of one run; a figure that was not measured is said so, never guessed.
import type { BatchResult } from './batch-bench.js';
import { withCopies, type CopyCost, type CryptoCeiling } from './ceilings.js';
import type { DiskSpeed } from './disk-speed.js';
import { formatRate, formatSeconds, type Row } from './table.js';
import type { Summary } from './stats.js';
import { rates, type Rates, type WorldResult } from './world-bench.js';

export interface Figures {
  disk: { bytesPerSecond: number; runs: DiskSpeed[] } | null;
  large: WorldResult | null;
  small: WorldResult | null;
  /** Item-count series, smallest first (the small world is among them). */
  itemSeries: WorldResult[];
  /** Byte-size series, smallest first (the large world is among them). */
  byteSeries: WorldResult[];
  batch: BatchResult | null;
  /** The least CPU work per payload byte of a large export, on every core: bounds `export large vs disk write`. */
  cryptoCeiling: CryptoCeiling | null;
  /** The CPU of reading the stored bytes and writing the archive: added to the crypto ceiling when measured. */
  copyCost?: CopyCost | null;
  /** Cores of the machine (os.availableParallelism()), for the ceilings. */
  cores: number;
  rssLimitBytes: number;
}

const RSS_LIMIT_MB = 256;
export const RSS_LIMIT_BYTES = RSS_LIMIT_MB * 1024 * 1024;

const mbps = (value: number): string => formatRate(value, 'MB/s');
const itemsps = (value: number): string => formatRate(value, 'items/s');
const mibOf = (bytes: number): string => (Number.isFinite(bytes) ? `${(bytes / 1024 / 1024).toFixed(1)} MiB` : 'n/a');

function atLeast(ratio: number, target: number): boolean {
  return Number.isFinite(ratio) && ratio >= target;
}

export function targetRows(figures: Figures): Row[] {
  const rows: Row[] = [];
  const { large, small, disk } = figures;

  if (disk) rows.push({ figure: 'disk sequential write', scopex: '', baseline: mbps(disk.bytesPerSecond / 1e6), ratio: null, target: '', pass: null });

  if (large?.baseline) {
    const ratio = large.export.mbPerSecond / large.baseline.mbPerSecond;
    rows.push({ figure: `export large (${sizeOf(large)})`, scopex: mbps(large.export.mbPerSecond), baseline: mbps(large.baseline.mbPerSecond), ratio, target: '>= 2.0x', pass: atLeast(ratio, 2.0) });
  } else rows.push(missing('export large vs shell baseline', '>= 2.0x'));
  if (large && disk) {
    const diskMb = disk.bytesPerSecond / 1e6;
    const ratio = large.export.mbPerSecond / diskMb;
    rows.push({ figure: 'export large vs disk write', scopex: mbps(large.export.mbPerSecond), baseline: mbps(diskMb), ratio, target: '>= 0.7x', pass: atLeast(ratio, 0.7) });
  } else rows.push(missing('export large vs disk write', '>= 0.7x'));
  const crypto = figures.cryptoCeiling;
  if (crypto && disk) {
    const diskMb = disk.bytesPerSecond / 1e6;
    rows.push({
      figure: `  ceiling: decrypt + 2 SHA-256 + CRC-32 alone, ${crypto.cores} cores`,
      scopex: mbps(crypto.allCoresBytesPerSecond / 1e6),
      baseline: mbps(diskMb),
      ratio: crypto.allCoresBytesPerSecond / 1e6 / diskMb,
      target: '',
      pass: null,
    });
    const withIo = figures.copyCost ? withCopies(crypto, figures.copyCost) : undefined;
    if (withIo !== undefined) {
      rows.push({
        figure: `  ceiling: the same + reading the blobs and writing the archive, ${crypto.cores} cores`,
        scopex: mbps(withIo / 1e6),
        baseline: mbps(diskMb),
        ratio: withIo / 1e6 / diskMb,
        target: '',
        pass: null,
      });
    }
  }

  if (small?.baseline) {
    const ratio = small.export.itemsPerSecond / small.baseline.itemsPerSecond;
    rows.push({ figure: `export small (${small.payload.files} items)`, scopex: itemsps(small.export.itemsPerSecond), baseline: itemsps(small.baseline.itemsPerSecond), ratio, target: '>= 1.0x', pass: atLeast(ratio, 1.0) });
    const spread = cpuSpread(small.export.cpuSeconds, small, figures.cores);
    if (spread) {
      rows.push({
        figure: `  ceiling: its CPU work (${formatSeconds(spread.cpuSeconds)}) spread on ${figures.cores} cores`,
        scopex: itemsps(spread.rates.itemsPerSecond),
        baseline: itemsps(small.baseline.itemsPerSecond),
        ratio: spread.rates.itemsPerSecond / small.baseline.itemsPerSecond,
        target: '',
        pass: null,
      });
    }
    rows.push(...floorRows(small, figures.cores));
  } else rows.push(missing('export small vs shell baseline', '>= 1.0x'));

  for (const world of uniqueWorlds(figures)) {
    const peak = world.export.peakRssBytes.max;
    rows.push({ figure: `peak RSS export ${world.label}`, scopex: mibOf(peak), baseline: '', ratio: null, target: `< ${RSS_LIMIT_MB} MiB`, pass: Number.isFinite(peak) ? peak < figures.rssLimitBytes : null });
  }

  const bytesFirst = figures.byteSeries[0];
  const bytesLast = figures.byteSeries.at(-1);
  if (bytesFirst && bytesLast && bytesFirst !== bytesLast) {
    const ratio = bytesLast.export.peakRssBytes.max / bytesFirst.export.peakRssBytes.max;
    rows.push({
      figure: `peak RSS ${bytesLast.label} / ${bytesFirst.label}`,
      scopex: mibOf(bytesLast.export.peakRssBytes.max),
      baseline: mibOf(bytesFirst.export.peakRssBytes.max),
      ratio,
      target: '<= 1.2x',
      pass: Number.isFinite(ratio) ? ratio <= 1.2 : null,
    });
  } else rows.push(missing('peak RSS biggest / smallest byte world', '<= 1.2x', 'needs --series'));

  const itemsFirst = figures.itemSeries[0];
  const itemsLast = figures.itemSeries.at(-1);
  if (itemsFirst && itemsLast && itemsFirst !== itemsLast) {
    const ratio = itemsLast.export.itemsPerSecond / itemsFirst.export.itemsPerSecond;
    rows.push({
      figure: `items/s ${itemsLast.label} vs ${itemsFirst.label}`,
      scopex: itemsps(itemsLast.export.itemsPerSecond),
      baseline: itemsps(itemsFirst.export.itemsPerSecond),
      ratio,
      target: '>= 0.8x',
      pass: atLeast(ratio, 0.8),
    });
  } else rows.push(missing('items/s biggest vs smallest item world', '>= 0.8x', 'needs --series'));
  for (const world of figures.itemSeries) {
    rows.push({ figure: `  series ${world.label} (${world.payload.files} items)`, scopex: `${itemsps(world.export.itemsPerSecond)}, RSS ${mibOf(world.export.peakRssBytes.max)}`, baseline: '', ratio: null, target: '', pass: null });
  }
  for (const world of figures.byteSeries) {
    rows.push({ figure: `  series ${world.label} (${(world.payload.bytes / 1e6).toFixed(0)} MB)`, scopex: `${mbps(world.export.mbPerSecond)}, RSS ${mibOf(world.export.peakRssBytes.max)}`, baseline: '', ratio: null, target: '', pass: null });
  }

  for (const [name, world] of [['large', large], ['small', small]] as const) {
    if (!world?.verify) {
      rows.push(missing(`verify ${name} vs sha256sum -c`, '>= 2.0x'), missing(`verify ${name} vs openssl dgst`, '>= 0.7x'));
      continue;
    }
    const { scopex, sha256sumCheck, opensslDgst } = world.verify;
    const unit = name === 'small' ? itemsps : mbps;
    const pick = (rate: { mbPerSecond: number; itemsPerSecond: number }): number => (name === 'small' ? rate.itemsPerSecond : rate.mbPerSecond);
    // Under each figure, the rate the verify's own CPU work would give spread on every core: it cannot beat that.
    const spread = cpuSpread(scopex.cpuSeconds, world, figures.cores);
    for (const [against, baseline, target, least] of [
      ['sha256sum -c', sha256sumCheck, '>= 2.0x', 2.0],
      ['openssl dgst', opensslDgst, '>= 0.7x', 0.7],
    ] as const) {
      const ratio = scopex.mbPerSecond / baseline.mbPerSecond;
      rows.push({ figure: `verify ${world.label} vs ${against}`, scopex: unit(pick(scopex)), baseline: unit(pick(baseline)), ratio, target, pass: atLeast(ratio, least) });
      if (spread) {
        rows.push({
          figure: `  ceiling: its CPU work (${formatSeconds(spread.cpuSeconds)}) spread on ${figures.cores} cores`,
          scopex: unit(pick(spread.rates)),
          baseline: unit(pick(baseline)),
          ratio: spread.rates.mbPerSecond / baseline.mbPerSecond,
          target: '',
          pass: null,
        });
      }
      const floor = world.verify.floor;
      if (floor) {
        rows.push({
          figure: '  floor: every file hashed against the manifest, alone',
          scopex: unit(pick(floor)),
          baseline: unit(pick(baseline)),
          ratio: floor.mbPerSecond / baseline.mbPerSecond,
          target: '',
          pass: null,
        });
      }
    }
    // Shown, not judged: the RSS target is per export. What a verify holds grows with the archive's entries.
    rows.push({ figure: `  peak RSS verify ${world.label} (${world.payload.files} files)`, scopex: mibOf(scopex.peakRssBytes.max), baseline: '', ratio: null, target: '', pass: null });
  }

  const batch = figures.batch;
  if (batch) {
    rows.push({
      figure: `batch ${batch.orders} orders, 2 workers vs 1`,
      scopex: formatSeconds(batch.concurrency2.seconds.median),
      baseline: formatSeconds(batch.concurrency1.seconds.median),
      ratio: batch.speedup,
      target: '>= 1.6x',
      pass: atLeast(batch.speedup, 1.6),
    });
    const ceiling = batch.ceiling;
    if (ceiling) {
      rows.push({
        figure: `  ceiling: 1 worker's wall x ${ceiling.cores} cores / 2 workers' CPU`,
        scopex: `${ceiling.coresBusyWithOne.toFixed(2)} cores busy with 1`,
        baseline: `CPU ${formatSeconds(ceiling.cpuSeconds2.median)} with 2`,
        ratio: ceiling.speedupCeiling,
        target: '',
        pass: null,
      });
    }
    // Shown, not judged: the RSS target is per export, and a batch process holds a worker's own heap beside the
    // export it runs (and with 2 workers, two exports at once).
    for (const [workers, run] of [[1, batch.concurrency1], [2, batch.concurrency2]] as const) {
      rows.push({ figure: `  peak RSS batch, ${workers} worker${workers === 1 ? '' : 's'}`, scopex: mibOf(run.peakRssBytes.max), baseline: '', ratio: null, target: '', pass: null });
    }
  } else rows.push(missing('batch 2 workers vs 1', '>= 1.6x'));
  return rows;
}

/**
 * The rates a command on `world` would reach if its measured CPU seconds ran on every core at once with no waiting:
 * its ceiling, with the work it does.
 */
function cpuSpread(cpu: Summary | null, world: WorldResult, cores: number): { cpuSeconds: number; rates: Rates } | null {
  if (!cpu || !(cpu.median > 0) || !(cores > 0)) return null;
  return { cpuSeconds: cpu.median, rates: rates(world.payload, cpu.median / cores) };
}

/**
 * The floor pipeline against the same baseline: what a Node pipeline on archiver reaches doing nothing but read,
 * decrypt, hash and zip the items, as timed and with its CPU work spread perfectly on the cores.
 */
function floorRows(world: WorldResult, cores: number): Row[] {
  const { floor, baseline } = world;
  if (!floor || !baseline) return [];
  const perItem = (itemsPerSecond: number): number => itemsPerSecond / baseline.itemsPerSecond;
  const rows: Row[] = [
    {
      figure: `  floor: read + decrypt + SHA-256 + zip alone (${floor.items} items)`,
      scopex: itemsps(floor.itemsPerSecond),
      baseline: itemsps(baseline.itemsPerSecond),
      ratio: perItem(floor.itemsPerSecond),
      target: '',
      pass: null,
    },
  ];
  const cpu = floor.cpuSeconds;
  if (cpu && cpu.median > 0 && cores > 0) {
    const itemsPerSecond = floor.items / (cpu.median / cores);
    rows.push({
      figure: `  floor: its CPU work (${formatSeconds(cpu.median)}) spread on ${cores} cores`,
      scopex: itemsps(itemsPerSecond),
      baseline: itemsps(baseline.itemsPerSecond),
      ratio: perItem(itemsPerSecond),
      target: '',
      pass: null,
    });
  }
  return rows;
}

function sizeOf(world: WorldResult): string {
  return `${(world.payload.bytes / 1e6).toFixed(0)} MB, ${world.payload.files} files`;
}

function missing(figure: string, target: string, why = 'not measured'): Row {
  return { figure, scopex: why, baseline: '', ratio: null, target, pass: null };
}

function uniqueWorlds(figures: Figures): WorldResult[] {
  const all = [figures.large, figures.small, ...figures.itemSeries, ...figures.byteSeries].filter((world): world is WorldResult => world !== null);
  return [...new Set(all)];
}
