// Builds sealed archives for the verify tests without scopex's sealer: a bag modelled in memory, signed with the
// real `openssl cms`, zipped with Python's zipfile. Independent on purpose: the verifier must accept what standard
// tools make, not only what our own sealer makes.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash, createPrivateKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import * as archiverModule from 'archiver';
import forge from 'node-forge';
import { signOrder } from '../../src/order/approval-sign.js';
import { canonicalJson } from '../../src/order/canonical.js';
import type { Order } from '../../src/order/schema.js';
import { generateSamplePki, type SamplePki } from '../../src/samples/pki.js';

export const ORDER_ID = 'LE-2026-000123';

export interface Signer {
  certFile: string;
  keyFile: string;
}

export interface Pki {
  dir: string;
  caFile: string;
  signer: Signer;
  /** The trusted CA signing for itself. */
  caAsSigner: Signer;
  /** Issued by the trusted CA but valid only in 2020. */
  expiredSigner: Signer;
  /** A signer under another CA that --trust does not name. */
  untrustedSigner: Signer;
  /** The trusted CA's compliance reviewer (it approves orders; it must not be able to sign archives). */
  reviewerAsSigner: Signer;
}

export function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'scopex-verify-'));
}

export function createPki(dir: string): Pki {
  const trusted = fixturePki();
  const other = generateSamplePki({ organization: 'Mallory Cloud' });
  // Private keys readable by their owner only, as scopex asks of a signer key (keys/key-file-mode.ts).
  const write = (name: string, text: string): string => {
    const file = path.join(dir, name);
    fs.writeFileSync(file, text, { mode: name.endsWith('.key.pem') ? 0o600 : 0o644 });
    return file;
  };
  const caFile = write('ca.cert.pem', trusted.ca.certificatePem);
  const expired = issueSigner(trusted, new Date('2020-01-01T00:00:00Z'), new Date('2020-12-31T00:00:00Z'));
  return {
    dir,
    caFile,
    signer: { certFile: write('signer.cert.pem', trusted.signer.certificatePem), keyFile: write('signer.key.pem', trusted.signer.keyPem) },
    caAsSigner: { certFile: caFile, keyFile: write('ca.key.pem', trusted.ca.keyPem) },
    expiredSigner: { certFile: write('expired.cert.pem', expired.certificatePem), keyFile: write('expired.key.pem', expired.keyPem) },
    untrustedSigner: { certFile: write('other.cert.pem', other.signer.certificatePem), keyFile: write('other.key.pem', other.signer.keyPem) },
    reviewerAsSigner: { certFile: write('reviewer.cert.pem', trusted.reviewer.certificatePem), keyFile: write('reviewer.key.pem', trusted.reviewer.keyPem) },
  };
}

function issueSigner(pki: SamplePki, notBefore: Date, notAfter: Date): { certificatePem: string; keyPem: string } {
  return issueCertificate({ commonName: 'Expired Production Signer', issuer: pki.ca, ca: false, notBefore, notAfter });
}

export interface CertificateSpec {
  commonName: string;
  /** The issuing CA's certificate and key, or 'self' for a self-signed certificate. */
  issuer: { certificatePem: string; keyPem: string } | 'self';
  /** A CA (basicConstraints cA, keyCertSign) or an archive signer (digitalSignature, nonRepudiation, emailProtection). */
  ca: boolean;
  /** basicConstraints pathLenConstraint (CAs only). */
  pathLength?: number;
  notBefore?: Date;
  notAfter?: Date;
  /** More extensions in node-forge's form, e.g. `{ id: '1.3.6.1.4.1.99999.1', critical: true, value: '\x05\x00' }`. */
  extensions?: object[];
}

/** A certificate with a fresh RSA key, issued with node-forge (independent of the sample PKI's code). */
export function issueCertificate(spec: CertificateSpec): { certificatePem: string; keyPem: string } {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }).toString());
  cert.serialNumber = `01${randomBytes(15).toString('hex')}`;
  cert.validity.notBefore = spec.notBefore ?? new Date('2024-01-01T00:00:00Z');
  cert.validity.notAfter = spec.notAfter ?? new Date('2034-01-01T00:00:00Z');
  cert.setSubject([{ shortName: 'CN', value: spec.commonName }]);
  const issuer = spec.issuer === 'self' ? null : forge.pki.certificateFromPem(spec.issuer.certificatePem);
  cert.setIssuer(issuer ? issuer.subject.attributes : cert.subject.attributes);
  const basic = { name: 'basicConstraints', cA: spec.ca, critical: true, ...(spec.pathLength !== undefined ? { pathLenConstraint: spec.pathLength } : {}) };
  cert.setExtensions([
    basic,
    spec.ca
      ? { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true }
      : { name: 'keyUsage', digitalSignature: true, nonRepudiation: true, critical: true },
    ...(spec.ca ? [] : [{ name: 'extKeyUsage', emailProtection: true }]),
    ...(spec.extensions ?? []),
  ]);
  cert.sign(forge.pki.privateKeyFromPem(spec.issuer === 'self' ? keyPem : spec.issuer.keyPem), forge.md.sha256.create());
  return { certificatePem: forge.pki.certificateToPem(cert), keyPem };
}

