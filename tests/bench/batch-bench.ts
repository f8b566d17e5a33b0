// The batch figure: one world's consumer accounts split over N orders, exported by `scopex batch`
// with one worker and with two, alternating so drift on a shared machine hits both alike.
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { batchCeiling, type BatchCeiling } from './ceilings.js';
import { runTimed } from './process-timer.js';
import { summarize, type Summary } from './stats.js';
import { cli, consumerAccounts, warmPageCache, warmStores, writeApprovedOrder, type DirectoryAccount, type World } from './world.js';
import { lastLines, mib } from './world-bench.js';

export interface BatchResult {
  world: string;
  orders: number;
  accountsPerOrder: number[];
  concurrency1: { seconds: Summary; peakRssBytes: Summary };
  concurrency2: { seconds: Summary; peakRssBytes: Summary };
  /** seconds with 1 worker / seconds with 2 (medians): higher is better. */
  speedup: number;
  /** What 2 workers could reach with the CPU work they did (null when CPU time was not measured). */
  ceiling: BatchCeiling | null;
}

export async function benchBatch(world: World, orderCount: number, workDir: string, runs: number, log: (message: string) => void): Promise<BatchResult> {
  const consumers = consumerAccounts(world);
  if (consumers.length < orderCount) {
    throw new Error(`batch world has ${consumers.length} consumer accounts; ${orderCount} orders need at least ${orderCount}`);
  }
  const groups: DirectoryAccount[][] = Array.from({ length: orderCount }, () => []);
  consumers.forEach((account, index) => groups[index % orderCount]!.push(account));
  // Approvals are independent CLI runs dominated by start-up: two at a time (the machine has two cores).
  const orders: string[] = new Array<string>(orderCount);
  let next = 0;
  const approveNext = async (): Promise<void> => {
    while (next < orderCount) {
      const index = next++;
      orders[index] = await writeApprovedOrder(world, `BENCH-batch-${index + 1}`, groups[index]!, path.join(workDir, 'orders'));
    }
  };
  await Promise.all([approveNext(), approveNext()]);
  // Both concurrencies from a warm page cache: otherwise the first run (with 1 worker) alone reads from the disk. The
  // stores are read again before each run, as in world-bench.ts: this host lets go of page-cached files on its own.
  warmStores(world, log);

  const timings: Record<1 | 2, { seconds: number[]; rss: number[]; cpu: (number | null)[] }> = {
    1: { seconds: [], rss: [], cpu: [] },
    2: { seconds: [], rss: [], cpu: [] },
  };
  for (let index = 0; index < runs; index++) {
    for (const concurrency of [1, 2] as const) {
      const outDir = path.join(workDir, `out-c${concurrency}`);
      rmSync(outDir, { recursive: true, force: true });
      mkdirSync(outDir, { recursive: true });
      warmPageCache(path.join(world.dir, 'stores'));
      const run = await runTimed(process.execPath, [cli.entry, 'batch', ...orders, '--out', outDir, '--concurrency', String(concurrency), '--config', world.config, '--json'], { measureRss: true });
      if (run.exitCode !== 0) throw new Error(`scopex batch --concurrency ${concurrency} exited with ${run.exitCode}: ${lastLines(run.stderr || run.stdout)}`);
      timings[concurrency].seconds.push(run.seconds);
      timings[concurrency].rss.push(run.peakRssBytes ?? Number.NaN);
      timings[concurrency].cpu.push(run.cpuSeconds);
      const cpu = run.cpuSeconds === null ? '' : `, CPU ${run.cpuSeconds.toFixed(2)} s`;
      log(`  batch run ${index + 1}/${runs}, concurrency ${concurrency}: ${run.seconds.toFixed(2)} s${cpu}, peak RSS ${mib(run.peakRssBytes)}`);
      rmSync(outDir, { recursive: true, force: true });
    }
  }
  const one = summarize(timings[1].seconds);
  const two = summarize(timings[2].seconds);
  return {
    world: world.spec.label,
    orders: orderCount,
    accountsPerOrder: groups.map((group) => group.length),
    concurrency1: { seconds: one, peakRssBytes: summarize(timings[1].rss) },
    concurrency2: { seconds: two, peakRssBytes: summarize(timings[2].rss) },
    speedup: one.median / two.median,
    ceiling: batchCeiling(one, timings[1].cpu, timings[2].cpu),
  };
}
