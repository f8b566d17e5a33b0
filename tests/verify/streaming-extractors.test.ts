// Round 11 tamper findings: archives that verified while a streaming extractor (bsdtar reading a pipe) would extract
// something else, and tag files BagIt tools act on that verify did not read. Each archive keeps the honest bytes and
// signature where the finding did (D1, D3: no key needed) or is re-signed (D2, D4: the signer key's holder).
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { crc32 } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SignatureSearch } from '../../src/verify/safe-zip.js';
import { verifyArchive, type VerifyReport } from '../../src/verify/verify.js';
import {
  cloneModel,
  createPki,
  EOCD_SIGNATURE,
  ORDER_ID,
  sampleBag,
  sha256,
  sign,
  tempDir,
  writeManifests,
  writeZip,
  writeZipWithArchiver,
  zipItems,
  type BagModel,
  type Pki,
  type ProductionRecord,
  type ZipItem,
} from './fixtures.js';

/** The built verifier, whose records thread (a built script beside it) runs only from there. */
type Verifier = typeof verifyArchive;
const BUILT_VERIFY = pathToFileURL(path.resolve(import.meta.dirname, '../../dist/src/verify/verify.js')).href;
let builtVerifyArchive: Verifier;

let dir: string;
let pki: Pki;
let good: BagModel;
let counter = 0;

const MAIL_1 = 'data/acc-0001/mail.content/m-000001.eml';
const RESUME = 'data/acc-0002/storage.content/reports/Résumé.txt'.normalize('NFC');
const DESCRIPTOR_SIGNATURE = Buffer.from([0x50, 0x4b, 0x07, 0x08]);

beforeAll(async () => {
  builtVerifyArchive = ((await import(BUILT_VERIFY)) as { verifyArchive: Verifier }).verifyArchive;
  dir = tempDir();
  pki = createPki(dir);
  good = sampleBag().model;
  writeManifests(good);
  sign(good, pki.signer);
});

afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Verifies in the three ways the tamper suite does (no thread, hashing thread, records thread) and demands one report. */
async function verifyBytes(bytes: Buffer): Promise<VerifyReport> {
  const file = path.join(dir, `t-${counter++}.zip`);
  fs.writeFileSync(file, bytes);
  const now = new Date();
  const inThread = await verifyArchive({ archive: file, trustFile: pki.caFile, maxFailures: 200, hashThread: 'never', now });
  const withWorker = await verifyArchive({ archive: file, trustFile: pki.caFile, maxFailures: 200, hashThread: 'always', now });
  expect(withWorker).toEqual(inThread);
  const withRecordsThread = await builtVerifyArchive({ archive: file, trustFile: pki.caFile, maxFailures: 200, hashThread: 'always', recordsThread: 'always', now });
  expect(withRecordsThread).toEqual(inThread);
  return inThread;
}

function failedChecks(report: VerifyReport): string[] {
  return [...new Set(report.failures.map((failure) => failure.check))].sort();
}

async function archiverZip(items: readonly ZipItem[]): Promise<Buffer> {
  return writeZipWithArchiver(path.join(dir, `a-${counter++}.zip`), items);
}

interface Central {
  /** Where the central record starts. */
  at: number;
  name: string;
  localHeader: number;
  compressedSize: number;
  dataStart: number;
}

/** The central records of a classic (not ZIP64) archive, with where each entry's data starts. */
function centralRecords(zip: Buffer): Central[] {
  const eocd = zip.lastIndexOf(EOCD_SIGNATURE);
  const count = zip.readUInt16LE(eocd + 10);
  let at = zip.readUInt32LE(eocd + 16);
  const records: Central[] = [];
  for (let i = 0; i < count; i++) {
    const nameLength = zip.readUInt16LE(at + 28);
    const localHeader = zip.readUInt32LE(at + 42);
    const dataStart = localHeader + 30 + zip.readUInt16LE(localHeader + 26) + zip.readUInt16LE(localHeader + 28);
    records.push({ at, name: zip.toString('utf8', at + 46, at + 46 + nameLength), localHeader, compressedSize: zip.readUInt32LE(at + 20), dataStart });
    at += 46 + nameLength + zip.readUInt16LE(at + 30) + zip.readUInt16LE(at + 32);
  }
  return records;
}

function recordOf(zip: Buffer, bagPath: string): Central {
  const record = centralRecords(zip).find((candidate) => candidate.name === `${ORDER_ID}/${bagPath}`);
  if (!record) throw new Error(`no record for ${bagPath}`);
  return record;
}

