// Shared fixtures for the order tests: one sample PKI per test file, an in-memory directory, a base order.
import { writeFileSync, mkdtempSync, rmSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import forge from 'node-forge';
import { vi } from 'vitest';
import yargs from 'yargs';
import { withGlobals } from '../../src/cli/common.js';
import { orderCommand } from '../../src/cli/order.js';
import { legalProcessSchema, type ScopexConfig } from '../../src/config.js';
import { exitCodeFor, InputError } from '../../src/errors.js';
import { keyFromPem, signOrder } from '../../src/order/approval-sign.js';
import type { OrderContext } from '../../src/order/check-order.js';
import type { Order } from '../../src/order/schema.js';
import { generateSamplePki, type PemPair, type SamplePki } from '../../src/samples/pki.js';
import type { Account, AccountDirectory } from '../../src/sources/account-directory.js';

export const NOW = new Date('2026-11-01T12:00:00Z');
export const APPROVED_AT = new Date('2026-10-02T09:00:00Z');

export const ACCOUNTS: Account[] = [
  {
    id: 'acc-alice',
    tenant: 'consumer',
    tenantType: 'consumer',
    identifiers: [
      { type: 'email', value: 'alice@contoso.example' },
      { type: 'im-handle', value: 'live:alice' },
      { type: 'phone', value: '+15550000001' },
    ],
  },
  { id: 'acc-bob', tenant: 'fabrikam', tenantType: 'enterprise', identifiers: [{ type: 'email', value: 'bob@fabrikam.example' }] },
  { id: 'acc-carol', tenant: 'woodgrove', tenantType: 'customer-key', identifiers: [{ type: 'email', value: 'carol@woodgrove.example' }] },
  { id: 'acc-dan', tenant: 'consumer', tenantType: 'consumer', identifiers: [{ type: 'phone', value: '+15550000009' }] },
  { id: 'acc-erin', tenant: 'consumer', tenantType: 'consumer', identifiers: [{ type: 'phone', value: '+15550000009' }] },
];

/** An in-memory AccountDirectory with the same matching rules as the file one (emails ignore case). */
export function memoryDirectory(accounts: Account[] = ACCOUNTS): AccountDirectory {
  const norm = (type: string, value: string) => (type === 'email' ? value.toLowerCase() : value);
  return {
    resolve(target) {
      return accounts.filter((account) =>
        account.identifiers.some((id) => id.type === target.type && norm(id.type, id.value) === norm(target.type, target.value)),
      );
    },
    get(accountId) {
      return accounts.find((account) => account.id === accountId);
    },
  };
}

export interface Fixture {
  dir: string;
  pki: SamplePki;
  ctx: OrderContext;
  caFile: string;
  cleanup(): void;
}

export function makeFixture(pki: SamplePki = generateSamplePki()): Fixture {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'scopex-'));
  const caFile = path.join(dir, 'ca.cert.pem');
  writeFileSync(caFile, pki.ca.certificatePem);
  writeFileSync(path.join(dir, 'signer.cert.pem'), pki.signer.certificatePem);
  const legalProcess = legalProcessSchema.parse(
    JSON.parse(readFileSync(path.join(import.meta.dirname, '../../config/legal-process.json'), 'utf8')),
  );
  const config: ScopexConfig = {
    file: path.join(dir, 'config.json'),
    organization: 'Test',
    legalProcess,
    legalProcessFile: path.join(dir, 'legal-process.json'),
    storesRoot: path.join(dir, 'stores'),
    masterKeyFile: path.join(dir, 'master.key'),
    dataKeysFile: path.join(dir, 'data-keys.json'),
    reviewerCaFiles: [caFile],
    signerCertificateFile: path.join(dir, 'signer.cert.pem'),
    signerKeyFile: path.join(dir, 'signer.key.pem'),
    custodyLogFile: path.join(dir, 'custody.jsonl'),
  };
  return {
    dir,
    pki,
    caFile,
    ctx: { config, directory: memoryDirectory(), now: NOW },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export function baseOrder(overrides: Partial<Order> = {}): Order {
  return {
    schema: 'scopex.order/v1',
    id: 'LE-2026-000123',
    process: 'search-warrant',
    authority: { name: 'District Court', jurisdiction: 'US', caseNumber: '26-cr-0042' },
    issuedAt: '2026-10-01T00:00:00Z',
    expiresAt: '2026-12-31T23:59:59Z',
    targets: [
      { type: 'email', value: 'alice@contoso.example' },
      { type: 'im-handle', value: 'live:alice' },
    ],
    categories: ['subscriber', 'mail.content', 'storage.metadata'],
    dateRange: { from: '2026-01-01T00:00:00Z', to: '2026-06-30T23:59:59Z' },
    nondisclosure: { until: '2027-06-30T00:00:00Z' },
    enterpriseRedirect: 'not-applicable',
    ...overrides,
  };
}

export function approve(order: Order, signer: PemPair, at: Date = APPROVED_AT, reviewer = 'Test Reviewer'): Order {
  const { approval: _drop, ...unsigned } = order;
  return signOrder(unsigned as Order, { reviewer, certificatePem: signer.certificatePem, key: keyFromPem(Buffer.from(signer.keyPem)) }, at);
}

let counter = 0;
export function writeOrder(dir: string, content: unknown): string {
  const file = path.join(dir, `order-${counter++}.json`);
  writeFileSync(file, typeof content === 'string' || Buffer.isBuffer(content) ? content : `${JSON.stringify(content, null, 2)}\n`);
  return file;
}

export interface IssueOptions {
  commonName: string;
  /** PEM (SPKI or PKCS#8 private) of the key the certificate is for. */
  subjectKeyPem: string;
  /** The issuer's private key; the subject's own for a self-signed certificate. */
  issuerKeyPem: string;
  /** The issuer's certificate; omitted for a self-signed certificate. */
  issuerCertificatePem?: string;
  ca: boolean;
  notBefore?: Date;
  notAfter?: Date;
  /** Extended key usages (e.g. emailProtection, the archive signer's). */
  extKeyUsage?: { emailProtection?: boolean };
  /** The digest the issuer signs with (default sha256). */
  digest?: 'sha1' | 'sha256';
}

/** Issues a certificate from existing keys (no key generation: RSA keygen is the slow part of these tests). */
export function issueCertificate(options: IssueOptions): string {
  const privateOrPublic = options.subjectKeyPem.includes('PRIVATE')
    ? forge.pki.setRsaPublicKey(
        (forge.pki.privateKeyFromPem(options.subjectKeyPem) as forge.pki.rsa.PrivateKey).n,
        (forge.pki.privateKeyFromPem(options.subjectKeyPem) as forge.pki.rsa.PrivateKey).e,
      )
    : forge.pki.publicKeyFromPem(options.subjectKeyPem);
  const cert = forge.pki.createCertificate();
  cert.publicKey = privateOrPublic;
  cert.serialNumber = `01${Math.floor(Math.random() * 1e12).toString(16).padStart(12, '0')}`;
  cert.validity.notBefore = options.notBefore ?? new Date('2024-01-01T00:00:00Z');
  cert.validity.notAfter = options.notAfter ?? new Date('2034-01-01T00:00:00Z');
  const subject = [
    { shortName: 'C', value: 'US' },
    { shortName: 'O', value: 'Contoso Cloud' },
    { shortName: 'CN', value: options.commonName },
  ];
  cert.setSubject(subject);
  cert.setIssuer(options.issuerCertificatePem ? forge.pki.certificateFromPem(options.issuerCertificatePem).subject.attributes : subject);
  cert.setExtensions([
    { name: 'basicConstraints', cA: options.ca, critical: true },
    options.ca
      ? { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true }
      : { name: 'keyUsage', digitalSignature: true, nonRepudiation: true, critical: true },
    ...(options.extKeyUsage ? [{ name: 'extKeyUsage', ...options.extKeyUsage }] : []),
  ]);
  cert.sign(forge.pki.privateKeyFromPem(options.issuerKeyPem), (options.digest === 'sha1' ? forge.md.sha1 : forge.md.sha256).create());
  return forge.pki.certificateToPem(cert);
}

/** Runs `scopex order ...` in-process with `--config configFile`, as main.ts would: what it wrote to stdout, and its exit code. */
export async function runOrderCommand(argv: string[], configFile: string): Promise<{ stdout: string; exit: number }> {
  let stdout = '';
  const write = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stdout += chunk.toString();
    return true;
  });
  try {
    await withGlobals(yargs([...argv, '--config', configFile]))
      .command(orderCommand)
      .strict()
      .exitProcess(false)
      .fail((message, error) => {
        // As main.ts does: a yargs complaint is a usage error.
        throw error ?? new InputError('USAGE', message);
      })
      .parseAsync();
    return { stdout, exit: 0 };
  } catch (error) {
    return { stdout, exit: exitCodeFor(error) };
  } finally {
    write.mockRestore();
  }
}
