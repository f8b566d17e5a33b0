// Keeps the JavaScript heap of a long export near what it holds, not near four times that.
//
// After each full collection V8 lets the heap grow to a multiple of what survived it before collecting again. With
// the large heap limit V8 picks on a machine with many GiB of memory, that multiple goes up to 4x. A 200,000-file
// export holds ~50 MB of live objects (the per-folder name sets and central directory records): its heap reached
// ~100 MB and its peak RSS 288-291 MiB, against a budget of 256 MiB. A fixed growth of 2x held it at 238.6-244.0 MiB
// (`npm run bench -- --series`), for about 7% more CPU on small items (README, `scopex export`).
import { setFlagsFromString } from 'node:v8';

/** The heap may grow by this much (percent of what survived the last full collection) before the next one. */
export const HEAP_GROWTH_PERCENT = 100;

let bounded = false;

/**
 * Caps V8's heap growth for the rest of the process (worker threads included: V8 flags are per process). Called by
 * the commands that export; the flag is read at every full collection, so it takes effect from the next one.
 */
export function boundHeapGrowth(): void {
  if (bounded) return;
  setFlagsFromString(`--heap-growing-percent=${HEAP_GROWTH_PERCENT}`);
  bounded = true;
}
