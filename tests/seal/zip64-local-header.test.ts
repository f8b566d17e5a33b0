// An entry over 4 GiB, streamed, is written as APPNOTE 4.3.9 / 4.5.3 want and libarchive writes it: its local header
// says version 4.5, sizes 0xffffffff and carries a ZIP64 field with the size, and its data descriptor is 24 bytes.
// Before, the local header said 2.0 with no ZIP64 field, and a reader that streams the archive (bsdtar reading a pipe)
// took the descriptor for a 16-byte one: "ZIP compressed data is wrong size (read 4400000000, expected 105032704)".
//
// The archive is written as scopex's sealer sets archiver up (store, native CRC-32, whole headers, compact central
// directory, plain names), into a sparse file: the 4 GiB of zeros are holes, so the test costs CPU (the CRC-32 and
// the copies, a few seconds), not disk.
import { spawnSync } from 'node:child_process';
import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import { open } from 'node:fs/promises';
import path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { crc32 } from 'node:zlib';
import * as archiverModule from 'archiver';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { compactCentralDirectory } from '../../src/seal/compact-central-directory.js';
import { useNativeCrc32 } from '../../src/seal/native-crc.js';
import { keepPlainEntryNames } from '../../src/seal/plain-entry-names.js';
import { confirmDeclaredEntry, declareLargeEntry, declareWholeEntry, writeZipHeadersWhole } from '../../src/seal/zip-headers.js';
import { listZip, scanZip } from '../../src/verify/safe-zip.js';
import { tempDir } from './helpers.js';

interface ZipArchive {
  append(source: Buffer | Readable, data: { name: string; date: Date; store: boolean }): this;
  finalize(): Promise<void>;
  pipe<T extends NodeJS.WritableStream>(destination: T): T;
}
const { ZipArchive: ZipArchiveClass } = archiverModule as unknown as { ZipArchive: new (options: { store: boolean }) => ZipArchive };

const CHUNK = 4 * 1024 * 1024;
const ZEROS = Buffer.alloc(CHUNK);
/** 4 GiB and 4 MiB: over the 32-bit limit by a whole chunk. */
const BIG_BYTES = 2 ** 32 + CHUNK;
const BIG_NAME = 'LE-1/data/acct-1/storage.content/huge.bin';

/** BIG_BYTES of zeros, the same Buffer over and over. */
function zeros(): Readable {
  let left = BIG_BYTES;
  return new Readable({
    read() {
      const size = Math.min(CHUNK, left);
      left -= size;
      this.push(size === CHUNK ? ZEROS : ZEROS.subarray(0, size));
      if (left === 0) this.push(null);
    },
  });
}

/** Writes what it is given at its place in `file`, skipping all-zero chunks (they stay holes: a sparse file). */
function sparseSink(file: string): Writable & { size(): number } {
  const fd = openSync(file, 'w');
  let position = 0;
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      if (!(chunk.length >= 65_536 && chunk.length <= CHUNK && chunk.equals(ZEROS.subarray(0, chunk.length)))) writeSync(fd, chunk, 0, chunk.length, position);
      position += chunk.length;
      callback();
    },
    final(callback) {
      // The last byte written for real, so that the file has its whole length even if it ends in a hole.
      writeSync(fd, Buffer.alloc(0), 0, 0, position);
      closeSync(fd);
      callback();
    },
  });
  return Object.assign(sink, { size: () => position });
}

function readAt(file: string, position: number, length: number): Buffer {
  const fd = openSync(file, 'r');
  try {
    const buffer = Buffer.alloc(length);
    const read = readSync(fd, buffer, 0, length, position);
    return buffer.subarray(0, read);
  } finally {
    closeSync(fd);
  }
}

const workspace = tempDir();
let archiveFile: string;
let declared: boolean;

/** Writes an archive of a small entry, BIG_NAME streamed after `declare` ran on it, and another small entry. */
async function writeBigArchive(file: string, declare: (archive: object) => void): Promise<object> {
  useNativeCrc32();
  const archive = new ZipArchiveClass({ store: true });
  writeZipHeadersWhole(archive);
  compactCentralDirectory(archive);
  keepPlainEntryNames(archive);
  const sink = sparseSink(file);
  const done = new Promise<void>((resolve, reject) => {
    sink.on('finish', resolve);
    sink.on('error', reject);
  });
  archive.pipe(sink);
  archive.append(Buffer.from('before\n'), { name: 'LE-1/bagit.txt', date: new Date('2026-10-02T10:00:00Z'), store: true });
  declare(archive);
  archive.append(zeros(), { name: BIG_NAME, date: new Date('2026-10-02T10:00:00Z'), store: true });
  archive.append(Buffer.from('after\n'), { name: 'LE-1/order.json', date: new Date('2026-10-02T10:00:00Z'), store: true });
  await archive.finalize();
  await done;
  return archive;
}

