// The archive signer's certificate chain, held to what `openssl cms -verify` holds it to and, where the README says
// so, to more: every certificate valid at the signing time and at the verifier's clock, no critical extension verify
// does not process, and every pathLenConstraint kept. Each chain is built here with node-forge and the archive signed
// with `openssl cms -sign` (or with scopex's own signer, for a signing time dated back); openssl's verdict is checked
// beside scopex's.
import { spawnSync } from 'node:child_process';
import { createPrivateKey } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signDetached } from '../../src/seal/cms-signature.js';
import { verifyArchive, type VerifyFailure, type VerifyReport } from '../../src/verify/verify.js';
import { cloneModel, issueCertificate, sampleBag, sampleOrder, sign, tempDir, writeManifests, writeZip, zipItems, type BagModel, type CertificateSpec, type Signer } from './fixtures.js';

type Issued = { certificatePem: string; keyPem: string };

/** Far enough ahead that these tests do not expire with the certificates they build. */
const LONG_AGO = new Date('2024-01-01T00:00:00Z');
const FAR_AHEAD = new Date('2049-12-31T00:00:00Z');
/** A pinned verifier clock for the cases that depend on it. */
const NOW = new Date('2026-11-23T12:00:00Z');

let dir: string;
let root: Issued;
let trustFile: string;
let bag: BagModel;
let counter = 0;

beforeAll(() => {
  dir = tempDir();
  root = issue({ commonName: 'Chain Test Root CA', issuer: 'self', ca: true });
  trustFile = write('root.pem', root.certificatePem);
  bag = sampleBag().model;
  writeManifests(bag);
});

afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

function issue(spec: CertificateSpec): Issued {
  return issueCertificate({ notBefore: LONG_AGO, notAfter: FAR_AHEAD, ...spec });
}

function write(name: string, text: string | Buffer): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, text);
  return file;
}

function files(issued: Issued): Signer {
  const name = `cert-${counter++}`;
  return { certFile: write(`${name}.pem`, issued.certificatePem), keyFile: write(`${name}.key`, issued.keyPem) };
}

/** The good bag signed by `signer` with `openssl cms -sign`, the `intermediates` included in signature.p7s. */
function signedBy(signer: Issued, intermediates: Issued[] = []): BagModel {
  const model = cloneModel(bag);
  const certFile = intermediates.length > 0 ? write(`chain-${counter++}.pem`, intermediates.map((cert) => cert.certificatePem).join('')) : undefined;
  sign(model, files(signer), certFile ? { certFile } : {});
  return model;
}

async function verify(model: BagModel, now?: Date): Promise<VerifyReport> {
  const archive = write(`a-${counter++}.zip`, Buffer.alloc(0));
  writeZip(archive, zipItems(model));
  return verifyArchive({ archive, trustFile, hashThread: 'never', recordsThread: 'never', ...(now ? { now } : {}) });
}

function chainFailures(report: VerifyReport): VerifyFailure[] {
  return report.failures.filter((failure) => failure.check === 'signature' || failure.check === 'signer-chain');
}

/** openssl cms -verify (at the current time), as the README gives it: null when it accepts, else its error. */
function opensslError(model: BagModel): string | null {
  const content = write(`tm-${counter}.txt`, model.files.get('tagmanifest-sha256.txt') as Buffer);
  const signature = write(`sig-${counter++}.p7s`, model.files.get('signature.p7s') as Buffer);
  const result = spawnSync('openssl', ['cms', '-verify', '-binary', '-inform', 'DER', '-in', signature, '-content', content, '-CAfile', trustFile, '-purpose', 'any', '-out', '/dev/null'], { stdio: 'pipe' });
  return result.status === 0 ? null : result.stderr.toString();
}

/** A failure message is one sentence (no line break, one final stop at most) and shows no key material. */
function expectOneSentence(failure: VerifyFailure): void {
  expect(failure.message).not.toMatch(/[\r\n]/);
  expect(failure.message).not.toMatch(/\.\s+[A-Z]/);
  expect(failure.message).not.toMatch(/BEGIN|PRIVATE/);
}

