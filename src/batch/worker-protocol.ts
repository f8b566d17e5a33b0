// The messages between the batch and its export workers, and the export function both sides call.
import type { ExportOptions, ExportProgress, ExportResult } from '../pipeline/export.js';
import type { TransferredError } from './error-transfer.js';

export type ExportFunction = (options: ExportOptions) => Promise<ExportResult>;

export type WorkerRequest =
  /** progress: whether anyone shows it (without a listener the export skips its counting pass and posts nothing). */
  | { type: 'run'; options: Omit<ExportOptions, 'signal' | 'onProgress' | 'custody'>; progress: boolean }
  | { type: 'abort' };

export type WorkerResponse =
  | { type: 'progress'; progress: ExportProgress }
  | { type: 'done'; result: ExportResult }
  | { type: 'failed'; error: TransferredError };