beforeAll(async () => {
  archiveFile = path.join(workspace.dir, 'big.zip');
  await writeBigArchive(archiveFile, (archive) => {
    declared = declareLargeEntry(archive, BIG_NAME, BIG_BYTES);
  });
}, 120_000);
afterAll(() => workspace.cleanup());

describe('an entry over 4 GiB, streamed', () => {
  test('has a ZIP64 local header (version 4.5, sizes 0xffffffff, a ZIP64 field with its size) and a 24-byte descriptor', () => {
    expect(declared).toBe(true);
    // The first entry: 30 + 14 (name) + 7 bytes.
    const at = 30 + 'LE-1/bagit.txt'.length + 'before\n'.length;
    const header = readAt(archiveFile, at, 30 + BIG_NAME.length + 20);
    expect(header.readUInt32LE(0)).toBe(0x04034b50);
    expect(header.readUInt16LE(4)).toBe(45);
    expect(header.readUInt16LE(6) & 0x08).toBe(0x08);
    expect(header.readUInt32LE(14)).toBe(0);
    expect(header.readUInt32LE(18)).toBe(0xffffffff);
    expect(header.readUInt32LE(22)).toBe(0xffffffff);
    expect(header.readUInt16LE(28)).toBe(20);
    expect(header.toString('utf8', 30, 30 + BIG_NAME.length)).toBe(BIG_NAME);
    const extra = header.subarray(30 + BIG_NAME.length);
    expect(extra.readUInt16LE(0)).toBe(0x0001);
    expect(extra.readUInt16LE(2)).toBe(16);
    // The real sizes, not zero as bit 3 would have them: unzip takes them as the entry's (see the unzip test below).
    expect(Number(extra.readBigUInt64LE(4))).toBe(BIG_BYTES);
    expect(Number(extra.readBigUInt64LE(12))).toBe(BIG_BYTES);
    const descriptorAt = at + header.length + BIG_BYTES;
    const descriptor = readAt(archiveFile, descriptorAt, 24 + 4);
    expect(descriptor.readUInt32LE(0)).toBe(0x08074b50);
    expect(Number(descriptor.readBigUInt64LE(8))).toBe(BIG_BYTES);
    expect(Number(descriptor.readBigUInt64LE(16))).toBe(BIG_BYTES);
    // The next local header follows the 24-byte descriptor at once.
    expect(descriptor.readUInt32LE(24)).toBe(0x04034b50);
  });

  test("scopex verify's ZIP reader finds the archive sound: layout, local headers against the central directory, CRC-32s", { timeout: 120_000 }, async () => {
    const handle = await open(archiveFile, 'r');
    try {
      const listing = await listZip(handle, (await handle.stat()).size);
      expect(listing.problems).toEqual([]);
      expect(listing.entries.map((entry) => [entry.name, entry.uncompressedSize, entry.versionNeeded])).toEqual([
        ['LE-1/bagit.txt', 7, 10],
        [BIG_NAME, BIG_BYTES, 45],
        // Past 4 GiB: its central record gives its offset in a ZIP64 field.
        ['LE-1/order.json', 6, 45],
      ]);
      // Only the layout and headers: reading 4 GiB of holes back is the streaming reader's test below.
      expect(await scanZip(handle, listing, () => null)).toEqual([]);
    } finally {
      await handle.close();
    }
  });

  // Info-ZIP's unzip takes a local ZIP64 field's sizes as the entry's: with zeros there (as bit 3 would want them, and
  // libzip's consistency check asks), it read no byte of the entry and reported "bad CRC 00000000".
  const unzip = spawnSync('unzip', ['-v']).status === 0;
  test.runIf(unzip)('unzip tests it whole', { timeout: 120_000 }, () => {
    const tested = spawnSync('unzip', ['-tqq', archiveFile], { encoding: 'utf8' });
    expect(tested.stdout + tested.stderr).toBe('');
    expect(tested.status).toBe(0);
  });

  // libzip reads it (without -c, its consistency check, which wants the sizes zero beside the zero CRC-32).
  const ziptool = spawnSync('ziptool', ['-h']).error === undefined;
  test.runIf(ziptool)('libzip (ziptool) opens it', () => {
    const listed = spawnSync('ziptool', [archiveFile, 'get_num_entries', '0'], { encoding: 'utf8' });
    expect(listed.stderr).toBe('');
    expect(listed.stdout.trim()).toBe('3 entries in archive');
  });

  const bsdtar = spawnSync('bsdtar', ['--version']).status === 0;
  test.runIf(bsdtar)('a reader that streams the archive (bsdtar from a pipe) extracts it whole', { timeout: 180_000 }, () => {
    // As the examiner found it: before, bsdtar read the descriptor as a 16-byte one and stopped with "ZIP compressed
    // data is wrong size (read 4299161600, expected 4194304)".
    // bsdtar checks what it read against the sizes it found, and says so on stderr with exit 1.
    const extracted = spawnSync('sh', ['-c', `cat '${archiveFile}' | bsdtar -xOf - '${BIG_NAME}' > /dev/null`], { encoding: 'utf8' });
    expect(extracted.stderr).toBe('');
    expect(extracted.status).toBe(0);
  });
});

