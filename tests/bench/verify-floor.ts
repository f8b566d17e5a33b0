// The floor of a verify: the least a Node program does to check an archive's payload against its manifest, timed in
// the same run as scopex verify. It reads the central directory, then every entry's local header and data in file
// order (1 MiB reads), takes the SHA-256 of each payload file (`data/...`) and compares the manifest's digests with
// them. Nothing else: no name, structure or type checks, no signature, tag manifest, Payload-Oxum, production.json
// or scope, no second thread. Stored entries only; a ZIP64 archive is read as such.
//
// It runs as its own process, as scopex does: `node verify-floor.js ARCHIVE`. It prints
// {"payloadFiles":N,"listed":M,"mismatched":K}; K counts manifest lines whose file is missing or differs.
import { hash } from 'node:crypto';
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import path from 'node:path';

const END_SIGNATURE = 0x06054b50;
const CENTRAL_SIGNATURE = 0x02014b50;
const LOCAL_SIGNATURE = 0x04034b50;
const READ_BYTES = 1 << 20;

interface Entry {
  name: string;
  dataSize: number;
  localOffset: number;
}

export interface VerifyFloorResult {
  payloadFiles: number;
  listed: number;
  mismatched: number;
}

function readAt(fd: number, position: number, length: number): Buffer {
  const bytes = Buffer.allocUnsafe(length);
  let done = 0;
  while (done < length) {
    const read = readSync(fd, bytes, done, length - done, position + done);
    if (read === 0) throw new Error(`unexpected end of file at byte ${position + done}`);
    done += read;
  }
  return bytes;
}

function centralDirectory(fd: number, size: number): Entry[] {
  const tailBytes = Math.min(size, 22 + 0xffff);
  const tail = readAt(fd, size - tailBytes, tailBytes);
  let end = -1;
  for (let at = tail.length - 22; at >= 0; at--) {
    if (tail.readUInt32LE(at) === END_SIGNATURE) {
      end = at;
      break;
    }
  }
  if (end < 0) throw new Error('no end-of-central-directory record');
  let count = tail.readUInt16LE(end + 10);
  let directoryBytes = tail.readUInt32LE(end + 12);
  let directoryAt = tail.readUInt32LE(end + 16);
  if (count === 0xffff || directoryBytes === 0xffffffff || directoryAt === 0xffffffff) {
    const locator = readAt(fd, size - tailBytes + end - 20, 20);
    const zip64 = readAt(fd, Number(locator.readBigUInt64LE(8)), 56);
    count = Number(zip64.readBigUInt64LE(32));
    directoryBytes = Number(zip64.readBigUInt64LE(40));
    directoryAt = Number(zip64.readBigUInt64LE(48));
  }
  const directory = readAt(fd, directoryAt, directoryBytes);
  const entries: Entry[] = [];
  let at = 0;
  for (let index = 0; index < count; index++) {
    if (directory.readUInt32LE(at) !== CENTRAL_SIGNATURE) throw new Error(`central directory record ${index} is not one`);
    if (directory.readUInt16LE(at + 10) !== 0) throw new Error('a compressed entry (the floor reads stored entries only)');
    const nameBytes = directory.readUInt16LE(at + 28);
    const extraBytes = directory.readUInt16LE(at + 30);
    const commentBytes = directory.readUInt16LE(at + 32);
    let uncompressed = directory.readUInt32LE(at + 24);
    let compressed = directory.readUInt32LE(at + 20);
    let localOffset = directory.readUInt32LE(at + 42);
    // The ZIP64 field gives each 32-bit field that is all ones, in this order.
    for (let field = at + 46 + nameBytes; field < at + 46 + nameBytes + extraBytes; field += 4 + directory.readUInt16LE(field + 2)) {
      if (directory.readUInt16LE(field) !== 0x0001) continue;
      let value = field + 4;
      const take = (): number => {
        const read = Number(directory.readBigUInt64LE(value));
        value += 8;
        return read;
      };
      if (uncompressed === 0xffffffff) uncompressed = take();
      if (compressed === 0xffffffff) compressed = take();
      if (localOffset === 0xffffffff) localOffset = take();
    }
    entries.push({ name: directory.toString('utf8', at + 46, at + 46 + nameBytes), dataSize: compressed, localOffset });
    at += 46 + nameBytes + extraBytes + commentBytes;
  }
  return entries;
}

/** Reads the file forward through one window, growing it only for an entry bigger than a read. */
class Window {
  #bytes = Buffer.allocUnsafe(READ_BYTES);
  #start = 0;
  #length = 0;

  constructor(private readonly fd: number) {}

  view(position: number, length: number): Buffer {
    if (position < this.#start || position + length > this.#start + this.#length) {
      if (length > this.#bytes.length) this.#bytes = Buffer.allocUnsafe(length);
      this.#start = position;
      this.#length = 0;
      while (this.#length < length) {
        const read = readSync(this.fd, this.#bytes, this.#length, this.#bytes.length - this.#length, position + this.#length);
        if (read === 0) throw new Error(`unexpected end of file at byte ${position + this.#length}`);
        this.#length += read;
      }
    }
    return this.#bytes.subarray(position - this.#start, position - this.#start + length);
  }
}

export function verifyFloor(archive: string): VerifyFloorResult {
  const fd = openSync(archive, 'r');
  const digests = new Map<string, string>();
  let manifest: string | null = null;
  try {
    const entries = centralDirectory(fd, fstatSync(fd).size);
    const window = new Window(fd);
    for (const entry of entries) {
      const header = window.view(entry.localOffset, 30);
      if (header.readUInt32LE(0) !== LOCAL_SIGNATURE) throw new Error(`no local header for ${entry.name}`);
      const data = window.view(entry.localOffset + 30 + header.readUInt16LE(26) + header.readUInt16LE(28), entry.dataSize);
      const bagPath = entry.name.slice(entry.name.indexOf('/') + 1);
      if (bagPath.startsWith('data/') && !bagPath.endsWith('/')) digests.set(bagPath, hash('sha256', data, 'hex'));
      else if (bagPath === 'manifest-sha256.txt') manifest = data.toString('utf8');
    }
  } finally {
    closeSync(fd);
  }
  if (manifest === null) throw new Error(`${archive} has no manifest-sha256.txt`);
  let listed = 0;
  let mismatched = 0;
  for (const line of manifest.split('\n')) {
    if (line === '') continue;
    const space = line.indexOf(' ');
    // BagIt encodes only CR, LF and % in manifest paths.
    const file = line.slice(space).trimStart().replace(/%0D|%0A|%25/gi, (code) => decodeURIComponent(code));
    listed += 1;
    if (digests.get(file) !== line.slice(0, space)) mismatched += 1;
  }
  return { payloadFiles: digests.size, listed, mismatched };
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname)) {
  const archive = process.argv[2];
  if (!archive) {
    process.stderr.write('usage: node verify-floor.js ARCHIVE\n');
    process.exitCode = 2;
  } else {
    try {
      process.stdout.write(`${JSON.stringify(verifyFloor(archive))}\n`);
    } catch (error) {
      process.stderr.write(`verify-floor: ${archive}: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exitCode = 1;
    }
  }
}
