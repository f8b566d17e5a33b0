// Keeps the JavaScript heap of a long export near what it holds, not near four times that.
//
// After each full collection V8 lets the heap grow to a multiple of what survived it before collecting again. With
// the large heap limit V8 picks on a machine with many GiB of memory, that multiple goes up to 4x. A 200,000-file
// export holds ~50 MB of live objects (the per-folder name sets and central directory records): its heap reached
// ~100 MB and its peak RSS 288-291 MiB, against a budget of 256 MiB. A fixed growth of 2x held it at 238.6-244.0 MiB
// (`npm run bench -- --series`), for about 7% more CPU on small items (README, `scopex export`).
//
// That CPU buys nothing while little is live: 4x of the ~19 MB a 52k-file export ends with is still inside the
// budget. So an export caps the growth only once a full collection leaves more than BOUND_FROM_LIVE_BYTES live.
import { constants, PerformanceObserver } from 'node:perf_hooks';
import { getHeapStatistics, setFlagsFromString } from 'node:v8';

/** The heap may grow by this much (percent of what survived the last full collection) before the next one. */
export const HEAP_GROWTH_PERCENT = 100;

/**
 * Live heap after a full collection from which boundHeapGrowthWhenLarge caps the growth. Below it, even 4x of what
 * is live (under ~80 MB of heap) keeps an export's process inside its 256 MiB budget. The cap takes effect only from
 * the collection after the one that crossed this line, so the line leaves room for one more 4x: with 24 MB, one of
 * three 200k-file exports peaked at 263 MiB; with 20 MB, seven peaked at 222.7-232.0 MiB.
 */
export const BOUND_FROM_LIVE_BYTES = 20 * 1024 * 1024;

let bounded = false;

/** Whether this process has capped its heap growth. */
export function heapGrowthBounded(): boolean {
  return bounded;
}

/**
 * Caps V8's heap growth for the rest of the process (worker threads included: V8 flags are per process). Called by
 * `batch`, whose exports run in worker threads; the flag is read at every full collection, so it takes effect from
 * the next one.
 */
export function boundHeapGrowth(): void {
  if (bounded) return;
  setFlagsFromString(`--heap-growing-percent=${HEAP_GROWTH_PERCENT}`);
  bounded = true;
}

/**
 * Caps the growth (boundHeapGrowth) once a full collection of this thread's heap leaves more than `fromLiveBytes`
 * live. Called by `export`, which runs in the main thread.
 */
export function boundHeapGrowthWhenLarge(fromLiveBytes = BOUND_FROM_LIVE_BYTES): void {
  if (bounded) return;
  const observer = new PerformanceObserver((list) => {
    const major = list.getEntries().some((entry) => (entry as { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR);
    if (!major || getHeapStatistics().used_heap_size <= fromLiveBytes) return;
    boundHeapGrowth();
    observer.disconnect();
  });
  observer.observe({ entryTypes: ['gc'] });
}
