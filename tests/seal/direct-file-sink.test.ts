// The archive's direct-I/O writer: whatever the chunk sizes, the file holds exactly the bytes written, in order, full
// slots go to the disk aligned and past the page cache, the last one and everything after a refusal go through it,
// and the reported size and SHA-256 are those of the file.
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createHashThread, type HashThread, type SlotHashChannel } from '../../src/seal/hash-thread.js';
import { alignedSharedMemory, DIRECT_ALIGN_BYTES, DirectFileSink } from '../../src/seal/direct-file-sink.js';
import { expectFileHolds, lentCopies } from './helpers.js';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'scopex-direct-'));
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Small slots, so that a few hundred KiB cross many slot boundaries and the slots are reused many times. */
const SLOT = 16 * DIRECT_ALIGN_BYTES;
const SLOTS = 4;

function memory(): SharedArrayBuffer {
  const shared = alignedSharedMemory(SLOT * SLOTS);
  if (!shared) throw new Error('no WebAssembly memory here');
  return shared;
}

interface Write {
  position: number;
  length: number;
}

/**
 * A handle that records its writes and lets each land a little later, as a busy disk's would; `refuse` makes each
 * write fail with that code instead.
 */
function recording(handle: FileHandle, options: { delayMs?: number; refuse?: string } = {}): { handle: FileHandle; writes: Write[] } {
  const writes: Write[] = [];
  const wrapped = {
    fd: handle.fd,
    async write(buffer: Buffer, offset: number, length: number, position: number) {
      await new Promise((resolve) => setTimeout(resolve, options.delayMs ?? 1));
      if (options.refuse) throw Object.assign(new Error(`${options.refuse}: refused, write`), { code: options.refuse });
      writes.push({ position, length });
      return handle.write(buffer, offset, length, position);
    },
    datasync: () => handle.datasync(),
    close: () => handle.close(),
  };
  return { handle: wrapped as unknown as FileHandle, writes };
}

/** A hash thread whose slot channel takes its bytes only after `delayMs`: a slot reused too early is hashed wrong. */
function lateHashing(inner: HashThread, delayMs: number): HashThread {
  return {
    channel: (slots) => inner.channel(slots),
    slotChannel(shared, slotBytes): SlotHashChannel {
      const channel = inner.slotChannel(shared, slotBytes);
      let chain = Promise.resolve();
      return {
        hash(slot, length) {
          const run = chain.then(async () => {
            await new Promise((resolve) => setTimeout(resolve, delayMs));
            await channel.hash(slot, length);
          });
          chain = run.catch(() => undefined);
          return run;
        },
        digestHex: () => chain.then(() => channel.digestHex()),
        close: () => channel.close(),
      };
    },
    close: () => inner.close(),
  };
}

/** Chunk sizes around every boundary the writer has: tiny, the alignment, a slot, all the slots. */
const SIZES = [1, 2, 30, DIRECT_ALIGN_BYTES - 1, DIRECT_ALIGN_BYTES, SLOT - 1, SLOT, SLOT + 1, SLOT * SLOTS + 3, 0, 7];

async function writeAll(
  chunks: Buffer[],
  options: { thread?: HashThread; refuse?: string; delayMs?: number } = {},
): Promise<{ file: string; sink: DirectFileSink; digest: string; directWrites: Write[]; bufferedWrites: Write[] }> {
  const file = path.join(dir, 'archive.bin');
  const buffered = await open(file, 'wx+');
  const realDirect = await open(`/proc/self/fd/${buffered.fd}`, fs.constants.O_WRONLY | fs.constants.O_DIRECT).catch(() => open(file, 'r+'));
  const direct = recording(realDirect, { delayMs: options.delayMs, refuse: options.refuse });
  const plain = recording(buffered, { delayMs: 0 });
  const thread = options.thread ?? createHashThread();
  const sink = new DirectFileSink({ direct: direct.handle, buffered: plain.handle }, memory(), thread, { slotBytes: SLOT });
  let digest: string;
  try {
    await pipeline(Readable.from(chunks), sink);
    digest = await sink.digestHex();
  } finally {
    await thread.close();
    await realDirect.close();
    await buffered.close();
  }
  return { file, sink, digest, directWrites: direct.writes, bufferedWrites: plain.writes };
}

function mixedChunks(): Buffer[] {
  const chunks: Buffer[] = [];
  for (let round = 0; round < 3; round += 1) for (const size of SIZES) chunks.push(randomBytes(size));
  // Many small chunks, as archiver's headers come, between the big ones.
  for (let index = 0; index < 5_000; index += 1) chunks.push(randomBytes(1 + (index % 97)));
  for (const size of SIZES) chunks.push(randomBytes(size));
  return chunks;
}

describe('alignedSharedMemory', () => {
  it('gives shared memory of the size asked, and nothing for a size that is not whole 64 KiB pages', () => {
    expect(alignedSharedMemory(4 * 65_536)?.byteLength).toBe(4 * 65_536);
    expect(alignedSharedMemory(4 * 65_536)).toBeInstanceOf(SharedArrayBuffer);
    expect(alignedSharedMemory(65_536 + 4096)).toBeUndefined();
  });
});