let pki: SamplePki | undefined;

/** The PKI of every fixture: its CA is the tests' --trust (createPki), its reviewer approves sampleOrder's orders. */
export function fixturePki(): SamplePki {
  return (pki ??= generateSamplePki());
}

const approvals = new Map<string, Record<string, unknown>>();

/**
 * The sample warrant with `overrides`, approved by the fixture PKI's reviewer at `approvedAt` (as order approve signs).
 * The same order gets the same approval (RSA-PSS signatures differ each time): tests compare orders byte for byte.
 * An `approval` among the overrides is taken as it is.
 */
export function sampleOrder(overrides: Record<string, unknown> = {}, approvedAt = '2026-10-02T00:00:00Z'): Record<string, unknown> {
  const order = unapprovedOrder(overrides);
  if ('approval' in overrides) return order;
  const key = `${approvedAt} ${canonicalJson(order)}`;
  let approved = approvals.get(key);
  if (!approved) {
    const { reviewer } = fixturePki();
    const signer = { reviewer: 'Compliance Reviewer', certificatePem: reviewer.certificatePem, key: createPrivateKey(reviewer.keyPem) };
    approved = signOrder(order as unknown as Order, signer, new Date(approvedAt)) as unknown as Record<string, unknown>;
    approvals.set(key, approved);
  }
  return structuredClone(approved);
}

function unapprovedOrder(overrides: Record<string, unknown>): Record<string, unknown> {
  return {
    schema: 'scopex.order/v1',
    id: ORDER_ID,
    process: 'search-warrant',
    authority: { name: 'District Court', jurisdiction: 'US', caseNumber: '1:26-cr-00042' },
    issuedAt: '2026-10-01T00:00:00Z',
    expiresAt: '2026-12-31T23:59:59Z',
    targets: [
      { type: 'email', value: 'alice@contoso.example' },
      { type: 'im-handle', value: 'live:bob' },
    ],
    categories: ['subscriber', 'mail.content', 'mail.metadata', 'storage.content'],
    dateRange: { from: '2026-01-01T00:00:00Z', to: '2026-06-30T23:59:59Z' },
    nondisclosure: null,
    enterpriseRedirect: 'not-applicable',
    ...overrides,
  };
}


/** A bag in memory: bag-relative path to content. Payload is everything under data/. */
export interface BagModel {
  orderId: string;
  files: Map<string, Buffer>;
}

const RESUME = 'data/acc-0002/storage.content/reports/Résumé.txt'.normalize('NFC');

/** mail.metadata lines as export writes them (src/pipeline/metadata.ts), from the fields that differ. */
export function metadataLines(lines: { sourceId: string; timestamp: string; from: string; to: string | null; date: string | null; size: number }[]): Buffer {
  const text = lines.map(({ sourceId, timestamp, from, to, date, size }) =>
    JSON.stringify({
      sourceId,
      timestamp,
      from,
      to,
      cc: null,
      date,
      messageId: `<${sourceId}@contoso.example>`,
      size,
      encryption: 'provider-decrypted',
      headersRead: true,
      headersFrom: 'message',
      headerTruncated: false,
      headerBytesReplaced: false,
    }),
  );
  return Buffer.from(`${text.join('\n')}\n`);
}

