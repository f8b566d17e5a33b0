// Central records that share a local header, or point inside another entry, are refused while the central
// directory is read, before an entry is built for each (tamper finding T5: a million records sharing one local
// header took verify to ~1 GB of entries). Honest archives pass whatever the order of their central records.
import fs from 'node:fs';
import { open } from 'node:fs/promises';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listZip, scanZip, type ZipListing } from '../../src/verify/safe-zip.js';
import { verifyArchive } from '../../src/verify/verify.js';
import { createPki, goodArchive, tempDir, type Pki } from './fixtures.js';

let dir: string;
let pki: Pki;
let counter = 0;

beforeAll(() => {
  dir = tempDir();
  pki = createPki(dir);
});

afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

function localHeader(name: string, data: Buffer): Buffer {
  const header = Buffer.alloc(30);
  header.writeUInt32LE(0x04034b50, 0);
  header.writeUInt16LE(10, 4);
  header.writeUInt32LE(crc32(data), 14);
  header.writeUInt32LE(data.length, 18);
  header.writeUInt32LE(data.length, 22);
  header.writeUInt16LE(Buffer.byteLength(name), 26);
  return Buffer.concat([header, Buffer.from(name), data]);
}

function centralRecord(name: string, offset: number, data: Buffer): Buffer {
  const record = Buffer.alloc(46);
  record.writeUInt32LE(0x02014b50, 0);
  record.writeUInt16LE(0x031e, 4);
  record.writeUInt16LE(10, 6);
  record.writeUInt32LE(crc32(data), 16);
  record.writeUInt32LE(data.length, 20);
  record.writeUInt32LE(data.length, 24);
  record.writeUInt16LE(Buffer.byteLength(name), 28);
  record.writeUInt32LE((0o100644 << 16) >>> 0, 38);
  record.writeUInt32LE(offset, 42);
  return Buffer.concat([record, Buffer.from(name)]);
}

function endRecord(count: number, size: number, offset: number): Buffer {
  const record = Buffer.alloc(22);
  record.writeUInt32LE(0x06054b50, 0);
  record.writeUInt16LE(count, 8);
  record.writeUInt16LE(count, 10);
  record.writeUInt32LE(size, 12);
  record.writeUInt32LE(offset, 16);
  return record;
}

/** ZIP64 end records, so that more than 65,535 records can be declared. */
function zip64EndRecords(count: number, size: number, offset: number, at: number): Buffer {
  const record = Buffer.alloc(56);
  record.writeUInt32LE(0x06064b50, 0);
  record.writeBigUInt64LE(44n, 4);
  record.writeUInt16LE(45, 12);
  record.writeUInt16LE(45, 14);
  record.writeBigUInt64LE(BigInt(count), 24);
  record.writeBigUInt64LE(BigInt(count), 32);
  record.writeBigUInt64LE(BigInt(size), 40);
  record.writeBigUInt64LE(BigInt(offset), 48);
  const locator = Buffer.alloc(20);
  locator.writeUInt32LE(0x07064b50, 0);
  locator.writeBigUInt64LE(BigInt(at), 8);
  locator.writeUInt32LE(1, 16);
  const classic = endRecord(0xffff, 0xffffffff, 0xffffffff);
  return Buffer.concat([record, locator, classic]);
}

/** Local headers and data (the body), then the given central records and end records. */
function archive(body: Buffer, records: Buffer[]): Buffer {
  const central = Buffer.concat(records);
  const at = body.length + central.length;
  return Buffer.concat([body, central, zip64EndRecords(records.length, central.length, body.length, at)]);
}

async function listBytes(bytes: Buffer): Promise<ZipListing> {
  const file = path.join(dir, `a-${counter++}.zip`);
  fs.writeFileSync(file, bytes);
  const handle = await open(file, 'r');
  try {
    const listing = await listZip(handle, bytes.length);
    if (!listing.fatal) listing.problems.push(...(await scanZip(handle, listing, () => null)));
    return listing;
  } finally {
    await handle.close();
  }
}

/** Splits a central directory into its records (no extra fields or comments, as the writers here make them). */
function centralRecordsOf(zip: Buffer): { body: Buffer; records: Buffer[] } {
  const end = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  const count = zip.readUInt16LE(end + 10);
  const offset = zip.readUInt32LE(end + 16);
  const records: Buffer[] = [];
  let at = offset;
  for (let i = 0; i < count; i++) {
    const length = 46 + zip.readUInt16LE(at + 28) + zip.readUInt16LE(at + 30) + zip.readUInt16LE(at + 32);
    records.push(zip.subarray(at, at + length));
    at += length;
  }
  return { body: zip.subarray(0, offset), records };
}

describe('central records that overlap', () => {
  it('refuses 200,000 records sharing one local header at the second record, building no entries', async () => {
    const body = localHeader('LE-2026-000101/a', Buffer.alloc(0));
    const records = Array.from({ length: 200_000 }, (_, i) => centralRecord(`LE-2026-000101/${i.toString(16)}`, 0, Buffer.alloc(0)));
    const listing = await listBytes(archive(body, records));
    expect(listing.fatal).toBe(true);
    expect(listing.entries).toEqual([]);
    expect(listing.problems).toHaveLength(1);
    expect(listing.problems[0]).toMatchObject({ entry: 'LE-2026-000101/1', found: 'byte 0' });
  });

  it('refuses a record pointing inside another entry\'s data, also when the records are not in offset order', async () => {
    const first = localHeader('B/first', Buffer.from('first entry data, long enough to hide a header'));
    const second = localHeader('B/second', Buffer.from('second'));
    const body = Buffer.concat([first, second]);
    // In reverse offset order, the record pointing 40 bytes into the first entry between the two.
    const records = [centralRecord('B/second', first.length, Buffer.from('second')), centralRecord('B/inside', 40, Buffer.alloc(0)), centralRecord('B/first', 0, Buffer.from('first entry data, long enough to hide a header'))];
    const listing = await listBytes(archive(body, records));
    expect(listing.fatal).toBe(true);
    expect(listing.problems).toHaveLength(1);
    expect(listing.problems[0]).toMatchObject({ entry: 'B/inside', found: 'byte 40' });
  });

  it('lists an honest archive whatever the order of its central records', async () => {
    const entries = ['B/a', 'B/bb', 'B/ccc', 'B/dddd'].map((name, i) => ({ name, data: Buffer.from(name.repeat(i)) }));
    let body = Buffer.alloc(0);
    const records: Buffer[] = [];
    for (const entry of entries) {
      records.push(centralRecord(entry.name, body.length, entry.data));
      body = Buffer.concat([body, localHeader(entry.name, entry.data)]);
    }
    for (const order of [records, [...records].reverse(), [records[2], records[0], records[3], records[1]] as Buffer[]]) {
      const listing = await listBytes(archive(body, order));
      expect(listing.fatal).toBe(false);
      expect(listing.problems).toEqual([]);
      expect(listing.entries).toHaveLength(4);
    }
  });

  it('verifies a sealed archive whose central records are reversed', async () => {
    const { file } = goodArchive(dir, pki, `good-${counter++}.zip`);
    const { body, records } = centralRecordsOf(fs.readFileSync(file));
    const reversed = path.join(dir, `reversed-${counter++}.zip`);
    fs.writeFileSync(reversed, archive(body, records.reverse()));
    const report = await verifyArchive({ archive: reversed, trustFile: pki.caFile, hashThread: 'never', recordsThread: 'never' });
    expect(report.failures).toEqual([]);
  });
});
