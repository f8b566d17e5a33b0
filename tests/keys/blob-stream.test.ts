// The streamed plaintext of a large blob: exact over many reads of the one reused buffer, and an error (never a
// clean end) for any change to the blob, wherever it is, including a file cut short while it is being read.
import { createSecretKey, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { IntegrityError, SourceError } from '../../src/errors.js';
import { BLOB_READ_BYTES, BlobPlaintextStream } from '../../src/keys/blob-stream.js';
import { encryptItemBuffer, HEADER_BYTES, TAG_BYTES } from '../../src/keys/item-crypto.js';

const folder = mkdtempSync(path.join(os.tmpdir(), 'scopex-blob-stream-'));
afterAll(() => rmSync(folder, { recursive: true, force: true }));

const key = createSecretKey(randomBytes(32));
const aad = Buffer.from('scopex.item/v1\nstorage\nacct-1\nf-1');
const plaintext = randomBytes(2 * BLOB_READ_BYTES + 12_345);
const blob = encryptItemBuffer(key, randomBytes(12), aad, plaintext);

let files = 0;
function blobFile(bytes: Buffer): string {
  files += 1;
  const file = path.join(folder, `blob-${files}`);
  writeFileSync(file, bytes);
  return file;
}

function streamOf(file: string): BlobPlaintextStream {
  return new BlobPlaintextStream({ file, key, aad, what: 'storage item f-1 of account acct-1', openFailure: (error) => new SourceError('ITEM_MISSING', String(error)) });
}

async function drain(stream: Readable): Promise<{ bytes: Buffer; chunks: number }> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return { bytes: Buffer.concat(chunks), chunks: chunks.length };
}

async function failure(stream: Readable): Promise<{ error: unknown; ended: boolean }> {
  let ended = false;
  stream.on('end', () => {
    ended = true;
  });
  try {
    await drain(stream);
  } catch (error) {
    return { error, ended };
  }
  throw new Error('the stream ended cleanly');
}

describe('BlobPlaintextStream', () => {
  it('gives back the exact plaintext over several reads, each chunk its own bytes', async () => {
    const { bytes, chunks } = await drain(streamOf(blobFile(blob)));
    expect(chunks).toBe(3);
    expect(bytes.equals(plaintext)).toBe(true);
  });

  it('an empty plaintext is an empty stream once the tag checks out', async () => {
    const empty = encryptItemBuffer(key, randomBytes(12), aad, Buffer.alloc(0));
    expect((await drain(streamOf(blobFile(empty)))).bytes).toHaveLength(0);
  });

  it('a byte flipped in any chunk, or in the tag, errors at the end and never ends cleanly', async () => {
    for (const at of [HEADER_BYTES, HEADER_BYTES + BLOB_READ_BYTES + 7, blob.length - TAG_BYTES - 1, blob.length - 1]) {
      const copy = Buffer.from(blob);
      copy[at] = copy[at]! ^ 0x01;
      const { error, ended } = await failure(streamOf(blobFile(copy)));
      expect(error).toBeInstanceOf(IntegrityError);
      expect((error as IntegrityError).code).toBe('ITEM_AUTH_FAILED');
      expect(ended).toBe(false);
    }
  });

  it('a blob cut while it is being read fails its tag check', async () => {
    const file = blobFile(blob);
    const stream = streamOf(file);
    let cut = false;
    stream.on('data', () => {
      if (cut) return;
      cut = true;
      truncateSync(file, HEADER_BYTES + BLOB_READ_BYTES + 100);
    });
    const { error, ended } = await failure(stream);
    expect((error as IntegrityError).code).toBe('ITEM_AUTH_FAILED');
    expect(ended).toBe(false);
  });

  it('a missing blob is the open failure it was given; a bad header is ITEM_FORMAT', async () => {
    expect((await failure(streamOf(path.join(folder, 'missing')))).error).toBeInstanceOf(SourceError);
    const bad = Buffer.from(blob);
    bad[0] = 0;
    expect(((await failure(streamOf(blobFile(bad)))).error as IntegrityError).code).toBe('ITEM_FORMAT');
  });

  it('stops reading when destroyed part-way', async () => {
    const stream = streamOf(blobFile(blob));
    const first = await new Promise<Buffer>((resolve) => stream.once('data', resolve));
    expect(first.equals(plaintext.subarray(0, first.length))).toBe(true);
    stream.destroy();
    await new Promise((resolve) => stream.once('close', resolve));
    expect(stream.destroyed).toBe(true);
  });
});
