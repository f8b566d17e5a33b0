// Messages between the key service and its reader thread.
import type { KeyObject } from 'node:crypto';
import type { IntegrityErrorCode } from '../errors.js';
import type { StoreService } from './key-service.js';

export interface ReadJob {
  id: number;
  file: string;
  service: StoreService;
  accountId: string;
  itemId: string;
  maxBytes: number;
}

export type ReaderRequest =
  /** The data key of one account, sent once before its first job (a KeyObject is cloned, never exported). */
  | { type: 'key'; accountId: string; key: KeyObject }
  | { type: 'read'; jobs: ReadJob[] };

export type ReadFailure =
  | { kind: 'integrity'; code: IntegrityErrorCode; message: string }
  | { kind: 'open'; code: string | undefined; message: string }
  | { kind: 'other'; message: string };

export type ReadResult = { id: number; bytes: Uint8Array } | { id: number; failure: ReadFailure };

export interface ReaderReply {
  type: 'read';
  results: ReadResult[];
}
