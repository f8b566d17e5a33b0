// The bound on a batch's --concurrency, apart from the batch itself so that the CLI can name it in --help without loading it.
import os from 'node:os';

/**
 * The most orders a batch runs at once: 4 per core, and at least 4. Each running order has a worker thread with a heap
 * of its own, so the bound is on memory as much as on cores: `--concurrency 1000000000` started one worker per order
 * (60 small orders took 1.6 GB), where more than a few per core only makes them wait for each other.
 */
export function maxConcurrency(): number {
  return Math.max(4, 4 * os.availableParallelism());
}
