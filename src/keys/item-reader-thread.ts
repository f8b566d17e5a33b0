// The key service's reader thread: reads and authenticates small blobs in batches, and streams large ones chunk by
// chunk, so that an export's main thread is left with listing, checking and sealing. It holds the data keys it was
// sent, as KeyObjects, and nothing else, and drops them all when told to forget (the key service that sent them has
// closed; the thread may serve another).
import { createHash, hash, type Hash, type KeyObject } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { parentPort, workerData } from 'node:worker_threads';
import { IntegrityError } from '../errors.js';
import { describeItem, itemAad } from './item-crypto.js';
import { mailHeaderFields, type MailHeaderFields } from '../pipeline/mail-headers.js';
import {
  decodeJobs,
  encodeHeaders,
  IN_EXCEPTIONS,
  RING_SLOTS,
  STREAM_CHUNK_BYTES,
  type Exception,
  type ReaderReply,
  type ReaderRequest,
  type ReaderThreadData,
  type ReadFailure,
  type ReadJob,
  type StreamReply,
} from './item-reader-protocol.js';
import { BlobOpenError, SmallBlobReader } from './small-blob.js';
import { SyncBlobReader } from './sync-blob-reader.js';
import { freeNow } from '../util/free-now.js';

const port = parentPort;
if (!port) throw new Error('item-reader-thread runs only as a worker thread');

const keys = new Map<string, KeyObject>();
const reader = new SmallBlobReader();
const NO_DIGEST = ' '.repeat(64);
const data = workerData as ReaderThreadData;
const arenas = data.arenas.map((shared) => Buffer.from(shared));
const ring = Buffer.from(data.ring);
/** Ring slots free to lend, and those lent and not yet returned. */
const freeSlots = Array.from({ length: RING_SLOTS }, (_, slot) => RING_SLOTS - 1 - slot);
const lentSlots = new Set<number>();

/** Where the batch's plaintexts go: its arena while they fit, then each in a buffer of its own, moved over. */
interface Output {
  arena: Buffer;
  used: number;
  spans: Int32Array;
  crcs: Int32Array;
  digests: string[];
  /** Each job's header fields, when it asked for them and was read. */
  headers: (MailHeaderFields | null)[];
  exceptions: Exception[];
  transfer: ArrayBuffer[];
}

function readOne(job: ReadJob, index: number, out: Output): void {
  out.spans[2 * index] = IN_EXCEPTIONS;
  out.digests[index] = NO_DIGEST;
  out.headers[index] = null;
  const what = describeItem(job);
  const key = keys.get(job.accountId);
  if (!key) {
    out.exceptions.push({ index, failure: { kind: 'other', message: `no data key was sent for ${what}` } });
    return;
  }
  let plaintext: Buffer;
  try {
    plaintext = reader.read(job.file, job.maxBytes, key, itemAad(job.service, job.accountId, job.itemId), what);
  } catch (error) {
    out.exceptions.push({ index, failure: failureOf(error) });
    return;
  }
  if (job.mailHeaders) out.headers[index] = mailHeaderFields(plaintext);
  if (plaintext.length <= out.arena.length - out.used) {
    // Copied into shared memory: the plaintext buffer itself dies young in this thread instead of being freed by
    // the main thread's collector (which leaves this thread's malloc arena fragmented).
    // Hashed as placed: the digest is of the very bytes the main thread copies out.
    const placed = out.arena.subarray(out.used, out.used + plaintext.copy(out.arena, out.used));
    out.digests[index] = hash('sha256', placed, 'hex');
    out.crcs[index] = crc32(placed);
    out.spans[2 * index] = out.used;
    out.spans[2 * index + 1] = placed.length;
    out.used += placed.length;
  } else {
    const sha256 = hash('sha256', plaintext, 'hex');
    out.crcs[index] = crc32(plaintext);
    out.exceptions.push({ index, bytes: transferable(plaintext, out.transfer), sha256 });
  }
}

