// The sample world's PKI: a provider root CA, a compliance reviewer and an archive signer (X.509 built with node-forge).
import { constants, createPrivateKey, generateKeyPair, generateKeyPairSync, privateEncrypt, randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import forge from 'node-forge';

export interface PemPair {
  certificatePem: string;
  /** PKCS#8 PEM. Written to disk by the generator only; scopex itself loads keys into KeyObjects. */
  keyPem: string;
}

export interface SamplePki {
  ca: PemPair;
  reviewer: PemPair;
  signer: PemPair;
}

export interface PkiOptions {
  /** Common-name prefix, e.g. "Contoso Cloud". */
  organization?: string;
  notBefore?: Date;
  notAfter?: Date;
}

interface Subject {
  commonName: string;
  organization: string;
}

interface RsaPair {
  publicPem: string;
  privatePem: string;
}

const RSA_OPTIONS = {
  modulusLength: 2048,
  publicKeyEncoding: { type: 'spki', format: 'pem' },
  privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
} as const;

function rsaPair(): RsaPair {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', RSA_OPTIONS);
  return { publicPem: publicKey, privatePem: privateKey };
}

/** Off the main thread (libuv pool), so a sample world can write its stores while its keys are generated. */
async function rsaPairAsync(): Promise<RsaPair> {
  const { publicKey, privateKey } = await promisify(generateKeyPair)('rsa', RSA_OPTIONS);
  return { publicPem: publicKey, privatePem: privateKey };
}

/** DER DigestInfo prefix for SHA-256 (RFC 8017, section 9.2, note 1). */
const SHA256_DIGEST_INFO = Buffer.from('3031300d060960864801650304020105000420', 'hex');

/**
 * A forge-compatible signing key backed by node:crypto: forge hashes the TBS certificate, node:crypto does the
 * RSA PKCS#1 v1.5 private-key operation (forge's pure-JavaScript RSA is slow and not constant-time).
 */
function nativeSigner(privatePem: string): { sign(md: forge.md.MessageDigest): string } {
  const key = createPrivateKey(privatePem);
  return {
    sign(md) {
      const digest = Buffer.from(md.digest().getBytes(), 'binary');
      const digestInfo = Buffer.concat([SHA256_DIGEST_INFO, digest]);
      return privateEncrypt({ key, padding: constants.RSA_PKCS1_PADDING }, digestInfo).toString('binary');
    },
  };
}

function attrs(subject: Subject): forge.pki.CertificateField[] {
  return [
    { shortName: 'C', value: 'US' },
    { shortName: 'O', value: subject.organization },
    { shortName: 'CN', value: subject.commonName },
  ];
}

function issue(
  subject: Subject,
  subjectPublicPem: string,
  issuer: { subject: Subject; privatePem: string } | 'self',
  kind: 'ca' | 'reviewer' | 'signer',
  selfPrivatePem: string,
  notBefore: Date,
  notAfter: Date,
): string {
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(subjectPublicPem);
  // A positive 128-bit serial (leading 0x01 keeps the DER INTEGER positive).
  cert.serialNumber = `01${randomBytes(15).toString('hex')}`;
  cert.validity.notBefore = notBefore;
  cert.validity.notAfter = notAfter;
  cert.setSubject(attrs(subject));
  cert.setIssuer(attrs(issuer === 'self' ? subject : issuer.subject));
  const extensions: object[] = [
    { name: 'basicConstraints', cA: kind === 'ca', critical: true },
    kind === 'ca'
      ? { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true }
      : { name: 'keyUsage', digitalSignature: true, nonRepudiation: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ];
  if (kind === 'signer') extensions.push({ name: 'extKeyUsage', emailProtection: true, codeSigning: true });
  cert.setExtensions(extensions);
  const signingKey = nativeSigner(issuer === 'self' ? selfPrivatePem : issuer.privatePem);
  cert.sign(signingKey as unknown as forge.pki.rsa.PrivateKey, forge.md.sha256.create());
  return forge.pki.certificateToPem(cert);
}

/** A fresh CA with a reviewer and a signer certificate under it. Keys are random even in seeded worlds. */
export function generateSamplePki(options: PkiOptions = {}): SamplePki {
  return issueSamplePki(options, rsaPair(), rsaPair(), rsaPair());
}

/** generateSamplePki with its three RSA keys generated in parallel off the main thread. */
export async function generateSamplePkiAsync(options: PkiOptions = {}): Promise<SamplePki> {
  const [ca, reviewer, signer] = await Promise.all([rsaPairAsync(), rsaPairAsync(), rsaPairAsync()]);
  return issueSamplePki(options, ca, reviewer, signer);
}

function issueSamplePki(options: PkiOptions, caKeys: RsaPair, reviewerKeys: RsaPair, signerKeys: RsaPair): SamplePki {
  const organization = options.organization ?? 'Contoso Cloud';
  const notBefore = options.notBefore ?? new Date('2024-01-01T00:00:00Z');
  const notAfter = options.notAfter ?? new Date('2034-01-01T00:00:00Z');
  const caSubject = { commonName: `${organization} Compliance Root CA`, organization };
  const ca = issue(caSubject, caKeys.publicPem, 'self', 'ca', caKeys.privatePem, notBefore, notAfter);
  const issuer = { subject: caSubject, privatePem: caKeys.privatePem };
  const reviewer = issue(
    { commonName: `${organization} Compliance Reviewer`, organization },
    reviewerKeys.publicPem,
    issuer,
    'reviewer',
    '',
    notBefore,
    notAfter,
  );
  const signer = issue(
    { commonName: `${organization} Legal Production Signer`, organization },
    signerKeys.publicPem,
    issuer,
    'signer',
    '',
    notBefore,
    notAfter,
  );
  return {
    ca: { certificatePem: ca, keyPem: caKeys.privatePem },
    reviewer: { certificatePem: reviewer, keyPem: reviewerKeys.privatePem },
    signer: { certificatePem: signer, keyPem: signerKeys.privatePem },
  };
}
