// The benchmark's own arithmetic: medians, dd parsing, the table and the target verdicts.
import { closeSync, constants, mkdirSync, mkdtempSync, openSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { BatchResult } from './batch-bench.js';
import { batchCeiling, measureCopyCost, measureCryptoCeiling, withCopies } from './ceilings.js';
import { parseDdSummary } from './disk-speed.js';
import { parseOptions, planFor, type BenchOptions } from './options.js';
import { readGnuTimeUsage } from './process-timer.js';
import { summarize } from './stats.js';
import { warmPageCache } from './world.js';
import { renderTable } from './table.js';
import { RSS_LIMIT_BYTES, targetRows, type Figures } from './targets.js';
import type { WorldResult } from './world-bench.js';

describe('summarize', () => {
  it('takes the middle of an odd count and the mean of the two middles of an even count', () => {
    expect(summarize([3, 1, 2])).toMatchObject({ median: 2, min: 1, max: 3 });
    expect(summarize([4, 1, 3, 2]).median).toBe(2.5);
  });
  it('refuses an empty list', () => {
    expect(() => summarize([])).toThrow();
  });
});

describe('parseDdSummary', () => {
  it('reads bytes and seconds from GNU dd', () => {
    const stderr = '1024+0 records in\n1024+0 records out\n1073741824 bytes (1.1 GB, 1.0 GiB) copied, 2.14738 s, 500 MB/s\n';
    expect(parseDdSummary(stderr)).toEqual({ bytes: 1073741824, seconds: 2.14738 });
  });
  it('fails on text without a summary', () => {
    expect(() => parseDdSummary('dd: failed to open')).toThrow();
  });
});

/** Whether a file in `folder` can be opened with O_DIRECT. */
function directIoWorksIn(folder: string): boolean {
  try {
    closeSync(openSync(path.join(folder, 'probe'), constants.O_WRONLY | constants.O_CREAT | constants.O_DIRECT));
    return true;
  } catch {
    return false;
  } finally {
    rmSync(path.join(folder, 'probe'), { force: true });
  }
}

function world(label: string, seconds: number, files: number, bytes: number, rss: number, baselineSeconds?: number): WorldResult {
  const s = (value: number) => ({ median: value, min: value, max: value, samples: [value] });
  const rate = (t: number) => ({ seconds: s(t), mbPerSecond: bytes / 1e6 / t, itemsPerSecond: files / t });
  return {
    label, profile: 'small-items', requestedBytes: bytes, accounts: 1, consumerAccounts: 1, generateSeconds: 1, fromCache: false,
    payload: { files, bytes }, archiveBytes: bytes,
    export: { ...rate(seconds), peakRssBytes: s(rss), cpuSeconds: s(seconds * 1.5) },
    ...(baselineSeconds === undefined ? {} : {
      baseline: { ...rate(baselineSeconds), steps: { manifest: s(1), sign: s(1), zip: s(1) } },
      verify: { scopex: { ...rate(1), peakRssBytes: s(rss), cpuSeconds: s(1.6) }, sha256sumCheck: rate(3), opensslDgst: rate(1.2) },
    }),
  };
}

describe('targetRows', () => {
  const large = world('large', 2, 20, 1e9, 100 * 1024 * 1024, 5);
  const small = world('small', 4, 50_000, 2e8, 300 * 1024 * 1024, 4);
  const figures: Figures = {
    disk: { bytesPerSecond: 5e8, runs: [] }, large, small, itemSeries: [], byteSeries: [], batch: null, cryptoCeiling: null, cores: 2, rssLimitBytes: RSS_LIMIT_BYTES,
  };
  const rows = targetRows(figures);
  const row = (start: string) => rows.find((candidate) => candidate.figure.startsWith(start))!;

  it('judges speed ratios against the targets', () => {
    expect(row('export large (').ratio).toBeCloseTo(2.5);
    expect(row('export large (').pass).toBe(true);
    expect(row('export large vs disk').ratio).toBeCloseTo(1.0);
    expect(row('export small').pass).toBe(true);
    expect(row('verify large vs sha256sum').ratio).toBeCloseTo(3);
    expect(row('verify large vs openssl').pass).toBe(true);
  });

  it("shows each verify's peak RSS after its figures, without a verdict", () => {
    const at = (start: string) => rows.findIndex((candidate) => candidate.figure.startsWith(start));
    expect(at('  peak RSS verify small')).toBeGreaterThan(at('verify small vs openssl'));
    expect(rows[at('  peak RSS verify small')]).toMatchObject({ figure: '  peak RSS verify small (50000 files)', scopex: '300.0 MiB', target: '', pass: null });
    expect(rows[at('  peak RSS verify large')]).toMatchObject({ scopex: '100.0 MiB', pass: null });
  });
  it('fails an export over the RSS limit and leaves unmeasured figures undecided', () => {
    expect(row('peak RSS export small').pass).toBe(false);
    expect(row('peak RSS export large').pass).toBe(true);
    expect(row('batch').pass).toBeNull();
    expect(row('items/s').pass).toBeNull();
  });
  it('renders one line per row under a header and a rule', () => {
    expect(renderTable(rows).split('\n')).toHaveLength(rows.length + 2);
  });
});

describe('ceilings', () => {
  const s = (...samples: number[]) => ({ median: samples[Math.floor(samples.length / 2)]!, min: Math.min(...samples), max: Math.max(...samples), samples });

  it('bounds the batch speedup by the 1-worker wall time over the 2-worker CPU time spread on every core', () => {
    const ceiling = batchCeiling(s(6), [9, 9, 9], [10, 10, 10])!;
    expect(ceiling.coresBusyWithOne).toBeCloseTo(1.5);
    expect(ceiling.speedupCeiling).toBeCloseTo((6 * os.availableParallelism()) / 10);
    expect(batchCeiling(s(6), [9, null], [10, 10])).toBeNull();
  });

  it('times the crypto work on one core and scales it by the cores', () => {
    const ceiling = measureCryptoCeiling(4, 1);
    expect(ceiling.bytes).toBe(4 * 1024 * 1024);
    expect(ceiling.oneCoreBytesPerSecond).toBeGreaterThan(0);
    expect(ceiling.allCoresBytesPerSecond).toBeCloseTo(ceiling.oneCoreBytesPerSecond * ceiling.cores);
  });

  it('times reading and writing the bytes through the kernel, and leaves no file behind', () => {
    const folder = mkdtempSync(path.join(os.tmpdir(), 'scopex-copy-cost-'));
    try {
      const cost = measureCopyCost(folder, 2, 1);
      expect(cost.bytes).toBe(2 * 1024 * 1024);
      // Written as the sealer writes an archive: past the page cache where this file system takes it.
      expect(cost.direct).toBe(directIoWorksIn(folder));
      expect(cost.steps).toContain(cost.direct ? 'O_DIRECT' : 'through the page cache');
      expect(cost.cpuSeconds).toBeGreaterThan(0);
      expect(readdirSync(folder)).toEqual([]);
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });

  it('adds the copies to the crypto work per byte before spreading it on the cores', () => {
    // 1 s of crypto and 1 s of copies per GB on one core: 2 s per GB, so 1 GB/s on 2 cores.
    const crypto = { steps: '', bytes: 1e9, seconds: 1, oneCoreBytesPerSecond: 1e9, cores: 2, allCoresBytesPerSecond: 2e9 };
    expect(withCopies(crypto, { steps: '', bytes: 5e8, direct: true, cpuSeconds: 0.5 })).toBeCloseTo(1e9);
    expect(withCopies({ ...crypto, seconds: Number.NaN }, { steps: '', bytes: 5e8, direct: true, cpuSeconds: 0.5 })).toBeUndefined();
  });

  it('puts each ceiling under the figure it bounds, as information only', () => {
    const crypto = { ...measureCryptoCeiling(1, 1), allCoresBytesPerSecond: 2.5e8 };
    const batch = {
      orders: 8, speedup: 1.2,
      concurrency1: { seconds: s(6), peakRssBytes: s(250 * 1024 * 1024) }, concurrency2: { seconds: s(5), peakRssBytes: s(300 * 1024 * 1024) },
      ceiling: batchCeiling(s(6), [9], [10]),
    } as unknown as BatchResult;
    const rows = targetRows({
      disk: { bytesPerSecond: 5e8, runs: [] }, large: world('large', 2, 20, 1e9, 1, 5), small: null,
      itemSeries: [], byteSeries: [], batch, cryptoCeiling: crypto, cores: 2, rssLimitBytes: RSS_LIMIT_BYTES,
      copyCost: { steps: '', bytes: crypto.bytes, direct: true, cpuSeconds: crypto.seconds },
    });
    const at = (start: string) => rows.findIndex((candidate) => candidate.figure.startsWith(start));
    expect(at('  ceiling: decrypt')).toBe(at('export large vs disk') + 1);
    expect(rows[at('  ceiling: decrypt')]).toMatchObject({ ratio: 0.5, pass: null });
    // Copies that cost as much CPU per byte as the crypto halve what the cores can do.
    expect(at('  ceiling: the same + reading')).toBe(at('  ceiling: decrypt') + 1);
    expect(rows[at('  ceiling: the same + reading')]!.ratio).toBeCloseTo((crypto.oneCoreBytesPerSecond * crypto.cores) / 2 / 5e8);
    expect(rows[at('  ceiling: the same + reading')]!.pass).toBeNull();
    expect(at('  ceiling: 1 worker')).toBe(at('batch') + 1);
    expect(rows[at('  ceiling: 1 worker')]!.ratio).toBeCloseTo((6 * os.availableParallelism()) / 10);
    expect(rows[at('  ceiling: 1 worker')]!.pass).toBeNull();
    // The batch's peak RSS is shown under it, each concurrency's own, and not judged (the target is per export).
    expect(at('  peak RSS batch, 1 worker')).toBe(at('  ceiling: 1 worker') + 1);
    expect(rows[at('  peak RSS batch, 1 worker')]).toMatchObject({ scopex: '250.0 MiB', target: '', pass: null });
    expect(rows[at('  peak RSS batch, 2 workers')]).toMatchObject({ scopex: '300.0 MiB', target: '', pass: null });
  });

  it("puts the small export's CPU work spread on every core under its figure", () => {
    const small = world('small', 4, 50_000, 2e8, 1, 4);
    const rows = targetRows({ disk: null, large: null, small, itemSeries: [], byteSeries: [], batch: null, cryptoCeiling: null, cores: 2, rssLimitBytes: RSS_LIMIT_BYTES });
    const at = rows.findIndex((candidate) => candidate.figure.startsWith('  ceiling: its CPU work'));
    expect(rows[at - 1]!.figure).toMatch(/^export small/);
    // 6 CPU seconds on 2 cores: 3 s at best, against the baseline's 4 s.
    expect(rows[at]!.ratio).toBeCloseTo(4 / 3);
    expect(rows[at]!.pass).toBeNull();
  });

  it('puts the floor pipeline under the small export (as timed, and its CPU spread on every core) and the verify floor under each verify figure', () => {
    const small = world('small', 4, 50_000, 2e8, 1, 4);
    const s = (value: number) => ({ median: value, min: value, max: value, samples: [value] });
    // 49,000 items in 3.5 s (14,000 items/s), 5 CPU seconds: 2.5 s on 2 cores; the baseline: 50,000 files in 4 s.
    small.floor = { seconds: s(3.5), mbPerSecond: 50, itemsPerSecond: 14_000, items: 49_000, cpuSeconds: s(5) };
    const rows = targetRows({ disk: null, large: null, small, itemSeries: [], byteSeries: [], batch: null, cryptoCeiling: null, cores: 2, rssLimitBytes: RSS_LIMIT_BYTES });
    const at = rows.findIndex((candidate) => candidate.figure.startsWith('  floor: read'));
    expect(rows[at - 2]!.figure).toMatch(/^export small/);
    expect(rows[at]).toMatchObject({ figure: expect.stringContaining('(49000 items)'), pass: null });
    expect(rows[at]!.ratio).toBeCloseTo(14_000 / 12_500);
    expect(rows[at + 1]).toMatchObject({ figure: expect.stringMatching(/^ {2}floor: its CPU work \(5\.00 s\) spread on 2 cores/), pass: null });
    expect(rows[at + 1]!.ratio).toBeCloseTo(49_000 / 2.5 / 12_500);
    // The verify floor: 50,000 files in 0.5 s, against sha256sum -c's 3 s and openssl dgst's 1.2 s.
    const verify = small.verify!;
    verify.floor = { seconds: s(0.5), mbPerSecond: 400, itemsPerSecond: 100_000 };
    const withVerifyFloor = targetRows({ disk: null, large: null, small, itemSeries: [], byteSeries: [], batch: null, cryptoCeiling: null, cores: 2, rssLimitBytes: RSS_LIMIT_BYTES });
    const under = (start: string) => withVerifyFloor[withVerifyFloor.findIndex((candidate) => candidate.figure.startsWith(start)) + 2]!;
    expect(under('verify small vs sha256sum')).toMatchObject({ figure: '  floor: every file hashed against the manifest, alone', pass: null });
    expect(under('verify small vs sha256sum').ratio).toBeCloseTo(3 / 0.5);
    expect(under('verify small vs openssl').ratio).toBeCloseTo(1.2 / 0.5);
    delete verify.floor;
    delete small.floor;
    const without = targetRows({ disk: null, large: null, small, itemSeries: [], byteSeries: [], batch: null, cryptoCeiling: null, cores: 2, rssLimitBytes: RSS_LIMIT_BYTES });
    expect(without.some((row) => row.figure.includes('floor'))).toBe(false);
  });

  it("puts the verify's CPU work spread on every core under each verify figure, against that figure's baseline", () => {
    const small = world('small', 4, 50_000, 2e8, 1, 4);
    const rows = targetRows({ disk: null, large: null, small, itemSeries: [], byteSeries: [], batch: null, cryptoCeiling: null, cores: 2, rssLimitBytes: RSS_LIMIT_BYTES });
    const at = (start: string) => rows.findIndex((candidate) => candidate.figure.startsWith(start));
    // 1.6 CPU seconds on 2 cores: 0.8 s at best, against sha256sum -c's 3 s and openssl dgst's 1.2 s.
    expect(rows[at('verify small vs sha256sum') + 1]).toMatchObject({ figure: expect.stringMatching(/^ {2}ceiling: its CPU work \(1\.60 s\)/), pass: null });
    expect(rows[at('verify small vs sha256sum') + 1]!.ratio).toBeCloseTo(3 / 0.8);
    expect(rows[at('verify small vs openssl') + 1]!.ratio).toBeCloseTo(1.2 / 0.8);
    expect(rows[at('verify small vs openssl') + 1]!.scopex).toBe(rows[at('verify small vs sha256sum') + 1]!.scopex);
  });

  it("reads GNU time's peak RSS and CPU seconds, after a failed command's status line too", () => {
    const folder = mkdtempSync(path.join(os.tmpdir(), 'scopex-bench-usage-'));
    try {
      const file = path.join(folder, 'usage');
      writeFileSync(file, 'Command exited with non-zero status 3\n204800 1.25 0.50\n');
      expect(readGnuTimeUsage(file)).toEqual({ maxRssKib: 204800, cpuSeconds: 1.75 });
      writeFileSync(file, '204800\n');
      expect(() => readGnuTimeUsage(file)).toThrow(/KiB user system/);
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });
});

describe('parseOptions and planFor', () => {
  it('runs once with --quick unless --runs says otherwise, and three times by default', () => {
    expect(parseOptions(['--quick'])).toMatchObject({ quick: true, runs: 1 });
    expect(parseOptions(['--quick', '--runs', '5'])).toMatchObject({ runs: 5 });
    expect(parseOptions([])).toMatchObject({ quick: false, runs: 3, series: false });
  });
  it('refuses a run count that is not a positive integer, and unknown flags', () => {
    expect(() => parseOptions(['--runs', '0'])).toThrow();
    expect(() => parseOptions(['--runs', 'two'])).toThrow();
    expect(() => parseOptions(['--fast'])).toThrow();
  });
  it('grows the series from small to big and keeps quick worlds tiny', () => {
    const full = planFor(parseOptions([]) as BenchOptions);
    expect(full.itemSeries[0]!.bytes).toBeLessThan(full.small.bytes);
    expect(full.itemSeries[1]!.bytes).toBeGreaterThan(full.small.bytes);
    expect(full.byteSeries[1]!.bytes).toBeGreaterThan(full.large.bytes);
    const quick = planFor(parseOptions(['--quick']) as BenchOptions);
    expect(quick.large.bytes).toBeLessThan(128 * 1024 * 1024);
    expect(quick.batch).toBe('small');
  });
});

describe('warmPageCache', () => {
  it('reads every file under a folder once, sub-folders too, and counts what it read', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'scopex-warm-'));
    try {
      mkdirSync(path.join(dir, 'mail', 'acct-1', 'blobs'), { recursive: true });
      writeFileSync(path.join(dir, 'directory.json'), '{}');
      writeFileSync(path.join(dir, 'mail', 'acct-1', 'blobs', 'm-1'), Buffer.alloc(3 * 1024 * 1024 + 5, 1));
      writeFileSync(path.join(dir, 'mail', 'acct-1', 'index.jsonl'), '');
      const warmed = warmPageCache(dir);
      expect(warmed.files).toBe(3);
      expect(warmed.bytes).toBe(2 + 3 * 1024 * 1024 + 5);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
