// Keeps the JavaScript heap of a long export near what it holds, not near four times that.
//
// After each full collection V8 lets the heap grow to a multiple of what survived it before collecting again. On a
// machine with this much memory that multiple goes up to 4x, so an export holding ~50 MB of live objects (the
// per-folder name sets and central directory records of 200,000 files) let its heap reach ~100 MB, and its RSS
// ~290 MB, against a budget of 256 MB. A fixed growth of 2x held it at ~246 MB for about 7% more CPU on small items
// (measured in `npm run bench`; see README "Memory").
import { setFlagsFromString } from 'node:v8';

/** The heap may grow by this much (percent of what survived the last full collection) before the next one. */
export const HEAP_GROWTH_PERCENT = 100;

let bounded = false;

/**
 * Caps V8's heap growth for the rest of the process (worker threads included: V8 flags are per process). Called by
 * the commands that export; the flag is read at every full collection, so it takes effect from the next one.
 */
export function boundHeapGrowth(percent: number = HEAP_GROWTH_PERCENT): void {
  if (bounded) return;
  setFlagsFromString(`--heap-growing-percent=${percent}`);
  bounded = true;
}