// What export writes now that it reads a large item's CRC-32 first: the entry as a whole one, with no descriptor.
describe('an entry over 4 GiB, streamed with its CRC-32 declared', () => {
  let wholeFile: string;
  let crc: number;
  let confirmed: string | undefined;
  beforeAll(async () => {
    wholeFile = path.join(workspace.dir, 'whole.zip');
    crc = 0;
    for (let left = BIG_BYTES; left > 0; left -= CHUNK) crc = crc32(ZEROS.subarray(0, Math.min(CHUNK, left)), crc);
    crc >>>= 0;
    const archive = await writeBigArchive(wholeFile, (engine) => expect(declareWholeEntry(engine, BIG_NAME, crc, BIG_BYTES)).toBe(true));
    confirmed = confirmDeclaredEntry(archive, BIG_NAME);
  }, 120_000);

  test('has a ZIP64 local header with its CRC-32 (version 4.5, bit 3 clear, sizes in a ZIP64 field) and no descriptor', () => {
    expect(confirmed).toBeUndefined();
    const at = 30 + 'LE-1/bagit.txt'.length + 'before\n'.length;
    const header = readAt(wholeFile, at, 30 + BIG_NAME.length + 20);
    expect(header.readUInt32LE(0)).toBe(0x04034b50);
    expect(header.readUInt16LE(4)).toBe(45);
    expect(header.readUInt16LE(6) & 0x08).toBe(0);
    expect(header.readUInt32LE(14)).toBe(crc);
    expect(header.readUInt32LE(18)).toBe(0xffffffff);
    expect(header.readUInt32LE(22)).toBe(0xffffffff);
    const extra = header.subarray(30 + BIG_NAME.length);
    expect(extra.readUInt16LE(0)).toBe(0x0001);
    expect(Number(extra.readBigUInt64LE(4))).toBe(BIG_BYTES);
    expect(Number(extra.readBigUInt64LE(12))).toBe(BIG_BYTES);
    expect(readAt(wholeFile, at + header.length + BIG_BYTES, 4).readUInt32LE(0)).toBe(0x04034b50);
  });

  test("scopex verify's ZIP reader finds it sound", { timeout: 120_000 }, async () => {
    const handle = await open(wholeFile, 'r');
    try {
      const listing = await listZip(handle, (await handle.stat()).size);
      expect(listing.problems).toEqual([]);
      expect(listing.entries.map((entry) => [entry.name, entry.uncompressedSize, entry.versionNeeded, entry.crc32])).toEqual([
        ['LE-1/bagit.txt', 7, 10, crc32(Buffer.from('before\n')) >>> 0],
        [BIG_NAME, BIG_BYTES, 45, crc],
        ['LE-1/order.json', 6, 45, crc32(Buffer.from('after\n')) >>> 0],
      ]);
      expect(await scanZip(handle, listing, () => null)).toEqual([]);
    } finally {
      await handle.close();
    }
  });

  const unzip = spawnSync('unzip', ['-v']).status === 0;
  test.runIf(unzip)('unzip tests it whole', { timeout: 120_000 }, () => {
    const tested = spawnSync('unzip', ['-tqq', wholeFile], { encoding: 'utf8' });
    expect(tested.stdout + tested.stderr).toBe('');
    expect(tested.status).toBe(0);
  });

  const bsdtar = spawnSync('bsdtar', ['--version']).status === 0;
  test.runIf(bsdtar)('a reader that streams the archive (bsdtar from a pipe) extracts it whole', { timeout: 180_000 }, () => {
    const extracted = spawnSync('sh', ['-c', `cat '${wholeFile}' | bsdtar -xOf - '${BIG_NAME}' | wc -c`], { encoding: 'utf8' });
    expect(extracted.stderr).toBe('');
    expect(Number(extracted.stdout.trim())).toBe(BIG_BYTES);
  });
});
