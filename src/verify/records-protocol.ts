// Messages between the verifier and its records thread (`records-thread.ts`). Each request with an `id` gets one
// reply with the same id; the others are answered only by a failure, which fails every request after it.
import type { MetadataCategory } from '../pipeline/metadata-fields.js';
import type { MetadataSummary } from './metadata-lines.js';
import type { CheckOutcome, RecordFile, RecordLayout, RecordSettings, ScopeRule } from './record-checks.js';

export type RecordsRequest =
  | { type: 'begin'; settings: RecordSettings }
  | { type: 'layout'; layout: RecordLayout }
  /**
   * Read `length` bytes at `position` of the open archive `fd`, feed them to `file` (or check them as the lines of the
   * metadata file at that bag path) and hash them.
   */
  | { type: 'read'; id: number; file: RecordFile | { metadata: string; category: MetadataCategory }; fd: number; position: number; length: number }
  | { type: 'discard'; file: RecordFile }
  /** The arrays of a `DigestTable`, and each entry's size. */
  | { type: 'payload'; id: number; digests: Uint8Array; present: Uint8Array; sizes: Float64Array }
  | { type: 'production'; id: number; contentServices: string[] }
  | { type: 'scope'; id: number; rule: ScopeRule };

export type RecordsReply =
  /** The SHA-256 (hex), length and CRC-32 of the bytes a 'read' fed, and a metadata file's lines. */
  | { type: 'read'; id: number; sha256: string; bytes: number; crc: number; summary?: MetadataSummary }
  | { type: 'outcome'; id: number; outcome: CheckOutcome }
  | { type: 'failed'; message: string; code?: string };
