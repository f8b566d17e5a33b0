// scopex batch ORDER... --out DIR: many approved orders, one summary. A thin wrapper over runBatch (src/batch/batch.ts).
import os from 'node:os';
import path from 'node:path';
import type cliProgressModule from 'cli-progress';
import type { Argv, CommandModule } from 'yargs';
import type { BatchEvent, BatchOrderResult, BatchResult } from '../batch/batch.js';
import { maxConcurrency } from '../batch/max-concurrency.js';
import { AbortedError, BatchError, InputError } from '../errors.js';
import { boundHeapGrowth } from '../util/heap-growth.js';
import { describeInterrupt, whileInterruptible } from '../util/interrupts.js';
import { redactKeyMaterial } from '../util/key-material.js';
import { oneLine } from '../util/quote-text.js';
import { configFrom, printResult, progressWanted, type GlobalArgs } from './common.js';

interface BatchArgs extends GlobalArgs {
  orders: string[];
  out: string;
  concurrency?: string;
  workers: boolean;
  trust?: string;
}

export const batchCommand: CommandModule<GlobalArgs, BatchArgs> = {
  command: 'batch <orders..>',
  describe: 'export many approved orders (files or folders of them); a re-run skips orders already sealed',
  builder: (y: Argv<GlobalArgs>) =>
    y
      .positional('orders', { type: 'string', array: true, demandOption: true, describe: 'order files, or folders of *.json orders' })
      .option('out', { type: 'string', demandOption: true, describe: 'folder the sealed archives are written to' })
      .option('concurrency', {
        type: 'string',
        describe: `orders exported at once, 1 to ${maxConcurrency()} (4 per core; default: the number of cores, ${os.availableParallelism()})`,
      })
      .option('workers', {
        type: 'boolean',
        default: true,
        describe: 'run each export in a worker thread so that orders use every core (--no-workers: all on one thread)',
      })
      .option('trust', {
        type: 'string',
        describe: "CA (PEM) an existing archive's signer must chain to before a re-run skips it (default: the config's signer.ca, else the CA that issued the signer certificate)",
      })
      .example('$0 batch W/orders --out exports --config W/config.json', 'export every order in a folder')
      .example('$0 batch a.json b.json --out exports --concurrency 2 --json', 'two orders at once, summary as JSON') as Argv<BatchArgs>,
  handler: async (args) => {
    const concurrency = args.concurrency === undefined ? undefined : parseConcurrency(args.concurrency);
    const config = configFrom(args);
    // The account directory every order is resolved against. One that cannot be read is the run's problem, as for
    // export (exit 2, one sentence, no --out folder made), not each order's: every order was "malformed", exit 6.
    const { createFileDirectory } = await import('../sources/file-directory.js');
    createFileDirectory({ file: path.join(config.storesRoot, 'directory.json') });
    // So are the key files every export needs, checked as export uses them: a signer key or certificate that cannot be
    // read or used, a data-keys file that cannot, or a key file open to other users failed every order in turn.
    const { checkSigner } = await import('../seal/bag-sealer.js');
    await checkSigner({ signerCertificateFile: config.signerCertificateFile, signerKeyFile: config.signerKeyFile });
    const { createLocalKeyService } = await import('../keys/local-key-service.js');
    createLocalKeyService({ masterKeyFile: config.masterKeyFile, dataKeysFile: config.dataKeysFile, readerThread: false });
    const { refuseMasterKeyOpenToOthers } = await import('../keys/master-key.js');
    refuseMasterKeyOpenToOthers(config.masterKeyFile);
    boundHeapGrowth();
    const { runBatch } = await import('../batch/batch.js');
    const display = progressWanted(args) ? createBatchDisplay((await import('cli-progress')).default) : undefined;
    const tell = (line: string) => (display ? display.log(line) : process.stderr.write(`${line}\n`));
    let result: BatchResult;
    try {
      result = await whileInterruptible(
        (signal) =>
          runBatch({
            orders: args.orders,
            outDir: args.out,
            config,
            ...(concurrency !== undefined ? { concurrency } : {}),
            mode: args.workers ? 'worker-threads' : 'in-process',
            ...(args.trust ? { trustFile: path.resolve(args.trust) } : {}),
            signal,
            ...(display ? { onEvent: display.onEvent } : {}),
            onWaiting: (_orderId, message) => {
              // A wait may last minutes (a lock a crash left half-made): said at once, on a TTY or not.
              if (!args.quiet) tell(`scopex: ${oneLine(redactKeyMaterial(message))}`);
            },
          }),
        {
          reason: (signal) =>
            new AbortedError('ABORTED', `the batch was interrupted (${describeInterrupt(signal)}); running exports were stopped and left nothing`),
          onInterrupt: (signal) => {
            if (!args.quiet) process.stderr.write(`\nscopex: interrupted (${describeInterrupt(signal)}); stopping running exports (finished archives stay)\n`);
          },
        },
      );
    } finally {
      display?.stop();
    }
    const shown = shownResult(result);
    printResult(args, shown, () => summaryTable(shown));
    // The summary above is the result; the entry point must not print a second JSON document.
    if (result.interrupted) {
      throw Object.assign(new AbortedError('ABORTED', `the batch was interrupted: ${describeCounts(result)}`), { resultPrinted: true });
    }
    if (!result.ok) {
      const failing = shown.orders.filter((order) => order.verdict !== 'sealed' && order.verdict !== 'skipped');
      // --quiet prints no table, and so only errors: each order that did not seal is one, on a line of its own.
      if (args.quiet && !args.json) {
        for (const order of failing) process.stderr.write(`scopex: ${oneLine(`${order.orderId} ${order.verdict}: ${lastCell(order)}`)}\n`);
      }
      const first = failing[0];
      throw Object.assign(
        new BatchError(
          'BATCH_FAILED',
          `${failing.length} of ${result.orders.length} order${result.orders.length === 1 ? '' : 's'} did not seal (${describeCounts(result)})` +
            (first ? `; first: ${first.orderId} ${first.verdict}: ${first.error?.message ?? ''}` : ''),
        ),
        { resultPrinted: true },
      );
    }
  },
};