/** A good bag: mail, metadata, a subscriber record, storage with a Unicode name and an empty file. */
export function sampleBag(order: Record<string, unknown> = sampleOrder()): { model: BagModel; records: ProductionRecord[] } {
  const mail1 = Buffer.from('From: alice@contoso.example\r\nTo: bob@fabrikam.example\r\nSubject: hello\r\nDate: Thu, 01 Jan 2026 00:00:00 +0000\r\n\r\nfirst edge\r\n');
  const mail2 = Buffer.concat([Buffer.from('From: alice@contoso.example\r\nSubject: big\r\n\r\n'), randomBytes(200_000)]);
  const payload: { path: string; data: Buffer; account: string; category: Category; sourceId: string | null; timestamp: string | null; items?: number }[] = [
    {
      path: 'data/acc-0001/mail.content/m-000001.eml',
      data: mail1,
      account: 'acc-0001',
      category: 'mail.content',
      sourceId: 'm-000001',
      timestamp: '2026-01-01T00:00:00Z',
    },
    {
      path: 'data/acc-0001/mail.content/m-000002.eml',
      data: mail2,
      account: 'acc-0001',
      category: 'mail.content',
      sourceId: 'm-000002',
      timestamp: '2026-06-30T23:59:59Z',
    },
    {
      path: 'data/acc-0001/mail.metadata/metadata.jsonl',
      data: metadataLines([
        { sourceId: 'm-000001', timestamp: '2026-01-01T00:00:00Z', from: 'alice@contoso.example', to: 'bob@fabrikam.example', date: 'Thu, 01 Jan 2026 00:00:00 +0000', size: mail1.length },
        { sourceId: 'm-000002', timestamp: '2026-06-30T23:59:59Z', from: 'alice@contoso.example', to: null, date: null, size: mail2.length },
      ]),
      account: 'acc-0001',
      category: 'mail.metadata',
      sourceId: null,
      timestamp: null,
      items: 2,
    },
    {
      path: 'data/acc-0001/subscriber/subscriber.json',
      data: Buffer.from('{"account":"acc-0001","name":"Alice","signup":"2019-04-01T00:00:00Z"}\n'),
      account: 'acc-0001',
      category: 'subscriber',
      sourceId: 'subscriber',
      timestamp: null,
    },
    {
      path: RESUME,
      data: Buffer.from('curriculum vitae\n'),
      account: 'acc-0002',
      category: 'storage.content',
      sourceId: 'f-000010',
      timestamp: '2026-03-01T12:00:00+02:00',
    },
    {
      path: 'data/acc-0002/storage.content/empty.bin',
      data: Buffer.alloc(0),
      account: 'acc-0002',
      category: 'storage.content',
      sourceId: 'f-000011',
      timestamp: '2026-03-02T00:00:00Z',
    },
    {
      // Export writes every account's subscriber record when the order names subscriber.
      path: 'data/acc-0002/subscriber/subscriber.json',
      data: Buffer.from('{"account":"acc-0002","name":"Bob"}\n'),
      account: 'acc-0002',
      category: 'subscriber',
      sourceId: 'subscriber',
      timestamp: null,
    },
    {
      // Export writes an account's metadata file of each category the order names, empty when it has no such item.
      path: 'data/acc-0002/mail.metadata/metadata.jsonl',
      data: Buffer.alloc(0),
      account: 'acc-0002',
      category: 'mail.metadata',
      sourceId: null,
      timestamp: null,
      items: 0,
    },
  ];
  const files = new Map<string, Buffer>();
  const records: ProductionRecord[] = [];
  for (const item of payload) {
    files.set(item.path, item.data);
    const record: ProductionRecord = {
      path: item.path,
      sha256: sha256(item.data),
      bytes: item.data.length,
      account: item.account,
      category: item.category,
      sourceId: item.sourceId,
      originalName: item.sourceId === null ? null : path.posix.basename(item.path),
      timestamp: item.timestamp,
      // Export writes `none` for a metadata file (plain text it wrote).
      encryption: item.category.endsWith('.metadata') ? 'none' : 'provider-decrypted',
    };
    if (item.items !== undefined) record.items = item.items;
    records.push(record);
  }
  files.set('order.json', Buffer.from(`${JSON.stringify(order, null, 2)}\n`));
  files.set('production.json', Buffer.from(`${JSON.stringify(records, null, 2)}\n`));
  return { model: { orderId: String(order['id']), files }, records };
}

