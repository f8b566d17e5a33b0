// Messages between the verifier and its records thread (`records-thread.ts`). Each request with an `id` gets one
// reply with the same id; the others are answered only by a failure, which fails every request after it.
import type { CheckOutcome, RecordFile, RecordLayout, RecordSettings, ScopeRule } from './record-checks.js';

export type RecordsRequest =
  | { type: 'begin'; settings: RecordSettings }
  | { type: 'layout'; layout: RecordLayout }
  /** Read `length` bytes at `position` of the open archive `fd`, feed them to `file` and hash them. */
  | { type: 'read'; id: number; file: RecordFile; fd: number; position: number; length: number }
  | { type: 'discard'; file: RecordFile }
  /** The arrays of a `DigestTable`, and each entry's size. */
  | { type: 'payload'; id: number; digests: Uint8Array; present: Uint8Array; sizes: Float64Array }
  | { type: 'production'; id: number }
  | { type: 'scope'; id: number; rule: ScopeRule };

export type RecordsReply =
  /** The SHA-256 (hex), length and CRC-32 of the bytes a 'read' fed. */
  | { type: 'read'; id: number; sha256: string; bytes: number; crc: number }
  | { type: 'outcome'; id: number; outcome: CheckOutcome }
  | { type: 'failed'; message: string; code?: string };
