// Turning the signals that ask scopex to stop (Ctrl-C, a kill, a closed terminal) into an AbortSignal.
//
// Without a listener, Node dies of SIGHUP or SIGTERM on the spot: an export then leaves its `.zip.partial` and its
// temp folders (personal data) behind, and --json prints nothing. Every interrupt ends the same way, whichever signal
// it was: clean-up, one line naming it, exit 130 (an AbortedError; DESIGN.md has one code for "interrupted").

export const INTERRUPT_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
export type InterruptSignal = (typeof INTERRUPT_SIGNALS)[number];

/** How the user would name the interruption: Ctrl-C for SIGINT, the signal's name otherwise. */
export function describeInterrupt(signal: InterruptSignal): string {
  return signal === 'SIGINT' ? 'Ctrl-C' : signal;
}

/** Set once interruptible work has started: from then on, whileInterruptible answers the signals. */
let interruptibleWorkStarted = false;

/** Steps under way that an exit must not cut in two (holdingInterrupts), and who waits for them to end. */
let held = 0;
const waitingForRelease: (() => void)[] = [];

/**
 * Runs `work`, a short step that must not be cut in two (a custody record and its head file: a record left past its
 * head file is refused until a person looks at it), while an interrupt that would end the process at once waits
 * for it: one before interruptible work, and the exit of a command stopped at once.
 */
export async function holdingInterrupts<T>(work: () => Promise<T>): Promise<T> {
  held += 1;
  try {
    return await work();
  } finally {
    held -= 1;
    if (held === 0) for (const release of waitingForRelease.splice(0)) release();
  }
}

/** Settles once no step holds interrupts (at once when none does). */
export function interruptsReleased(): Promise<void> {
  return held === 0 ? Promise.resolve() : new Promise((resolve) => waitingForRelease.push(resolve));
}

/**
 * Installed first thing by the entry point. Until a command's interruptible work starts (while the config is loaded and
 * the order checked), and in commands that have none (order check, order approve), a signal calls `onEarly` (once no
 * step holds interrupts), which reports it and exits 130; without a listener Node died of it instead (exit 143 for SIGTERM, 129 for SIGHUP). Once
 * the work has started, whileInterruptible answers; once it is over the command is only printing its result, and a
 * signal is absorbed.
 */
export function handleInterruptsFromStart(onEarly: (signal: InterruptSignal) => void): void {
  for (const signal of INTERRUPT_SIGNALS) {
    process.on(signal, () => {
      if (!interruptibleWorkStarted) void interruptsReleased().then(() => onEarly(signal));
    });
  }
}

export interface InterruptibleOptions {
  /** The error the work is aborted with (an AbortedError, so that the exit code is 130). */
  reason: (signal: InterruptSignal) => Error;
  /** Called once, on the first interrupt (a notice on stderr, say). */
  onInterrupt?: (signal: InterruptSignal) => void;
  /**
   * For work that writes nothing and so has nothing to clean up (verify, audit verify): the call rejects with the
   * reason at once instead of waiting for the work to notice the AbortSignal; the process ends before the work does.
   */
  stopAtOnce?: boolean;
}

/**
 * Runs `work` with an AbortSignal that aborts on the first SIGINT, SIGTERM or SIGHUP. Later signals are absorbed
 * until `work` has settled, so that a second Ctrl-C or a hang-up cannot cut the clean-up short and leave partial
 * files behind.
 */
export async function whileInterruptible<T>(work: (signal: AbortSignal) => Promise<T>, options: InterruptibleOptions): Promise<T> {
  interruptibleWorkStarted = true;
  const controller = new AbortController();
  let rejectInterrupted: (error: Error) => void = () => undefined;
  const interrupted = new Promise<never>((_resolve, reject) => {
    rejectInterrupted = reject;
  });
  interrupted.catch(() => undefined);
  const listeners = INTERRUPT_SIGNALS.map((signal) => {
    const listener = () => {
      if (controller.signal.aborted) return;
      const reason = options.reason(signal);
      options.onInterrupt?.(signal);
      controller.abort(reason);
      rejectInterrupted(reason);
    };
    process.on(signal, listener);
    return { signal, listener };
  });
  try {
    const running = work(controller.signal);
    if (!options.stopAtOnce) return await running;
    running.catch(() => undefined);
    return await Promise.race([running, interrupted]);
  } finally {
    for (const { signal, listener } of listeners) process.off(signal, listener);
  }
}
