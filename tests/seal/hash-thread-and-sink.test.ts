// The archive's writer and hasher: whatever the chunk sizes, the file holds exactly the bytes written, in order,
// and the reported size and SHA-256 are those of the file.
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { finished } from 'node:stream/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createHashThread, SLOT_BYTES, SLOT_COUNT, type HashChannel } from '../../src/seal/hash-thread.js';
import { BatchingFileSink, BATCH_BYTES } from '../../src/seal/batching-file-sink.js';
import { expectFileHolds, lentCopies } from './helpers.js';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'scopex-sink-'));
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Chunk sizes around every boundary the writer has: tiny, the 64 KiB copy bound, a batch, a hash slot, the ring. */
const SIZES = [1, 2, 30, 4096, 65_535, 65_536, 65_537, BATCH_BYTES - 1, BATCH_BYTES, BATCH_BYTES + 1, SLOT_BYTES * SLOT_COUNT + 3, 0, 7];

/**
 * A file handle whose writes land a little later, as a busy disk's would: the writer must not touch the bytes of a
 * write in flight while it fills the next batch.
 */
function slowHandle(handle: FileHandle): FileHandle {
  const slow = {
    fd: handle.fd,
    async writev(buffers: Buffer[], position?: number) {
      await new Promise((resolve) => setTimeout(resolve, 2));
      return handle.writev(buffers, position);
    },
    datasync: () => handle.datasync(),
  };
  return slow as unknown as FileHandle;
}

async function writeAll(chunks: Buffer[]): Promise<{ file: string; sink: BatchingFileSink; digest: string }> {
  const file = path.join(dir, 'archive.bin');
  const handle = await open(file, 'wx+');
  const thread = createHashThread();
  const sink = new BatchingFileSink(slowHandle(handle), thread.channel());
  for (const chunk of chunks) {
    if (!sink.write(chunk)) await new Promise((resolve) => sink.once('drain', resolve));
  }
  sink.end();
  await finished(sink);
  const digest = await sink.digestHex();
  await thread.close();
  await handle.close();
  return { file, sink, digest };
}

describe('BatchingFileSink with the archive hasher', () => {
  it('writes every byte in order and reports the file size and SHA-256, across all chunk-size boundaries', async () => {
    const chunks: Buffer[] = [];
    for (let round = 0; round < 3; round += 1) for (const size of SIZES) chunks.push(randomBytes(size));
    // Many small chunks, as archiver's headers come, between the big ones.
    for (let index = 0; index < 40_000; index += 1) chunks.push(randomBytes(1 + (index % 97)));
    for (const size of SIZES) chunks.push(randomBytes(size));
    const { file, sink, digest } = await writeAll(chunks);
    expectFileHolds(file, chunks, sink, digest);
  });

  it('gives each lent chunk back once, and only after it is written', async () => {
    // Big chunks are written as they are, from the chunk itself: they must not be given back when taken in.
    const chunks = [...SIZES, ...SIZES].filter((size) => size > 0).map((size) => randomBytes(size));
    const { lent, givenBack } = lentCopies(chunks);
    const { file, sink, digest } = await writeAll(lent);
    expectFileHolds(file, chunks, sink, digest);
    expect(givenBack()).toBe(lent.length);
  });

  it('hashes nothing as the SHA-256 of the empty string', async () => {
    const { sink, digest } = await writeAll([]);
    expect(sink.bytes).toBe(0);
    expect(digest).toBe(createHash('sha256').digest('hex'));
  });

  it('fails the stream when the disk write fails, and does not hang', async () => {
    const file = path.join(dir, 'archive.bin');
    const handle = await open(file, 'wx+');
    const thread = createHashThread();
    const sink = new BatchingFileSink(handle, thread.channel());
    await handle.close(); // every writev now fails with EBADF
    const failed = new Promise<unknown>((resolve) => sink.once('error', resolve));
    for (let index = 0; index < 4; index += 1) sink.write(randomBytes(BATCH_BYTES));
    sink.end();
    const error = (await failed) as { code?: string };
    expect(error.code).toBe('EBADF');
    await thread.close();
  });
});