function failureOf(error: unknown): ReadFailure {
  if (error instanceof IntegrityError) return { kind: 'integrity', code: error.code, message: error.message };
  if (error instanceof BlobOpenError) return { kind: 'open', code: error.code, message: error.message };
  return { kind: 'other', message: error instanceof Error ? error.message : String(error) };
}

/** The bytes in an ArrayBuffer of their own, listed for transfer (moved to the main thread, not copied again). */
function transferable(bytes: Buffer, transfer: ArrayBuffer[]): Uint8Array {
  const own = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer;
  const out = own ? new Uint8Array(bytes.buffer, 0, bytes.byteLength) : Uint8Array.from(bytes);
  transfer.push(out.buffer as ArrayBuffer);
  return out;
}

/** A streamed item: its reader, and the SHA-256 and size of the plaintext sent so far. */
interface Streaming {
  reader: SyncBlobReader;
  hash: Hash;
  bytes: number;
}

const streams = new Map<number, Streaming>();
let streamScratch: Buffer | undefined;

function reply(message: StreamReply, transfer: ArrayBuffer[] = []): void {
  port!.postMessage(message, transfer);
}

/** Opens the blob a `stream` or `crc` request names, or answers that it failed (undefined then). */
function openRequested(request: Extract<ReaderRequest, { type: 'stream' | 'crc' }>): SyncBlobReader | undefined {
  const what = describeItem(request);
  const key = keys.get(request.accountId);
  if (!key) {
    reply({ type: 'failed', id: request.id, failure: { kind: 'other', message: `no data key was sent for ${what}` } });
    return undefined;
  }
  try {
    return SyncBlobReader.open(request.file, key, itemAad(request.service, request.accountId, request.itemId), what);
  } catch (error) {
    reply({ type: 'failed', id: request.id, failure: failureOf(error) });
    return undefined;
  }
}

function startStream(request: Extract<ReaderRequest, { type: 'stream' }>): void {
  const reader = openRequested(request);
  if (!reader) return;
  streams.set(request.id, { reader, hash: createHash('sha256'), bytes: 0 });
  sendChunk(request.id);
}

/**
 * Sends a chunk of stream `id`: lent in a free ring slot (copied there and hashed as placed, so the digest is of the
 * very bytes the main thread archives), or moved over when every slot is lent.
 */
function sendPlaintext(id: number, stream: Streaming, chunk: Buffer): void {
  stream.bytes += chunk.length;
  const slot = chunk.length <= STREAM_CHUNK_BYTES ? freeSlots.pop() : undefined;
  if (slot === undefined) {
    stream.hash.update(chunk);
    const transfer: ArrayBuffer[] = [];
    reply({ type: 'chunk', id, bytes: transferable(chunk, transfer) }, transfer);
    return;
  }
  const start = slot * STREAM_CHUNK_BYTES;
  const placed = ring.subarray(start, start + chunk.copy(ring, start));
  stream.hash.update(placed);
  // The decipher's buffer is dead now; left to this thread's collector, such buffers piled up (see free-now.ts).
  freeNow(chunk);
  lentSlots.add(slot);
  reply({ type: 'lent', id, slot, length: placed.length });
}

/** Sends stream `id`'s next chunk; after the last one, at once, its end (or its failure: a tag that does not match). */
function sendChunk(id: number): void {
  const stream = streams.get(id);
  if (!stream) return;
  streamScratch ??= Buffer.allocUnsafeSlow(STREAM_CHUNK_BYTES);
  try {
    const chunk = stream.reader.next(streamScratch);
    if (chunk) {
      sendPlaintext(id, stream, chunk);
      if (!stream.reader.exhausted) return;
    }
    if (stream.reader.next(streamScratch) !== null) throw new Error('the cipher gave bytes after the last chunk');
    streams.delete(id);
    reply({ type: 'end', id, sha256: stream.hash.digest('hex'), bytes: stream.bytes });
  } catch (error) {
    stream.reader.close();
    streams.delete(id);
    reply({ type: 'failed', id, failure: failureOf(error) });
  }
}

