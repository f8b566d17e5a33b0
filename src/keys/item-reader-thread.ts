// The key service's reader thread: reads and authenticates small blobs in batches, so that an export's main thread
// is left with listing, checking and sealing. It holds the data keys it was sent, as KeyObjects, and nothing else.
import type { KeyObject } from 'node:crypto';
import { parentPort } from 'node:worker_threads';
import { IntegrityError } from '../errors.js';
import { describeItem, itemAad } from './item-crypto.js';
import type { ReaderRequest, ReadJob, ReadResult } from './item-reader-protocol.js';
import { BlobOpenError, SmallBlobReader } from './small-blob.js';

const port = parentPort;
if (!port) throw new Error('item-reader-thread runs only as a worker thread');

const keys = new Map<string, KeyObject>();
const reader = new SmallBlobReader();

function readOne(job: ReadJob, transfer: ArrayBuffer[]): ReadResult {
  const what = describeItem(job);
  const key = keys.get(job.accountId);
  if (!key) return { id: job.id, failure: { kind: 'other', message: `no data key was sent for ${what}` } };
  try {
    const plaintext = reader.read(job.file, job.maxBytes, key, itemAad(job.service, job.accountId, job.itemId), what);
    return { id: job.id, bytes: transferable(plaintext, transfer) };
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
  const transfer: ArrayBuffer[] = [];
  const results = message.jobs.map((job) => readOne(job, transfer));
  port.postMessage({ type: 'read', results }, transfer);
});
