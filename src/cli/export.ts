// scopex export ORDER --out DIR: the main job. A thin wrapper over exportOrder (src/pipeline/export.ts).
import type { Argv, CommandModule } from 'yargs';
import { AbortedError } from '../errors.js';
import type { ExportProgress, ExportResult } from '../pipeline/export.js';
import { boundHeapGrowthWhenLarge } from '../util/heap-growth.js';
import { describeInterrupt, whileInterruptible } from '../util/interrupts.js';
import { redactKeyMaterial } from '../util/key-material.js';
import { configFrom, printResult, progressWanted, type GlobalArgs } from './common.js';

interface ExportArgs extends GlobalArgs {
  order: string;
  out: string;
  force: boolean;
}

export const exportCommand: CommandModule<GlobalArgs, ExportArgs> = {
  command: 'export <order>',
  describe: 'check an approved order, export exactly the data it names, and seal it as DIR/<order-id>.zip',
  builder: (y: Argv<GlobalArgs>) =>
    y
      .positional('order', { type: 'string', demandOption: true, describe: 'the approved order (JSON)' })
      .option('out', { type: 'string', demandOption: true, describe: 'folder the sealed archive is written to' })
      .option('force', { type: 'boolean', default: false, describe: 'overwrite an existing archive of the same order' })
      .example('$0 export W/orders/approved-warrant.json --out exports --config W/config.json', 'seal exports/<order-id>.zip')
      .example('$0 export order.json --out exports --json', 'print the result as JSON for scripts') as Argv<ExportArgs>,
  handler: async (args) => {
    const config = configFrom(args);
    boundHeapGrowthWhenLarge();
    const { exportOrder } = await import('../pipeline/export.js');
    const bar = progressWanted(args) ? await createProgressBar() : undefined;
    let result: ExportResult;
    try {
      result = await whileInterruptible(
        (signal) =>
          exportOrder({
            orderFile: args.order,
            outDir: args.out,
            config,
            force: args.force,
            signal,
            ...(bar ? { onProgress: bar.update } : {}),
          }),
        { reason: (signal) => new AbortedError('ABORTED', `the export was interrupted (${describeInterrupt(signal)}); nothing was delivered`) },
      );
    } finally {
      bar?.stop();
    }
    // The archive's path holds --out, which may be anything typed there (a key pasted as the folder).
    const shown = { ...result, archive: redactKeyMaterial(result.archive) };
    printResult(args, shown, () => summary(shown));
  },
};

async function createProgressBar() {
  const { default: cliProgress } = await import('cli-progress');
  const bar = new cliProgress.SingleBar(
    {
      stream: process.stderr,
      format: 'exporting {bar} {percentage}% | {items}/{totalItems} items | {mb}/{totalMb} MB | {rate} MB/s | ETA {eta_formatted}',
      hideCursor: true,
      etaBuffer: 50,
      fps: 5,
    },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  const startTime = Date.now();
  return {
    update(progress: ExportProgress): void {
      const payload = {
        items: progress.items,
        totalItems: progress.totalItems ?? '?',
        mb: megabytes(progress.bytes),
        totalMb: progress.totalBytes === undefined ? '?' : megabytes(progress.totalBytes),
        rate: megabytes(progress.bytes / Math.max(0.001, (Date.now() - startTime) / 1000)),
      };
      // Bytes drive the bar and its ETA; an export of only empty items falls back to counting items.
      const byBytes = (progress.totalBytes ?? 0) > 0;
      const value = byBytes ? progress.bytes : progress.items;
      const total = byBytes ? (progress.totalBytes ?? 0) : (progress.totalItems ?? 0);
      if (!started) {
        bar.start(Math.max(total, 1), value, payload);
        started = true;
      } else {
        bar.setTotal(Math.max(total, 1));
        bar.update(value, payload);
      }
    },
    stop(): void {
      if (started) bar.stop();
    },
  };
}

function megabytes(bytes: number): string {
  return (bytes / 1e6).toFixed(1);
}

function summary(result: ExportResult): string {
  const width = Math.max(8, ...Object.keys(result.items).map((c) => c.length));
  const lines = [
    `Exported order ${result.orderId}: ${result.accounts.length} account${result.accounts.length === 1 ? '' : 's'} ` +
      `(${result.accounts.join(', ')}), ${megabytes(result.payloadBytes)} MB of payload in ${(result.durationMs / 1000).toFixed(1)} s`,
    'Items per category (a metadata category counts its lines):',
    ...Object.entries(result.items).map(([category, n]) => `  ${category.padEnd(width)}  ${n}`),
    `Refused items: ${result.refusedItems}`,
    `Archive: ${result.archive} (${result.bytes} bytes)`,
    `SHA-256: ${result.sha256}`,
  ];
  return lines.join('\n');
}