describe('every certificate of the chain must be valid at the signing time and at the verifier clock', () => {
  it('refuses a retired signer key that seals a new archive dated back into its certificate\'s validity, as openssl does', async () => {
    const retired = issue({ commonName: 'Retired Production Signer', issuer: root, ca: false, notBefore: new Date('2024-01-01T00:00:00Z'), notAfter: new Date('2024-12-31T23:59:59Z') });
    // An order issued and approved in 2024: an archive cannot be signed before its order was (see below).
    // Bagged on the day it is sealed, as scopex does (a seal of another day fails the signature check).
    const model = sampleBag(sampleOrder({ issuedAt: '2024-05-01T00:00:00Z' }, '2024-05-02T00:00:00Z')).model;
    writeManifests(model, { baggingDate: '2024-06-01' });
    const sealRetired = (target: BagModel) =>
      target.files.set(
        'signature.p7s',
        signDetached({
          content: target.files.get('tagmanifest-sha256.txt') as Buffer,
          certificatePem: retired.certificatePem,
          key: createPrivateKey(retired.keyPem),
          signingTime: new Date('2024-06-01T12:00:00Z'),
        }),
      );
    sealRetired(model);

    const report = await verify(model, NOW);
    expect(report.signingTime).toBe('2024-06-01T12:00:00.000Z');
    const failures = chainFailures(report);
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatchObject({ check: 'signer-chain', found: 'valid from 2024-01-01T00:00:00.000Z to 2024-12-31T23:59:59.000Z' });
    expect(failures[0]?.message).toContain('"CN=Retired Production Signer"');
    expect(failures[0]?.message).toContain(NOW.toISOString());
    expectOneSentence(failures[0] as VerifyFailure);
    expect(opensslError(model)).toMatch(/certificate has expired/);

    // At a clock inside the certificate's validity the same archive verifies: the clock decides, not the claim.
    expect((await verify(model, new Date('2024-07-01T00:00:00Z'))).failures).toEqual([]);

    // The same seal on the sample order, issued 2026-10-01 and approved 2026-10-02: signed before the order existed.
    const early = cloneModel(bag);
    writeManifests(early, { baggingDate: '2024-06-01' });
    sealRetired(early);
    const order = (await verify(early, new Date('2024-07-01T00:00:00Z'))).failures;
    expect(order.map((failure) => [failure.check, failure.expected])).toEqual([
      ['order', 'a signing time no earlier than issuedAt 2026-10-01T00:00:00Z'],
      ['order', 'a signing time no earlier than approval.approvedAt 2026-10-02T00:00:00Z'],
    ]);
    for (const failure of order) expectOneSentence(failure);
  });

  it('refuses a genuine archive once its chain has expired, naming each expired certificate and the clock', async () => {
    const ca = issue({ commonName: 'Short-lived Issuing CA', issuer: root, ca: true, notAfter: new Date('2030-01-01T00:00:00Z') });
    const signer = issue({ commonName: 'Short-lived Production Signer', issuer: ca, ca: false, notAfter: new Date('2029-01-01T00:00:00Z') });
    const model = signedBy(signer, [ca]);
    expect((await verify(model)).failures).toEqual([]);

    const later = new Date('2031-06-01T00:00:00Z');
    const failures = chainFailures(await verify(model, later));
    expect(failures.map((failure) => failure.check)).toEqual(['signer-chain', 'signer-chain']);
    expect(failures[0]?.message).toContain('"CN=Short-lived Production Signer"');
    expect(failures[1]?.message).toContain('"CN=Short-lived Issuing CA"');
    for (const failure of failures) {
      expect(failure.message).toContain(later.toISOString());
      expectOneSentence(failure);
    }
  });

  it('refuses a chain whose CA was not yet valid at the signing time', async () => {
    const ca = issue({ commonName: 'Future Issuing CA', issuer: root, ca: true, notBefore: new Date('2027-01-01T00:00:00Z') });
    const signer = issue({ commonName: 'Early Production Signer', issuer: ca, ca: false });
    const model = signedBy(signer, [ca]);
    const failures = chainFailures(await verify(model));
    expect(failures).toHaveLength(1);
    expect(failures[0]?.message).toContain('"CN=Future Issuing CA"');
    expect(failures[0]?.message).toContain('the signing time');
    expect(opensslError(model)).not.toBeNull();
  });
});

/** An extension scopex does not know: a private OID with a NULL value. */
const UNKNOWN = { id: '1.3.6.1.4.1.99999.1', value: '\x05\x00' };

