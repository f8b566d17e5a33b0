// A worker thread that runs exports one at a time for the batch's pool, so that orders use every core.
import { parentPort, workerData } from 'node:worker_threads';
import type { ExportOptions, ExportProgress } from '../pipeline/export.js';
import { toTransferable } from './error-transfer.js';
import type { ExportFunction, WorkerRequest, WorkerResponse } from './worker-protocol.js';

const PROGRESS_INTERVAL_MS = 100;

const port = parentPort;
if (!port) throw new Error('export-worker.js runs only as a worker thread');
const { exportModule } = workerData as { exportModule: string | null };
// The real exporter by a plain specifier (so that a bundler follows it); tests name a module of fakes instead.
const { exportOrder } = (exportModule === null ? await import('../pipeline/export.js') : await import(exportModule)) as { exportOrder: ExportFunction };

let controller: AbortController | null = null;
const post = (message: WorkerResponse) => port.postMessage(message);

port.on('message', (message: WorkerRequest) => {
  switch (message.type) {
    case 'abort':
      controller?.abort();
      break;
    case 'run':
      void run(message.options, message.progress);
      break;
  }
});

async function run(options: Omit<ExportOptions, 'signal' | 'onProgress' | 'custody'>, progress: boolean): Promise<void> {
  controller = new AbortController();
  let lastProgress = 0;
  try {
    const result = await exportOrder({
      ...options,
      signal: controller.signal,
      // An exporter given onProgress first counts what it will export (one more pass over the indexes): only when shown.
      ...(progress
        ? {
            onProgress: (update: ExportProgress) => {
              const now = Date.now();
              if (now - lastProgress < PROGRESS_INTERVAL_MS) return;
              lastProgress = now;
              post({ type: 'progress', progress: { ...update } });
            },
          }
        : {}),
    });
    post({ type: 'done', result });
  } catch (error) {
    post({ type: 'failed', error: toTransferable(error) });
  } finally {
    controller = null;
  }
}