/**
 * `zip` with `remove` bytes at `at` (past the first local header) replaced by `insert`: the local header
 * offsets after it and the central directory offset move to match. Classic archives only.
 */
function spliced(zip: Buffer, at: number, remove: number, insert: Buffer): Buffer {
  const shift = insert.length - remove;
  const out = Buffer.concat([zip.subarray(0, at), insert, zip.subarray(at + remove)]);
  const eocd = out.lastIndexOf(EOCD_SIGNATURE);
  out.writeUInt32LE(out.readUInt32LE(eocd + 16) + shift, eocd + 16);
  for (const record of centralRecords(out)) {
    if (record.localHeader >= at) out.writeUInt32LE(record.localHeader + shift, record.at + 42);
  }
  return out;
}

/** A stored local header and its data, as a streaming reader would take a further entry. */
function localEntry(name: string, data: Buffer): Buffer {
  const header = Buffer.alloc(30);
  header.writeUInt32LE(0x04034b50, 0);
  header.writeUInt16LE(10, 4);
  header.writeUInt32LE(crc32(data), 14);
  header.writeUInt32LE(data.length, 18);
  header.writeUInt32LE(data.length, 22);
  header.writeUInt16LE(Buffer.byteLength(name), 26);
  return Buffer.concat([header, Buffer.from(name), data]);
}

/** A signed data descriptor (PK\x07\x08, CRC-32, sizes) that agrees with `data`: where a streaming reader ends the entry. */
function descriptorFor(data: Buffer, compressedSize = data.length): Buffer {
  const descriptor = Buffer.alloc(16);
  DESCRIPTOR_SIGNATURE.copy(descriptor, 0);
  descriptor.writeUInt32LE(crc32(data), 4);
  descriptor.writeUInt32LE(compressedSize, 8);
  descriptor.writeUInt32LE(data.length, 12);
  return descriptor;
}

const FORGED_MAIL = localEntry(`${ORDER_ID}/${MAIL_1}`, Buffer.from('From: eve@evil.example\r\nSubject: forged\r\n\r\nforged body\r\n'));

describe('a compressed entry (round 11 tamper D1)', () => {
  it('is refused by name, every entry byte and the signature being the honest ones', async () => {
    const items = zipItems(good).map((item) => (item.name === `${ORDER_ID}/${MAIL_1}` ? { ...item, deflate: true } : item));
    const report = await verifyBytes(writeZip(path.join(dir, `d-${counter++}.zip`), items));
    expect(report.ok).toBe(false);
    expect(report.failures).toContainEqual(
      expect.objectContaining({
        check: 'zip-structure',
        entry: `${ORDER_ID}/${MAIL_1}`,
        found: 'compression method 8 (deflate)',
        message: `${ORDER_ID}/${MAIL_1} is compressed (method 8, deflate); scopex stores every entry`,
      }),
    );
  });

  it('whose compressed size runs past its deflate stream over a fake descriptor and a hidden entry is refused', async () => {
    const items = zipItems(good).map((item) => (item.name.endsWith('/m-000002.eml') ? { ...item, deflate: true } : item));
    const zip = writeZip(path.join(dir, `d-${counter++}.zip`), items);
    const bagPath = 'data/acc-0001/mail.content/m-000002.eml';
    const record = recordOf(zip, bagPath);
    const deflated = zip.subarray(record.dataStart, record.dataStart + record.compressedSize);
    const hidden = Buffer.concat([descriptorFor(good.files.get(bagPath) as Buffer, deflated.length), FORGED_MAIL]);
    const smuggled = spliced(zip, record.dataStart + record.compressedSize, 0, hidden);
    // The central record and the local header cover the hidden bytes (the central directory has moved).
    const grown = record.compressedSize + hidden.length;
    const moved = recordOf(smuggled, bagPath);
    smuggled.writeUInt32LE(grown, moved.at + 20);
    smuggled.writeUInt32LE(grown, moved.localHeader + 18);
    const report = await verifyBytes(smuggled);
    expect(report.ok).toBe(false);
    expect(report.failures.map((failure) => failure.message)).toContain(`${ORDER_ID}/${bagPath} is compressed (method 8, deflate); scopex stores every entry`);
  });

  it('production.json deflated (not read by the records thread) is refused the same way', async () => {
    const items = zipItems(good).map((item) => (item.name.endsWith('/production.json') ? { ...item, deflate: true } : item));
    const report = await verifyBytes(writeZip(path.join(dir, `d-${counter++}.zip`), items));
    expect(report.failures).toContainEqual(expect.objectContaining({ check: 'zip-structure', entry: `${ORDER_ID}/production.json`, message: expect.stringContaining('is compressed (method 8, deflate)') }));
  });
});