describe('DirectFileSink', () => {
  it('writes every byte in order and reports the file size and SHA-256, across all chunk-size boundaries', async () => {
    const chunks = mixedChunks();
    const { file, sink, digest, directWrites, bufferedWrites } = await writeAll(chunks);
    expectFileHolds(file, chunks, sink, digest);
    // Full slots go direct, whole and aligned; only the last, partial slot goes through the page cache.
    expect(directWrites.length).toBe(Math.floor(Buffer.concat(chunks).length / SLOT));
    for (const write of directWrites) {
      expect(write.length).toBe(SLOT);
      expect(write.position % DIRECT_ALIGN_BYTES).toBe(0);
    }
    expect(bufferedWrites.map((write) => write.position)).toEqual([directWrites.length * SLOT]);
    expect(sink.wroteDirect).toBe(true);
  });

  it('does not fill a slot again before the disk and the hash thread are both done with it', async () => {
    const chunks = mixedChunks();
    // Slow writes, and slower hashing: a slot given back after its write alone would be hashed with later bytes.
    const slow = await writeAll(chunks, { thread: lateHashing(createHashThread(false), 3), delayMs: 1 });
    expectFileHolds(slow.file, chunks, slow.sink, slow.digest);
  });

  it('gives each lent chunk back once, and only after every byte of it is copied', async () => {
    // Slow disk and slower hashing: big chunks wait for slots half-way through their copy.
    const chunks = mixedChunks().filter((chunk) => chunk.length > 0);
    const { lent, givenBack } = lentCopies(chunks);
    const { file, sink, digest } = await writeAll(lent, { thread: lateHashing(createHashThread(), 3), delayMs: 2 });
    expectFileHolds(file, chunks, sink, digest);
    expect(givenBack()).toBe(lent.length);
  });

  it('hashes nothing as the SHA-256 of the empty string, and writes nothing', async () => {
    const { file, sink, digest, directWrites, bufferedWrites } = await writeAll([]);
    expect(fs.statSync(file).size).toBe(0);
    expect(sink.bytes).toBe(0);
    expect(digest).toBe(createHash('sha256').digest('hex'));
    expect(directWrites.length + bufferedWrites.length).toBe(0);
  });

  it('goes on through the page cache, that slot included, when the file system refuses a direct write', async () => {
    const chunks = mixedChunks();
    const { file, sink, digest, directWrites, bufferedWrites } = await writeAll(chunks, { refuse: 'EINVAL' });
    expectFileHolds(file, chunks, sink, digest);
    expect(directWrites).toEqual([]);
    expect(bufferedWrites[0]?.position).toBe(0);
    expect(sink.wroteDirect).toBe(false);
  });

  it('fails the stream on any other write failure, and does not hang', async () => {
    await expect(writeAll(mixedChunks(), { refuse: 'ENOSPC' })).rejects.toMatchObject({ code: 'ENOSPC' });
  });

  it('fails the stream when the hash thread stops, and does not hang', async () => {
    const file = path.join(dir, 'archive.bin');
    const buffered = await open(file, 'wx+');
    const thread = createHashThread();
    const sink = new DirectFileSink({ direct: buffered, buffered }, memory(), thread, { slotBytes: SLOT });
    const failed = new Promise<unknown>((resolve) => sink.once('error', resolve));
    sink.write(randomBytes(SLOT));
    await thread.close();
    for (let index = 0; index < 2 * SLOTS; index += 1) sink.write(randomBytes(SLOT));
    sink.end();
    expect(String(await failed)).toMatch(/hashing thread stopped/);
    await buffered.close();
  });

  it('refuses slots that direct I/O could not write whole', () => {
    const thread = createHashThread(false);
    const handle = {} as FileHandle;
    expect(() => new DirectFileSink({ direct: handle, buffered: handle }, memory(), thread, { slotBytes: SLOT + 1 })).toThrow(/multiple of 4096/);
  });
});

describe('slot hash channels', () => {
  it('hash the slots handed over in order, in a thread or not, and refuse a slot still being hashed', async () => {
    const shared = memory();
    const view = Buffer.from(shared);
    const parts: Buffer[] = [];
    const digests: string[] = [];
    for (const { thread, inWorker } of [
      { thread: createHashThread(), inWorker: true },
      { thread: createHashThread(false), inWorker: false },
    ]) {
      const channel = thread.slotChannel(shared, SLOT);
      parts.length = 0;
      for (let round = 0; round < 3; round += 1) {
        const hashed: Promise<void>[] = [];
        for (let slot = 0; slot < SLOTS; slot += 1) {
          const part = randomBytes(slot === SLOTS - 1 ? 100 : SLOT);
          part.copy(view, slot * SLOT);
          parts.push(part);
          hashed.push(channel.hash(slot, part.length));
        }
        await Promise.all(hashed);
      }
      digests.push(await channel.digestHex());
      if (inWorker) {
        const first = channel.hash(0, 1);
        await expect(channel.hash(0, 1)).rejects.toThrow(/not a free slot/);
        await expect(channel.hash(SLOTS, 1)).rejects.toThrow(/not a free slot/);
        await first;
      }
      await thread.close();
      expect(digests.at(-1)).toBe(createHash('sha256').update(Buffer.concat(parts)).digest('hex'));
    }
  });
});
