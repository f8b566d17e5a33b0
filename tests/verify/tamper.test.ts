// The tamper suite: one good archive, many bad ones derived from it. Each bad one must fail naming the fault (the
// failing check names), the good one must pass, and `openssl cms -verify` must agree on the signature cases.
import { execFileSync, spawnSync } from 'node:child_process';
import { createPrivateKey, randomBytes, sign as signBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InputError } from '../../src/errors.js';
import { signOrder } from '../../src/order/approval-sign.js';
import { createFileDirectory } from '../../src/sources/file-directory.js';
import type { Order } from '../../src/order/schema.js';
import { generateSamplePki } from '../../src/samples/pki.js';
import { verifyArchive, type VerifyReport } from '../../src/verify/verify.js';
import {
  cloneModel,
  createPki,
  EOCD_SIGNATURE,
  fixturePki,
  flipByte,
  ORDER_ID,
  sampleBag,
  sampleOrder,
  sha256,
  sign,
  tempDir,
  writeManifests,
  writeTagManifest,
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
let goodRecords: ProductionRecord[];
let goodZip: Buffer;
/** The good bag as archiver writes it with ZIP64 end records. */
let zip64Good: Buffer;
let orderFile: string;
let counter = 0;

const MAIL_1 = 'data/acc-0001/mail.content/m-000001.eml';
const RESUME = 'data/acc-0002/storage.content/reports/Résumé.txt'.normalize('NFC');

beforeAll(async () => {
  builtVerifyArchive = ((await import(BUILT_VERIFY)) as { verifyArchive: Verifier }).verifyArchive;
  dir = tempDir();
  pki = createPki(dir);
  const bag = sampleBag();
  good = bag.model;
  goodRecords = bag.records;
  writeManifests(good);
  sign(good, pki.signer);
  goodZip = zipOf(good);
  zip64Good = await writeZipWithArchiver(path.join(dir, 'zip64-good.zip'), zipItems(good), { forceZip64: true });
  orderFile = path.join(dir, 'order.json');
  fs.writeFileSync(orderFile, good.files.get('order.json') as Buffer);
});

afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

function zipOf(model: BagModel, extra: ZipItem[] = [], filter: (item: ZipItem) => boolean = () => true): Buffer {
  return writeZip(path.join(dir, `z-${counter++}.zip`), [...zipItems(model).filter(filter), ...extra]);
}

async function verifyBytes(bytes: Buffer, options: { orderFile?: string } = {}): Promise<VerifyReport> {
  const file = path.join(dir, `t-${counter++}.zip`);
  fs.writeFileSync(file, bytes);
  // One clock for the three runs: a certificate not valid now is reported with the time it was checked at.
  const now = new Date();
  const inThread = await verifyArchive({ archive: file, trustFile: pki.caFile, orderFile: options.orderFile, maxFailures: 200, hashThread: 'never', now });
  // The worker-thread hashing must reach exactly the same verdict, failure by failure.
  const withWorker = await verifyArchive({ archive: file, trustFile: pki.caFile, orderFile: options.orderFile, maxFailures: 200, hashThread: 'always', now });
  expect(withWorker).toEqual(inThread);
  // And so must the records thread, which reads the manifest and production.json by itself (when they are stored).
  const withRecordsThread = await builtVerifyArchive({ archive: file, trustFile: pki.caFile, orderFile: options.orderFile, maxFailures: 200, hashThread: 'always', recordsThread: 'always', now });
  expect(withRecordsThread).toEqual(inThread);
  return inThread;
}

function failedChecks(report: VerifyReport): string[] {
  return [...new Set(report.failures.map((failure) => failure.check))].sort();
}

/** Rebuilds a consistent, validly signed bag after changing it: isolates one fault. */
function resealed(change: (model: BagModel, records: ProductionRecord[]) => void, options: { order?: Record<string, unknown>; oxum?: string; accounts?: string[] } = {}): BagModel {
  const { model, records } = sampleBag(options.order ?? sampleOrder());
  change(model, records);
  model.files.set('production.json', Buffer.from(`${JSON.stringify(records, null, 2)}\n`));
  writeManifests(model, { oxum: options.oxum, accounts: options.accounts });
  sign(model, pki.signer);
  return model;
}

function editFile(model: BagModel, name: string, edit: (text: string) => string): BagModel {
  const copy = cloneModel(model);
  copy.files.set(name, Buffer.from(edit((copy.files.get(name) as Buffer).toString('utf8'))));
  return copy;
}

/** Offsets of the central directory records, from the end record (or the ZIP64 end record it points to). */
function centralRecords(zip: Buffer): { offset: number; name: string }[] {
  const eocd = zip.lastIndexOf(EOCD_SIGNATURE);
  let count = zip.readUInt16LE(eocd + 10);
  let offset = zip.readUInt32LE(eocd + 16);
  if (count === 0xffff || offset === 0xffffffff) {
    const zip64 = Number(zip.readBigUInt64LE(eocd - 20 + 8));
    count = Number(zip.readBigUInt64LE(zip64 + 32));
    offset = Number(zip.readBigUInt64LE(zip64 + 48));
  }
  const records: { offset: number; name: string }[] = [];
  for (let i = 0; i < count; i++) {
    const nameLength = zip.readUInt16LE(offset + 28);
    const total = 46 + nameLength + zip.readUInt16LE(offset + 30) + zip.readUInt16LE(offset + 32);
    records.push({ offset, name: zip.subarray(offset + 46, offset + 46 + nameLength).toString('utf8') });
    offset += total;
  }
  return records;
}

function opensslAccepts(model: BagModel): boolean {
  const work = tempDir();
  try {
    fs.writeFileSync(path.join(work, 'tm.txt'), model.files.get('tagmanifest-sha256.txt') as Buffer);
    fs.writeFileSync(path.join(work, 'sig.p7s'), model.files.get('signature.p7s') as Buffer);
    const result = spawnSync('openssl', [
      'cms', '-verify', '-binary', '-inform', 'DER', '-in', path.join(work, 'sig.p7s'),
      '-content', path.join(work, 'tm.txt'), '-CAfile', pki.caFile, '-purpose', 'any', '-out', '/dev/null',
    ], { stdio: 'pipe' });
    return result.status === 0;
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

function scopexAcceptsSignature(report: VerifyReport): boolean {
  return !report.failures.some((failure) => failure.check === 'signature' || failure.check === 'signer-chain');
}

describe('the good archive', () => {
  it('passes every check', async () => {
    const report = await verifyBytes(goodZip);
    expect(report.failures).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.checks.every((check) => check.ok)).toBe(true);
    expect(report.orderId).toBe(ORDER_ID);
    expect(report.counts).toEqual({ entries: 15, payloadFiles: 8, payloadBytes: goodRecords.reduce((s, r) => s + r.bytes, 0), tagFiles: 7 });
    expect(report.signer?.subject).toContain('Legal Production Signer');
    expect(report.signingTime).not.toBeNull();
    expect(opensslAccepts(good)).toBe(true);
  });

  it('passes with --order naming the same order, byte-identical or only reformatted', async () => {
    expect((await verifyBytes(goodZip, { orderFile })).ok).toBe(true);
    const reformatted = path.join(dir, 'order-compact.json');
    fs.writeFileSync(reformatted, JSON.stringify(JSON.parse(fs.readFileSync(orderFile, 'utf8'))));
    const report = await verifyBytes(goodZip, { orderFile: reformatted });
    expect(report.ok).toBe(true);
    expect(report.checks.find((check) => check.name === 'order')?.detail).toContain('canonical');
  });
});

describe('good archives from other writers', () => {
  it('passes when archiver streamed it (data descriptors)', async () => {
    const bytes = await writeZipWithArchiver(path.join(dir, `a-${counter++}.zip`), zipItems(good));
    expect((await verifyBytes(bytes)).failures).toEqual([]);
  });

  it('passes when archiver wrote ZIP64 records', async () => {
    const bytes = await writeZipWithArchiver(path.join(dir, `a-${counter++}.zip`), zipItems(good), { forceZip64: true });
    expect((await verifyBytes(bytes)).failures).toEqual([]);
  });

  it('fails when every entry is deflated: scopex stores every entry (round 11 tamper D1)', async () => {
    const bytes = writeZip(path.join(dir, `d-${counter++}.zip`), zipItems(good).map((item) => ({ ...item, deflate: true })));
    const report = await verifyBytes(bytes);
    const compressed = report.failures.filter((failure) => failure.check === 'zip-structure' && failure.message.endsWith('scopex stores every entry'));
    expect(compressed.map((failure) => failure.entry).sort()).toEqual(zipItems(good).map((item) => item.name).sort());
  });

  it('passes whatever the order of the entries and of the production records', async () => {
    const reordered = resealed((_, records) => {
      records.reverse();
    });
    const bytes = writeZip(path.join(dir, `o-${counter++}.zip`), [...zipItems(reordered)].reverse());
    const report = await verifyBytes(bytes);
    expect(report.failures).toEqual([]);
    expect(report.counts.payloadFiles).toBeGreaterThan(3);
  });

  it('passes with the metadata lines in another order than the content records', async () => {
    const reordered = resealed((model, records) => {
      editMetadata(model, records, (text) => text.split('\n').reverse().join('\n'));
    });
    const report = await verifyBytes(zipOf(reordered));
    expect(report.failures).toEqual([]);
  });

  it('passes with folder entries, as `zip -r` writes them', async () => {
    const folders = ['', 'data/', 'data/acc-0001/', 'data/acc-0001/mail.content/'].map((folder) => ({ name: `${ORDER_ID}/${folder}`, data: Buffer.alloc(0) }));
    const bytes = writeZip(path.join(dir, `f-${counter++}.zip`), [...folders, ...zipItems(good)]);
    expect((await verifyBytes(bytes)).failures).toEqual([]);
  });
});

describe('the records thread takes the manifest and production.json the names give, or leaves both to the pass', () => {
  // verifyBytes runs each archive with the records thread too and demands the same report.
  it('a top folder whose name is unsafe: no file has a bag path, none is read early', async () => {
    const items = zipItems(good).map((item) => ({ ...item, name: item.name.replace(`${ORDER_ID}/`, 'a\\b/') }));
    const report = await verifyBytes(writeZip(path.join(dir, `u-${counter++}.zip`), items));
    expect(failedChecks(report)).toContain('entry-names');
  });

  it('production.json deflated, the manifest stored (refused: scopex stores every entry)', async () => {
    const items = zipItems(good).map((item) => (item.name.endsWith('/production.json') ? { ...item, deflate: true } : item));
    const report = await verifyBytes(writeZip(path.join(dir, `d-${counter++}.zip`), items));
    expect(report.failures.filter((failure) => failure.check === 'zip-structure').map((failure) => failure.entry)).toEqual([`${ORDER_ID}/production.json`]);
  });

  it('a second production.json after the first, and a second manifest before the first', async () => {
    const items = zipItems(good);
    const production = items.find((item) => item.name.endsWith('/production.json')) as ZipItem;
    const manifest = items.find((item) => item.name.endsWith('/manifest-sha256.txt')) as ZipItem;
    const bytes = writeZip(path.join(dir, `t-${counter++}.zip`), [
      { name: manifest.name, data: Buffer.from('0'.repeat(64) + '  data/acc-0001/none.eml\n') },
      ...items,
      { name: production.name, data: Buffer.from('[]\n') },
    ]);
    const report = await verifyBytes(bytes);
    expect(failedChecks(report)).toEqual(expect.arrayContaining(['entry-names', 'payload-manifest']));
  });
});

describe('manifests with more malformed lines than a report lists', () => {
  it('are counted in full and listed up to the cap, as if every problem had been kept', async () => {
    const junk = (name: string, lines: number) => (item: ZipItem): ZipItem =>
      item.name.endsWith(`/${name}`) ? { ...item, data: Buffer.concat([item.data as Buffer, Buffer.from('not a manifest line\n'.repeat(lines))]) } : item;
    const items = zipItems(good).map(junk('manifest-sha256.txt', 3000)).map(junk('tagmanifest-sha256.txt', 1000));
    const bytes = writeZip(path.join(dir, `j-${counter++}.zip`), items);
    const capped = await verifyBytes(bytes);
    const file = path.join(dir, `j-${counter++}.zip`);
    fs.writeFileSync(file, bytes);
    const uncapped = await builtVerifyArchive({ archive: file, trustFile: pki.caFile, maxFailures: 1_000_000, recordsThread: 'always' });
    expect(uncapped.failures.length).toBeGreaterThan(4000);
    expect(capped.failures).toEqual(uncapped.failures.slice(0, 200));
    expect(capped.failures.length + capped.failuresOmitted).toBe(uncapped.failures.length);
    expect(capped.checks).toEqual(uncapped.checks);
    const failing = new Map(capped.checks.filter((check) => !check.ok).map((check) => [check.name, check.detail]));
    expect(failing.get('payload-manifest')).toBe('3000 failures');
    expect(failing.get('tag-manifest')).toMatch(/^10\d\d failures$/);
  });
});

interface TamperCase {
  name: string;
  make: () => Buffer;
  orderFile?: () => string;
  /** The checks that must fail. */
  checks: string[];
  /** The failing checks must be exactly `checks` (the fault is isolated). */
  exact?: boolean;
  /** A failure's message that must be among them. */
  message?: RegExp;
}

const cases: TamperCase[] = [
  { name: 'flipped byte in a payload file', make: () => zipOf(editBytes(good, MAIL_1, 40)), checks: ['payload-manifest'], exact: true },
  // RFC 8493: Bagging-Date is YYYY-MM-DD; scopex signs a bag on the day it dates it.
  { name: 'a Bagging-Date that is not a day (re-signed)', make: () => zipOf(withBaggingDate(good, '1999-13-45')), checks: ['bag-layout'], exact: true },
  { name: 'signed on another day than its Bagging-Date (re-signed)', make: () => zipOf(withBaggingDate(good, '2026-10-03')), checks: ['signature'], exact: true },
  { name: 'flipped byte in bag-info.txt', make: () => zipOf(editFile(good, 'bag-info.txt', (t) => t.replace('Contoso', 'Contoso!'))), checks: ['tag-manifest'], exact: true },
  { name: 'flipped byte in order.json', make: () => zipOf(editFile(good, 'order.json', (t) => t.replace('1:26-cr-00042', '1:26-cr-00043'))), checks: ['order', 'tag-manifest'], exact: true },
  { name: 'flipped byte in production.json', make: () => zipOf(editFile(good, 'production.json', (t) => t.replace('"m-000002"', '"m-000003"'))), checks: ['production', 'tag-manifest'], exact: true },
  { name: 'flipped byte in manifest-sha256.txt', make: () => zipOf(editBytes(good, 'manifest-sha256.txt', 3, true)), checks: ['payload-manifest', 'production', 'tag-manifest'] },
  { name: 'flipped byte in tagmanifest-sha256.txt', make: () => zipOf(editBytes(good, 'tagmanifest-sha256.txt', 3, true)), checks: ['signature', 'tag-manifest'], exact: true },
  { name: 'flipped byte in the signature value', make: () => zipOf(editBytes(good, 'signature.p7s', -2)), checks: ['signature'], exact: true },
  { name: 'flipped byte in the signature structure', make: () => zipOf(editBytes(good, 'signature.p7s', 1)), checks: ['signature'] },
  { name: 'removed payload entry', make: () => zipOf(good, [], (item) => !item.name.endsWith(MAIL_1)), checks: ['payload-manifest', 'payload-oxum'] },
  { name: 'removed tagmanifest-sha256.txt', make: () => zipOf(good, [], (item) => !item.name.endsWith('tagmanifest-sha256.txt')), checks: ['bag-layout', 'signature', 'tag-manifest'] },
  { name: 'removed signature.p7s', make: () => zipOf(good, [], (item) => !item.name.endsWith('signature.p7s')), checks: ['bag-layout', 'signature'], exact: true },
  { name: 'added payload entry', make: () => zipOf(good, [{ name: `${ORDER_ID}/data/acc-0001/mail.content/m-999999.eml`, data: Buffer.from('extra') }]), checks: ['payload-manifest', 'payload-oxum'] },
  { name: 'added tag file', make: () => zipOf(good, [{ name: `${ORDER_ID}/notes.txt`, data: Buffer.from('unsigned note') }]), checks: ['bag-layout', 'tag-manifest'], exact: true },
  // Names scopex never writes, re-signed (a signer-key holder's doing): each would extract differently elsewhere. A
  // twin is not taken as a file of the bag, so the manifest's line for it fails too.
  { name: 'a case twin of a payload file (re-signed)', make: () => zipOf(resealedWithCopy(MAIL_1, 'data/acc-0001/mail.content/M-000001.eml')), checks: ['entry-names'], exact: false },
  { name: 'a file in a case twin of its folder (re-signed)', make: () => zipOf(resealedWithCopy(MAIL_1, 'data/acc-0001/MAIL.content/m-000001.eml')), checks: ['entry-names'], exact: false },
  { name: 'a final-sigma twin (re-signed)', make: () => zipOf(resealedWithCopy(RESUME, RESUME.replace('Résumé', '\u03c3'), RESUME.replace('Résumé', '\u03c2'))), checks: ['entry-names'], exact: false },
  { name: 'a Windows-forbidden character in a file name (re-signed)', make: () => zipOf(resealedWithCopy(MAIL_1, 'data/acc-0001/mail.content/m:1.eml')), checks: ['entry-names', 'production'], exact: true },
  { name: 'a device name as a folder (re-signed)', make: () => zipOf(resealedWithCopy(MAIL_1, 'data/acc-0001/mail.content/con/m-1.eml')), checks: ['entry-names', 'production'], exact: true },
  { name: 'a file name ending in a dot (re-signed)', make: () => zipOf(resealedWithCopy(MAIL_1, 'data/acc-0001/mail.content/m-1.eml.')), checks: ['entry-names', 'production'], exact: true },
  { name: 'renamed entry', make: () => zipOf(renamed(good, MAIL_1, 'data/acc-0001/mail.content/m-000001.txt')), checks: ['payload-manifest'], exact: true },
  { name: 'duplicated entry', make: () => zipOf(good, [{ name: `${ORDER_ID}/${MAIL_1}`, data: Buffer.from('a second body') }]), checks: ['entry-names'] },
  { name: 'NFC/NFD twin names', make: () => zipOf(good, [{ name: `${ORDER_ID}/${RESUME.normalize('NFD')}`, data: Buffer.from('twin') }]), checks: ['entry-names'] },
  {
    name: 'a twin of an ASCII name (Kelvin sign K), both before any other non-ASCII name',
    make: () => {
      const twins = [{ name: `${ORDER_ID}/data/acc-0001/mail.content/K.eml`, data: Buffer.from('a') }, { name: `${ORDER_ID}/data/acc-0001/mail.content/\u212a.eml`, data: Buffer.from('b') }];
      return writeZip(path.join(dir, `k-${counter++}.zip`), [...twins, ...zipItems(good)]);
    },
    checks: ['entry-names'],
  },
  { name: 'an ASCII twin of an earlier name (Kelvin sign K)', make: () => zipOf(good, [{ name: `${ORDER_ID}/data/acc-0001/mail.content/\u212a.eml`, data: Buffer.from('b') }, { name: `${ORDER_ID}/data/acc-0001/mail.content/K.eml`, data: Buffer.from('a') }]), checks: ['entry-names'] },
  { name: 'a file named like a folder', make: () => zipOf(good, [{ name: `${ORDER_ID}/data/acc-0001/mail.content`, data: Buffer.from('x') }]), checks: ['entry-names'] },
  { name: 'absolute entry name', make: () => zipOf(good, [{ name: '/etc/cron.d/evil', data: Buffer.from('x') }]), checks: ['entry-names'] },
  { name: '".." entry name', make: () => zipOf(good, [{ name: `${ORDER_ID}/data/../../evil.sh`, data: Buffer.from('x') }]), checks: ['entry-names'] },
  { name: 'backslash entry name', make: () => zipOf(good, [{ name: `${ORDER_ID}\\data\\evil.txt`, data: Buffer.from('x') }]), checks: ['entry-names'] },
  { name: 'entry outside the top folder', make: () => zipOf(good, [{ name: 'other-order/data/x.txt', data: Buffer.from('x') }]), checks: ['entry-names'] },
  {
    name: 'an entry whose Unicode Path field names another file',
    make: () => {
      const other = Buffer.from(`${ORDER_ID}/data/acc-0001/mail.content/m-000009.eml`, 'utf8');
      // Info-ZIP Unicode Path (0x7075): version 1, the CRC-32 of the header's name (not checked), the other name.
      const field = Buffer.concat([Buffer.from([0x75, 0x70, (5 + other.length) & 0xff, (5 + other.length) >> 8, 1, 0, 0, 0, 0]), other]);
      const items = zipItems(good).map((item) => (item.name.endsWith(MAIL_1) ? { ...item, extra: field } : item));
      return writeZip(path.join(dir, `z-${counter++}.zip`), items);
    },
    // The second name is the names check's; the field itself is one scopex never writes.
    checks: ['entry-names', 'zip-structure'],
    exact: true,
  },
  { name: 'symbolic link entry', make: () => zipOf(good, [{ name: `${ORDER_ID}/data/acc-0001/mail.content/link.eml`, data: Buffer.from('/etc/passwd'), externalAttr: 0o120777 * 65536 }]), checks: ['entry-types'] },
  { name: 'truncated in the payload', make: () => goodZip.subarray(0, Math.floor(goodZip.length / 2)), checks: ['zip-structure'], exact: true },
  { name: 'truncated in the central directory', make: () => goodZip.subarray(0, goodZip.length - 200), checks: ['zip-structure'], exact: true },
  { name: 'truncated in the end record', make: () => goodZip.subarray(0, goodZip.length - 10), checks: ['zip-structure'], exact: true },
  { name: 'truncated to its first bytes', make: () => goodZip.subarray(0, 100), checks: ['zip-structure'], exact: true },
  { name: 'junk before the archive', make: () => Buffer.concat([Buffer.from('MZ junk prepended by someone\n'), goodZip]), checks: ['zip-structure'], exact: true },
  { name: 'junk before, offsets adjusted (zip -A style)', make: () => withLeadingJunkAdjusted(goodZip), checks: ['zip-structure'], exact: true },
  { name: 'junk after the archive', make: () => Buffer.concat([goodZip, Buffer.from('trailing junk')]), checks: ['zip-structure'], exact: true },
  { name: 'a second end-of-central-directory record', make: () => Buffer.concat([goodZip, goodZip.subarray(goodZip.lastIndexOf(EOCD_SIGNATURE))]), checks: ['zip-structure'], exact: true },
  { name: 'local header names another file than the central directory', make: () => localNameChanged(goodZip), checks: ['zip-structure'] },
  { name: 'central directory sizes that lie', make: () => sizesLie(goodZip), checks: ['zip-structure'] },
  { name: 'two entries sharing one local header (overlap)', make: () => sharedLocalHeader(goodZip), checks: ['zip-structure'] },
  { name: 'compression bomb', make: () => zipOf(good, [{ name: `${ORDER_ID}/data/acc-0001/mail.content/bomb.eml`, data: Buffer.alloc(0), zeros: 20 * 1024 * 1024, deflate: true }]), checks: ['zip-structure'] },
  { name: 'manifest re-signed by a key outside the trust', make: () => zipOf(resigned(good, 'untrustedSigner')), checks: ['signer-chain'], exact: true },
  { name: 'a CA certificate as signer', make: () => zipOf(resigned(good, 'caAsSigner')), checks: ['signer-chain'], exact: true },
  { name: 'signer expired at signing time', make: () => zipOf(resigned(good, 'expiredSigner')), checks: ['signer-chain'], exact: true },
  { name: 're-signed by a reviewer certified by the trusted CA', make: () => zipOf(resigned(good, 'reviewerAsSigner')), checks: ['signer-chain'], exact: true },
  {
    name: 'signer certificate left out of the signature',
    make: () => {
      const copy = cloneModel(good);
      sign(copy, pki.signer, { noCerts: true });
      return zipOf(copy);
    },
    checks: ['signature'],
  },
  { name: 'SHA-1 signature digest', make: () => zipOf(resigned(good, 'signer', 'sha1')), checks: ['signature'], exact: true },
  // SHA-256 is the one digest scopex signs with (the README names it): a stronger one was not scopex's either.
  { name: 'SHA-384 signature digest', make: () => zipOf(resigned(good, 'signer', 'sha384')), checks: ['signature'], exact: true },
  { name: 'SHA-512 signature digest', make: () => zipOf(resigned(good, 'signer', 'sha512')), checks: ['signature'], exact: true },
  { name: 'manifest line and file removed consistently, not re-signed', make: () => zipOf(consistentRemoval(good)), checks: ['production', 'signature'], exact: true },
  { name: 'Payload-Oxum wrong (re-signed)', make: () => zipOf(resealed(() => undefined, { oxum: '12.6' })), checks: ['payload-oxum'], exact: true },
  { name: 'production.json disagreeing with the manifest (re-signed)', make: () => zipOf(resealed((_, records) => { (records[0] as ProductionRecord).sha256 = sha256(Buffer.from('other')); })), checks: ['production'], exact: true },
  { name: 'production.json missing a record (re-signed)', make: () => zipOf(resealed((_, records) => { records.pop(); })), checks: ['production'], exact: true },
  { name: 'an item before the date range (re-signed)', make: () => zipOf(resealed((_, records) => { (records[0] as ProductionRecord).timestamp = '2025-12-31T23:59:59Z'; })), checks: ['production', 'scope'], exact: true },
  { name: 'an item after the date range (re-signed)', make: () => zipOf(resealed((_, records) => { (records[1] as ProductionRecord).timestamp = '2026-07-01T00:00:00Z'; })), checks: ['production', 'scope'], exact: true },
  { name: 'items of a category the order does not name (re-signed)', make: () => zipOf(resealed(() => undefined, { order: sampleOrder({ categories: ['subscriber', 'mail.content', 'mail.metadata'] }) })), checks: ['scope'], exact: true },
  { name: 'an account the order does not name (account-id targets, re-signed)', make: () => zipOf(resealed(() => undefined, { order: sampleOrder({ targets: [{ type: 'account-id', value: 'acc-0001' }] }) })), checks: ['scope'], exact: true },
  // A record cannot say what the layout contradicts: the investigator is told what they hold by it.
  { name: 'a production record with a field scopex does not write (re-signed)', make: () => zipOf(resealed((_, records) => { Object.assign(records[0] as ProductionRecord, { note: 'planted' }); })), checks: ['production'], exact: true },
  { name: 'a production record saying customer-key for a file not named .scxb (re-signed)', make: () => zipOf(resealed((_, records) => { recordOf(records, MAIL_1).encryption = 'customer-key'; })), checks: ['production'], exact: true },
  { name: 'a production record saying user-encrypted for a storage file (re-signed)', make: () => zipOf(resealed((_, records) => { recordOf(records, RESUME).encryption = 'user-encrypted'; })), checks: ['production'], exact: true },
  { name: 'a production record saying none for a mail message (re-signed)', make: () => zipOf(resealed((_, records) => { recordOf(records, MAIL_1).encryption = 'none'; })), checks: ['production'], exact: true },
  // Round 6 tamper D5: a metadata file's record says none; earlier archives' provider-decrypted is no longer taken.
  { name: 'a metadata record saying provider-decrypted (re-signed)', make: () => zipOf(resealed((_, records) => { recordOf(records, METADATA).encryption = 'provider-decrypted'; })), checks: ['production'], exact: true },
  { name: 'a production record giving items for a mail message (re-signed)', make: () => zipOf(resealed((_, records) => { recordOf(records, MAIL_1).items = 3; })), checks: ['production'], exact: true },
  // Each metadata line is its item's record: held to the range and to the fields of its service (never a subject).
  { name: 'a metadata line dated before the range (re-signed)', make: () => zipOf(resealed((model, records) => { editMetadata(model, records, (line) => line.replace('"timestamp":"2026-01-01T00:00:00Z"', '"timestamp":"2025-05-05T02:58:51Z"')); })), checks: ['production', 'scope'], exact: true },
  { name: 'a metadata line dated past the range by 100 us (re-signed)', make: () => zipOf(resealed((model, records) => { editMetadata(model, records, (line) => line.replace('"timestamp":"2026-06-30T23:59:59Z"', '"timestamp":"2026-06-30T23:59:59.0001Z"')); })), checks: ['production', 'scope'], exact: true },
  { name: 'a metadata line carrying a subject (re-signed)', make: () => zipOf(resealed((model, records) => { editMetadata(model, records, (line) => line.replace('"size":124,', '"size":124,"subject":"hello",')); })), checks: ['scope'], exact: true },
  // README: a metadata file's record gives its line count as `items`.
  { name: 'a metadata record giving more items than its file has lines (re-signed)', make: () => zipOf(resealed((_model, records) => { recordOf(records, METADATA).items = 99; })), checks: ['production'], exact: true },
  { name: 'a metadata record giving no more items than a line added to it (re-signed)', make: () => zipOf(resealed((model, records) => { const items = recordOf(records, METADATA).items; editMetadata(model, records, (text) => `${text}\n${text.split('\n')[0] ?? ''}`); recordOf(records, METADATA).items = items; })), checks: ['production'], exact: true },
  // Export writes a metadata line for each item it delivers: the lines and the content records name the same items.
  { name: 'a content record naming another item than its metadata line (re-signed)', make: () => zipOf(resealed((_model, records) => { recordOf(records, 'data/acc-0001/mail.content/m-000002.eml').sourceId = 'm-999999'; })), checks: ['production'], exact: true },
  { name: 'a metadata line naming another item than the content records (re-signed)', make: () => zipOf(resealed((model, records) => { editMetadata(model, records, (text) => text.replace('"sourceId":"m-000001"', '"sourceId":"m-000009"')); })), checks: ['production'], exact: true },
  { name: 'a content record dated otherwise than its metadata line, inside the range (re-signed)', make: () => zipOf(resealed((_model, records) => { recordOf(records, MAIL_1).timestamp = '2026-02-01T00:00:00Z'; })), checks: ['production'], exact: true },
  // ... and say the same of each: its size and, for mail, its encryption (tamper D3/D4 of round 4).
  { name: 'a metadata line giving another size than its item (re-signed)', make: () => zipOf(resealed((model, records) => { editMetadata(model, records, (text) => text.replace('"size":124,', '"size":999999,')); })), checks: ['production'], exact: true },
  { name: 'a metadata line giving its size as text (re-signed)', make: () => zipOf(resealed((model, records) => { editMetadata(model, records, (text) => text.replace('"size":124,', '"size":"124",')); })), checks: ['scope'], exact: true },
  // Each field of the type export writes (round 6 tamper D1: an object with a key written twice inside, an address as a number).
  { name: 'a metadata line whose cc is an object writing a key twice (re-signed)', make: () => zipOf(resealed((model, records) => { editMetadata(model, records, (text) => text.replace('"cc":null', '"cc":{"addr":"eve@evil.example","addr":"nobody@contoso.example"}')); })), checks: ['scope'], exact: true },
  { name: 'a metadata line whose to is a number (re-signed)', make: () => zipOf(resealed((model, records) => { editMetadata(model, records, (text) => text.replace('"to":"bob@fabrikam.example"', '"to":42')); })), checks: ['scope'], exact: true },
  { name: 'a metadata line giving another encryption than its item (re-signed)', make: () => zipOf(resealed((model, records) => { editMetadata(model, records, (text) => text.replace('"encryption":"provider-decrypted"', '"encryption":"user-encrypted"')); })), checks: ['production'], exact: true },
  { name: 'two content records that swapped their sourceIds and times (re-signed)', make: () => zipOf(resealed((_model, records) => { const a = recordOf(records, MAIL_1); const b = recordOf(records, 'data/acc-0001/mail.content/m-000002.eml'); [a.sourceId, b.sourceId, a.timestamp, b.timestamp] = [b.sourceId, a.sourceId, b.timestamp, a.timestamp]; })), checks: ['production'], exact: true },
  { name: 'a metadata line removed with its count (re-signed)', make: () => zipOf(resealed((model, records) => { editMetadata(model, records, (text) => text.split('\n').slice(1).join('\n')); })), checks: ['production'], exact: true },
  // Export writes each account's metadata file of each metadata category of the order, empty when it has no items.
  // Tamper F2 of round 5: with all of a service's content gone, the lines were held to nothing and passed.
  { name: 'all of a service\'s content removed with its records, its metadata lines kept (re-signed)', make: () => zipOf(resealed((model, records) => { for (const record of records.filter((r) => r.category === 'mail.content')) withoutFile(model, records, record.path); })), checks: ['production'], exact: true },
  { name: "an account's metadata file removed with its record (re-signed)", make: () => zipOf(resealed((model, records) => { withoutFile(model, records, METADATA); })), checks: ['production'], exact: true },
  { name: "an account's empty metadata file removed with its record (re-signed)", make: () => zipOf(resealed((model, records) => { withoutFile(model, records, 'data/acc-0002/mail.metadata/metadata.jsonl'); })), checks: ['production'], exact: true },
  // bag-info.txt lists every account the export resolved (tamper F1 and F3 of round 5: an account removed whole, or its
  // subscriber record, passed).
  { name: 'an account removed whole, bag-info.txt still listing it (re-signed)', make: () => zipOf(resealed((model, records) => { withoutAccount(model, records, 'acc-0002'); }, { accounts: ['acc-0001', 'acc-0002'] })), checks: ['production'], exact: true },
  // Round 8 (scope D1): a mail message filed under subscriber passed as a second, undated "subscriber record" in a
  // subpoena's archive, which may hold no content.
  ...[
    ['a mail message filed as a second subscriber record', 'data/acc-0002/subscriber/mail/m-000001.eml', 'm-000001'],
    ['a second file beside the subscriber record, with its source id', 'data/acc-0002/subscriber/extra.eml', 'subscriber'],
  ].map(([what, extra, sourceId]): TamperCase => ({
    name: `${what} (re-signed)`,
    make: () =>
      zipOf(
        resealed((model, records) => {
          const bytes = model.files.get(MAIL_1) as Buffer;
          model.files.set(extra as string, bytes);
          const subscriber = recordOf(records, 'data/acc-0002/subscriber/subscriber.json');
          records.push({ ...subscriber, path: extra as string, sha256: sha256(bytes), bytes: bytes.length, sourceId: sourceId as string });
        }),
      ),
    checks: ['production'],
    exact: true,
    message: /the subscriber category must be one subscriber\.json file/,
  })),
  { name: "an account's subscriber record removed with its record (re-signed)", make: () => zipOf(resealed((model, records) => { withoutFile(model, records, 'data/acc-0002/subscriber/subscriber.json'); })), checks: ['production'], exact: true },
  { name: 'data of an account bag-info.txt does not list (re-signed)', make: () => zipOf(resealed(() => undefined, { accounts: ['acc-0001'] })), checks: ['production'], exact: true },
  {
    name: 'bag-info.txt listing a third account, with no data (re-signed)',
    make: () => zipOf(resealed(() => undefined, { accounts: ['acc-0001', 'acc-0002', 'acc-0003'] })),
    checks: ['production', 'scope'],
    exact: true,
    message: /^the archive holds data of 2 account\(s\) and names 3 in all \(bag-info\.txt lists accounts with no data too\), but the order's 2 target\(s\) resolve to at most 2$/,
  },
  { name: 'bag-info.txt listing no account (re-signed)', make: () => zipOf(resealed(() => undefined, { accounts: [] })), checks: ['bag-layout'], exact: true },
  { name: 'bag-info.txt listing an account twice (re-signed)', make: () => zipOf(resealed(() => undefined, { accounts: ['acc-0001', 'acc-0002', 'acc-0001'] })), checks: ['bag-layout'], exact: true },
  { name: 'bag-info.txt listing what is not an account id (re-signed)', make: () => zipOf(resealed(() => undefined, { accounts: ['acc-0001', 'acc-0002', '../acc-0003'] })), checks: ['bag-layout'], exact: true },
  // Round 6 tamper D4: JavaScript's trim() let a BOM before the first label, and a no-break space after an account id, pass.
  { name: 'bag-info.txt starting with a byte order mark (re-signed)', make: () => zipOf(withBagInfo(good, (text) => `\ufeff${text}`)), checks: ['bag-layout'], exact: true },
  { name: 'bag-info.txt giving an account id with a no-break space after it (re-signed)', make: () => zipOf(withBagInfo(good, (text) => text.replace('Scopex-Account: acc-0002\n', 'Scopex-Account: acc-0002\u00a0\n'))), checks: ['bag-layout', 'production'], exact: true },
  { name: 'bag-info.txt with a line that is no tag (re-signed)', make: () => zipOf(withBagInfo(good, (text) => `${text}acc-0003\n`)), checks: ['bag-layout'], exact: true },
  { name: 'an account an account-id target names, removed whole and from bag-info.txt (re-signed)', make: () => zipOf(resealed((model, records) => { withoutAccount(model, records, 'acc-0002'); }, { order: sampleOrder({ targets: [{ type: 'account-id', value: 'acc-0001' }, { type: 'account-id', value: 'acc-0002' }] }), accounts: ['acc-0001'] })), checks: ['scope'], exact: true },
  // Export delivers all of an account's items as stored ciphertext (a customer-key tenant's) or none (tamper F5 of round 5).
  { name: 'one item of an account stored ciphertext, its others decrypted (re-signed)', make: () => zipOf(resealed((model, records) => { const record = recordOf(records, RESUME); model.files.delete(RESUME); record.path = `${RESUME}.scxb`; record.encryption = 'customer-key'; model.files.set(record.path, Buffer.alloc(record.bytes)); })), checks: ['production'], exact: true },
  // A key written twice: JSON.parse keeps the last value, a reader that keeps the first reads another record (tamper F6
  // of round 5: one reader sees m-000002 dated 2019, or of another account).
  { name: 'a production record giving its timestamp twice (re-signed)', make: () => zipOf(withProductionText((text) => text.replace('"timestamp": "2026-06-30T23:59:59Z"', '"timestamp": "2019-01-01T00:00:00Z", "timestamp": "2026-06-30T23:59:59Z"'))), checks: ['production'], exact: true },
  { name: 'a production record giving its account twice (re-signed)', make: () => zipOf(withProductionText((text) => text.replace('"account": "acc-0002"', '"account": "acc-0009",\n    "account": "acc-0002"'))), checks: ['production'], exact: true },
  { name: 'a metadata line giving its timestamp twice (re-signed)', make: () => zipOf(resealed((model, records) => { editMetadata(model, records, (text) => text.replace('"timestamp":"2026-01-01T00:00:00Z"', '"timestamp":"2019-01-01T00:00:00Z","timestamp":"2026-01-01T00:00:00Z"')); })), checks: ['scope'], exact: true },
  // RFC 8259 §8.1: a JSON text has no byte order mark (Python's json refuses it).
  { name: 'production.json starting with a byte order mark (re-signed)', make: () => zipOf(withProductionText((text) => `\ufeff${text}`)), checks: ['production'], exact: true },
  // Export delivers each item once (tamper F4 of round 5: an item twice under two names, its metadata line twice too).
  { name: 'an item delivered twice, with its metadata line twice (re-signed)', make: () => zipOf(resealed((model, records) => { const copy = 'data/acc-0001/mail.content/m-000001~2.eml'; model.files.set(copy, model.files.get(MAIL_1) as Buffer); records.push({ ...recordOf(records, MAIL_1), path: copy }); editMetadata(model, records, (text) => `${text}\n${text.split('\n')[0] ?? ''}`); })), checks: ['production'], exact: true },
  { name: 'a metadata line that is not JSON (re-signed)', make: () => zipOf(resealed((model, records) => { editMetadata(model, records, (line) => `${line}\nSubject: hello`); })), checks: ['scope'], exact: true },
  // scopex seals only approved orders: whoever holds the signer key cannot pass off an unapproved or edited one.
  { name: 'an order.json without an approval (re-signed)', make: () => zipOf(resealed(() => undefined, { order: withoutApproval(sampleOrder()) })), checks: ['order'], exact: true },
  { name: 'an order.json changed after its approval (re-signed)', make: () => zipOf(resealed(() => undefined, { order: { ...sampleOrder(), dateRange: { from: '2026-01-01T00:00:00Z', to: '2026-12-31T23:59:59Z' } } })), checks: ['order'], exact: true },
  { name: 'an order.json approved by the trusted CA itself, not a reviewer (re-signed)', make: () => zipOf(resealed(() => undefined, { order: approvedBy(fixturePki().ca) })), checks: ['order'], exact: true },
  { name: 'an order.json approved with the trusted archive signer\'s certificate (re-signed)', make: () => zipOf(resealed(() => undefined, { order: approvedBy(fixturePki().signer) })), checks: ['order'], exact: true },
  // Fields other tools act on that scopex never writes (a VERIFIED archive must extract the same everywhere).
  { name: 'a CRC-32 that does not match the data, in the local header and the central directory alike', make: () => crcChanged(goodZip, MAIL_1), checks: ['zip-structure'], exact: true },
  { name: 'a CRC-32 that does not match an empty file', make: () => crcChanged(goodZip, 'data/acc-0002/storage.content/empty.bin'), checks: ['zip-structure'], exact: true },
  // unzip skips an entry that needs a version it lacks ("unsupported compression or encoding", exit 81).
  { name: 'version needed 6.3 in the local header and the central record alike', make: () => versionNeededSet(goodZip, MAIL_1, { local: 63, central: 63 }), checks: ['zip-structure'], exact: true },
  { name: 'version needed 6.3 in the central record only', make: () => versionNeededSet(goodZip, MAIL_1, { central: 63 }), checks: ['zip-structure'], exact: true },
  { name: 'a local header version needed other than the central record\'s', make: () => versionNeededSet(goodZip, MAIL_1, { local: 10 }), checks: ['zip-structure'], exact: true },
  { name: 'version needed 4.5 in a central record without a ZIP64 field, 2.0 in its local header', make: () => versionNeededSet(goodZip, MAIL_1, { central: 45 }), checks: ['zip-structure'], exact: true },
  { name: 'a ZIP64 entry whose local header needs 6.3', make: () => versionNeededSet(asZip64Record(goodZip, MAIL_1), MAIL_1, { local: 63 }), checks: ['zip-structure'], exact: true },
  { name: 'a central record on disk 1 (7-Zip extracts an empty file)', make: () => centralEdited(goodZip, MAIL_1, (zip, at) => zip.writeUInt16LE(1, at + 34)), checks: ['zip-structure'], exact: true },
  { name: 'an archive comment', make: () => withArchiveComment(goodZip, 'note to the investigator: m-000001 is fake'), checks: ['zip-structure'], exact: true },
  { name: 'a file comment', make: () => centralGrown(goodZip, MAIL_1, 'comment', Buffer.from('NOTE TO INVESTIGATOR: this message was fabricated')), checks: ['zip-structure'], exact: true },
  { name: 'an unknown extra field in the central record only', make: () => centralGrown(goodZip, MAIL_1, 'extra', Buffer.from([0xfe, 0xca, 8, 0, ...Buffer.from('HIDDENXX')])), checks: ['zip-structure'], exact: true },
  { name: 'bytes after the last extra field of a central record', make: () => centralGrown(goodZip, MAIL_1, 'extra', Buffer.from([0x01, 0x00])), checks: ['zip-structure'], exact: true },
  { name: 'an unknown extra field in the local and central headers', make: () => withEntryOptions(good, MAIL_1, { extra: Buffer.from([0xfe, 0xca, 8, 0, ...Buffer.from('HIDDENXX')]) }), checks: ['zip-structure'], exact: true },
  { name: 'extensible data in the ZIP64 end record', make: () => zip64ExtensibleData(), checks: ['zip-structure'], exact: true },
  { name: 'a setuid payload file', make: () => withEntryOptions(good, MAIL_1, { externalAttr: 0o104644 * 65536 }), checks: ['entry-types'], exact: true },
  { name: 'a payload file of mode 000 (unreadable once extracted)', make: () => withEntryOptions(good, MAIL_1, { externalAttr: 0o100000 * 65536 }), checks: ['entry-types'], exact: true },
  { name: 'an executable payload file', make: () => withEntryOptions(good, MAIL_1, { externalAttr: 0o100755 * 65536 }), checks: ['entry-types'], exact: true },
  { name: 'a world-writable tag file', make: () => withEntryOptions(good, 'order.json', { externalAttr: 0o100666 * 65536 }), checks: ['entry-types'], exact: true },
  { name: 'a DOS hidden attribute (Unix host)', make: () => withEntryOptions(good, MAIL_1, { externalAttr: 0o100644 * 65536 + 0x02 }), checks: ['entry-types'], exact: true },
  { name: 'a DOS hidden attribute (DOS host)', make: () => withEntryOptions(good, MAIL_1, { createSystem: 0, externalAttr: 0x02 }), checks: ['entry-types'], exact: true },
  { name: 'a DOS volume-label attribute', make: () => withEntryOptions(good, MAIL_1, { externalAttr: 0o100644 * 65536 + 0x08 }), checks: ['entry-types'], exact: true },
  { name: 'a folder its owner cannot enter', make: () => zipOf(good, [{ name: `${ORDER_ID}/data/acc-0001/`, data: Buffer.alloc(0), externalAttr: 0o40600 * 65536 + 0x10 }]), checks: ['entry-types'], exact: true },
  { name: 'an empty folder entry for an account the archive does not hold', make: () => zipOf(good, [{ name: `${ORDER_ID}/data/acc-0099/mail.content/`, data: Buffer.alloc(0) }]), checks: ['bag-layout'], exact: true },
  { name: 'an empty category folder entry of a held account', make: () => zipOf(good, [{ name: `${ORDER_ID}/data/acc-0001/im.content/`, data: Buffer.alloc(0) }]), checks: ['bag-layout'], exact: true },
  { name: 'an empty top-level folder entry', make: () => zipOf(good, [{ name: `${ORDER_ID}/evidence-removed/`, data: Buffer.alloc(0) }]), checks: ['bag-layout'], exact: true },
  {
    name: 'more accounts than the order has targets (re-signed)',
    make: () => zipOf(resealed(() => undefined, { order: sampleOrder({ targets: [{ type: 'email', value: 'alice@contoso.example' }] }) })),
    checks: ['scope'],
    exact: true,
    message: /^the archive holds data of 2 account\(s\), but the order's 1 target\(s\) resolve to at most 1$/,
  },
  // A different --order fails the order check; what lies outside the given order is named under scope as well.
  { name: '--order with a narrower date range', make: () => goodZip, orderFile: () => givenOrder({ dateRange: { from: '2026-01-01T00:00:00Z', to: '2026-03-31T23:59:59Z' } }), checks: ['order', 'scope'], exact: true },
  { name: '--order with fewer categories', make: () => goodZip, orderFile: () => givenOrder({ categories: ['subscriber', 'mail.content', 'mail.metadata'] }), checks: ['order', 'scope'], exact: true },
  { name: '--order with fewer targets', make: () => goodZip, orderFile: () => givenOrder({ targets: [{ type: 'email', value: 'alice@contoso.example' }] }), checks: ['order', 'scope'], exact: true },
  {
    name: '--order with a different order',
    make: () => goodZip,
    orderFile: () => {
      const other = path.join(dir, 'other-order.json');
      fs.writeFileSync(other, JSON.stringify(sampleOrder({ dateRange: { from: '2026-01-01T00:00:00Z', to: '2026-12-31T23:59:59Z' } }), null, 2));
      return other;
    },
    checks: ['order'],
    exact: true,
  },
];

describe('tampered archives', () => {
  it('has at least 25 cases', () => {
    expect(cases.length).toBeGreaterThanOrEqual(25);
  });

  for (const tamper of cases) {
    it(`fails: ${tamper.name}`, async () => {
      const report = await verifyBytes(tamper.make(), { orderFile: tamper.orderFile?.() });
      expect(report.ok).toBe(false);
      const failed = failedChecks(report);
      if (tamper.exact) expect(failed).toEqual([...tamper.checks].sort());
      else expect(failed).toEqual(expect.arrayContaining(tamper.checks));
      for (const failure of report.failures) {
        expect(failure.expected).not.toBe('');
        expect(failure.message).not.toBe('');
      }
      if (tamper.message) expect(report.failures.map((failure) => failure.message)).toContainEqual(expect.stringMatching(tamper.message));
    });
  }
});

describe('a local header that disagrees with its central record names the field', () => {
  const local = (zip: Buffer): number => zip.indexOf(Buffer.from(`${ORDER_ID}/${MAIL_1}`)) - 30;
  it.each([
    ['CRC-32', (zip: Buffer) => zip.writeUInt32LE(zip.readUInt32LE(local(zip) + 14) ^ 1, local(zip) + 14), 'the local header CRC-32 differs from the central directory'],
    ['size', (zip: Buffer) => zip.writeUInt32LE(zip.readUInt32LE(local(zip) + 22) + 1, local(zip) + 22), 'the local header sizes differ from the central directory'],
  ])('%s', async (_, edit, message) => {
    const zip = Buffer.from(goodZip);
    expect(zip.readUInt16LE(local(zip) + 6) & 0x08).toBe(0); // its CRC and sizes are in the local header
    edit(zip);
    const report = await verifyBytes(zip);
    expect(report.failures.filter((failure) => failure.check === 'zip-structure').map((failure) => failure.message)).toContain(message);
  });
});

describe('version needed to extract', () => {
  it('of a ZIP64 entry may be 1.0 or 2.0 in its local header, as scopex writes for an item over 4 GiB or one past 4 GiB', async () => {
    // The central record as scopex writes one past 4 GiB: 4.5, sizes and offset in a ZIP64 field; the local header
    // as Python wrote it (2.0), then as archiver writes an entry written whole (1.0), then 4.5.
    const zip64 = asZip64Record(goodZip, MAIL_1);
    expect((await verifyBytes(zip64)).failures).toEqual([]);
    for (const local of [10, 45]) {
      const report = await verifyBytes(versionNeededSet(zip64, MAIL_1, { local }));
      expect(report.failures, `local ${local}`).toEqual([]);
    }
  });

  it('names the entry and both values in one sentence', async () => {
    const report = await verifyBytes(versionNeededSet(goodZip, MAIL_1, { local: 63, central: 63 }));
    expect(report.failures).toEqual([expect.objectContaining({ check: 'zip-structure', entry: `${ORDER_ID}/${MAIL_1}`, found: '6.3' })]);
    const differing = await verifyBytes(versionNeededSet(goodZip, MAIL_1, { local: 10 }));
    expect(differing.failures).toEqual([expect.objectContaining({ check: 'zip-structure', entry: `${ORDER_ID}/${MAIL_1}`, expected: 'version needed 2.0', found: '1.0' })]);
  });
});

describe('a central record value marked 0xffffffff', () => {
  // Round 9 interop I1: "in the ZIP64 field" (APPNOTE 4.4.8/4.4.9/4.4.16); with no such field libzip refuses the
  // whole archive, and verify passed one the writer made for an item of exactly 4,294,967,295 bytes.
  it('with no ZIP64 field is named as such', async () => {
    // Both sizes of the entry that lies last marked: the one 32-bit value the writer gave raw. (On an entry with
    // another after it, the 4 GiB it then claims is refused first, as an overlap.)
    const last = centralRecords(goodZip).reduce((a, b) => (localHeaderAt(goodZip, b.offset) > localHeaderAt(goodZip, a.offset) ? b : a));
    const bagPath = last.name.slice(ORDER_ID.length + 1);
    const zip = centralEdited(goodZip, bagPath, (out, at) => {
      out.writeUInt32LE(0xffffffff, at + 20);
      out.writeUInt32LE(0xffffffff, at + 24);
    });
    const report = await verifyBytes(zip);
    expect(report.ok).toBe(false);
    expect(report.failures.map((failure) => failure.message)).toContain(
      `the central directory record of ${last.name} marks a size or offset 0xffffffff (held in a ZIP64 field) but has no ZIP64 field, so libzip cannot open the archive`,
    );
  });
});

describe('a stored entry marked encrypted', () => {
  it('is reported as marked encrypted, not as sizes "4930 != 4930"', async () => {
    const zip = centralEdited(goodZip, MAIL_1, (out, at) => {
      out.writeUInt16LE(out.readUInt16LE(at + 8) | 1, at + 8);
      const local = out.readUInt32LE(at + 42);
      out.writeUInt16LE(out.readUInt16LE(local + 6) | 1, local + 6);
    });
    const report = await verifyBytes(zip);
    expect(failedChecks(report)).toContain('zip-structure');
    const messages = report.failures.map((failure) => failure.message).join('\n');
    expect(messages).toContain('marked encrypted');
    expect(messages).not.toMatch(/(\d+) != \1/);
  });
});

describe('payload files larger than a read window (one handed to the hashing thread, one hashed as it streams by)', () => {
  const MAIL_2 = 'data/acc-0001/mail.content/m-000002.eml';
  /** The good bag with m-000002 grown to 9 MiB and Résumé.txt to 6 MiB of random data, re-signed. */
  function withBigFiles(): BagModel {
    return resealed((model, records) => {
      for (const [name, bytes] of [[MAIL_2, 9 * 1024 * 1024 + 4321], [RESUME, 6 * 1024 * 1024]] as const) {
        const big = Buffer.concat([model.files.get(name) as Buffer, randomBytes(bytes)]);
        model.files.set(name, big);
        const record = records.find((candidate) => candidate.path === name) as ProductionRecord;
        // The message's metadata line gives its size too.
        if (name === MAIL_2) editMetadata(model, records, (text) => text.replace(`"size":${record.bytes},`, `"size":${big.length},`));
        record.bytes = big.length;
        record.sha256 = sha256(big);
      }
    });
  }

  it('verify, and a byte flipped in any window of either is caught, the same with and without the thread', async () => {
    const model = withBigFiles();
    expect((await verifyBytes(zipOf(model))).failures).toEqual([]);
    for (const [name, at] of [[MAIL_2, 100], [MAIL_2, 4 * 1024 * 1024 + 7], [MAIL_2, 9 * 1024 * 1024], [RESUME, 5 * 1024 * 1024]] as const) {
      const report = await verifyBytes(zipOf(editBytes(model, name, at)));
      expect(failedChecks(report)).toEqual(['payload-manifest']);
      expect(report.failures.map((failure) => failure.entry)).toEqual([`${ORDER_ID}/${name}`]);
    }
  });

  it('a CRC-32 that does not match either big file is reported in the same place, whoever read it', async () => {
    const zip = zipOf(withBigFiles());
    for (const name of [MAIL_2, RESUME]) {
      const report = await verifyBytes(crcChanged(zip, name));
      expect(failedChecks(report)).toEqual(['zip-structure']);
      expect(report.failures.map((failure) => failure.entry)).toEqual([`${ORDER_ID}/${name}`]);
    }
    const both = await verifyBytes(crcChanged(crcChanged(zip, MAIL_2), RESUME));
    expect(both.failures.map((failure) => failure.entry)).toEqual([MAIL_2, RESUME].map((name) => `${ORDER_ID}/${name}`).sort((a, b) => zip.indexOf(Buffer.from(a)) - zip.indexOf(Buffer.from(b))));
  });

  it('an archive cut inside a big file is reported, the same with and without the thread', async () => {
    const zip = zipOf(withBigFiles());
    const report = await verifyBytes(zip.subarray(0, zip.indexOf(Buffer.from('Subject: big')) + 5 * 1024 * 1024));
    expect(failedChecks(report)).toContain('zip-structure');
  });
});

describe('openssl cms -verify agrees on the signature cases', () => {
  const signatureCases: { name: string; make: () => BagModel; opensslAccepts: boolean }[] = [
    { name: 'good', make: () => good, opensslAccepts: true },
    { name: 'flipped tag manifest', make: () => editBytes(good, 'tagmanifest-sha256.txt', 3, true), opensslAccepts: false },
    { name: 'flipped signature value', make: () => editBytes(good, 'signature.p7s', -2), opensslAccepts: false },
    { name: 'untrusted signer', make: () => resigned(good, 'untrustedSigner'), opensslAccepts: false },
    { name: 'expired signer', make: () => resigned(good, 'expiredSigner'), opensslAccepts: false },
    { name: 'consistent removal, not re-signed', make: () => consistentRemoval(good), opensslAccepts: false },
    // Where scopex is deliberately stricter than `openssl cms -verify -purpose any`:
    { name: 'CA certificate as signer', make: () => resigned(good, 'caAsSigner'), opensslAccepts: true },
    { name: 'SHA-1 digest', make: () => resigned(good, 'signer', 'sha1'), opensslAccepts: true },
    { name: 'SHA-384 digest', make: () => resigned(good, 'signer', 'sha384'), opensslAccepts: true },
    { name: 'SHA-512 digest', make: () => resigned(good, 'signer', 'sha512'), opensslAccepts: true },
    { name: 'reviewer as signer', make: () => resigned(good, 'reviewerAsSigner'), opensslAccepts: true },
  ];
  for (const signatureCase of signatureCases) {
    it(signatureCase.name, async () => {
      const model = signatureCase.make();
      const report = await verifyBytes(zipOf(model));
      expect(opensslAccepts(model)).toBe(signatureCase.opensslAccepts);
      const stricter = ['CA certificate as signer', 'SHA-1 digest', 'SHA-384 digest', 'SHA-512 digest', 'reviewer as signer'].includes(signatureCase.name);
      expect(scopexAcceptsSignature(report)).toBe(stricter ? false : signatureCase.opensslAccepts);
    });
  }
});

describe('--order narrower than the order the archive carries', () => {
  it('names the items outside the given order, not only the order mismatch', async () => {
    const report = await verifyBytes(goodZip, { orderFile: givenOrder({ dateRange: { from: '2026-01-01T00:00:00Z', to: '2026-03-31T23:59:59Z' }, categories: ['subscriber', 'mail.content', 'mail.metadata'] }) });
    const scope = report.failures.filter((failure) => failure.check === 'scope');
    expect(scope.map((failure) => failure.entry)).toEqual(expect.arrayContaining([`${ORDER_ID}/data/acc-0001/mail.content/m-000002.eml`, `${ORDER_ID}/${RESUME}`]));
    expect(report.checks.find((check) => check.name === 'scope')?.ok).toBe(false);
  });

  it('names each file of a category the order does not name once, not once for its record and again for its folder', async () => {
    const report = await verifyBytes(goodZip, { orderFile: givenOrder({ categories: ['subscriber', 'mail.metadata'] }) });
    const scope = report.failures.filter((failure) => failure.check === 'scope');
    const entries = scope.map((failure) => failure.entry);
    const outside = [...good.files.keys()].filter((name) => /^data\/[^/]+\/(mail\.content|im\.|storage\.)/.test(name)).map((name) => `${ORDER_ID}/${name}`);
    expect(outside.length).toBeGreaterThan(3);
    expect(entries.toSorted()).toEqual(outside.toSorted());
    expect(report).toMatchObject({ failuresOmitted: 0 });
    expect(report.checks.find((check) => check.name === 'scope')?.ok).toBe(false);
  });
});

describe("SignedData's digestAlgorithms", () => {
  it('a byte flipped anywhere in it fails the signature check, as openssl cms -verify refuses it', async () => {
    const p7s = good.files.get('signature.p7s') as Buffer;
    // The SET follows SignedData's version; its first (only) entry is SHA-256, the first object identifier there.
    const oid = p7s.indexOf(Buffer.from('0609608648016503040201', 'hex'));
    expect(oid).toBeGreaterThan(0);
    const setAt = p7s.lastIndexOf(0x31, oid);
    const end = oid + 11 + (p7s[oid + 11] === 0x05 ? 2 : 0);
    expect(oid - setAt).toBeLessThanOrEqual(4);
    for (let at = setAt; at < end; at++) {
      const model = editBytes(good, 'signature.p7s', at);
      const report = await verifyBytes(zipOf(model));
      expect(failedChecks(report), `p7s byte ${at}`).toContain('signature');
      expect(opensslAccepts(model), `p7s byte ${at}`).toBe(false);
    }
  });

  it("one that does not list the signer's algorithm fails the signature check", async () => {
    // SHA-256 announced as SHA-512 (same length): the signer's own digest algorithm is left as it was.
    const p7s = Buffer.from(good.files.get('signature.p7s') as Buffer);
    const oid = p7s.indexOf(Buffer.from('0609608648016503040201', 'hex'));
    p7s[oid + 10] = 0x03;
    const model = cloneModel(good);
    model.files.set('signature.p7s', p7s);
    const report = await verifyBytes(zipOf(model));
    expect(report.failures.filter((failure) => failure.check === 'signature').map((failure) => failure.message)).toContain("SignedData's digestAlgorithms does not list the signer's digest algorithm");
    expect(opensslAccepts(model)).toBe(false);
  });
});

describe('an ECDSA signature whose hash is not the digest algorithm', () => {
  it('fails the signature check (openssl hashes the signed attributes with the digest algorithm, SHA-256)', async () => {
    // An EC archive signer certified by the trusted CA, made with the openssl command line (forge has no EC keys).
    const work = path.join(dir, `ec-${counter++}`);
    fs.mkdirSync(work);
    const file = (name: string): string => path.join(work, name);
    fs.writeFileSync(file('ext.cnf'), 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=emailProtection\n');
    execFileSync('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', file('ec.key'), '-out', file('ec.csr'), '-subj', '/CN=EC Production Signer'], { stdio: 'pipe' });
    execFileSync('openssl', ['x509', '-req', '-in', file('ec.csr'), '-CA', pki.caAsSigner.certFile, '-CAkey', pki.caAsSigner.keyFile, '-set_serial', '4660', '-days', '30', '-extfile', file('ext.cnf'), '-out', file('ec.pem')], { stdio: 'pipe' });
    const genuine = cloneModel(good);
    sign(genuine, { certFile: file('ec.pem'), keyFile: file('ec.key') });
    expect(failedChecks(await verifyBytes(zipOf(genuine)))).toEqual([]);

    // The same signed attributes signed again with SHA-512 and the algorithm named ecdsa-with-SHA512 (same length),
    // the digest algorithm left SHA-256. Signed until the DER signature has the original's length, so that no
    // enclosing length changes.
    const p7s = Buffer.from(genuine.files.get('signature.p7s') as Buffer);
    const withSha256 = Buffer.from('06082a8648ce3d040302', 'hex');
    const algorithmAt = p7s.lastIndexOf(withSha256);
    expect(algorithmAt).toBeGreaterThan(0);
    p7s[algorithmAt + withSha256.length - 1] = 0x04;
    const valueAt = p7s.indexOf(0x04, algorithmAt + withSha256.length);
    const length = p7s[valueAt + 1] as number;
    // The signed attributes ([0], signed as a SET) follow the signer's digest algorithm, the second SHA-256 OID (the
    // first is in SignedData's digestAlgorithms), and end where the signature algorithm's SEQUENCE (30 0a) begins.
    const sha256Oid = Buffer.from('0609608648016503040201', 'hex');
    const signerDigestAt = p7s.indexOf(sha256Oid, p7s.indexOf(sha256Oid) + 1);
    const attributes = Buffer.from(p7s.subarray(p7s.indexOf(0xa0, signerDigestAt + sha256Oid.length), algorithmAt - 2));
    attributes[0] = 0x31;
    const key = createPrivateKey(fs.readFileSync(file('ec.key')));
    let signature: Buffer;
    do signature = signBytes('sha512', attributes, key);
    while (signature.length !== length);
    signature.copy(p7s, valueAt + 2);
    const model = cloneModel(genuine);
    model.files.set('signature.p7s', p7s);

    const report = await verifyBytes(zipOf(model));
    expect(report.failures).toEqual([expect.objectContaining({ check: 'signature', expected: 'signature hash sha256', found: 'sha512' })]);
    expect(opensslAccepts(model)).toBe(false);
  });
});

describe('a signer certificate whose public key cannot be decoded', () => {
  it('fails the signature checks with a sentence (not an unreadable archive), and the other checks still report', async () => {
    const p7s = Buffer.from(good.files.get('signature.p7s') as Buffer);
    // rsaEncryption, NULL, then the BIT STRING (03 82 xx xx 00) around RSAPublicKey's SEQUENCE: make that a SET.
    const at = p7s.indexOf(Buffer.from('06092a864886f70d010101', 'hex')) + 11 + 2 + 5;
    expect(p7s[at]).toBe(0x30);
    p7s[at] = 0x31;
    const model = cloneModel(good);
    model.files.set('signature.p7s', p7s);
    const report = await verifyBytes(zipOf(model));
    expect(report.ok).toBe(false);
    expect(failedChecks(report)).toEqual(expect.arrayContaining(['signature']));
    expect(failedChecks(report).every((check) => check === 'signature' || check === 'signer-chain')).toBe(true);
    expect(report.checks.find((check) => check.name === 'payload-manifest')?.ok).toBe(true);
    for (const failure of report.failures) expect(failure.message).not.toMatch(/ERR_OSSL/);
  });
});

describe('reporting and inputs', () => {
  it('refuses a BagIt version other than 1.0 (the one scopex writes), naming the version declared', async () => {
    const model = cloneModel(good);
    model.files.set('bagit.txt', Buffer.from('BagIt-Version: 0.97\nTag-File-Character-Encoding: UTF-8\n'));
    writeTagManifest(model);
    sign(model, pki.signer);
    const report = await verifyBytes(zipOf(model));
    expect(report.failures).toEqual([
      expect.objectContaining({ check: 'bag-layout', entry: `${ORDER_ID}/bagit.txt`, found: 'line 1 declares BagIt 0.97, not "BagIt-Version: 1.0"' }),
    ]);
    expect(report.checks.find((check) => check.name === 'bag-layout')).toMatchObject({ ok: false, detail: '1 failure' });
    const goodReport = await verifyBytes(goodZip);
    expect(goodReport.checks.find((check) => check.name === 'bag-layout')?.detail).toMatch(/^BagIt 1\.0 /);
  });

  it('says who approved the order: proven when --trust issued the reviewer\'s certificate, not proven otherwise', async () => {
    const detail = (report: VerifyReport) => report.checks.find((check) => check.name === 'order')?.detail;
    const trusted = await verifyBytes(goodZip);
    expect(detail(trusted)).toBe('order.json is a well-formed scopex order for this archive, approved by "Compliance Reviewer" at 2026-10-02T00:00:00Z with a certificate issued by --trust');
    // A reviewer under a CA the investigator's --trust does not name: the approval's signature matches, and the report
    // says that is all it proves, instead of failing a genuine archive.
    const elsewhere = await verifyBytes(zipOf(resealed(() => undefined, { order: approvedBy(generateSamplePki({ organization: 'Other Court' }).reviewer) })));
    expect(elsewhere.failures).toEqual([]);
    expect(detail(elsewhere)).toMatch(/its signature matches; the reviewer's certificate is not issued by --trust, so who approved it is not proven here\)$/);
  });

  it('with the account directory, holds each account to those the targets resolve to', async () => {
    const directoryFile = path.join(dir, 'directory.json');
    const write = (bob: string) => writeDirectory(directoryFile, { bob });
    const file = path.join(dir, 'directory-check.zip');
    fs.writeFileSync(file, goodZip);
    write('acc-0002');
    const good = await verifyArchive({ archive: file, trustFile: pki.caFile, directory: createFileDirectory({ file: directoryFile }) });
    expect(good.failures).toEqual([]);
    expect(good.checks.find((check) => check.name === 'scope')?.detail).toMatch(/2 account\(s\), all among the 2 the targets resolve to in the account directory$/);
    // live:bob is acc-0003's: acc-0002 stands in its place, two accounts for two targets, which the count cannot see.
    write('acc-0003');
    const swapped = await verifyArchive({ archive: file, trustFile: pki.caFile, directory: createFileDirectory({ file: directoryFile }) });
    expect(swapped.failures).toEqual([
      {
        check: 'scope',
        entry: `${ORDER_ID}/data/acc-0002/`,
        expected: "an account among those the order's targets resolve to in the account directory (acc-0001, acc-0003)",
        found: 'acc-0002',
        message: "account acc-0002 is not an account the order's targets resolve to",
      },
      // And acc-0003, which the directory resolves live:bob to now, is not among the accounts the export resolved.
      {
        check: 'scope',
        entry: `${ORDER_ID}/bag-info.txt`,
        expected: 'account acc-0003, which target im-handle "live:bob" resolves to in the account directory, among the accounts the export resolved',
        found: 'acc-0001, acc-0002',
        message: "account acc-0003, which the order's targets resolve to, is missing from the archive (bag-info.txt does not list it), or the account directory has changed since the export",
      },
    ]);
  });

  it('with the account directory, fails an account left out whole and from bag-info.txt, which a content-only order cannot show offline', async () => {
    const directoryFile = path.join(dir, 'directory-whole.json');
    writeDirectory(directoryFile);
    const file = path.join(dir, 'account-left-out.zip');
    fs.writeFileSync(file, zipOf(resealed((model, records) => { withoutAccount(model, records, 'acc-0002'); }, { accounts: ['acc-0001'] })));
    // Offline, one account for two targets of other kinds than account-id is all the archive can show.
    expect((await verifyArchive({ archive: file, trustFile: pki.caFile })).failures).toEqual([]);
    const report = await verifyArchive({ archive: file, trustFile: pki.caFile, directory: createFileDirectory({ file: directoryFile }) });
    expect(report.failures).toEqual([
      {
        check: 'scope',
        entry: `${ORDER_ID}/bag-info.txt`,
        expected: 'account acc-0002, which target im-handle "live:bob" resolves to in the account directory, among the accounts the export resolved',
        found: 'acc-0001',
        message: "account acc-0002, which the order's targets resolve to, is missing from the archive (bag-info.txt does not list it), or the account directory has changed since the export",
      },
    ]);
  });

  it('with the account directory, holds each account\'s items to its tenant type: stored ciphertext for a customer-key tenant, and only there', async () => {
    const directoryFile = path.join(dir, 'directory-tenants.json');
    const write = (aliceTenant: string, bobTenant: string) => writeDirectory(directoryFile, { aliceTenant, bobTenant });
    const file = path.join(dir, 'tenant-check.zip');
    fs.writeFileSync(file, goodZip);
    const check = async () => (await verifyArchive({ archive: file, trustFile: pki.caFile, directory: createFileDirectory({ file: directoryFile }) })).failures;
    write('consumer', 'enterprise');
    expect(await check()).toEqual([]);
    // Every item of acc-0001 says it was decrypted: the provider holds no key to a customer-key tenant's data.
    write('customer-key', 'consumer');
    expect(await check()).toEqual([
      expect.objectContaining({ check: 'scope', entry: `${ORDER_ID}/${MAIL_1}`, found: 'not customer-key', message: `production.json says ${MAIL_1} was decrypted, but the provider holds no key to account acc-0001's data (a customer-key tenant's)` }),
    ]);
  });

  it('lists failures up to the cap and counts the rest', async () => {
    const model = cloneModel(good);
    for (const name of [...model.files.keys()].filter((p) => p.startsWith('data/') && (model.files.get(p) as Buffer).length > 0)) {
      model.files.set(name, flipByte(model.files.get(name) as Buffer, 0));
    }
    const file = path.join(dir, 'many.zip');
    fs.writeFileSync(file, zipOf(model));
    const report = await verifyArchive({ archive: file, trustFile: pki.caFile, maxFailures: 2 });
    expect(report.ok).toBe(false);
    expect(report.failures).toHaveLength(2);
    // The payload hashes (one per file with bytes), and the flipped first byte of metadata.jsonl also leaves a line that is no metadata line.
    expect(report.failuresOmitted).toBe(4 + 1);
    expect(await builtVerifyArchive({ archive: file, trustFile: pki.caFile, maxFailures: 2, recordsThread: 'always' })).toEqual(report);
  });

  it('caps the failures the records thread finds exactly as those found here, check by check', async () => {
    // Every record wrong twice over (hash and size), the manifest missing a line: failures of three checks, many more
    // than the cap.
    const model = resealed((_bag, records) => {
      for (const record of records) {
        record.sha256 = '0'.repeat(64);
        record.bytes += 1;
      }
    });
    const manifestLines = (model.files.get('manifest-sha256.txt') as Buffer).toString('utf8').split('\n');
    const edited = editFile(model, 'manifest-sha256.txt', () => manifestLines.slice(1).join('\n'));
    const file = path.join(dir, `capped-${counter++}.zip`);
    fs.writeFileSync(file, zipOf(edited));
    for (const maxFailures of [1, 3, 7, 1000]) {
      const here = await verifyArchive({ archive: file, trustFile: pki.caFile, maxFailures, hashThread: 'never' });
      const threaded = await builtVerifyArchive({ archive: file, trustFile: pki.caFile, maxFailures, recordsThread: 'always' });
      expect(threaded).toEqual(here);
      expect(here.failures.length).toBe(Math.min(maxFailures, here.failures.length + here.failuresOmitted));
    }
    const all = await verifyArchive({ archive: file, trustFile: pki.caFile, maxFailures: 1000 });
    expect(new Set(all.failures.map((failure) => failure.check))).toEqual(new Set(['tag-manifest', 'payload-manifest', 'production']));
  });

  it('throws InputError for a missing archive, an unreadable trust file and a malformed --order', async () => {
    const file = path.join(dir, 'input.zip');
    fs.writeFileSync(file, goodZip);
    await expect(verifyArchive({ archive: path.join(dir, 'missing.zip'), trustFile: pki.caFile })).rejects.toMatchObject({ code: 'FILE_UNREADABLE' });
    await expect(verifyArchive({ archive: file, trustFile: path.join(dir, 'missing.pem') })).rejects.toBeInstanceOf(InputError);
    const notPem = path.join(dir, 'not.pem');
    fs.writeFileSync(notPem, 'hello');
    await expect(verifyArchive({ archive: file, trustFile: notPem })).rejects.toMatchObject({ code: 'FILE_UNREADABLE' });
    const badOrder = path.join(dir, 'bad-order.json');
    fs.writeFileSync(badOrder, '{ not json');
    await expect(verifyArchive({ archive: file, trustFile: pki.caFile, orderFile: badOrder })).rejects.toMatchObject({ code: 'JSON_MALFORMED' });
  });

  it('refuses a signing time ahead of the verifier clock', async () => {
    const file = path.join(dir, 'future.zip');
    fs.writeFileSync(file, goodZip);
    const report = await verifyArchive({ archive: file, trustFile: pki.caFile, now: new Date('2026-01-01T00:00:00Z') });
    expect(failedChecks(report)).toEqual(['signature']);
  });

  it('returns ok:false for a file that is not a ZIP at all', async () => {
    const report = await verifyBytes(Buffer.from('this is not an archive, just some text that is long enough'));
    expect(report.ok).toBe(false);
    expect(failedChecks(report)).toEqual(['zip-structure']);
    expect(report.checks.filter((check) => !check.ok).map((check) => check.name)).toContain('signature');
  });
});

// ---- derivations -------------------------------------------------------------------------------------------------

function editBytes(model: BagModel, name: string, at: number, hexDigit = false): BagModel {
  const copy = cloneModel(model);
  const data = copy.files.get(name) as Buffer;
  if (hexDigit) {
    const changed = Buffer.from(data);
    changed[at] = changed[at] === 0x30 ? 0x31 : 0x30;
    copy.files.set(name, changed);
  } else {
    copy.files.set(name, flipByte(data, at));
  }
  return copy;
}

/** A consistent, validly signed bag with the payload file `from` also under each of `to` (records and manifests too). */
function recordOf(records: ProductionRecord[], path: string): ProductionRecord {
  return records.find((record) => record.path === path) as ProductionRecord;
}

const METADATA = 'data/acc-0001/mail.metadata/metadata.jsonl';

/** Edits the mail.metadata file's text, and its production record to match (resealed writes the manifests after). */
/** The good bag with production.json's text edited as it stands (a writer's own hand, not JSON.stringify), re-signed. */
function withProductionText(edit: (text: string) => string): BagModel {
  const model = cloneModel(good);
  const text = (model.files.get('production.json') as Buffer).toString('utf8');
  const edited = edit(text);
  expect(edited).not.toBe(text);
  model.files.set('production.json', Buffer.from(edited));
  writeManifests(model);
  sign(model, pki.signer);
  return model;
}

function editMetadata(model: BagModel, records: ProductionRecord[], edit: (text: string) => string): void {
  const text = (model.files.get(METADATA) as Buffer).toString('utf8');
  const edited = edit(text.slice(0, -1));
  expect(edited).not.toBe(text.slice(0, -1));
  const data = Buffer.from(`${edited}\n`);
  model.files.set(METADATA, data);
  const record = records.find((candidate) => candidate.path === METADATA) as ProductionRecord;
  Object.assign(record, { sha256: sha256(data), bytes: data.length, items: edited.split('\n').length });
}

function withoutApproval(order: Record<string, unknown>): Record<string, unknown> {
  const copy = { ...order };
  delete copy['approval'];
  return copy;
}

/** The sample order approved (validly signed) with `who`'s key and certificate instead of the reviewer's. */
function approvedBy(who: { certificatePem: string; keyPem: string }): Record<string, unknown> {
  const signer = { reviewer: 'Compliance Reviewer', certificatePem: who.certificatePem, key: createPrivateKey(who.keyPem) };
  return signOrder(withoutApproval(sampleOrder()) as unknown as Order, signer, new Date('2026-10-02T00:00:00Z')) as unknown as Record<string, unknown>;
}

/** Removes a payload file and its production record (the manifests are written after). */
/** An account directory of the sample order's two targets: alice@contoso.example (acc-0001) and live:bob (`bob`). */
function writeDirectory(file: string, { bob = 'acc-0002', aliceTenant = 'consumer', bobTenant = 'consumer' } = {}): void {
  const accounts = [
    { id: 'acc-0001', tenant: 't', tenantType: aliceTenant, identifiers: [{ type: 'email', value: 'alice@contoso.example' }] },
    { id: bob, tenant: 't', tenantType: bobTenant, identifiers: [{ type: 'im-handle', value: 'live:bob' }] },
  ];
  fs.writeFileSync(file, JSON.stringify({ schema: 'scopex.directory/v1', accounts }));
}

/** Every file of `account` and its records removed. */
function withoutAccount(model: BagModel, records: ProductionRecord[], account: string): void {
  for (const record of records.filter((candidate) => candidate.account === account)) withoutFile(model, records, record.path);
}

function withoutFile(model: BagModel, records: ProductionRecord[], file: string): void {
  model.files.delete(file);
  records.splice(records.indexOf(recordOf(records, file)), 1);
}

function resealedWithCopy(from: string, ...to: string[]): BagModel {
  return resealed((model, records) => {
    const record = records.find((candidate) => candidate.path === from) as ProductionRecord;
    for (const name of to) {
      model.files.set(name, model.files.get(from) as Buffer);
      records.push({ ...record, path: name });
    }
  });
}

function renamed(model: BagModel, from: string, to: string): BagModel {
  const copy = cloneModel(model);
  copy.files.set(to, copy.files.get(from) as Buffer);
  copy.files.delete(from);
  return copy;
}

/** The bag with bag-info.txt edited, re-listed and re-signed. */
function withBagInfo(model: BagModel, edit: (text: string) => string): BagModel {
  const copy = editFile(model, 'bag-info.txt', edit);
  writeTagManifest(copy);
  sign(copy, pki.signer, { keepBaggingDate: true });
  return copy;
}

/** The bag with bag-info.txt's Bagging-Date set to `day`, re-listed and re-signed (openssl signs now). */
function withBaggingDate(model: BagModel, day: string): BagModel {
  const copy = editFile(model, 'bag-info.txt', (text) => text.replace(/^Bagging-Date: .*$/m, `Bagging-Date: ${day}`));
  writeTagManifest(copy);
  sign(copy, pki.signer, { keepBaggingDate: true });
  return copy;
}

function resigned(model: BagModel, who: 'signer' | 'untrustedSigner' | 'caAsSigner' | 'expiredSigner' | 'reviewerAsSigner', digest?: string): BagModel {
  const copy = cloneModel(model);
  sign(copy, pki[who], { digest });
  return copy;
}

/** The file and its manifest line, record and Oxum share removed, the tag manifest updated: only the signature is wrong. */
function consistentRemoval(model: BagModel): BagModel {
  const copy = cloneModel(model);
  const removed = copy.files.get(MAIL_1) as Buffer;
  copy.files.delete(MAIL_1);
  const manifest = (copy.files.get('manifest-sha256.txt') as Buffer).toString('utf8').split('\n').filter((line) => !line.endsWith(MAIL_1)).join('\n');
  copy.files.set('manifest-sha256.txt', Buffer.from(manifest));
  const records = (JSON.parse((copy.files.get('production.json') as Buffer).toString('utf8')) as ProductionRecord[]).filter((r) => r.path !== MAIL_1);
  copy.files.set('production.json', Buffer.from(`${JSON.stringify(records, null, 2)}\n`));
  copy.files.set(
    'bag-info.txt',
    Buffer.from((copy.files.get('bag-info.txt') as Buffer).toString('utf8').replace(/Payload-Oxum: (\d+)\.(\d+)/, (_, octets: string, count: string) => `Payload-Oxum: ${Number(octets) - removed.length}.${Number(count) - 1}`)),
  );
  writeTagManifest(copy);
  return copy;
}

/** Prepends junk and shifts every offset, as `zip -A` does for self-extractors: the structure is consistent. */
function withLeadingJunkAdjusted(zip: Buffer): Buffer {
  const junk = Buffer.from('#!/bin/sh\necho self-extracting\nexit 0\n');
  const out = Buffer.concat([junk, zip]);
  const shift = junk.length;
  const eocd = out.lastIndexOf(EOCD_SIGNATURE);
  for (const record of centralRecords(zip)) {
    const at = record.offset + shift;
    out.writeUInt32LE(out.readUInt32LE(at + 42) + shift, at + 42);
  }
  out.writeUInt32LE(out.readUInt32LE(eocd + 16) + shift, eocd + 16);
  return out;
}

/** An --order file: the sample order with `overrides`. */
function givenOrder(overrides: Record<string, unknown>): string {
  const file = path.join(dir, `given-order-${counter++}.json`);
  fs.writeFileSync(file, JSON.stringify(sampleOrder(overrides), null, 2));
  return file;
}

/** The good bag zipped with one entry's ZIP options changed (attributes, host, extra field). */
function withEntryOptions(model: BagModel, bagPath: string, options: Partial<ZipItem>): Buffer {
  return writeZip(path.join(dir, `e-${counter++}.zip`), zipItems(model).map((item) => (item.name === `${ORDER_ID}/${bagPath}` ? { ...item, ...options } : item)));
}

/** Edits the central record of `bagPath` in a copy of `zip` (`at` is where the record starts). */
function centralEdited(zip: Buffer, bagPath: string, edit: (zip: Buffer, at: number) => void): Buffer {
  const out = Buffer.from(zip);
  const record = centralRecords(zip).find((r) => r.name === `${ORDER_ID}/${bagPath}`);
  if (!record) throw new Error(`no record for ${bagPath}`);
  edit(out, record.offset);
  return out;
}

/** The "version needed to extract" of `bagPath` set in its local header, its central record or both. */
function versionNeededSet(zip: Buffer, bagPath: string, values: { local?: number; central?: number }): Buffer {
  return centralEdited(zip, bagPath, (out, at) => {
    if (values.local !== undefined) out.writeUInt16LE(values.local, localHeaderAt(out, at) + 4);
    if (values.central !== undefined) out.writeUInt16LE(values.central, at + 6);
  });
}

/**
 * `bagPath`'s central record made a ZIP64 one as scopex writes it for an entry past 4 GiB: version needed 4.5, sizes
 * and offset marked 0xffffffff and held in a 24-byte ZIP64 field; the local header is left as it was.
 */
function asZip64Record(zip: Buffer, bagPath: string): Buffer {
  const record = centralRecords(zip).find((r) => r.name === `${ORDER_ID}/${bagPath}`);
  if (!record) throw new Error(`no record for ${bagPath}`);
  const field = Buffer.alloc(28);
  field.writeUInt16LE(0x0001, 0);
  field.writeUInt16LE(24, 2);
  field.writeBigUInt64LE(BigInt(zip.readUInt32LE(record.offset + 24)), 4);
  field.writeBigUInt64LE(BigInt(zip.readUInt32LE(record.offset + 20)), 12);
  field.writeBigUInt64LE(BigInt(zip.readUInt32LE(record.offset + 42)), 20);
  return centralEdited(centralGrown(zip, bagPath, 'extra', field), bagPath, (out, at) => {
    out.writeUInt16LE(45, at + 6);
    for (const offset of [20, 24, 42]) out.writeUInt32LE(0xffffffff, at + offset);
  });
}

/** Where the local header of the central record at `at` is: its offset field, or the ZIP64 field's when marked 0xffffffff. */
function localHeaderAt(zip: Buffer, at: number): number {
  const offset = zip.readUInt32LE(at + 42);
  if (offset !== 0xffffffff) return offset;
  // The ZIP64 field holds the marked values in order: uncompressed size, compressed size, local header offset.
  const marked = [zip.readUInt32LE(at + 24), zip.readUInt32LE(at + 20)].filter((value) => value === 0xffffffff).length;
  let field = at + 46 + zip.readUInt16LE(at + 28);
  while (zip.readUInt16LE(field) !== 0x0001) field += 4 + zip.readUInt16LE(field + 2);
  return Number(zip.readBigUInt64LE(field + 4 + 8 * marked));
}

/** The CRC-32 of `bagPath` changed alike in its local header and its central record (Python writes no descriptors). */
function crcChanged(zip: Buffer, bagPath: string): Buffer {
  return centralEdited(zip, bagPath, (out, at) => {
    const crc = (out.readUInt32LE(at + 16) ^ 0x00010000) >>> 0;
    out.writeUInt32LE(crc, at + 16);
    out.writeUInt32LE(crc, out.readUInt32LE(at + 42) + 14);
  });
}

/** Appends `bytes` to the extra field or the comment of `bagPath`'s central record, the end record following. */
function centralGrown(zip: Buffer, bagPath: string, field: 'extra' | 'comment', bytes: Buffer): Buffer {
  const record = centralRecords(zip).find((r) => r.name === `${ORDER_ID}/${bagPath}`);
  if (!record) throw new Error(`no record for ${bagPath}`);
  const at = record.offset;
  const nameLength = zip.readUInt16LE(at + 28);
  const extraLength = zip.readUInt16LE(at + 30);
  const commentLength = zip.readUInt16LE(at + 32);
  const insertAt = at + 46 + nameLength + extraLength + (field === 'comment' ? commentLength : 0);
  const out = Buffer.concat([zip.subarray(0, insertAt), bytes, zip.subarray(insertAt)]);
  if (field === 'extra') out.writeUInt16LE(extraLength + bytes.length, at + 30);
  else out.writeUInt16LE(commentLength + bytes.length, at + 32);
  const eocd = out.lastIndexOf(EOCD_SIGNATURE);
  out.writeUInt32LE(out.readUInt32LE(eocd + 12) + bytes.length, eocd + 12);
  return out;
}

function withArchiveComment(zip: Buffer, comment: string): Buffer {
  const out = Buffer.concat([zip, Buffer.from(comment)]);
  out.writeUInt16LE(Buffer.byteLength(comment), zip.lastIndexOf(EOCD_SIGNATURE) + 20);
  return out;
}

/** The good bag as archiver writes it with ZIP64 end records, 8 bytes of extensible data in the ZIP64 one. */
function zip64ExtensibleData(): Buffer {
  const zip = zip64Good;
  const at = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x06, 0x06]));
  const out = Buffer.concat([zip.subarray(0, at + 56), Buffer.from('HIDDEN!!'), zip.subarray(at + 56)]);
  out.writeBigUInt64LE(out.readBigUInt64LE(at + 4) + 8n, at + 4);
  return out;
}

function localNameChanged(zip: Buffer): Buffer {
  const out = Buffer.from(zip);
  const name = Buffer.from(`${ORDER_ID}/${MAIL_1}`);
  const at = out.indexOf(name);
  out.write('9', at + name.length - 5, 'latin1');
  return out;
}

function sizesLie(zip: Buffer): Buffer {
  const out = Buffer.from(zip);
  const record = centralRecords(zip).find((r) => r.name.endsWith(MAIL_1));
  if (!record) throw new Error('no record');
  out.writeUInt32LE(out.readUInt32LE(record.offset + 20) + 64, record.offset + 20);
  out.writeUInt32LE(out.readUInt32LE(record.offset + 24) + 64, record.offset + 24);
  return out;
}

/** Points a payload entry's central record at the first entry's local header, as overlapping-entry bombs do. */
function sharedLocalHeader(zip: Buffer): Buffer {
  const out = Buffer.from(zip);
  const record = centralRecords(zip).find((r) => r.name.endsWith(MAIL_1));
  if (!record) throw new Error('no record');
  out.writeUInt32LE(0, record.offset + 42);
  return out;
}
