// Checking a reviewer's approval with node:crypto only: signature, certificate chain to a reviewer CA, validity.
// The signature scheme is RSA-PSS with SHA-256, MGF1-SHA-256 and a 32-byte salt (see approval-sign.ts): PSS has a
// security proof PKCS#1 v1.5 lacks, and RSA keeps the reviewer's certificates usable with every CMS/OpenSSL tool.
import { constants, verify, X509Certificate } from 'node:crypto';
import forge from 'node-forge';
import { describeFsError, InputError, type OrderErrorCode } from '../errors.js';
import { APPROVAL_PSS_SALT } from './approval-sign.js';
import { readInputFileSync } from '../util/read-input-file.js';
import { approvalSigningBytes } from './canonical.js';
import type { Approval } from './schema.js';
import { quoteText } from '../util/quote-text.js';

export interface OrderReason {
  code: OrderErrorCode;
  message: string;
}

/** Approvals signed with weaker RSA keys are refused. */
export const MIN_RSA_BITS = 2048;

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** The configured reviewer CA certificates; a missing, unparsable or non-CA file is a config error (exit 2). */
export function loadReviewerCas(files: readonly string[]): X509Certificate[] {
  const cas: X509Certificate[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = readInputFileSync(file).toString('utf8');
    } catch (error) {
      throw new InputError('CONFIG_INVALID', `cannot read reviewer CA ${file}: ${describeFsError(error)}`, { cause: error });
    }
    const blocks = text.match(PEM_CERTIFICATE) ?? [];
    if (blocks.length === 0) {
      throw new InputError('CONFIG_INVALID', `reviewer CA ${file}: expected a PEM certificate, found none`);
    }
    for (const block of blocks) {
      let ca: X509Certificate;
      try {
        ca = new X509Certificate(block);
      } catch (error) {
        throw new InputError('CONFIG_INVALID', `reviewer CA ${file}: a certificate in it cannot be parsed`, { cause: error });
      }
      if (!ca.ca) {
        throw new InputError(
          'CONFIG_INVALID',
          `reviewer CA ${file}: expected a CA certificate (basicConstraints cA, and keyUsage keyCertSign when it has a keyUsage), found a certificate without both`,
        );
      }
      cas.push(ca);
    }
  }
  return cas;
}

/**
 * Every reason the approval of `signed` (the order's JSON exactly as received) is not a valid, trusted approval at
 * `now`. Empty when it is. `approval` is the schema-checked approval block of the same document.
 *
 * `approvedAt` is the approver's own claim, signed with the very key it vouches for: it must not lie in the future,
 * and the reviewer's certificate (and its CA) must be valid both then and now. Checked only at the claimed time, a key
 * whose certificate has expired (a reviewer who left, a superseded key) could still approve a new order by dating the
 * approval back, and the order's issuedAt with it. (An approval may precede issuedAt: an order can be approved before
 * the time it takes effect, as the sample world's not-yet-valid order is.)
 */
export function verifyApproval(
  signed: Record<string, unknown>,
  approval: Approval,
  reviewerCas: readonly X509Certificate[],
  now: Date,
  /** Certificates that must never approve an order (the archive signer's: it lives on the export host). */
  forbiddenSigners: readonly X509Certificate[] = [],
): OrderReason[] {
  const reasons: OrderReason[] = [];
  const approvedAt = Date.parse(approval.approvedAt);
  if (approvedAt > now.getTime()) {
    reasons.push({
      code: 'APPROVAL_INVALID',
      message: `field approval.approvedAt: the approval claims a future time ${approval.approvedAt}; expected a time no later than now (${now.toISOString()})`,
    });
  }

  const certificate = parseApprovalCertificate(approval.certificate);
  if (typeof certificate === 'string') {
    reasons.push({ code: 'APPROVAL_INVALID', message: `field approval.certificate: ${certificate}` });
    return reasons;
  }

  const keyProblem = publicKeyProblem(certificate);
  if (keyProblem) {
    reasons.push({ code: 'APPROVAL_INVALID', message: `field approval.certificate: ${keyProblem}` });
  } else if (!signatureMatches(signed, approval.signature, certificate)) {
    reasons.push({
      code: 'APPROVAL_INVALID',
      message:
        'field approval.signature: the signature does not match the order; the order was changed after approval, or it was signed with a key other than the certificate\'s',
    });
  }
  reasons.push(...trustProblems(certificate, reviewerCas, approvedAt, approval.approvedAt, now));
  if (forbiddenSigners.some((other) => samePublicKey(other, certificate))) {
    reasons.push({
      code: 'APPROVAL_UNTRUSTED',
      message: `field approval.certificate: ${quoteText(commonName(certificate))} holds the archive signer's key; an export host must not be able to approve its own orders`,
    });
  }
  return reasons;
}

/**
 * Whether the approval's signature still matches `signed` (the order's JSON as received) under the certificate the
 * approval carries; the certificate's trust is not judged. This is what tells an approved order from one changed after
 * approval (or signed with a key other than the certificate's).
 */
