// The error an interrupted batch step ends with.
import { AbortedError } from '../errors.js';

export function abortReason(signal: AbortSignal): AbortedError {
  const reason: unknown = signal.reason;
  if (reason instanceof AbortedError) return reason;
  return new AbortedError('ABORTED', 'the batch was interrupted before this order finished; nothing was delivered for it', { cause: reason });
}
