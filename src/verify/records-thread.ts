// The records thread: runs `RecordChecks` for the verifier (see `record-checker.ts`). It reads the manifest and
// production.json from the open archive itself when asked, so that they are parsed while the main thread is still
// reading the payload.
import { createHash } from 'node:crypto';
import { readSync } from 'node:fs';
import { parentPort } from 'node:worker_threads';
import { crc32 } from 'node:zlib';
import { DigestTable } from './digest-table.js';
import type { MetadataSummary } from './metadata-lines.js';
import { RecordChecks, type ReadResults } from './record-checks.js';
import type { RecordsReply, RecordsRequest } from './records-protocol.js';

/** Read in pieces of this size (the JSON reader parses up to 1 MiB of records at once). */
const READ_BYTES = 1024 * 1024;

const port = parentPort;
if (port === null) throw new Error('records-thread.js runs as a worker thread');

let checks: RecordChecks | null = null;
let lastRead: ReadResults | null = null;
let readBuffer: Buffer | null = null;

function required(): RecordChecks {
  if (checks === null) throw new Error('the records thread was not begun');
  return checks;
}

function handle(request: RecordsRequest): RecordsReply | null {
  switch (request.type) {
    case 'begin':
      checks = new RecordChecks(request.settings);
      return null;
    case 'layout':
      required().setLayout(request.layout);
      // Both files were read before the layout came (the verifier asks in that order), and nothing else feeds them
      // here: the digest-free part of the checks runs now, while the main thread is still hashing the payload.
      required().prepare();
      return null;
    case 'read': {
      let summary: MetadataSummary | undefined;
      const file = request.file;
      const sink =
        typeof file === 'string'
          ? required().sink(file)
          : required().metadataSink(file.metadata, file.category, (lines) => {
              summary = lines;
            });
      readBuffer ??= Buffer.allocUnsafe(READ_BYTES);
      const hash = createHash('sha256');
      let crc = 0;
      let done = 0;
      while (done < request.length) {
        const read = readSync(request.fd, readBuffer, 0, Math.min(READ_BYTES, request.length - done), request.position + done);
        if (read === 0) break; // a file that shrank meanwhile: the digest of what was there, which the manifest refuses
        const piece = readBuffer.subarray(0, read);
        hash.update(piece);
        crc = crc32(piece, crc);
        sink.update(piece);
        done += read;
      }
      sink.end();
      return { type: 'read', id: request.id, sha256: hash.digest('hex'), bytes: done, crc, ...(summary ? { summary } : {}) };
    }
    case 'discard':
      required().discard(request.file);
      return null;
    case 'payload': {
      lastRead = { digests: new DigestTable(request.digests, request.present), sizes: request.sizes };
      return { type: 'outcome', id: request.id, outcome: required().checkPayload(lastRead) };
    }
    case 'production':
      if (lastRead === null) throw new Error('the records thread was asked for production before payload');
      return { type: 'outcome', id: request.id, outcome: required().checkProduction(lastRead, request.contentServices) };
    case 'scope':
      return { type: 'outcome', id: request.id, outcome: required().checkScope(request.rule) };
  }
}

port.on('message', (request: RecordsRequest) => {
  let reply: RecordsReply | null;
  try {
    reply = handle(request);
  } catch (error) {
    // With the file system's code, so that the verifier can tell an unreadable archive from a bug.
    const code = (error as { code?: unknown } | null)?.code;
    reply = { type: 'failed', message: String((error as Error | null)?.message ?? error), ...(typeof code === 'string' ? { code } : {}) };
  }
  if (reply) port.postMessage(reply);
});