export function approvalSignatureMatches(signed: Record<string, unknown>, approval: Approval): boolean {
  const certificate = parseApprovalCertificate(approval.certificate);
  if (typeof certificate === 'string' || publicKeyProblem(certificate)) return false;
  return signatureMatches(signed, approval.signature, certificate);
}

/** Whether the certificate the approval carries is issued by `ca` (names chain and the CA's key verifies it). */
export function approvalIssuedBy(approval: Approval, ca: X509Certificate): boolean {
  const certificate = parseApprovalCertificate(approval.certificate);
  return typeof certificate !== 'string' && safeVerify(certificate, ca);
}

/** The common name of the certificate an approval carries, or null when it is not one parsable certificate. */
export function approvalCertificateName(approval: Approval): string | null {
  const certificate = parseApprovalCertificate(approval.certificate);
  return typeof certificate === 'string' ? null : commonName(certificate);
}

/**
 * The archive signer's certificate from the config, when it can be read: approvals by its key are refused. A missing
 * file is not an order problem (export reports it), so it yields nothing here.
 */
export function loadArchiveSigner(file: string): X509Certificate[] {
  try {
    const blocks = readInputFileSync(file).toString('utf8').match(PEM_CERTIFICATE) ?? [];
    return blocks.map((block) => new X509Certificate(block));
  } catch {
    return [];
  }
}

function samePublicKey(a: X509Certificate, b: X509Certificate): boolean {
  try {
    const der = (c: X509Certificate) => c.publicKey.export({ type: 'spki', format: 'der' });
    return der(a).equals(der(b));
  } catch {
    return false;
  }
}

/** The certificate, or why it is not exactly one parsable PEM certificate. */
function parseApprovalCertificate(pem: string): X509Certificate | string {
  const blocks = pem.match(PEM_CERTIFICATE) ?? [];
  if (blocks.length !== 1 || pem.replace(PEM_CERTIFICATE, '').trim() !== '') {
    return `expected exactly one PEM certificate, found ${blocks.length === 1 ? 'extra text around it' : `${blocks.length}`}`;
  }
  try {
    const certificate = new X509Certificate(blocks[0]!);
    // A damaged certificate can parse yet fail on first use of a field: touch each one here, once.
    void [certificate.publicKey.asymmetricKeyType, certificate.subject, certificate.issuer, certificate.validFrom, certificate.validTo, certificate.ca];
    return certificate;
  } catch {
    return 'the certificate cannot be parsed as X.509';
  }
}

export function publicKeyProblem(certificate: X509Certificate): string | null {
  const key = certificate.publicKey;
  if (key.asymmetricKeyType !== 'rsa') {
    return `approvals are RSA-PSS signatures; expected an RSA key, found ${key.asymmetricKeyType ?? 'an unknown key type'}`;
  }
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  if (bits < MIN_RSA_BITS) return `expected an RSA key of at least ${MIN_RSA_BITS} bits, found ${bits}`;
  return null;
}

function signatureMatches(signed: Record<string, unknown>, signature: string, certificate: X509Certificate): boolean {
  // Strict base64: Buffer.from silently skips characters it does not know, which would hide a changed byte.
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(signature) || signature.length % 4 !== 0) return false;
  const bytes = Buffer.from(signature, 'base64');
  if (bytes.toString('base64') !== signature) return false;
  try {
    return verify(
      'sha256',
      approvalSigningBytes(signed),
      { key: certificate.publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: APPROVAL_PSS_SALT },
      bytes,
    );
  } catch {
    return false;
  }
}

function trustProblems(
  certificate: X509Certificate,
  reviewerCas: readonly X509Certificate[],
  approvedAt: number,
  approvedAtText: string,
  now: Date,
): OrderReason[] {
  const reasons: OrderReason[] = [];
  const untrusted = (message: string) => reasons.push({ code: 'APPROVAL_UNTRUSTED', message: `field approval.certificate: ${message}` });
  // Quoted and escaped: the name comes from an unverified certificate and may hold terminal control characters, and
  // bidi overrides, C1 controls and U+2028, which JSON.stringify leaves raw.
  const subject = quoteText(commonName(certificate));

  if (certificate.ca) untrusted(`${subject} is a CA certificate; approvals must be signed by a reviewer, not by a CA`);
  const usage = keyUsageProblem(certificate);
  if (usage) untrusted(`${subject} ${usage}`);
  if (!validAt(certificate, approvedAt)) {
    untrusted(`${subject} is valid from ${certificate.validFrom} to ${certificate.validTo}, not at approval time ${approvedAtText}`);
  } else if (!validAt(certificate, now.getTime())) {
    untrusted(
      `${subject} is valid from ${certificate.validFrom} to ${certificate.validTo}, not now (${now.toISOString()}); ` +
        'the approval time is the approver\'s own claim, so the certificate must still be valid: have the order approved again',
    );
  }

  const issuer = reviewerCas.find((ca) => safeVerify(certificate, ca));
  if (!issuer) {
    untrusted(`${subject} is not issued by a reviewer CA named in the config (${reviewerCas.length} configured)`);
  } else if (!validAt(issuer, approvedAt)) {
    untrusted(`its issuing CA ${quoteText(commonName(issuer))} is not valid at approval time ${approvedAtText}`);
  } else if (!validAt(issuer, now.getTime())) {
    untrusted(`its issuing CA ${quoteText(commonName(issuer))} is valid only until ${issuer.validTo}, not now (${now.toISOString()})`);
  }
  return reasons;
}

