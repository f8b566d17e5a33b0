// Messages between the key service and its reader thread. A batch travels as a few flat values (one JSON string out,
// typed arrays back) rather than one object per item: cloning 128 small objects each way cost more of the main
// thread than reading the blobs did.
import type { KeyObject } from 'node:crypto';
import type { IntegrityErrorCode } from '../errors.js';
import type { StoreService } from './key-service.js';

export interface ReadJob {
  file: string;
  service: StoreService;
  accountId: string;
  itemId: string;
  maxBytes: number;
}

/** Fields per job in a batch's `jobs` JSON array: file, service, accountId, itemId, maxBytes. */
export const JOB_FIELDS = 5;

/** A batch's jobs as one JSON string of their fields, job after job. */
export function encodeJobs(jobs: readonly ReadJob[]): string {
  const flat: (string | number)[] = [];
  for (const job of jobs) flat.push(job.file, job.service, job.accountId, job.itemId, job.maxBytes);
  return JSON.stringify(flat);
}

export function decodeJobs(encoded: string): ReadJob[] {
  const flat = JSON.parse(encoded) as (string | number)[];
  const jobs: ReadJob[] = [];
  for (let at = 0; at + JOB_FIELDS <= flat.length; at += JOB_FIELDS) {
    jobs.push({
      file: flat[at] as string,
      service: flat[at + 1] as StoreService,
      accountId: flat[at + 2] as string,
      itemId: flat[at + 3] as string,
      maxBytes: flat[at + 4] as number,
    });
  }
  return jobs;
}

export type ReaderRequest =
  /** The data key of one account, sent once before its first job (a KeyObject is cloned, never exported). */
  | { type: 'key'; accountId: string; key: KeyObject }
  /** Plaintexts go into shared arena `arena` (from workerData.arenas) while they fit, then by transfer. */
  | { type: 'read'; jobs: string; arena: number };

/** What the thread is started with: the shared arenas that carry plaintexts back. */
export interface ReaderThreadData {
  arenas: SharedArrayBuffer[];
}

export type ReadFailure =
  | { kind: 'integrity'; code: IntegrityErrorCode; message: string }
  | { kind: 'open'; code: string | undefined; message: string }
  | { kind: 'other'; message: string };

/** Job `index`'s plaintext did not fit in the arena and was moved over on its own, or its read failed. */
export type Exception = { index: number; bytes: Uint8Array; sha256: string } | { index: number; failure: ReadFailure };

/**
 * `spans[2i]` is where job i's plaintext starts in the arena (or IN_EXCEPTIONS), `spans[2i + 1]` its length; its
 * SHA-256 is `digests.slice(64 * i, 64 * i + 64)`.
 */
export const IN_EXCEPTIONS = -1;

export interface ReaderReply {
  type: 'read';
  arena: number;
  /** Bytes of the arena in use: [0, used) holds the plaintexts placed there. */
  used: number;
  spans: Int32Array;
  /** The SHA-256 (hex) of each plaintext placed in the arena, job after job, 64 characters each (spaces for the others). */
  digests: string;
  exceptions: Exception[];
}
