// The sample world's PKI: a provider root CA, a compliance reviewer and an archive signer (X.509 built with node-forge).
import { generateKeyPairSync, randomBytes } from 'node:crypto';
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

function rsaPair(): { publicPem: string; privatePem: string } {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
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
  const signingKey = forge.pki.privateKeyFromPem(issuer === 'self' ? selfPrivatePem : issuer.privatePem);
  cert.sign(signingKey, forge.md.sha256.create());
  return forge.pki.certificateToPem(cert);
}

/** A fresh CA with a reviewer and a signer certificate under it. Keys are random even in seeded worlds. */
export function generateSamplePki(options: PkiOptions = {}): SamplePki {
  const organization = options.organization ?? 'Contoso Cloud';
  const notBefore = options.notBefore ?? new Date('2024-01-01T00:00:00Z');
  const notAfter = options.notAfter ?? new Date('2034-01-01T00:00:00Z');
  const caSubject = { commonName: `${organization} Compliance Root CA`, organization };
  const caKeys = rsaPair();
  const ca = issue(caSubject, caKeys.publicPem, 'self', 'ca', caKeys.privatePem, notBefore, notAfter);
  const issuer = { subject: caSubject, privatePem: caKeys.privatePem };

  const reviewerKeys = rsaPair();
  const reviewer = issue(
    { commonName: `${organization} Compliance Reviewer`, organization },
    reviewerKeys.publicPem,
    issuer,
    'reviewer',
    '',
    notBefore,
    notAfter,
  );
  const signerKeys = rsaPair();
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