/**
 * The result as printed: an order's id (read before the order is checked), its file, the folders and each reason may
 * be anything typed or pasted there, a key too, so they go through the redaction every error message goes through.
 */
function shownResult(result: BatchResult): BatchResult {
  return {
    ...result,
    outDir: redactKeyMaterial(result.outDir),
    orders: result.orders.map((order) => ({
      ...order,
      orderId: redactKeyMaterial(order.orderId),
      file: redactKeyMaterial(order.file),
      archive: order.archive === null ? null : redactKeyMaterial(order.archive),
      // A reason may quote what another run left (a lock file's host): it is printed in the table, --json and --quiet.
      ...(order.error ? { error: { ...order.error, message: redactKeyMaterial(order.error.message) } } : {}),
    })),
  };
}

/**
 * --concurrency as typed, so that the error quotes what was typed (as a yargs number, "abc" was NaN and "" was 0):
 * a whole number within runBatch's bounds.
 */
function parseConcurrency(text: string): number {
  const value = /^\d+$/.test(text.trim()) ? Number(text.trim()) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < 1 || value > maxConcurrency()) {
    throw new InputError('USAGE', `--concurrency must be a whole number from 1 to ${maxConcurrency()} (4 per core); found ${JSON.stringify(text)}`);
  }
  return value;
}

function describeCounts(result: BatchResult): string {
  return Object.entries(result.counts)
    .filter(([, n]) => n > 0)
    .map(([verdict, n]) => `${n} ${verdict}`)
    .join(', ');
}

/** A live line per running order and an overall bar, on stderr (only created when stderr is a TTY). */
function createBatchDisplay(cliProgress: typeof cliProgressModule) {
  const multibar = new cliProgress.MultiBar(
    {
      stream: process.stderr,
      format: '{label} {bar} {value}/{total} {unit} {info}',
      hideCursor: true,
      clearOnComplete: true,
      autopadding: true,
      fps: 5,
    },
    cliProgress.Presets.shades_classic,
  );
  let overall: cliProgressModule.SingleBar | undefined;
  let done = 0;
  const running = new Map<string, cliProgressModule.SingleBar>();
  return {
    onEvent(event: BatchEvent): void {
      switch (event.type) {
        case 'planned':
          overall = multibar.create(event.orders.length, 0, { label: 'batch'.padEnd(24), unit: 'orders', info: '' });
          break;
        case 'started':
          running.set(event.orderId, multibar.create(1, 0, { label: redactKeyMaterial(event.orderId).slice(0, 24).padEnd(24), unit: 'items', info: 'checking' }));
          break;
        case 'progress': {
          const bar = running.get(event.orderId);
          const total = event.progress.totalItems ?? Math.max(event.progress.items, 1);
          bar?.setTotal(Math.max(total, 1));
          bar?.update(event.progress.items, { info: `${(event.progress.bytes / 1e6).toFixed(1)} MB` });
          break;
        }
        case 'finished': {
          const bar = running.get(event.order.orderId);
          if (bar) {
            multibar.remove(bar);
            running.delete(event.order.orderId);
          }
          done += 1;
          overall?.update(done, { info: `last: ${redactKeyMaterial(event.order.orderId)} ${event.order.verdict}` });
          break;
        }
      }
    },
    /** A line above the bars. */
    log(line: string): void {
      multibar.log(`${line}\n`);
    },
    stop(): void {
      multibar.stop();
    },
  };
}

/**
 * The free-text cell: an order that did not seal gives its error (an archive kept because it does not verify is named
 * in it), one that did its archive.
 */
function lastCell(order: BatchOrderResult): string {
  return order.error ? `${order.error.code}: ${order.error.message}` : (order.archive ?? '-');
}

export function summaryTable(result: BatchResult): string {
  const header = ['order', 'verdict', 'items', 'bytes', 'time', 'archive'];
  // Each order on one line, its cells escaped before they are measured: a name or a message from outside (an order
  // file named with a line feed) could otherwise start a row of its own.
  const rows = result.orders.map((order: BatchOrderResult) =>
    [
      order.orderId,
      order.verdict,
      order.items === null ? '-' : String(order.items),
      order.bytes === null ? '-' : String(order.bytes),
      `${(order.durationMs / 1000).toFixed(1)}s`,
      lastCell(order),
    ].map(oneLine),
  );
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  // The last column is free text; it is not padded.
  const line = (cells: string[]) =>
    cells.map((cell, i) => (i === cells.length - 1 ? cell : i >= 2 && i <= 4 ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!))).join('  ');
  return [
    line(header),
    ...rows.map(line),
    '',
    `${result.orders.length} order${result.orders.length === 1 ? '' : 's'}: ${describeCounts(result)} in ${(result.durationMs / 1000).toFixed(1)} s ` +
      `(concurrency ${result.concurrency}, ${result.mode === 'worker-threads' ? 'worker threads' : 'one thread'})`,
  ].join('\n');
}
