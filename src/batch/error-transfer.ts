// Errors cross the worker-thread boundary as plain data and come back as the same scopex error classes.
import {
  AbortedError,
  BatchError,
  InputError,
  IntegrityError,
  KeyError,
  OrderError,
  ScopeError,
  ScopexError,
  SourceError,
  type InputErrorCode,
  type IntegrityErrorCode,
  type KeyErrorCode,
  type OrderErrorCode,
  type ScopeErrorCode,
  type SourceErrorCode,
} from '../errors.js';

export type ErrorKind = 'input' | 'order' | 'scope' | 'integrity' | 'key' | 'source' | 'aborted' | 'batch' | 'scopex' | 'other';

export interface TransferredError {
  kind: ErrorKind;
  code: string;
  message: string;
  reasons?: { code: string; message: string }[];
}

export function toTransferable(error: unknown): TransferredError {
  const message = error instanceof Error ? error.message : String(error);
  const code = error instanceof ScopexError ? error.code : 'INTERNAL';
  if (error instanceof OrderError) {
    return { kind: 'order', code, message, reasons: error.reasons.map((r) => ({ code: r.code, message: r.message })) };
  }
  return { kind: kindOf(error), code, message };
}

function kindOf(error: unknown): ErrorKind {
  if (error instanceof InputError) return 'input';
  if (error instanceof ScopeError) return 'scope';
  if (error instanceof IntegrityError) return 'integrity';
  if (error instanceof KeyError) return 'key';
  if (error instanceof SourceError) return 'source';
  if (error instanceof AbortedError) return 'aborted';
  if (error instanceof BatchError) return 'batch';
  if (error instanceof ScopexError) return 'scopex';
  return 'other';
}

export function fromTransferable(data: TransferredError): Error {
  switch (data.kind) {
    case 'order':
      return new OrderError((data.reasons ?? [{ code: data.code, message: data.message }]) as { code: OrderErrorCode; message: string }[]);
    case 'input':
      return new InputError(data.code as InputErrorCode, data.message);
    case 'scope':
      return new ScopeError(data.code as ScopeErrorCode, data.message);
    case 'integrity':
      return new IntegrityError(data.code as IntegrityErrorCode, data.message);
    case 'key':
      return new KeyError(data.code as KeyErrorCode, data.message);
    case 'source':
      return new SourceError(data.code as SourceErrorCode, data.message);
    case 'aborted':
      return new AbortedError('ABORTED', data.message);
    case 'batch':
      return new BatchError('BATCH_FAILED', data.message);
    case 'scopex':
      return new ScopexError(data.code, data.message);
    case 'other':
      return new Error(data.message);
    default: {
      const unreachable: never = data.kind;
      return new Error(`unknown error kind ${String(unreachable)}`);
    }
  }
}
