// The key service's reader thread: reads and authenticates small blobs in batches, so that an export's main thread
// is left with listing, checking and sealing. It holds the data keys it was sent, as KeyObjects, and nothing else.
import type { KeyObject } from 'node:crypto';
import { parentPort, workerData } from 'node:worker_threads';
import { IntegrityError } from '../errors.js';
import { describeItem, itemAad } from './item-crypto.js';
import type { ReaderRequest, ReaderThreadData, ReadJob, ReadResult } from './item-reader-protocol.js';
import { BlobOpenError, SmallBlobReader } from './small-blob.js';

const port = parentPort;
if (!port) throw new Error('item-reader-thread runs only as a worker thread');

const keys = new Map<string, KeyObject>();
const reader = new SmallBlobReader();
const arenas = (workerData as ReaderThreadData).arenas.map((shared) => Buffer.from(shared));

/** Where the batch's plaintexts go: its arena while they fit, then each in a buffer of its own, moved over. */
interface Output {
  arena: Buffer;
  used: number;
  transfer: ArrayBuffer[];
}

function readOne(job: ReadJob, out: Output): ReadResult {
  const what = describeItem(job);
  const key = keys.get(job.accountId);
  if (!key) return { id: job.id, failure: { kind: 'other', message: `no data key was sent for ${what}` } };
  try {
    const plaintext = reader.read(job.file, job.maxBytes, key, itemAad(job.service, job.accountId, job.itemId), what);
    if (plaintext.length <= out.arena.length - out.used) {
      // Copied into shared memory: the plaintext buffer itself dies young in this thread instead of being freed by
      // the main thread's collector (which leaves this thread's malloc arena fragmented).
      const at = out.used;
      plaintext.copy(out.arena, at);
      out.used += plaintext.length;
      return { id: job.id, at, length: plaintext.length };
    }
    return { id: job.id, bytes: transferable(plaintext, out.transfer) };
  } catch (error) {
    if (error instanceof IntegrityError) return { id: job.id, failure: { kind: 'integrity', code: error.code, message: error.message } };
    if (error instanceof BlobOpenError) return { id: job.id, failure: { kind: 'open', code: error.code, message: error.message } };
    return { id: job.id, failure: { kind: 'other', message: error instanceof Error ? error.message : String(error) } };
  }
}

/** The bytes in an ArrayBuffer of their own, listed for transfer (moved to the main thread, not copied again). */
function transferable(bytes: Buffer, transfer: ArrayBuffer[]): Uint8Array {
  const own = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer;
  const out = own ? new Uint8Array(bytes.buffer, 0, bytes.byteLength) : Uint8Array.from(bytes);
  transfer.push(out.buffer as ArrayBuffer);
  return out;
}

port.on('message', (message: ReaderRequest) => {
  if (message.type === 'key') {
    keys.set(message.accountId, message.key);
    return;
  }
  const arena = arenas[message.arena];
  if (!arena) throw new Error(`no arena ${message.arena}`);
  const out: Output = { arena, used: 0, transfer: [] };
  const results = message.jobs.map((job) => readOne(job, out));
  port.postMessage({ type: 'read', arena: message.arena, results }, out.transfer);
});
