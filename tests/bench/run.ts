// `npm run bench`: scopex export, verify and batch side by side with the shell baseline (issue 7).
// Generates its worlds in a temp folder, prints a table and writes every figure as JSON.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { benchBatch, type BatchResult } from './batch-bench.js';
import { measureCopyCost, measureCryptoCeiling, withCopies } from './ceilings.js';
import { measureDiskWrite, type DiskSpeed } from './disk-speed.js';
import { parseOptions, planFor, USAGE, type BenchOptions } from './options.js';
import { rssMethod } from './process-timer.js';
import { MiB, summarize } from './stats.js';
import { formatBytes, renderTable } from './table.js';
import { RSS_LIMIT_BYTES, targetRows, type Figures } from './targets.js';
import { approvalFallbacks, buildWorld, cli, repoRoot, type World, type WorldSpec } from './world.js';
import { benchWorld, type WorldResult } from './world-bench.js';

const started = Date.now();
const log = (message: string): void => {
  process.stderr.write(`[bench ${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s] ${message}\n`);
};

/** Disk a world needs while it is benchmarked: the stores, one archive, the unzipped copy, the baseline zip. */
const SPACE_FACTOR_COMPARE = 4.3;
const SPACE_FACTOR_EXPORT_ONLY = 2.2;
const SPACE_MARGIN = 256 * MiB;

interface Section {
  name: string;
  status: 'done' | 'skipped' | 'failed';
  message?: string;
  seconds: number;
}