/** Items being read for their CRC-32 (`crc` requests): their reader, and the CRC-32 and size of the plaintext so far. */
const crcJobs = new Map<number, { reader: SyncBlobReader; crc32: number; bytes: number }>();
/** Plaintext read for a CRC-32 before the thread turns to its other messages (a cancel, a batch of small items). */
const CRC_STEP_BYTES = 16 * STREAM_CHUNK_BYTES;

function startCrc(request: Extract<ReaderRequest, { type: 'crc' }>): void {
  const reader = openRequested(request);
  if (!reader) return;
  crcJobs.set(request.id, { reader, crc32: 0, bytes: 0 });
  setImmediate(() => stepCrc(request.id));
}

/** Reads up to CRC_STEP_BYTES more of a `crc` item; answers after its tag is checked, or goes on after other messages. */
function stepCrc(id: number): void {
  const job = crcJobs.get(id);
  if (!job) return;
  streamScratch ??= Buffer.allocUnsafeSlow(STREAM_CHUNK_BYTES);
  try {
    for (let step = 0; step < CRC_STEP_BYTES; ) {
      const chunk = job.reader.next(streamScratch);
      if (chunk === null) {
        crcJobs.delete(id);
        reply({ type: 'crc', id, crc32: job.crc32, bytes: job.bytes });
        return;
      }
      job.crc32 = crc32(chunk, job.crc32);
      job.bytes += chunk.length;
      step += chunk.length;
      freeNow(chunk);
    }
  } catch (error) {
    job.reader.close();
    crcJobs.delete(id);
    reply({ type: 'failed', id, failure: failureOf(error) });
    return;
  }
  setImmediate(() => stepCrc(id));
}

port.on('message', (message: ReaderRequest) => {
  if (message.type === 'key') {
    keys.set(message.accountId, message.key);
    return;
  }
  if (message.type === 'forget') {
    keys.clear();
    for (const stream of streams.values()) stream.reader.close();
    streams.clear();
    for (const job of crcJobs.values()) job.reader.close();
    crcJobs.clear();
    return;
  }
  if (message.type === 'crc') {
    startCrc(message);
    return;
  }
  if (message.type === 'stream') {
    startStream(message);
    return;
  }
  if (message.type === 'more') {
    sendChunk(message.id);
    return;
  }
  if (message.type === 'return') {
    // Only a slot that is lent goes back: a stray or repeated return must not free a slot twice.
    if (lentSlots.delete(message.slot)) freeSlots.push(message.slot);
    return;
  }
  if (message.type === 'cancel') {
    streams.get(message.id)?.reader.close();
    streams.delete(message.id);
    crcJobs.get(message.id)?.reader.close();
    crcJobs.delete(message.id);
    return;
  }
  const arena = arenas[message.arena];
  if (!arena) throw new Error(`no arena ${message.arena}`);
  const jobs = decodeJobs(message.jobs);
  const wantsHeaders = jobs.some((job) => job.mailHeaders);
  const out: Output = { arena, used: 0, spans: new Int32Array(2 * jobs.length), crcs: new Int32Array(jobs.length), digests: [], headers: [], exceptions: [], transfer: [] };
  for (let index = 0; index < jobs.length; index += 1) readOne(jobs[index]!, index, out);
  const reply: ReaderReply = {
    type: 'read',
    arena: message.arena,
    used: out.used,
    spans: out.spans,
    crcs: out.crcs,
    digests: out.digests.join(''),
    headers: wantsHeaders ? encodeHeaders(out.headers) : '',
    exceptions: out.exceptions,
  };
  port.postMessage(reply, [out.spans.buffer as ArrayBuffer, out.crcs.buffer as ArrayBuffer, ...out.transfer]);
});
