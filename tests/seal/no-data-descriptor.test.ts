// Every entry of a sealed bag is whole (CRC-32 and sizes in its local header, no data descriptor), including the files
// scopex spools and appends as streams (metadata.jsonl, production.json, manifest-sha256.txt): Java's ZipInputStream
// refuses a stored entry with a descriptor and reads nothing after it (round 12 interop I1).
import { createHash } from 'node:crypto';
import fs, { createReadStream, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { crc32 } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { IntegrityError } from '../../src/errors.js';
import { createBagSealer } from '../../src/seal/sealer.js';
import type { SealerOptions } from '../../src/seal/sealer.js';
import { run, tempDir, writePki, type PkiFiles } from './helpers.js';

const NOW = new Date('2026-10-02T10:00:00Z');
const ORDER = 'LE-2026-000777';
const DATA_DESCRIPTOR_FLAG = 1 << 3;
let workspace: { dir: string; cleanup(): void };
let pki: PkiFiles;
let counter = 0;

beforeAll(() => {
  workspace = tempDir();
  pki = writePki(workspace.dir);
});
afterAll(() => workspace.cleanup());

function options(): SealerOptions {
  counter += 1;
  return {
    outDir: path.join(workspace.dir, `out-${counter}`),
    orderId: ORDER,
    organization: 'Contoso Cloud',
    signerCertificateFile: pki.signerCertificateFile,
    signerKeyFile: pki.signerKeyFile,
    now: NOW,
  };
}

function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function spool(name: string, bytes: Buffer): string {
  const file = path.join(workspace.dir, `${counter}-${name}`);
  writeFileSync(file, bytes);
  return file;
}

interface ParsedEntry {
  name: string;
  centralFlags: number;
  localFlags: number;
  method: number;
  central: { crc: number; compressed: number; size: number };
  local: { crc: number; compressed: number; size: number };
  data: Buffer;
}

/** Reads the central directory of a small (non-ZIP64) archive, and each entry's local header and stored data. */
function parseZip(zip: Buffer): ParsedEntry[] {
  const eocd = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  expect(eocd).toBeGreaterThan(0);
  const count = zip.readUInt16LE(eocd + 10);
  let at = zip.readUInt32LE(eocd + 16);
  const entries: ParsedEntry[] = [];
  for (let index = 0; index < count; index += 1) {
    expect(zip.readUInt32LE(at)).toBe(0x02014b50);
    const nameLength = zip.readUInt16LE(at + 28);
    const extraLength = zip.readUInt16LE(at + 30);
    const commentLength = zip.readUInt16LE(at + 32);
    const offset = zip.readUInt32LE(at + 42);
    const name = zip.toString('utf8', at + 46, at + 46 + nameLength);
    const central = { crc: zip.readUInt32LE(at + 16), compressed: zip.readUInt32LE(at + 20), size: zip.readUInt32LE(at + 24) };
    expect(zip.readUInt32LE(offset)).toBe(0x04034b50);
    const local = { crc: zip.readUInt32LE(offset + 14), compressed: zip.readUInt32LE(offset + 18), size: zip.readUInt32LE(offset + 22) };
    const dataStart = offset + 30 + zip.readUInt16LE(offset + 26) + zip.readUInt16LE(offset + 28);
    entries.push({
      name,
      centralFlags: zip.readUInt16LE(at + 8),
      localFlags: zip.readUInt16LE(offset + 6),
      method: zip.readUInt16LE(offset + 8),
      central,
      local,
      data: zip.subarray(dataStart, dataStart + central.compressed),
    });
    at += 46 + nameLength + extraLength + commentLength;
  }
  return entries;
}

/** A tiny reader with java.util.zip.ZipInputStream, as `jar x <` reads: prints "<name>\t<bytes>\t<sha256>" per entry. */
const JAVA_STREAM_READER = String.raw`
import java.io.*;
import java.security.MessageDigest;
import java.util.zip.*;

public class StreamRead {
  public static void main(String[] args) throws Exception {
    try (ZipInputStream in = new ZipInputStream(new BufferedInputStream(new FileInputStream(args[0])))) {
      byte[] buffer = new byte[65536];
      for (ZipEntry entry; (entry = in.getNextEntry()) != null; ) {
        MessageDigest digest = MessageDigest.getInstance("SHA-256");
        long bytes = 0;
        for (int n; (n = in.read(buffer)) > 0; ) { digest.update(buffer, 0, n); bytes += n; }
        StringBuilder hex = new StringBuilder();
        for (byte b : digest.digest()) hex.append(String.format("%02x", b));
        System.out.println(entry.getName() + "\t" + bytes + "\t" + hex);
      }
    }
  }
}
`;

function hasJava(): boolean {
  return run('java', ['-version']).status === 0;
}

describe('a bag with spooled files appended as streams', () => {
  const metadata = Buffer.from(
    Array.from({ length: 4000 }, (_, index) => `{"id":"m-${index}","subject":"line ${index} PK\u0007\u0008 planted"}\n`).join(''),
    'utf8',
  );
  const production = Buffer.from('{"items":[{"path":"data/acct-1/mail.metadata/metadata.jsonl"}]}\n');
  const mail = Buffer.from('From: a@example\r\nSubject: hi\r\n\r\nbody\r\n');
  const known = Buffer.alloc(300_000, 0x5a);
  const expected = new Map<string, Buffer>();
  let archive: string;
  let entries: ParsedEntry[];

  beforeAll(async () => {
    const sealer = await createBagSealer(options());
    await sealer.addPayload('acct-1/mail.content/m-1.eml', { bytes: mail, sha256: sha256(mail), crc32: crc32(mail) });
    // A stream given its size and CRC-32, as large items are: handled as before.
    await sealer.addPayload('acct-1/storage.content/big.bin', Readable.from([known.subarray(0, 1000), known.subarray(1000)]), known.length, crc32(known));
    const added = await sealer.addPayload('acct-1/mail.metadata/metadata.jsonl', createReadStream(spool('metadata.jsonl', metadata)));
    expect(added).toEqual({ path: 'data/acct-1/mail.metadata/metadata.jsonl', sha256: sha256(metadata), bytes: metadata.length });
    await sealer.addTagFile('order.json', Buffer.from('{}\n'));
    await sealer.addTagFile('production.json', createReadStream(spool('production.json', production)));
    archive = (await sealer.seal()).archive;
    entries = parseZip(readFileSync(archive));
    expected.set(`${ORDER}/data/acct-1/mail.content/m-1.eml`, mail);
    expected.set(`${ORDER}/data/acct-1/storage.content/big.bin`, known);
    expected.set(`${ORDER}/data/acct-1/mail.metadata/metadata.jsonl`, metadata);
    expected.set(`${ORDER}/production.json`, production);
  });

  test('writes every entry whole: bit 3 clear, and the local header has the central directory CRC-32 and sizes', () => {
    const names = entries.map((entry) => entry.name);
    expect(names).toContain(`${ORDER}/manifest-sha256.txt`);
    expect(names).toContain(`${ORDER}/data/acct-1/mail.metadata/metadata.jsonl`);
    expect(names).toContain(`${ORDER}/production.json`);
    for (const entry of entries) {
      expect({ name: entry.name, local: entry.localFlags & DATA_DESCRIPTOR_FLAG, central: entry.centralFlags & DATA_DESCRIPTOR_FLAG }).toEqual({
        name: entry.name,
        local: 0,
        central: 0,
      });
      expect(entry.method).toBe(0);
      expect({ name: entry.name, ...entry.local }).toEqual({ name: entry.name, ...entry.central });
      expect(entry.central.compressed).toBe(entry.central.size);
      expect(crc32(entry.data) >>> 0).toBe(entry.central.crc);
    }
    for (const [name, bytes] of expected) {
      const entry = entries.find((candidate) => candidate.name === name);
      expect(entry?.data.equals(bytes)).toBe(true);
    }
    expect(run('unzip', ['-tqq', archive]).status).toBe(0);
  });

  test('is read whole, entry by entry, by Java ZipInputStream (when java is on PATH)', (context) => {
    if (!hasJava()) {
      context.skip();
      return;
    }
    const source = path.join(workspace.dir, 'StreamRead.java');
    writeFileSync(source, JAVA_STREAM_READER);
    const result = run('java', [source, archive]);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    const read = result.stdout.trim().split('\n').map((line) => line.split('\t'));
    expect(read.map(([name]) => name)).toEqual(entries.map((entry) => entry.name));
    for (const entry of entries) {
      expect(read.find(([name]) => name === entry.name)).toEqual([entry.name, String(entry.data.length), sha256(entry.data)]);
    }
  });
});

test('refuses to seal a spooled file whose bytes differ between the read for its CRC-32 and the one into the archive', async () => {
  const metadata = Buffer.from('{"id":"m-1"}\n'.repeat(500));
  const file = spool('changing.jsonl', metadata);
  // A read stream of the file whose reads flip one byte: as if the file changed after it was measured.
  const flipping = {
    open: fs.open,
    close: fs.close,
    read(fd: number, buffer: Buffer, offset: number, length: number, position: number | null, callback: (error: NodeJS.ErrnoException | null, bytes: number, buffer: Buffer) => void) {
      fs.read(fd, buffer, offset, length, position, (error, bytes) => {
        if (!error && bytes > 0) buffer[offset] = (buffer[offset] ?? 0) ^ 0xff;
        callback(error, bytes, buffer);
      });
    },
  };
  const sealer = await createBagSealer(options());
  let failure: unknown;
  try {
    await sealer.addPayload('acct-1/mail.metadata/metadata.jsonl', createReadStream(file, { fs: flipping } as Parameters<typeof createReadStream>[1]));
    await sealer.addTagFile('order.json', Buffer.from('{}\n'));
    await sealer.seal();
  } catch (error) {
    failure = error;
    await sealer.abort();
  }
  expect(failure).toBeInstanceOf(IntegrityError);
  expect((failure as IntegrityError).code).toBe('ITEM_FORMAT');
  expect((failure as Error).message).toContain('data/acct-1/mail.metadata/metadata.jsonl');
});