async function main(argv: string[]): Promise<number> {
  let options: BenchOptions | 'help';
  try {
    options = parseOptions(argv);
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n\n${USAGE}`);
    return 2;
  }
  if (options === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  if (options.cli) cli.entry = path.resolve(options.cli);
  if (!existsSync(cli.entry)) {
    process.stderr.write(`${cli.entry} does not exist: build first (npm run build, or run this through npm run bench)\n`);
    return 2;
  }
  const opts = options;
  const plan = planFor(opts);
  mkdirSync(opts.tmpDir, { recursive: true });
  const root = mkdtempSync(path.join(opts.tmpDir, 'scopex-bench-'));
  const resultsFile = path.resolve(opts.out ?? path.join(root, 'bench-results.json'));
  const worldsDir = path.join(root, 'worlds');
  const workRoot = path.join(root, 'work');
  const cleanupAll = (): void => {
    if (opts.keep) return;
    rmSync(worldsDir, { recursive: true, force: true });
    rmSync(workRoot, { recursive: true, force: true });
    if (existsSync(root) && readdirSync(root).length === 0) rmSync(root, { recursive: true, force: true });
  };
  process.once('SIGINT', () => {
    log('interrupted: cleaning up');
    cleanupAll();
    process.exit(130);
  });
  log(`temp folder ${root}; ${opts.quick ? 'quick' : 'full'} run, ${opts.runs} run(s) per figure, peak RSS by ${rssMethod()}`);

  const sections: Section[] = [];
  const section = async <T>(name: string, needBytes: number, body: () => Promise<T>): Promise<T | null> => {
    const sectionStart = Date.now();
    const free = freeBytes(root);
    if (free < needBytes + SPACE_MARGIN) {
      const message = `needs about ${formatBytes(needBytes + SPACE_MARGIN)} free in ${root}, only ${formatBytes(free)} is`;
      log(`${name}: skipped: ${message}`);
      sections.push({ name, status: 'skipped', message, seconds: 0 });
      return null;
    }
    log(`${name}: start`);
    try {
      const result = await body();
      sections.push({ name, status: 'done', seconds: (Date.now() - sectionStart) / 1000 });
      log(`${name}: done in ${((Date.now() - sectionStart) / 1000).toFixed(1)} s`);
      return result;
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      sections.push({ name, status: 'failed', message, seconds: (Date.now() - sectionStart) / 1000 });
      log(`${name}: FAILED: ${message}`);
      return null;
    }
  };

  const withWorld = async <T>(spec: WorldSpec, use: (world: World, workDir: string) => Promise<T>): Promise<T> => {
    log(`  ${spec.label}: generating ${spec.profile} world of ${formatBytes(spec.bytes)}, ${spec.accounts} accounts${opts.cacheDir ? ' (cache)' : ''}`);
    const world = await buildWorld(spec, worldsDir, opts.cacheDir ? path.resolve(opts.cacheDir) : null);
    log(`  ${spec.label}: world ${world.fromCache ? 'from cache' : `generated in ${world.generateSeconds?.toFixed(1)} s`}`);
    const workDir = path.join(workRoot, spec.label);
    mkdirSync(workDir, { recursive: true });
    try {
      return await use(world, workDir);
    } finally {
      if (!opts.keep) {
        rmSync(workDir, { recursive: true, force: true });
        if (!opts.cacheDir) rmSync(world.dir, { recursive: true, force: true });
      }
    }
  };
  const worldSpace = (spec: WorldSpec, factor: number): number => (opts.cacheDir ? factor - 1.05 : factor) * spec.bytes;

  const diskRuns = await section('disk write speed', opts.diskMiB * MiB, async () => {
    const runs: DiskSpeed[] = [];
    for (let index = 0; index < opts.runs; index++) {
      const run = await measureDiskWrite(root, opts.diskMiB);
      log(`  disk run ${index + 1}/${opts.runs}: ${(run.bytesPerSecond / 1e6).toFixed(0)} MB/s (${run.method})`);
      runs.push(run);
    }
    return runs;
  });
  const disk = diskRuns ? { bytesPerSecond: summarize(diskRuns.map((run) => run.bytesPerSecond)).median, runs: diskRuns } : null;
  const cryptoCeiling = await section('crypto ceiling', 0, () => {
    const ceiling = measureCryptoCeiling(opts.quick ? 128 : 512);
    log(`  ${(ceiling.oneCoreBytesPerSecond / 1e6).toFixed(0)} MB/s on one core, ${(ceiling.allCoresBytesPerSecond / 1e6).toFixed(0)} MB/s on ${ceiling.cores} (${ceiling.steps})`);
    return Promise.resolve(ceiling);
  });
  const copyMiB = opts.quick ? 128 : 512;
  const copyCost = await section('copy cost', 2 * copyMiB * MiB, () => {
    const cost = measureCopyCost(root, copyMiB);
    const withIo = cryptoCeiling ? withCopies(cryptoCeiling, cost) : undefined;
    const ceilingText = withIo === undefined ? '' : `; with the crypto, ${(withIo / 1e6).toFixed(0)} MB/s on ${cryptoCeiling?.cores} cores`;
    log(`  ${(cost.bytes / cost.cpuSeconds / 1e6).toFixed(0)} MB/s of CPU on one core (${cost.steps})${ceilingText}`);
    return Promise.resolve(cost);
  });

  const compare = (spec: WorldSpec): Promise<WorldResult | null> =>
    section(`world ${spec.label}`, worldSpace(spec, SPACE_FACTOR_COMPARE), () =>
      withWorld(spec, (world, workDir) => benchWorld(world, workDir, { runs: opts.runs, compare: true, log })));
  const exportOnly = (spec: WorldSpec): Promise<WorldResult | null> =>
    section(`series ${spec.label}`, worldSpace(spec, SPACE_FACTOR_EXPORT_ONLY), () =>
      withWorld(spec, (world, workDir) => benchWorld(world, workDir, { runs: opts.runs, compare: false, log })));

  const large = await compare(plan.large);
  let batch: BatchResult | null = null;
  const batchOnSmall = plan.batch === 'small' && !opts.skipBatch;
  const small = await section(`world ${plan.small.label}`, worldSpace(plan.small, SPACE_FACTOR_COMPARE), () =>
    withWorld(plan.small, async (world, workDir) => {
      const result = await benchWorld(world, workDir, { runs: opts.runs, compare: true, floor: true, log });
      if (batchOnSmall) batch = await section('batch', 0, () => benchBatch(world, plan.batchOrders, path.join(workDir, 'batch'), opts.runs, log));
      return result;
    }));
  if (opts.skipBatch) sections.push({ name: 'batch', status: 'skipped', message: '--skip-batch', seconds: 0 });
  else if (plan.batch !== 'small') {
    const spec = plan.batch;
    batch = await section('batch', worldSpace(spec, SPACE_FACTOR_EXPORT_ONLY), () =>
      withWorld(spec, (world, workDir) => benchBatch(world, plan.batchOrders, workDir, opts.runs, log)));
  }

  const itemSeries: WorldResult[] = [];
  const byteSeries: WorldResult[] = [];
  if (opts.series) {
    const [itemsLow, itemsHigh] = plan.itemSeries;
    const [bytesLow, bytesHigh] = plan.byteSeries;
    const pushIf = (list: WorldResult[], result: WorldResult | null): void => {
      if (result) list.push(result);
    };
    if (itemsLow) pushIf(itemSeries, await exportOnly(itemsLow));
    pushIf(itemSeries, small);
    if (bytesLow) pushIf(byteSeries, await exportOnly(bytesLow));
    pushIf(byteSeries, large);
    if (opts.skipBiggest) {
      sections.push({ name: 'series biggest worlds', status: 'skipped', message: '--skip-biggest', seconds: 0 });
    } else {
      if (itemsHigh) pushIf(itemSeries, await exportOnly(itemsHigh));
      if (bytesHigh) pushIf(byteSeries, await exportOnly(bytesHigh));
    }
  } else {
    sections.push({ name: 'scaling series', status: 'skipped', message: 'not asked for (--series)', seconds: 0 });
  }

  const figures: Figures = { disk, large, small, itemSeries, byteSeries, batch, cryptoCeiling, copyCost, cores: os.availableParallelism(), rssLimitBytes: RSS_LIMIT_BYTES };
  const rows = targetRows(figures);
  const results = {
    schema: 'scopex.bench/v1',
    startedAt: new Date(started).toISOString(),
    seconds: (Date.now() - started) / 1000,
    machine: machineFacts(),
    scopex: gitFacts(),
    options: { ...opts, tmpDir: root },
    methods: {
      timing: 'wall clock of each child process (process.hrtime), median of the runs; min and max kept',
      rates: 'MB = 10^6 bytes of payload (files under the bag\'s data/), items = payload files; same bytes for scopex and the baselines',
      peakRss: rssMethod() === 'gnu-time' ? '/usr/bin/time -f %M (maxrss of the child, KiB)' : '/proc/<pid>/status VmHWM polled every 20 ms',
      disk: `dd if=/dev/zero bs=1M count=${opts.diskMiB} oflag=direct (conv=fdatasync where O_DIRECT is refused), in the temp folder`,
      baseline: 'find data -type f -print0 | xargs -0 sha256sum > manifest; openssl cms -sign -binary -outform DER -md sha256 (detached) of it; zip -0 -r -q of data, manifest and signature; time = sum of the three',
      verifyBaselines: 'sha256sum -c --quiet manifest; find data -type f -print0 | xargs -0 openssl dgst -sha256, over the unzipped archive',
      pageCache: 'warm: every timed step reads its input once, untimed, just before it (stores, unzipped files, archive); the host evicts page-cached files on its own within minutes',
      ceilings:
        'crypto: AES-256-GCM decrypt + 2 SHA-256 + CRC-32 of 1 MiB chunks from memory on one thread, fastest of 3 rounds, times the cores; ' +
        'crypto + copies: the same with the CPU (this process, user + system, fastest of 3 rounds) of reading a page-cached file and writing it to a new one in 1 MiB pieces plus fsync, added per byte; ' +
        "batch: 1 worker's median wall seconds x cores / 2 workers' median CPU seconds (GNU time %U + %S); " +
        'export small: payload files / (median export CPU seconds / cores); ' +
        'floor: tests/bench/floor-pipeline.ts on the stored items the order covers (a worker reads, decrypts and hashes each, archiver zips them on the main thread, nothing else), median wall seconds and, spread on the cores, median CPU seconds; ' +
        'verify floor: tests/bench/verify-floor.ts on the same archive (central directory, then each payload file hashed and compared with the manifest, one thread), median wall seconds',
    },
    disk,
    ceilings: { crypto: cryptoCeiling, copies: copyCost, batch: (batch as BatchResult | null)?.ceiling ?? null },
    worlds: { large, small },
    series: { items: itemSeries, bytes: byteSeries },
    batch,
    ordersApprovedInProcess: [...approvalFallbacks],
    targets: rows,
    sections,
  };
  mkdirSync(path.dirname(resultsFile), { recursive: true });
  writeFileSync(resultsFile, `${JSON.stringify(results, null, 2)}\n`);
  cleanupAll();

  process.stdout.write(`\n${renderTable(rows)}\n\n`);
  for (const entry of sections.filter((item) => item.status !== 'done')) {
    process.stdout.write(`${entry.status}: ${entry.name}: ${entry.message ?? ''}\n`);
  }
  if (opts.quick) {
    process.stdout.write('note: --quick worlds are tiny, so process start-up weighs on every scopex figure; judge the targets on a full run\n');
  }
  if (approvalFallbacks.size > 0) {
    process.stdout.write(`note: this build has no \`scopex order approve\`; orders of ${[...approvalFallbacks].join(', ')} were signed in-process with signOrder\n`);
  }
  process.stdout.write(`figures: ${resultsFile}\n`);
  if (opts.keep) process.stdout.write(`kept: ${root}\n`);
  return sections.some((item) => item.status === 'failed') ? 1 : 0;
}

function freeBytes(folder: string): number {
  const stats = statfsSync(folder);
  return Number(stats.bavail) * Number(stats.bsize);
}

function machineFacts(): Record<string, unknown> {
  const cpus = os.cpus();
  return {
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
    cpus: cpus.length,
    cpuModel: cpus[0]?.model ?? 'unknown',
    memoryBytes: os.totalmem(),
    loadAverageAtEnd: os.loadavg(),
  };
}

function gitFacts(): Record<string, unknown> {
  const git = (args: string[]): string => {
    try {
      return execFileSync('git', args, { cwd: repoRoot, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    } catch {
      return 'unknown';
    }
  };
  return { commit: git(['rev-parse', 'HEAD']), dirtyFiles: git(['status', '--porcelain']).split('\n').filter(Boolean).length };
}

process.exitCode = await main(process.argv.slice(2));