export function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Writes bagit.txt, bag-info.txt (with Payload-Oxum), manifest-sha256.txt and tagmanifest-sha256.txt. */
export function writeManifests(model: BagModel, options: { oxum?: string; baggingDate?: string; accounts?: string[] } = {}): void {
  const payload = [...model.files.keys()].filter((p) => p.startsWith('data/')).sort();
  const octets = payload.reduce((sum, p) => sum + (model.files.get(p) as Buffer).length, 0);
  model.files.set('bagit.txt', Buffer.from('BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n'));
  const accountLines = (options.accounts ?? bagAccounts(model, payload)).map((account) => `Scopex-Account: ${account}\n`).join('');
  model.files.set(
    'bag-info.txt',
    Buffer.from(
      `Source-Organization: Contoso Cloud\nBagging-Date: ${options.baggingDate ?? new Date().toISOString().slice(0, 10)}\nExternal-Identifier: ${model.orderId}\nPayload-Oxum: ${options.oxum ?? `${octets}.${payload.length}`}\n${accountLines}`,
    ),
  );
  model.files.set('manifest-sha256.txt', Buffer.from(payload.map((p) => `${sha256(model.files.get(p) as Buffer)}  ${p}\n`).join('')));
  writeTagManifest(model);
}

/** The accounts an export of the bag's order resolved, as bag-info.txt lists them: those with data, else its account-id targets. */
function bagAccounts(model: BagModel, payload: readonly string[]): string[] {
  const withData = [...new Set(payload.map((p) => p.split('/')[1] ?? '').filter((account) => account !== ''))];
  if (withData.length > 0) return withData;
  try {
    const order = JSON.parse((model.files.get('order.json') ?? Buffer.from('{}')).toString('utf8')) as { targets?: { type: string; value: string }[] };
    return (order.targets ?? []).filter((target) => target.type === 'account-id').map((target) => target.value);
  } catch {
    return [];
  }
}

export function writeTagManifest(model: BagModel): void {
  const tags = ['bagit.txt', 'bag-info.txt', 'manifest-sha256.txt', 'order.json', 'production.json'].filter((p) => model.files.has(p));
  model.files.set('tagmanifest-sha256.txt', Buffer.from(tags.map((p) => `${sha256(model.files.get(p) as Buffer)}  ${p}\n`).join('')));
}

/**
 * Detached CMS over tagmanifest-sha256.txt, made by `openssl cms -sign` (`certFile`: more certificates to include).
 * openssl signs at the present time and scopex signs a bag on its Bagging-Date: a Bagging-Date that is a real day
 * becomes today's (and the tag manifest follows) unless `keepBaggingDate`.
 */
