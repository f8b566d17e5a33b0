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
  /** Plaintexts go into shared arena `arena` (from workerData.arenas) while they fit, then by transfer. */
  | { type: 'read'; jobs: ReadJob[]; arena: number };

/** What the thread is started with: the shared arenas that carry plaintexts back. */
export interface ReaderThreadData {
  arenas: SharedArrayBuffer[];
}

export type ReadFailure =
  | { kind: 'integrity'; code: IntegrityErrorCode; message: string }
  | { kind: 'open'; code: string | undefined; message: string }
  | { kind: 'other'; message: string };

export type ReadResult =
  /** The plaintext is bytes [at, at + length) of the batch's arena. */
  | { id: number; at: number; length: number }
  /** The plaintext did not fit in the arena and was moved over on its own. */
  | { id: number; bytes: Uint8Array }
  | { id: number; failure: ReadFailure };

export interface ReaderReply {
  type: 'read';
  arena: number;
  results: ReadResult[];
}
