// Lets a long stretch of synchronous work on the main thread answer Ctrl-C. A signal is delivered by the event loop,
// so while a loop over a million entries (or over names tens of kilobytes long) runs without awaiting, an interrupt
// waits for it: `verify` of a hostile archive once ignored Ctrl-C for almost a minute.

/** Longest stretch of work between two turns of the event loop. */
const SLICE_MS = 50;
/** The clock is read once per this much work (in the caller's units, e.g. characters of names). */
const WORK_PER_CLOCK_READ = 64 * 1024;

export class PauseForSignals {
  #since = performance.now();
  #work = 0;

  /** Counts `work` done; true when the stretch since the last pause is long enough to pause now. */
  due(work: number): boolean {
    this.#work += work;
    if (this.#work < WORK_PER_CLOCK_READ) return false;
    this.#work = 0;
    return performance.now() - this.#since >= SLICE_MS;
  }

  /** One turn of the event loop: signals (and anything else waiting) are handled. */
  async now(): Promise<void> {
    await new Promise<void>((resolve) => setImmediate(resolve));
    this.#since = performance.now();
  }
}