export function sign(model: BagModel, signer: Signer, options: { digest?: string; noCerts?: boolean; certFile?: string; keepBaggingDate?: boolean } = {}): void {
  if (!options.keepBaggingDate) dateBagToday(model);
  const dir = tempDir();
  try {
    const content = path.join(dir, 'tagmanifest-sha256.txt');
    const out = path.join(dir, 'signature.p7s');
    fs.writeFileSync(content, model.files.get('tagmanifest-sha256.txt') as Buffer);
    execFileSync('openssl', [
      'cms', '-sign', '-binary', '-outform', 'DER', '-md', options.digest ?? 'sha256',
      '-in', content, '-signer', signer.certFile, '-inkey', signer.keyFile, '-out', out,
      ...(options.noCerts ? ['-nocerts'] : []),
      ...(options.certFile ? ['-certfile', options.certFile] : []),
    ], { stdio: 'pipe' });
    model.files.set('signature.p7s', fs.readFileSync(out));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function dateBagToday(model: BagModel): void {
  const info = model.files.get('bag-info.txt');
  if (!info) return;
  const today = new Date().toISOString().slice(0, 10);
  const text = info.toString('utf8');
  const dated = text.replace(/^Bagging-Date: (\d{4}-\d{2}-\d{2})$/m, (line, day: string) => (new Date(`${day}T00:00:00Z`).toISOString().startsWith(day) ? `Bagging-Date: ${today}` : line));
  if (dated === text) return;
  const before = sha256(info);
  model.files.set('bag-info.txt', Buffer.from(dated));
  const tags = model.files.get('tagmanifest-sha256.txt');
  if (tags) model.files.set('tagmanifest-sha256.txt', Buffer.from(tags.toString('utf8').replace(`${before}  bag-info.txt`, `${sha256(Buffer.from(dated))}  bag-info.txt`)));
}

export interface ZipItem {
  name: string;
  data: Buffer;
  /** 3 = Unix (default), 0 = MS-DOS. */
  createSystem?: number;
  externalAttr?: number;
  deflate?: boolean;
  /** Instead of data: this many zero bytes, made by Python (cheap compression bombs). */
  zeros?: number;
  /** Extra fields (id, size, data, ...), written in the local and the central header alike. */
  extra?: Buffer;
}

/** The model's files as ZIP entries under `<orderId>/`, tag files first, in a stable order. */
export function zipItems(model: BagModel): ZipItem[] {
  const names = [...model.files.keys()].sort((a, b) => Number(a.startsWith('data/')) - Number(b.startsWith('data/')) || (a < b ? -1 : 1));
  return names.map((name) => ({ name: `${model.orderId}/${name}`, data: model.files.get(name) as Buffer }));
}

const ZIP_SCRIPT = `
import base64, json, sys, zipfile, warnings
warnings.simplefilter('ignore')
plan = json.load(sys.stdin)
with zipfile.ZipFile(plan['out'], 'w', allowZip64=True) as archive:
    for item in plan['items']:
        info = zipfile.ZipInfo(item['name'], date_time=(2026, 10, 3, 0, 0, 0))
        info.create_system = item.get('createSystem', 3)
        info.external_attr = item.get('externalAttr', 0o100644 << 16)
        info.compress_type = zipfile.ZIP_DEFLATED if item.get('deflate') else zipfile.ZIP_STORED
        if 'extra' in item:
            info.extra = base64.b64decode(item['extra'])
        if 'zeros' in item:
            data = bytes(item['zeros'])
        else:
            data = base64.b64decode(item['data'])
        archive.writestr(info, data)
`;
import type { Category } from '../../src/order/schema.js';
import type { ProductionRecord } from '../../src/pipeline/production-record.js';
export type { ProductionRecord };

let python: string | null = null;
/** The interpreter itself, resolved once (a version-manager shim costs a tenth of a second per call). */
function pythonExecutable(): string {
  python ??= execFileSync('python3', ['-c', 'import sys; print(sys.executable)']).toString().trim() || 'python3';
  return python;
}

/** Writes the items with Python's zipfile (which writes whatever names it is given, hostile ones included). */
export function writeZip(out: string, items: readonly ZipItem[]): Buffer {
  const plan = {
    out,
    items: items.map((item) => ({
      name: item.name,
      data: item.data.toString('base64'),
      createSystem: item.createSystem ?? 3,
      externalAttr: (item.externalAttr ?? (item.name.endsWith('/') ? 0o40755 * 65536 + 0x10 : 0o100644 * 65536)) >>> 0,
      deflate: item.deflate ?? false,
      ...(item.zeros !== undefined ? { zeros: item.zeros } : {}),
      ...(item.extra !== undefined ? { extra: item.extra.toString('base64') } : {}),
    })),
  };
  const result = spawnSync(pythonExecutable(), ['-I', '-S', '-c', ZIP_SCRIPT], { input: JSON.stringify(plan), maxBuffer: 1 << 30 });
  if (result.status !== 0) throw new Error(`python3 zipfile failed: ${result.stderr.toString()}`);
  return fs.readFileSync(out);
}

/** A complete good archive: manifests, signature, zip. */
export function goodArchive(dir: string, pki: Pki, name = 'good.zip'): { file: string; model: BagModel; records: ProductionRecord[] } {
  const { model, records } = sampleBag();
  writeManifests(model);
  sign(model, pki.signer);
  const file = path.join(dir, name);
  writeZip(file, zipItems(model));
  return { file, model, records };
}

export function cloneModel(model: BagModel): BagModel {
  return { orderId: model.orderId, files: new Map([...model.files].map(([k, v]) => [k, Buffer.from(v)])) };
}

export function flipByte(data: Buffer, at: number): Buffer {
  const copy = Buffer.from(data);
  const index = at < 0 ? copy.length + at : at;
  copy[index] = (copy[index] as number) ^ 0x01;
  return copy;
}

export const EOCD_SIGNATURE = Buffer.from([0x50, 0x4b, 0x05, 0x06]);

/** The same items zipped by archiver (what the sealer uses): streamed entries with data descriptors, optional ZIP64. */
export async function writeZipWithArchiver(out: string, items: readonly ZipItem[], options: { forceZip64?: boolean } = {}): Promise<Buffer> {
  // @types/archiver predates archiver 8's ZipArchive class.
  const { ZipArchive } = archiverModule as unknown as { ZipArchive: new (options: object) => archiverModule.Archiver };
  const archive = new ZipArchive({ store: true, forceZip64: options.forceZip64 ?? false });
  const output = fs.createWriteStream(out);
  const closed = new Promise<void>((resolve, reject) => {
    output.on('close', () => resolve());
    archive.on('error', reject);
    output.on('error', reject);
  });
  archive.pipe(output);
  for (const item of items) archive.append(Readable.from([item.data]), { name: item.name, date: new Date('2026-10-03T00:00:00Z') });
  await archive.finalize();
  await closed;
  return fs.readFileSync(out);
}
