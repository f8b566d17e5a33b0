// Stopping a worker thread without hanging on it.
//
// worker.terminate() settles on the thread's 'exit' event. On Node 20 that event was seen never to arrive for the
// export's hashing thread when an export failed within milliseconds of starting (a missing blob): the process then
// ran out of work with the clean-up still awaiting terminate(), and ended with exit code 13, no message, and its
// temp files and `.zip.partial` left behind (about one run in three). So the wait is bounded, by a timer that also
// keeps the process alive while it runs; the thread is stopping either way.
import type { Worker } from 'node:worker_threads';

/** How long to wait for a stopped thread's 'exit' before going on without it. */
export const STOP_WAIT_MS = 1000;

export async function stopWorker(worker: Worker, waitMs: number = STOP_WAIT_MS): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const waited = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, waitMs);
  });
  try {
    await Promise.race([worker.terminate().then(() => undefined, () => undefined), waited]);
  } finally {
    clearTimeout(timer);
  }
}