describe('BatchingFileSink flushing to the disk as it goes', () => {
  /** A real handle, a little slow, whose fdatasync is counted and takes a while (or fails with `failWith`). */
  function syncCountingHandle(handle: FileHandle, failWith?: string): { handle: FileHandle; events: string[] } {
    const events: string[] = [];
    const counting = {
      fd: handle.fd,
      async writev(buffers: Buffer[], position?: number) {
        await new Promise((resolve) => setTimeout(resolve, 3));
        return handle.writev(buffers, position);
      },
      async datasync() {
        events.push('sync-start');
        await new Promise((resolve) => setTimeout(resolve, 5));
        if (failWith) throw Object.assign(new Error(`${failWith}: i/o error, fdatasync`), { code: failWith });
        await handle.datasync();
        events.push('sync-end');
      },
    };
    return { handle: counting as unknown as FileHandle, events };
  }

  it('starts background flushes every syncEveryBytes and finishes only after the last one', async () => {
    const file = path.join(dir, 'archive.bin');
    const real = await open(file, 'wx+');
    const { handle, events } = syncCountingHandle(real);
    const thread = createHashThread(false);
    const sink = new BatchingFileSink(handle, thread.channel(), { syncEveryBytes: 2 * BATCH_BYTES });
    const chunks = Array.from({ length: 12 }, () => randomBytes(BATCH_BYTES));
    for (const chunk of chunks) {
      if (!sink.write(chunk)) await new Promise((resolve) => sink.once('drain', resolve));
    }
    sink.end();
    await finished(sink);
    events.push('finished');
    await real.close();
    expect(events.filter((event) => event === 'sync-start').length).toBeGreaterThanOrEqual(2);
    // Never two at once, and none still running when the stream says it is done.
    expect(events.join(' ')).toMatch(/^(sync-start sync-end )+finished$/);
    expect(fs.readFileSync(file).equals(Buffer.concat(chunks))).toBe(true);
  });

  it('fails the stream when a background flush fails, and does not hang', async () => {
    const file = path.join(dir, 'archive.bin');
    const real = await open(file, 'wx+');
    const { handle } = syncCountingHandle(real, 'EIO');
    const thread = createHashThread(false);
    const sink = new BatchingFileSink(handle, thread.channel(), { syncEveryBytes: BATCH_BYTES });
    const failed = new Promise<unknown>((resolve) => sink.once('error', resolve));
    for (let index = 0; index < 4; index += 1) sink.write(randomBytes(BATCH_BYTES));
    sink.end();
    const error = (await failed) as { code?: string };
    expect(error.code).toBe('EIO');
    await real.close();
  });
});

describe('hash thread channels', () => {
  it('keep their hashes apart when interleaved, and start afresh after each digest', async () => {
    const thread = createHashThread();
    const archive = thread.channel();
    const payload = thread.channel(2);
    const a = [randomBytes(3 * SLOT_BYTES + 5), randomBytes(10)];
    const b = [randomBytes(5 * SLOT_BYTES + 1), randomBytes(SLOT_BYTES)];
    const sha = (parts: Buffer[]) => createHash('sha256').update(Buffer.concat(parts)).digest('hex');
    await Promise.all([archive.update([a[0]!]), payload.update([b[0]!]), archive.update([a[1]!])]);
    expect(await payload.digestHex()).toBe(sha([b[0]!]));
    await payload.update([b[1]!]);
    expect(await payload.digestHex()).toBe(sha([b[1]!]));
    expect(await archive.digestHex()).toBe(sha(a));
    payload.close();
    await thread.close();
  });

  it('fail pending work once the thread is stopped', async () => {
    const thread = createHashThread();
    const channel = thread.channel(1);
    await thread.close();
    await expect(channel.update([randomBytes(3 * SLOT_BYTES)])).rejects.toThrow();
  });
});