/** Issued by `ca`: the names chain and the CA's key verifies the certificate's signature. */
function safeVerify(certificate: X509Certificate, ca: X509Certificate): boolean {
  try {
    return certificate.checkIssued(ca) && certificate.verify(ca.publicKey);
  } catch {
    return false;
  }
}

function validAt(certificate: X509Certificate, time: number): boolean {
  const from = Date.parse(certificate.validFrom);
  const to = Date.parse(certificate.validTo);
  return Number.isFinite(from) && Number.isFinite(to) && from <= time && time <= to;
}

/** The extended key usage that makes a certificate an archive signer for `scopex verify` (emailProtection). */
const ARCHIVE_SIGNER_USAGE = '1.3.6.1.5.5.7.3.4';
/** id-kp-documentSigning (RFC 9336): the one extended key usage a reviewer's certificate may give. */
const DOCUMENT_SIGNING_USAGE = '1.3.6.1.5.5.7.3.36';
const REVIEWER_USAGES: ReadonlySet<string> = new Set([DOCUMENT_SIGNING_USAGE]);
/**
 * The extensions a reviewer's certificate may mark critical: the ones read here (basic constraints, key usage, extended
 * key usage) and the names and key ids every certificate may carry.
 */
const KNOWN_EXTENSIONS: ReadonlySet<string> = new Set(['2.5.29.19', '2.5.29.15', '2.5.29.37', '2.5.29.17', '2.5.29.14', '2.5.29.35']);
/** Certificate signatures by digests that collide: md2, md5 and sha1 with RSA, and sha1 with RSA in its old OID. */
const WEAK_SIGNATURES = new Map([
  ['1.2.840.113549.1.1.2', 'md2WithRSAEncryption'],
  ['1.2.840.113549.1.1.4', 'md5WithRSAEncryption'],
  ['1.2.840.113549.1.1.5', 'sha1WithRSAEncryption'],
  ['1.3.14.3.2.29', 'sha1WithRSASignature'],
]);

/**
 * What makes the certificate unfit to approve: no signature usage, the archive signer's usage (a reviewer's key
 * could then also sign archives that verify: the two duties stay apart), or a signature by a broken digest.
 * node:crypto does not expose keyUsage bits nor the signature algorithm, so those are read with node-forge
 * (structure only).
 */
function keyUsageProblem(certificate: X509Certificate): string | null {
  let extension: { digitalSignature?: boolean; nonRepudiation?: boolean } | undefined;
  let signatureOid: string;
  let unknownCritical: string | undefined;
  try {
    const parsed = forge.pki.certificateFromAsn1(forge.asn1.fromDer(forge.util.createBuffer(certificate.raw.toString('binary'))));
    extension = parsed.getExtension('keyUsage') as typeof extension;
    signatureOid = parsed.signatureOid;
    const extensions = parsed.extensions as { id?: string; critical?: boolean }[];
    unknownCritical = extensions.find((e) => e.critical === true && !KNOWN_EXTENSIONS.has(e.id ?? ''))?.id;
  } catch {
    // node-forge reads only certificates of RSA keys: another key is refused for what it is (publicKeyProblem), not
    // for extensions that are readable enough.
    return certificate.publicKey.asymmetricKeyType === 'rsa' ? 'has extensions that cannot be read' : null;
  }
  if (extension && !extension.digitalSignature && !extension.nonRepudiation) {
    return 'does not allow digital signatures (keyUsage lacks digitalSignature and nonRepudiation)';
  }
  if (certificate.keyUsage?.includes(ARCHIVE_SIGNER_USAGE)) {
    return 'carries the archive signer\'s extended key usage (emailProtection); a reviewer\'s key must not be able to sign archives';
  }
  // RFC 5280 4.2.1.12: with the extension, the certificate is for the purposes it lists and no other. A web server's
  // certificate (serverAuth) from the reviewer CA approved orders.
  const purposes = certificate.keyUsage;
  if (purposes !== undefined && !purposes.some((oid) => REVIEWER_USAGES.has(oid))) {
    return `is for other purposes (extended key usage ${purposes.join(', ')}); a reviewer's certificate has none, or document signing (${DOCUMENT_SIGNING_USAGE})`;
  }
  // RFC 5280 4.2: a critical extension that is not recognised makes the certificate unusable (openssl verify refuses it).
  if (unknownCritical !== undefined) return `has a critical extension scopex does not recognise (${/^[0-9.]{1,64}$/.test(unknownCritical) ? unknownCritical : 'an unreadable id'})`;
  const weak = WEAK_SIGNATURES.get(signatureOid);
  if (weak) return `is signed with ${weak}, a broken digest; expected SHA-256 or stronger`;
  return null;
}

export function commonName(certificate: X509Certificate): string {
  const line = certificate.subject.split('\n').find((part) => part.startsWith('CN='));
  return line ? line.slice(3) : certificate.subject;
}