describe('a critical extension verify does not process is refused, wherever it is in the chain (RFC 5280 4.2)', () => {
  const cases: { name: string; chain: () => { signer: Issued; intermediates: Issued[] }; refusedBy: string; opensslAccepts: boolean }[] = [
    {
      name: 'an unknown critical extension on the signer',
      chain: () => ({ signer: issue({ commonName: 'Critical Signer', issuer: root, ca: false, extensions: [{ ...UNKNOWN, critical: true }] }), intermediates: [] }),
      refusedBy: 'CN=Critical Signer',
      opensslAccepts: false,
    },
    {
      name: 'an unknown critical extension on an issuing CA',
      chain: () => {
        const ca = issue({ commonName: 'Critical Issuing CA', issuer: root, ca: true, extensions: [{ ...UNKNOWN, critical: true }] });
        return { signer: issue({ commonName: 'Plain Signer', issuer: ca, ca: false }), intermediates: [ca] };
      },
      refusedBy: 'CN=Critical Issuing CA',
      opensslAccepts: false,
    },
    {
      name: 'a critical subjectKeyIdentifier on the signer (RFC 5280 4.2.1.2 has it non-critical)',
      chain: () => ({ signer: issue({ commonName: 'Critical SKI Signer', issuer: root, ca: false, extensions: [{ name: 'subjectKeyIdentifier', critical: true }] }), intermediates: [] }),
      refusedBy: 'CN=Critical SKI Signer',
      opensslAccepts: false,
    },
    // Stricter than openssl, which processes name constraints: scopex does not, so it must not ignore them.
    {
      name: 'critical name constraints on an issuing CA',
      chain: () => {
        // NameConstraints { permittedSubtrees [0] { GeneralSubtree { dNSName "contoso.example" } } }
        const value = Buffer.from('3015a0133011820f636f6e746f736f2e6578616d706c65', 'hex').toString('binary');
        const ca = issue({ commonName: 'Constrained Issuing CA', issuer: root, ca: true, extensions: [{ id: '2.5.29.30', critical: true, value }] });
        return { signer: issue({ commonName: 'Plain Signer', issuer: ca, ca: false }), intermediates: [ca] };
      },
      refusedBy: 'CN=Constrained Issuing CA',
      opensslAccepts: true,
    },
  ];
  for (const testCase of cases) {
    it(testCase.name, async () => {
      const { signer, intermediates } = testCase.chain();
      const model = signedBy(signer, intermediates);
      const failures = chainFailures(await verify(model));
      expect(failures).toHaveLength(1);
      expect(failures[0]?.check).toBe('signer-chain');
      expect(failures[0]?.found).toMatch(/^critical extension /);
      expect(failures[0]?.message).toContain(`"${testCase.refusedBy}"`);
      expectOneSentence(failures[0] as VerifyFailure);
      expect(opensslError(model) === null).toBe(testCase.opensslAccepts);
    });
  }

  it('accepts the same unknown extension when it is not critical, as openssl does', async () => {
    const ca = issue({ commonName: 'Annotated Issuing CA', issuer: root, ca: true, extensions: [UNKNOWN] });
    const model = signedBy(issue({ commonName: 'Annotated Signer', issuer: ca, ca: false, extensions: [UNKNOWN] }), [ca]);
    expect(chainFailures(await verify(model))).toEqual([]);
    expect(opensslError(model)).toBeNull();
  });
});

describe('pathLenConstraint bounds the CA certificates below it (RFC 5280 6.1.4)', () => {
  it('refuses a sub-CA under an issuing CA of path length 0, as openssl does', async () => {
    const issuing = issue({ commonName: 'Issuing CA pathlen 0', issuer: root, ca: true, pathLength: 0 });
    const sub = issue({ commonName: 'Sub CA', issuer: issuing, ca: true });
    const model = signedBy(issue({ commonName: 'Deep Signer', issuer: sub, ca: false }), [sub, issuing]);
    const failures = chainFailures(await verify(model));
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatchObject({ check: 'signer-chain', found: '1' });
    expect(failures[0]?.message).toContain('"CN=Issuing CA pathlen 0"');
    expectOneSentence(failures[0] as VerifyFailure);
    expect(opensslError(model)).toMatch(/path length constraint exceeded/);
  });

  it('refuses an issuing CA under a trust anchor of path length 0, as openssl does', async () => {
    const anchor = issue({ commonName: 'Root CA pathlen 0', issuer: 'self', ca: true, pathLength: 0 });
    const issuing = issue({ commonName: 'Issuing CA', issuer: anchor, ca: true });
    const model = signedBy(issue({ commonName: 'Signer under pathlen 0 root', issuer: issuing, ca: false }), [issuing]);
    const otherTrust = trustFile;
    trustFile = write(`root-${counter++}.pem`, anchor.certificatePem);
    try {
      const failures = chainFailures(await verify(model));
      expect(failures).toHaveLength(1);
      expect(failures[0]?.message).toContain('"CN=Root CA pathlen 0"');
      expect(opensslError(model)).toMatch(/path length constraint exceeded/);
    } finally {
      trustFile = otherTrust;
    }
  });

  it('accepts a chain within its path lengths, as openssl does', async () => {
    const issuing = issue({ commonName: 'Issuing CA pathlen 1', issuer: root, ca: true, pathLength: 1 });
    const sub = issue({ commonName: 'Sub CA pathlen 0', issuer: issuing, ca: true, pathLength: 0 });
    const model = signedBy(issue({ commonName: 'Signer under sub CA', issuer: sub, ca: false }), [sub, issuing]);
    expect(chainFailures(await verify(model))).toEqual([]);
    expect(opensslError(model)).toBeNull();
  });

  it('counts a self-issued CA certificate (a key rollover) like any other, where openssl refuses the chain too', async () => {
    const sub = issue({ commonName: 'Sub CA pathlen 0', issuer: root, ca: true, pathLength: 0 });
    // The sub-CA's new key certified by its old one: the same name as subject and issuer.
    const rolled = issue({ commonName: 'Sub CA pathlen 0', issuer: sub, ca: true, pathLength: 0 });
    const model = signedBy(issue({ commonName: 'Signer under rolled sub CA', issuer: rolled, ca: false }), [rolled, sub]);
    const failures = chainFailures(await verify(model));
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatchObject({ check: 'signer-chain', found: '1' });
    expect(opensslError(model)).not.toBeNull();
  });
});
