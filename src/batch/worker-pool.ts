// A pool of export worker threads: one export per worker at a time, so CPU work spreads over the cores.
import { Worker } from 'node:worker_threads';
import type { ExportOptions, ExportResult } from '../pipeline/export.js';
import { abortReason } from './abort.js';
import { fromTransferable } from './error-transfer.js';
import type { ExportFunction, WorkerRequest, WorkerResponse } from './worker-protocol.js';

/**
 * The most memory (MiB) an export worker's young generation may take. V8 sizes it from the machine: here (24 GiB) it
 * grew to about three times this, and each worker of a batch held it at once. Eight orders over two workers (the
 * bench's batch world) peaked at 248-267 MiB RSS with V8's choice, over the 256 MiB an export may use; with 12 MiB,
 * 213-222 MiB, in the same time (2.39 against 2.40 s median, 5 runs each). With 6 MiB it took ~3% longer.
 */
export const EXPORT_WORKER_YOUNG_GENERATION_MB = 12;

export interface WorkerPoolOptions {
  /** The most workers alive at once (the batch's concurrency). */
  size: number;
  /** Module the workers import `exportOrder` from (default: the real exporter, which the worker script imports). */
  exportModule?: string;
  /** The worker script (default: export-worker.js next to this file; only the built JavaScript can run in a worker). */
  workerScript?: URL;
}

export interface WorkerPool {
  /**
   * Starts up to `count` workers now (at most the pool's size), so that their start-up and module imports overlap
   * with the caller's own preparation instead of delaying the first exports.
   */
  warm(count: number): void;
  /** Runs one export in a free worker; the same contract as exportOrder (abort via signal, progress via onProgress). */
  exportOrder: ExportFunction;
  close(): Promise<void>;
}

export function createWorkerPool(options: WorkerPoolOptions): WorkerPool {
  if (!Number.isInteger(options.size) || options.size < 1) throw new TypeError('a worker pool needs a size of at least 1');
  const exportModule = options.exportModule ?? null;
  const workerScript = options.workerScript ?? new URL('./export-worker.js', import.meta.url);
  const idle: Worker[] = [];
  const all = new Set<Worker>();

  const spawn = (): Worker => {
    const created = new Worker(workerScript, { workerData: { exportModule }, resourceLimits: { maxYoungGenerationSizeMb: EXPORT_WORKER_YOUNG_GENERATION_MB } });
    all.add(created);
    // A worker that fails while idle (say its module does not load) just leaves the pool; in use, the export reports it.
    created.on('error', () => undefined);
    created.once('exit', () => {
      all.delete(created);
      const index = idle.indexOf(created);
      if (index >= 0) idle.splice(index, 1);
    });
    return created;
  };

  const take = (): Worker => {
    const worker = idle.shift();
    if (worker) return worker;
    if (all.size >= options.size) throw new Error('worker pool over-committed: more exports than its size at once');
    return spawn();
  };

  const exportOrder: ExportFunction = (exportOptions: ExportOptions) =>
    new Promise<ExportResult>((resolve, reject) => {
      const { signal, onProgress, custody: _custody, sources: _sources, ...plain } = exportOptions;
      if (signal?.aborted) {
        reject(abortReason(signal));
        return;
      }
      const worker = take();
      const settle = (finish: () => void, reusable: boolean) => {
        worker.off('message', onMessage);
        worker.off('error', onError);
        worker.off('exit', onExit);
        signal?.removeEventListener('abort', onAbort);
        if (reusable) idle.push(worker);
        else {
          // No longer one of the pool's, from now: it ends in its own time, and the next export gets a new worker
          // (counted until its 'exit', the dying one made every later export fail "over-committed").
          all.delete(worker);
          void worker.terminate();
        }
        finish();
      };
      const onMessage = (message: WorkerResponse) => {
        switch (message.type) {
          case 'progress':
            onProgress?.(message.progress);
            break;
          case 'done':
            settle(() => resolve(message.result), true);
            break;
          case 'failed':
            settle(() => reject(fromTransferable(message.error)), true);
            break;
        }
      };
      const onError = (error: Error) => settle(() => reject(new Error(`export worker crashed: ${error.message}`, { cause: error })), false);
      const onExit = (code: number) => settle(() => reject(new Error(`export worker exited with code ${code} mid-export`)), false);
      // The worker aborts its export, which deletes its partial archive, and then reports the AbortedError.
      const onAbort = () => worker.postMessage({ type: 'abort' } satisfies WorkerRequest);
      worker.on('message', onMessage);
      worker.once('error', onError);
      worker.once('exit', onExit);
      signal?.addEventListener('abort', onAbort, { once: true });
      worker.postMessage({ type: 'run', options: plain, progress: onProgress !== undefined } satisfies WorkerRequest);
    });

  return {
    warm(count: number) {
      while (all.size < Math.min(count, options.size)) idle.push(spawn());
    },
    exportOrder,
    async close() {
      const workers = [...all];
      idle.length = 0;
      await Promise.all(workers.map((worker) => worker.terminate()));
    },
  };
}