describe('hash channels reading back from a file', () => {
  const sha = (parts: Buffer[]) => createHash('sha256').update(Buffer.concat(parts)).digest('hex');

  /** Runs `test` with a channel (on the hash thread or in this thread) and a file holding `content`, open to read. */
  async function withFile(content: Buffer, threaded: boolean, test: (channel: HashChannel, fd: number) => Promise<void>): Promise<void> {
    const file = path.join(dir, 'written.bin');
    fs.writeFileSync(file, content);
    const handle = await open(file, 'r');
    const thread = createHashThread(threaded);
    try {
      await test(thread.channel(2), handle.fd);
    } finally {
      await thread.close();
      await handle.close();
    }
  }

  for (const threaded of [true, false]) {
    const where = threaded ? 'on the hash thread' : 'in this thread';

    it(`hash the bytes at the given positions, in order with copied updates (${where})`, async () => {
      const content = randomBytes(3 * 1024 * 1024 + 17);
      await withFile(content, threaded, async (channel, fd) => {
        const before = randomBytes(SLOT_BYTES + 3);
        const after = randomBytes(100);
        const copied = channel.update([before]);
        channel.updateFromFile(fd, 10, 2 * 1024 * 1024 + 5);
        channel.updateFromFile(fd, 0, 0);
        channel.updateFromFile(fd, content.length - 1, 1);
        await copied;
        await channel.update([after]);
        const expected = sha([before, content.subarray(10, 10 + 2 * 1024 * 1024 + 5), content.subarray(content.length - 1), after]);
        expect(await channel.digestHex()).toBe(expected);
        // The next digest starts afresh.
        channel.updateFromFile(fd, 0, 4);
        expect(await channel.digestHex()).toBe(sha([content.subarray(0, 4)]));
      });
    });

    it(`hash written bytes in order with other updates, whether the writes are contiguous or not (${where})`, async () => {
      const content = randomBytes(20 * 1024 * 1024 + 11);
      await withFile(content, threaded, async (channel, fd) => {
        const piece = (from: number, to: number) => content.subarray(from, to);
        const written = (from: number, to: number) => channel.written([piece(from, from + 3), piece(from + 3, to)], fd, from, to - from);
        const copied = randomBytes(1000);
        // Contiguous writes past the read-back size, a copied update between, a gap, a write elsewhere, the end.
        written(0, 5 * 1024 * 1024);
        written(5 * 1024 * 1024, 9 * 1024 * 1024);
        written(9 * 1024 * 1024, 9 * 1024 * 1024 + 100);
        await channel.update([copied]);
        written(9 * 1024 * 1024 + 100, 12 * 1024 * 1024);
        written(15 * 1024 * 1024, 20 * 1024 * 1024 + 11);
        written(10, 20);
        const expected = sha([piece(0, 9 * 1024 * 1024 + 100), copied, piece(9 * 1024 * 1024 + 100, 12 * 1024 * 1024), piece(15 * 1024 * 1024, content.length), piece(10, 20)]);
        expect(await channel.digestHex()).toBe(expected);
      });
    });

    it(`fail the digest when the file is shorter than the bytes asked for, or cannot be read (${where})`, async () => {
      const file = path.join(dir, 'short.bin');
      fs.writeFileSync(file, randomBytes(1000));
      const readable = await open(file, 'r');
      const writeOnly = await open(file, 'a');
      const thread = createHashThread(threaded);
      try {
        const short = thread.channel(1);
        short.updateFromFile(readable.fd, 900, 200);
        await expect(short.digestHex()).rejects.toThrow(/reading back what was written, to hash it, failed: the file ended 100 bytes before/);
        const unreadable = thread.channel(1);
        unreadable.updateFromFile(writeOnly.fd, 0, 10);
        await expect(unreadable.digestHex()).rejects.toMatchObject({ code: 'EBADF' });
      } finally {
        await thread.close();
        await readable.close();
        await writeOnly.close();
      }
    });
  }

  it('a sink hashing in its own thread reports the SHA-256 of what it wrote', async () => {
    const file = path.join(dir, 'archive.bin');
    const handle = await open(file, 'wx');
    const thread = createHashThread(false);
    const sink = new BatchingFileSink(handle, thread.channel(0));
    const chunks = [randomBytes(BATCH_BYTES + 5), randomBytes(70_000), randomBytes(10)];
    for (const chunk of chunks) sink.write(chunk);
    sink.end();
    await finished(sink);
    expect(await sink.digestHex()).toBe(createHash('sha256').update(Buffer.concat(chunks)).digest('hex'));
    await handle.close();
  });

  it('a sink whose file cannot be read back finishes writing but gives no digest', async () => {
    const file = path.join(dir, 'archive.bin');
    const handle = await open(file, 'wx'); // write-only: the hash thread cannot read it back
    const thread = createHashThread();
    const sink = new BatchingFileSink(handle, thread.channel());
    sink.write(randomBytes(BATCH_BYTES + 5));
    sink.end();
    await finished(sink);
    await expect(sink.digestHex()).rejects.toMatchObject({ code: 'EBADF' });
    await thread.close();
    await handle.close();
  });
});

describe('a hash channel without a ring', () => {
  it('hashes from files but refuses bytes to copy, rather than waiting for a slot forever', async () => {
    const thread = createHashThread();
    const channel = thread.channel(0);
    try {
      await expect(channel.update([randomBytes(10)])).rejects.toThrow(/no ring/);
      const file = path.join(dir, 'bytes.bin');
      const content = randomBytes(5000);
      fs.writeFileSync(file, content);
      const handle = await open(file, 'r');
      channel.updateFromFile(handle.fd, 0, content.length);
      expect(await channel.digestHex()).toBe(createHash('sha256').update(content).digest('hex'));
      await handle.close();
    } finally {
      await thread.close();
    }
  });
});