describe('a data descriptor without its signature (round 11 tamper D3)', () => {
  function descriptorUnsigned(zip: Buffer, bagPath: string): Buffer {
    const record = recordOf(zip, bagPath);
    const at = record.dataStart + record.compressedSize;
    expect(zip.subarray(at, at + 4)).toEqual(DESCRIPTOR_SIGNATURE);
    return spliced(zip, at, 4, Buffer.alloc(0));
  }

  it('is refused, naming the entry, the signature and every entry byte being the honest ones', async () => {
    const zip = await archiverZip(zipItems(good));
    expect((await verifyBytes(zip)).failures).toEqual([]);
    const report = await verifyBytes(descriptorUnsigned(zip, 'production.json'));
    expect(report.failures).toEqual([
      expect.objectContaining({
        check: 'zip-structure',
        entry: `${ORDER_ID}/production.json`,
        found: 'a 12-byte data descriptor without it',
        message: `the data descriptor of ${ORDER_ID}/production.json has no signature (PK\\x07\\x08), which scopex always writes and streaming readers need to find where the entry ends`,
      }),
    ]);
  });

  it('is refused for each entry written so', async () => {
    let zip = await archiverZip(zipItems(good));
    const names = centralRecords(zip).map((record) => record.name.slice(ORDER_ID.length + 1));
    for (const name of names) zip = descriptorUnsigned(zip, name);
    const report = await verifyBytes(zip);
    expect(failedChecks(report)).toEqual(['zip-structure']);
    expect(report.failures.map((failure) => failure.entry)).toEqual(names.map((name) => `${ORDER_ID}/${name}`));
  });
});

describe('an entry with a data descriptor whose data holds the descriptor signature (round 11 tamper D2)', () => {
  /** The good bag with RESUME's bytes replaced, its record, manifest line and Oxum made to agree, re-signed. */
  function withResume(data: Buffer): BagModel {
    const { model, records } = sampleBag();
    model.files.set(RESUME, data);
    const record = records.find((candidate) => candidate.path === RESUME) as ProductionRecord;
    record.bytes = data.length;
    record.sha256 = sha256(data);
    model.files.set('production.json', Buffer.from(`${JSON.stringify(records, null, 2)}\n`));
    writeManifests(model);
    sign(model, pki.signer);
    return model;
  }

  const honest = Buffer.from('curriculum vitae\n');
  /** What a streaming reader takes for the end of the entry, then a forged e-mail it extracts over the real one. */
  const crafted = Buffer.concat([honest, descriptorFor(honest), FORGED_MAIL]);

  it('is refused by name when streamed with a data descriptor (where a streaming reader could end it)', async () => {
    const report = await verifyBytes(await archiverZip(zipItems(withResume(crafted))));
    expect(report.failures).toEqual([
      expect.objectContaining({
        check: 'zip-structure',
        entry: `${ORDER_ID}/${RESUME}`,
        found: `PK\\x07\\x08 at byte ${honest.length} of its data`,
        message: `${ORDER_ID}/${RESUME} is written with a data descriptor and its data holds the descriptor signature PK\\x07\\x08 at byte ${honest.length}, where a streaming reader could end the entry and take the bytes after it for other files`,
      }),
    ]);
  });

  it('verifies when the entry gives its sizes in its local header (no data descriptor: every reader knows where it ends)', async () => {
    const report = await verifyBytes(writeZip(path.join(dir, `p-${counter++}.zip`), zipItems(withResume(crafted))));
    expect(report.failures).toEqual([]);
  });

  it('is found across read windows: the signature astride two 4 MiB windows of a large entry', async () => {
    // The entry first in the archive, so that its data starts at a known offset and the reader's windows at 0, 4 MiB.
    const size = 6 * 1024 * 1024;
    const probe = await archiverZip([{ name: `${ORDER_ID}/${RESUME}`, data: Buffer.alloc(size) }]);
    const dataStart = recordOf(probe, RESUME).dataStart;
    const at = 4 * 1024 * 1024 - 2 - dataStart;
    const data = Buffer.alloc(size, 0x61);
    DESCRIPTOR_SIGNATURE.copy(data, at);
    const items = zipItems(withResume(data));
    const resume = items.find((item) => item.name === `${ORDER_ID}/${RESUME}`) as ZipItem;
    const zip = await archiverZip([resume, ...items.filter((item) => item !== resume)]);
    expect(recordOf(zip, RESUME).dataStart).toBe(dataStart);
    const report = await verifyBytes(zip);
    expect(report.failures).toEqual([expect.objectContaining({ check: 'zip-structure', entry: `${ORDER_ID}/${RESUME}`, found: `PK\\x07\\x08 at byte ${at} of its data` })]);
  });

  it('an honest large streamed entry without the signature verifies', async () => {
    const report = await verifyBytes(await archiverZip(zipItems(withResume(Buffer.alloc(6 * 1024 * 1024, 0x61)))));
    expect(report.failures).toEqual([]);
  });
});

