// The CRC-32 and size of everything a stream gives, read to its end and discarded (lent chunks are given back).
import type { Readable } from 'node:stream';
import { crc32 } from 'node:zlib';
import { giveBackChunk } from './lent-chunks.js';

export interface StreamCrc {
  crc32: number;
  bytes: number;
}

/** Rejects with the stream's own error, or with the signal's reason when it aborts first (the stream is destroyed). */
export async function crcOfStream(stream: Readable, signal?: AbortSignal): Promise<StreamCrc> {
  let value = 0;
  let bytes = 0;
  const onAbort = () => stream.destroy(signal?.reason as Error);
  if (signal?.aborted) onAbort();
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      value = crc32(chunk, value);
      bytes += chunk.length;
      giveBackChunk(chunk);
    }
  } catch (error) {
    throw signal?.aborted ? (signal.reason as Error) : error;
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
  return { crc32: value >>> 0, bytes };
}
