// One world's figures: scopex export (time, peak RSS), the shell baseline on the same plaintext,
// and scopex verify against sha256sum -c and openssl dgst over the same bytes.
import { existsSync, mkdirSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { extractArchive, payloadInArchive, payloadOnDisk, runOpensslDigest, runSha256sumCheck, runShellBaseline, type BaselineRun, type Payload } from './baseline.js';
import { storedItemFiles, writeItemList } from './floor-pipeline.js';
import { runTimed, type TimedRun } from './process-timer.js';
import { MB, repeat, summarize, type Summary } from './stats.js';
import { cli, consumerAccounts, warmPageCache, warmStores, writeApprovedOrder, type World } from './world.js';

export interface Rates {
  mbPerSecond: number;
  itemsPerSecond: number;
}

export interface TimedFigure extends Rates {
  seconds: Summary;
}

export interface WorldResult {
  label: string;
  profile: string;
  requestedBytes: number;
  accounts: number;
  consumerAccounts: number;
  generateSeconds: number | null;
  fromCache: boolean;
  payload: Payload;
  archiveBytes: number;
  /** cpuSeconds: user + system of every thread (GNU time), null when it could not be read. */
  export: TimedFigure & { peakRssBytes: Summary; cpuSeconds: Summary | null };
  baseline?: TimedFigure & { steps: { manifest: Summary; sign: Summary; zip: Summary } };
  /**
   * The floor pipeline (floor-pipeline.ts) on the stored items the order covers: the least a Node pipeline on
   * archiver does for them. Its rates count its own items, which are the payload less the few files scopex writes
   * itself (metadata lines, subscriber records).
   */
  floor?: TimedFigure & { items: number; cpuSeconds: Summary | null };
  verify?: {
    /** cpuSeconds as for the export. */
    scopex: TimedFigure & { peakRssBytes: Summary; cpuSeconds: Summary | null };
    sha256sumCheck: TimedFigure;
    opensslDgst: TimedFigure;
    /** The verify floor (verify-floor.ts) on the same archive: the payload checked against the manifest, alone. */
    floor?: TimedFigure;
  };
}

export interface WorldBenchOptions {
  runs: number;
  /** Extract the archive and run the shell baseline and the verify comparison too. */
  compare: boolean;
  /** With compare: time the floor pipeline on the same stored items too. */
  floor?: boolean;
  log: (message: string) => void;
}

export function rates(payload: Payload, seconds: number): Rates {
  return { mbPerSecond: payload.bytes / MB / seconds, itemsPerSecond: payload.files / seconds };
}

function figure(payload: Payload, seconds: Summary): TimedFigure {
  return { seconds, ...rates(payload, seconds.median) };
}

export async function benchWorld(world: World, workDir: string, options: WorldBenchOptions): Promise<WorldResult> {
  const { runs, log } = options;
  const label = world.spec.label;
  const consumers = consumerAccounts(world);
  const orderFile = await writeApprovedOrder(world, `BENCH-${label}`, consumers, path.join(workDir, 'orders'));
  const exportDir = path.join(workDir, 'export');
  mkdirSync(exportDir, { recursive: true });
  const archive = path.join(exportDir, `BENCH-${label}.zip`);
  // From a warm page cache, as the baseline's files are (it reads files it has just written). Every timed step reads
  // its input once more just before it (untimed): this host lets go of page-cached files within minutes even with
  // most of its memory free (1.6 GB of stores fell to 1.26 GB in 100 s), so a run late in a round would otherwise
  // read from the disk what the first run read from memory.
  warmStores(world, log);
  const stores = path.join(world.dir, 'stores');

  const exportOnce = async (index: number): Promise<TimedRun> => {
    rmSync(archive, { force: true });
    warmPageCache(stores);
    const run = await runTimed(process.execPath, [cli.entry, 'export', orderFile, '--out', exportDir, '--config', world.config, '--json', '--force'], { measureRss: true });
    if (run.exitCode !== 0) throw new Error(`scopex export (${label}) exited with ${run.exitCode}: ${lastLines(run.stderr || run.stdout)}`);
    if (!existsSync(archive)) throw new Error(`scopex export (${label}) exited 0 but ${archive} does not exist`);
    const cpu = run.cpuSeconds === null ? '' : `, CPU ${run.cpuSeconds.toFixed(2)} s`;
    log(`  ${label}: export run ${index + 1}/${runs}: ${run.seconds.toFixed(2)} s${cpu}, peak RSS ${mib(run.peakRssBytes)}`);
    return run;
  };

  if (!options.compare) {
    const exports = await repeat(runs, exportOnce, (run) => run.seconds);
    const payload = await payloadInArchive(archive);
    return {
      ...header(world, consumers.length, payload, statSync(archive).size),
      export: exportFigure(payload, exports.results),
    };
  }

  // Export, shell baseline and floor take turns, round by round: this host's speed drifts by a third within minutes,
  // and three blocks run one after another would each catch another part of that drift. The baseline works on the
  // plaintext the first export delivered, extracted once (untimed) after it.
  const signer = { certificate: path.join(world.dir, 'pki', 'signer.cert.pem'), key: path.join(world.dir, 'pki', 'signer.key.pem') };
  const baselineZip = path.join(workDir, 'baseline.zip');
  const floorItems = options.floor ? writeFloorItems(world, consumers.map((account) => account.id), workDir) : undefined;
  const exports: TimedRun[] = [];
  const baselines: BaselineRun[] = [];
  const floorRuns: FloorRun[] = [];
  let bag: { dir: string; payload: Payload } | undefined;
  for (let index = 0; index < runs; index++) {
    exports.push(await exportOnce(index));
    if (!bag) {
      const dir = await extractArchive(archive, path.join(workDir, 'unzipped'));
      bag = { dir, payload: payloadOnDisk(path.join(dir, 'data')) };
      log(`  ${label}: payload ${bag.payload.files} files, ${(bag.payload.bytes / MB).toFixed(1)} MB`);
    }
    warmPageCache(bag.dir);
    const baseline = await runShellBaseline(bag.dir, signer, baselineZip);
    log(`  ${label}: baseline run ${index + 1}/${runs}: ${baseline.seconds.toFixed(2)} s (manifest ${baseline.steps.manifest.toFixed(2)}, sign ${baseline.steps.sign.toFixed(2)}, zip ${baseline.steps.zip.toFixed(2)})`);
    baselines.push(baseline);
    if (floorItems) {
      warmPageCache(stores);
      floorRuns.push(await runFloor(floorItems, workDir, label, `${index + 1}/${runs}`, log));
    }
  }
  if (!bag) throw new Error(`world ${label}: no export was run (runs = ${runs})`);
  const { dir: bagDir, payload } = bag;
  const archiveBytes = statSync(archive).size;
  const floor = floorRuns.length > 0 ? floorFigure(floorRuns) : undefined;

  const scopexVerify: { seconds: number; rss: number; cpuSeconds: number | null }[] = [];
  const sumCheck: number[] = [];
  const dgst: number[] = [];
  const verifyFloorRuns: number[] = [];
  for (let index = 0; index < runs; index++) {
    warmPageCache(exportDir);
    const run = await runTimed(process.execPath, [cli.entry, 'verify', archive, '--trust', path.join(world.dir, 'pki', 'ca.cert.pem'), '--config', world.config, '--json'], { measureRss: true });
    if (run.exitCode !== 0) throw new Error(`scopex verify (${label}) exited with ${run.exitCode}: ${lastLines(run.stderr || run.stdout)}`);
    scopexVerify.push({ seconds: run.seconds, rss: run.peakRssBytes ?? Number.NaN, cpuSeconds: run.cpuSeconds });
    warmPageCache(bagDir);
    sumCheck.push(await runSha256sumCheck(bagDir));
    warmPageCache(bagDir);
    dgst.push(await runOpensslDigest(bagDir));
    if (options.floor) {
      warmPageCache(exportDir);
      verifyFloorRuns.push(await runVerifyFloor(archive, payload, label));
    }
    const cpu = run.cpuSeconds === null ? '' : ` (CPU ${run.cpuSeconds.toFixed(2)} s)`;
    const floorText = options.floor ? `, floor ${verifyFloorRuns.at(-1)!.toFixed(2)} s` : '';
    log(`  ${label}: verify run ${index + 1}/${runs}: scopex ${run.seconds.toFixed(2)} s${cpu}, sha256sum -c ${sumCheck.at(-1)!.toFixed(2)} s, openssl dgst ${dgst.at(-1)!.toFixed(2)} s${floorText}`);
  }

  return {
    ...header(world, consumers.length, payload, archiveBytes),
    export: exportFigure(payload, exports),
    baseline: {
      ...figure(payload, summarize(baselines.map((run) => run.seconds))),
      steps: {
        manifest: summarize(baselines.map((run) => run.steps.manifest)),
        sign: summarize(baselines.map((run) => run.steps.sign)),
        zip: summarize(baselines.map((run) => run.steps.zip)),
      },
    },
    ...(floor ? { floor } : {}),
    verify: {
      scopex: {
        ...figure(payload, summarize(scopexVerify.map((run) => run.seconds))),
        peakRssBytes: summarize(scopexVerify.map((run) => run.rss)),
        cpuSeconds: summarizeCpu(scopexVerify.map((run) => run.cpuSeconds)),
      },
      sha256sumCheck: figure(payload, summarize(sumCheck)),
      opensslDgst: figure(payload, summarize(dgst)),
      ...(verifyFloorRuns.length > 0 ? { floor: figure(payload, summarize(verifyFloorRuns)) } : {}),
    },
  };
}

/** One run of the verify floor on the archive; it must find every payload file and no mismatch, as scopex did. */
async function runVerifyFloor(archive: string, payload: Payload, label: string): Promise<number> {
  const script = path.join(path.dirname(fileURLToPath(import.meta.url)), 'verify-floor.js');
  const run = await runTimed(process.execPath, [script, archive]);
  if (run.exitCode !== 0) throw new Error(`the verify floor (${label}) exited with ${run.exitCode}: ${lastLines(run.stderr || run.stdout)}`);
  const found = JSON.parse(run.stdout) as { payloadFiles: number; listed: number; mismatched: number };
  if (found.payloadFiles !== payload.files || found.listed !== payload.files || found.mismatched !== 0) {
    throw new Error(`the verify floor (${label}) disagrees with the archive: ${run.stdout.trim()} for ${payload.files} payload files`);
  }
  return run.seconds;
}

/** The list of stored blobs the floor pipeline reads: those of the accounts the order names. */
function writeFloorItems(world: World, accountIds: readonly string[], workDir: string): string {
  const list = path.join(workDir, 'floor-items.txt');
  writeItemList(list, storedItemFiles(world.dir, accountIds));
  return list;
}

interface FloorRun extends TimedRun {
  zipped: { items: number; bytes: number };
}

/** One run of the floor pipeline on the listed items; its output is removed again. */
async function runFloor(list: string, workDir: string, label: string, which: string, log: (message: string) => void): Promise<FloorRun> {
  const script = path.join(path.dirname(fileURLToPath(import.meta.url)), 'floor-pipeline.js');
  const out = path.join(workDir, 'floor.zip');
  rmSync(out, { force: true });
  const run = await runTimed(process.execPath, [script, list, out], { measureRss: true });
  rmSync(out, { force: true });
  if (run.exitCode !== 0) throw new Error(`the floor pipeline (${label}) exited with ${run.exitCode}: ${lastLines(run.stderr || run.stdout)}`);
  const zipped = JSON.parse(run.stdout) as { items: number; bytes: number };
  const cpu = run.cpuSeconds === null ? '' : `, CPU ${run.cpuSeconds.toFixed(2)} s`;
  log(`  ${label}: floor run ${which}: ${zipped.items} items in ${run.seconds.toFixed(2)} s${cpu}`);
  return { ...run, zipped };
}

function floorFigure(runs: readonly FloorRun[]): NonNullable<WorldResult['floor']> {
  // Every run zips the same list: the last one's count stands for all.
  const { zipped } = runs.at(-1)!;
  return {
    ...figure({ files: zipped.items, bytes: zipped.bytes }, summarize(runs.map((run) => run.seconds))),
    items: zipped.items,
    cpuSeconds: summarizeCpu(runs.map((run) => run.cpuSeconds)),
  };
}

function exportFigure(payload: Payload, runs: readonly TimedRun[]): WorldResult['export'] {
  return {
    ...figure(payload, summarize(runs.map((run) => run.seconds))),
    peakRssBytes: summarize(runs.map((run) => run.peakRssBytes ?? Number.NaN)),
    cpuSeconds: summarizeCpu(runs.map((run) => run.cpuSeconds)),
  };
}

/** The CPU seconds of every run, or null when any could not be read. */
function summarizeCpu(runs: readonly (number | null)[]): Summary | null {
  return runs.length > 0 && runs.every((value): value is number => value !== null) ? summarize(runs) : null;
}

function header(world: World, consumers: number, payload: Payload, archiveBytes: number): Omit<WorldResult, 'export'> {
  return {
    label: world.spec.label,
    profile: world.spec.profile,
    requestedBytes: world.spec.bytes,
    accounts: world.spec.accounts,
    consumerAccounts: consumers,
    generateSeconds: world.generateSeconds,
    fromCache: world.fromCache,
    payload,
    archiveBytes,
  };
}

export function mib(bytes: number | null): string {
  return bytes === null || !Number.isFinite(bytes) ? 'n/a' : `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

export function lastLines(text: string): string {
  return text.trim().split('\n').slice(-4).join(' | ').slice(0, 600);
}