describe('SignatureSearch', () => {
  it('finds a signature wherever the chunks cut it, and only its first place', () => {
    const data = Buffer.concat([Buffer.from('abcdefgh'), DESCRIPTOR_SIGNATURE, Buffer.from('xyz'), DESCRIPTOR_SIGNATURE]);
    for (const sizes of [[data.length], [9], [10], [11], [1], [2], [3], [5, 1, 1, 1, 1, 100]]) {
      const search = new SignatureSearch(DESCRIPTOR_SIGNATURE);
      let offset = 0;
      for (let i = 0; offset < data.length; i++) {
        const size = sizes[Math.min(i, sizes.length - 1)] as number;
        // A fresh copy each time, then spoiled: as the reader's window is refilled after the call.
        const chunk = Buffer.from(data.subarray(offset, offset + size));
        search.update(chunk);
        chunk.fill(0);
        offset += size;
      }
      expect(search.foundAt, `chunks of ${sizes.join(',')}`).toBe(8);
    }
  });

  it('finds nothing in bytes without it', () => {
    const search = new SignatureSearch(DESCRIPTOR_SIGNATURE);
    for (const part of ['PK', '\x07', 'PK\x07', '\x09PK', '\x07\x09']) search.update(Buffer.from(part, 'latin1'));
    expect(search.foundAt).toBe(-1);
  });
});

describe('tag files export never writes (round 11 tamper D4)', () => {
  /** The good bag with `name` added, listed in the tag manifest and re-signed: only the bag layout can tell. */
  function withTagFile(name: string, data: string): Buffer {
    const copy = cloneModel(good);
    copy.files.set(name, Buffer.from(data));
    const tags = (copy.files.get('tagmanifest-sha256.txt') as Buffer).toString('utf8');
    copy.files.set('tagmanifest-sha256.txt', Buffer.from(`${tags}${sha256(Buffer.from(data))}  ${name}\n`));
    sign(copy, pki.signer);
    return writeZip(path.join(dir, `g-${counter++}.zip`), zipItems(copy));
  }

  it.each([
    ['fetch.txt', `https://evil.example/x.eml 100 data/acc-0001/mail.content/m-999999.eml\n`, 'the bag has a fetch.txt, which tells a BagIt tool to download payload files the bag does not hold; scopex never writes one'],
    ['manifest-md5.txt', `${'0'.repeat(32)}  ${MAIL_1}\n`, 'the bag has a second payload manifest, manifest-md5.txt, which BagIt tools hold the payload to and verify does not read; scopex writes only manifest-sha256.txt'],
    ['tagmanifest-sha512.txt', `${'0'.repeat(128)}  bagit.txt\n`, 'the bag has a second tag manifest, tagmanifest-sha512.txt, which BagIt tools hold the tag files to and verify does not read; scopex writes only tagmanifest-sha256.txt'],
    ['notes.txt', 'a signed note\n', 'the bag has notes.txt, a tag file scopex never writes (an added file)'],
    ['tags/notes.txt', 'a signed note in a tag folder\n', 'the bag has tags/notes.txt, a tag file scopex never writes (an added file)'],
  ])('%s, listed in the tag manifest and signed, fails [bag-layout] naming it', async (name, data, message) => {
    const report = await verifyBytes(withTagFile(name, data));
    expect(report.failures).toEqual([expect.objectContaining({ check: 'bag-layout', entry: `${ORDER_ID}/${name}`, found: name, message })]);
  });
});
