// Verifies a detached CMS SignedData (RFC 5652) over the tag manifest with node:crypto: the structure is walked
// with our DER reader (node-forge cannot verify PKCS#7), the maths and the chain are native.
import { constants, createHash, verify as verifySignatureBytes, X509Certificate } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import {
  bytesOf,
  childrenOf,
  contentOf,
  decodeOid,
  decodeTime,
  DerError,
  expectTag,
  readRoot,
  TAG,
  type DerNode,
} from './der.js';

const OID = {
  signedData: '1.2.840.113549.1.7.2',
  data: '1.2.840.113549.1.7.1',
  contentType: '1.2.840.113549.1.9.3',
  messageDigest: '1.2.840.113549.1.9.4',
  signingTime: '1.2.840.113549.1.9.5',
  rsaEncryption: '1.2.840.113549.1.1.1',
  rsassaPss: '1.2.840.113549.1.1.10',
  mgf1: '1.2.840.113549.1.1.8',
  ed25519: '1.3.101.112',
  keyUsage: '2.5.29.15',
  subjectKeyIdentifier: '2.5.29.14',
  basicConstraints: '2.5.29.19',
  extendedKeyUsage: '2.5.29.37',
} as const;

/**
 * The one digest algorithm accepted: SHA-256, the only one scopex signs with. SHA-384 and SHA-512 are not weaker, but
 * an archive digested with them was not signed by scopex (the README names SHA-256 as required).
 */
const DIGESTS: Record<string, 'sha256'> = {
  '2.16.840.1.101.3.4.2.1': 'sha256',
};
/** Digest algorithm names for messages about the ones refused. */
const OTHER_DIGESTS: Record<string, string> = {
  '2.16.840.1.101.3.4.2.2': 'sha384',
  '2.16.840.1.101.3.4.2.3': 'sha512',
  '2.16.840.1.101.3.4.2.4': 'sha224',
  '1.3.14.3.2.26': 'sha1',
  '1.2.840.113549.2.5': 'md5',
};
const RSA_WITH: Record<string, string> = {
  '1.2.840.113549.1.1.11': 'sha256',
  '1.2.840.113549.1.1.12': 'sha384',
  '1.2.840.113549.1.1.13': 'sha512',
};
const ECDSA_WITH: Record<string, string> = {
  '1.2.840.10045.4.3.2': 'sha256',
  '1.2.840.10045.4.3.3': 'sha384',
  '1.2.840.10045.4.3.4': 'sha512',
};

/** A signing time more than this far ahead of the verifier's clock is refused. */
const FUTURE_TOLERANCE_MS = 5 * 60_000;
const MAX_CHAIN_DEPTH = 6;

export type SignatureCheck = 'signature' | 'signer-chain';

export interface SignatureProblem {
  check: SignatureCheck;
  expected: string;
  found: string;
  message: string;
}

export interface SignerIdentity {
  subject: string;
  issuer: string;
  serial: string;
}

export interface SignatureOutcome {
  signer: SignerIdentity | null;
  signingTime: Date | null;
  problems: SignatureProblem[];
  /** One line for the report: what was verified. */
  detail: string;
}

export interface DetachedSignatureInput {
  /** The DER bytes of signature.p7s. */
  signature: Buffer;
  /** The signed content (tagmanifest-sha256.txt), as stored. */
  content: Buffer;
  trustAnchors: readonly X509Certificate[];
  /** The verifier's clock: the chain must be valid at it and at the signing time. */
  now: Date;
}

interface SignerInfo {
  sid: { kind: 'issuer-serial'; issuer: Buffer; serial: Buffer } | { kind: 'key-id'; keyId: Buffer };
  digestOid: string;
  signedAttributes: { setDer: Buffer; values: Map<string, DerNode[]>; duplicates: string[] } | null;
  signatureAlgorithm: { oid: string; parameters: DerNode | null };
  signatureValue: Buffer;
}

interface ParsedSignedData {
  /** The digest algorithms SignedData announces for its signers (openssl digests the content with each). */
  digestAlgorithms: string[];
  eContentType: string;
  hasEmbeddedContent: boolean;
  certificates: Buffer[];
  signerInfos: SignerInfo[];
}

interface CertificateFacts {
  der: Buffer;
  x509: X509Certificate;
  /** Decoded when the certificate is read: a key that cannot be decoded makes the certificate unreadable. */
  publicKey: KeyObject;
  issuerDer: Buffer;
  serial: Buffer;
  notBefore: Date;
  notAfter: Date;
  keyUsage: { digitalSignature: boolean; nonRepudiation: boolean; keyCertSign: boolean } | null;
  subjectKeyId: Buffer | null;
  /** basicConstraints pathLenConstraint, when present. */
  pathLength: number | null;
  /** The critical extensions verify does not process (RFC 5280 4.2: a certificate with one must be refused). */
  unhandledCritical: string[];
}

/** Every problem with the signature, and who signed when if that could be established. */
export function verifyDetachedSignature(input: DetachedSignatureInput): SignatureOutcome {
  const problems: SignatureProblem[] = [];
  const fail = (check: SignatureCheck, expected: string, found: string, message: string): void => {
    problems.push({ check, expected, found, message });
  };

  let parsed: ParsedSignedData;
  try {
    parsed = parseSignedData(input.signature);
  } catch (error) {
    const reason = error instanceof DerError ? error.message : String(error);
    fail('signature', 'a DER CMS SignedData', reason, `signature.p7s is not a readable CMS SignedData: ${reason}`);
    return { signer: null, signingTime: null, problems, detail: 'unreadable' };
  }

  if (parsed.eContentType !== OID.data) {
    fail('signature', `eContentType id-data (${OID.data})`, parsed.eContentType, 'the signed content type is not id-data');
  }
  if (parsed.hasEmbeddedContent) {
    fail('signature', 'a detached signature', 'embedded content', 'signature.p7s embeds its content instead of being detached');
  }
  if (parsed.signerInfos.length !== 1) {
    fail('signature', '1 signer', `${parsed.signerInfos.length} signers`, 'signature.p7s must hold exactly one signer');
  }
  const signerInfo = parsed.signerInfos[0];
  if (!signerInfo) return { signer: null, signingTime: null, problems, detail: 'no signer' };

  const certificates: CertificateFacts[] = [];
  let unreadable = 0;
  for (const [index, der] of parsed.certificates.entries()) {
    try {
      certificates.push(certificateFacts(der));
    } catch (error) {
      unreadable++;
      const reason = error instanceof DerError ? error.message : 'it is not a well-formed X.509 certificate';
      fail('signer-chain', 'an X.509 certificate', `certificate ${index + 1} unreadable`, `certificate ${index + 1} in signature.p7s cannot be parsed: ${reason}`);
    }
  }
  const signerCert = certificates.find((cert) => matchesSid(cert, signerInfo.sid));
  const signer = signerCert ? identity(signerCert.x509) : null;

  // Digest and signed attributes. openssl digests the content with each algorithm SignedData announces, and refuses
  // one it does not know or a signer whose algorithm is not among them.
  const digestName = DIGESTS[signerInfo.digestOid];
  if (!digestName) {
    fail('signature', 'digest SHA-256', digestLabel(signerInfo.digestOid), `the signer's digest algorithm is ${digestLabel(signerInfo.digestOid)}, not SHA-256 (the only one scopex signs with)`);
  }
  const announced = parsed.digestAlgorithms;
  const unknown = announced.filter((oid) => !DIGESTS[oid]);
  if (unknown.length > 0) {
    fail('signature', 'digestAlgorithms of SHA-256 only', unknown.map(digestLabel).join(', '), `SignedData announces the digest algorithm ${digestLabel(unknown[0] ?? '')}, not SHA-256 (the only one scopex signs with)`);
  }
  if (!announced.includes(signerInfo.digestOid)) {
    fail('signature', `digestAlgorithms listing ${signerInfo.digestOid}`, announced.length === 0 ? 'an empty set' : announced.join(', '), "SignedData's digestAlgorithms does not list the signer's digest algorithm");
  }
  let signingTime: Date | null = null;
  const attributes = signerInfo.signedAttributes;
  if (!attributes) {
    fail('signature', 'signed attributes', 'none', 'the signer has no signed attributes (content type, message digest)');
  } else {
    for (const oid of attributes.duplicates) {
      fail('signature', 'each signed attribute once', `${oid} repeated`, `signed attribute ${oid} appears more than once`);
    }
    const contentType = singleValue(attributes.values, OID.contentType);
    const contentTypeOid = contentType ? safe(() => decodeOid(input.signature, contentType)) : null;
    if (contentTypeOid !== OID.data) {
      fail('signature', `contentType attribute id-data (${OID.data})`, contentTypeOid ?? 'missing', 'the contentType signed attribute is missing or not id-data');
    }
    const digestNode = singleValue(attributes.values, OID.messageDigest);
    if (!digestNode || digestNode.tag !== TAG.octetString) {
      fail('signature', 'a messageDigest attribute', 'missing', 'the messageDigest signed attribute is missing or malformed');
    } else if (digestName) {
      const claimed = contentOf(input.signature, digestNode).toString('hex');
      const actual = createHash(digestName).update(input.content).digest('hex');
      if (claimed !== actual) {
        fail('signature', `${digestName} ${actual}`, `${digestName} ${claimed}`, 'the signature covers a different tagmanifest-sha256.txt (messageDigest does not match)');
      }
    }
    const timeNode = singleValue(attributes.values, OID.signingTime);
    if (timeNode) {
      signingTime = safe(() => decodeTime(input.signature, timeNode));
      if (!signingTime) fail('signature', 'a UTCTime or GeneralizedTime', 'malformed', 'the signingTime attribute is malformed');
    }
  }
  if (signingTime && signingTime.getTime() > input.now.getTime() + FUTURE_TOLERANCE_MS) {
    fail('signature', `a signing time not after ${input.now.toISOString()}`, signingTime.toISOString(), 'the signing time lies in the future');
  }

  // The signature value over the signed attributes, re-encoded as a SET (RFC 5652 5.4).
  if (!signerCert && unreadable > 0) {
    fail('signature', 'the signer certificate inside signature.p7s', `none readable matching the signer identifier (${unreadable} unreadable)`, 'the signature cannot be checked: no readable certificate in signature.p7s is the signer\'s');
  } else if (!signerCert) {
    fail('signature', 'the signer certificate inside signature.p7s', 'none matching the signer identifier', 'signature.p7s does not include the signer certificate');
  } else if (attributes && digestName) {
    const outcome = checkSignatureValue(input.signature, signerInfo, digestName, attributes.setDer, signerCert.publicKey);
    if (outcome) fail('signature', outcome.expected, outcome.found, outcome.message);
  }

  // The signer certificate: trusted, valid when it signed and still now, and not a CA.
  if (signerCert) {
    for (const problem of checkSignerCertificate(signerCert, certificates, input.trustAnchors, { signingTime, now: input.now })) problems.push(problem);
  }
  const detail = signer
    ? `${signer.subject}, ${digestName ?? signerInfo.digestOid}, signed ${signingTime ? signingTime.toISOString() : '(no signing time; checked at now)'}`
    : 'no signer certificate';
  return { signer, signingTime, problems, detail };
}

function checkSignatureValue(
  der: Buffer,
  signerInfo: SignerInfo,
  digestName: string,
  signedData: Buffer,
  publicKey: KeyObject,
): { expected: string; found: string; message: string } | null {
  const { oid, parameters } = signerInfo.signatureAlgorithm;
  const keyType = publicKey.asymmetricKeyType ?? 'unknown';
  let valid: boolean;
  try {
    if (oid === OID.rsaEncryption || RSA_WITH[oid]) {
      const hash = RSA_WITH[oid] ?? digestName;
      if (hash !== digestName) return mismatch(`signature hash ${digestName}`, hash, 'the signature algorithm hash differs from the digest algorithm');
      if (keyType !== 'rsa') return mismatch('an RSA key', keyType, 'the signer key does not fit the RSA signature algorithm');
      valid = verifySignatureBytes(hash, signedData, { key: publicKey, padding: constants.RSA_PKCS1_PADDING }, signerInfo.signatureValue);
    } else if (oid === OID.rsassaPss) {
      const pss = safe(() => pssParameters(der, parameters));
      if (!pss) return mismatch('RSASSA-PSS with SHA-256 and MGF1-SHA-256', 'other parameters', 'the RSASSA-PSS parameters are not accepted (SHA-256 and MGF1-SHA-256 expected)');
      if (keyType !== 'rsa' && keyType !== 'rsa-pss') return mismatch('an RSA key', keyType, 'the signer key does not fit RSASSA-PSS');
      valid = verifySignatureBytes(pss.hash, signedData, { key: publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: pss.saltLength }, signerInfo.signatureValue);
    } else if (ECDSA_WITH[oid]) {
      if (ECDSA_WITH[oid] !== digestName) return mismatch(`signature hash ${digestName}`, ECDSA_WITH[oid], 'the signature algorithm hash differs from the digest algorithm');
      if (keyType !== 'ec') return mismatch('an EC key', keyType, 'the signer key does not fit ECDSA');
      valid = verifySignatureBytes(ECDSA_WITH[oid], signedData, publicKey, signerInfo.signatureValue);
    } else if (oid === OID.ed25519) {
      if (keyType !== 'ed25519') return mismatch('an Ed25519 key', keyType, 'the signer key does not fit Ed25519');
      valid = verifySignatureBytes(null, signedData, publicKey, signerInfo.signatureValue);
    } else {
      return mismatch('RSA, RSASSA-PSS, ECDSA or Ed25519', oid, `the signature algorithm ${oid} is not supported`);
    }
  } catch (error) {
    return mismatch('a verifiable signature', 'an error', `the signature could not be checked: ${(error as Error).message}`);
  }
  return valid ? null : mismatch('a valid signature by the signer key', 'an invalid signature', 'the signature value does not verify against the signer certificate');
}

function digestLabel(oid: string): string {
  const name = DIGESTS[oid] ?? OTHER_DIGESTS[oid];
  return name ? `${name} (${oid})` : oid;
}

function mismatch(expected: string, found: string, message: string): { expected: string; found: string; message: string } {
  return { expected, found, message };
}

function pssParameters(buf: Buffer, parameters: DerNode | null): { hash: string; saltLength: number } | null {
  if (!parameters || parameters.tag !== TAG.sequence) return null; // absent parameters mean SHA-1: refused
  let hash: string | undefined;
  let mgfHash: string | undefined;
  let saltLength = 20;
  for (const field of childrenOf(buf, parameters)) {
    const inner = childrenOf(buf, field)[0];
    if (!inner) return null;
    if (field.tag === TAG.context0) {
      hash = DIGESTS[decodeOid(buf, expectTag(childrenOf(buf, inner)[0], TAG.oid, 'hash algorithm'))];
    } else if (field.tag === TAG.context1) {
      const [mgfOid, mgfParams] = childrenOf(buf, inner);
      if (!mgfOid || decodeOid(buf, mgfOid) !== OID.mgf1 || !mgfParams) return null;
      mgfHash = DIGESTS[decodeOid(buf, expectTag(childrenOf(buf, mgfParams)[0], TAG.oid, 'MGF1 hash'))];
    } else if (field.tag === TAG.context2) {
      saltLength = Number.parseInt(contentOf(buf, expectTag(inner, TAG.integer, 'salt length')).toString('hex'), 16);
    }
  }
  if (!hash || hash !== mgfHash) return null;
  return { hash, saltLength };
}

/** id-kp-emailProtection (RFC 5280 4.2.1.12): the usage an archive signer's certificate must name. */
const EMAIL_PROTECTION = '1.3.6.1.5.5.7.3.4';

/**
 * The times every certificate of the chain must be valid at. The signing time is the signer's own claim, signed with
 * the very key it vouches for: checked then alone, a key whose certificate has expired (a retired signer key, kept
 * with less care) could seal a new archive by dating it back. So the chain must be valid then and at the verifier's
 * clock too (the one time `openssl cms -verify` checks), as `order check` holds a reviewer's approval to both times.
 */
interface ChainTimes {
  signingTime: Date | null;
  now: Date;
}

/**
 * The certificate extensions verify acts on: basicConstraints (a CA or not, and its pathLenConstraint), keyUsage and
 * extendedKeyUsage. Any other extension marked critical makes the certificate refused (RFC 5280 4.2), so a constraint
 * the issuer meant to bind (name constraints, policies, ...) is never ignored. subjectKeyIdentifier and
 * authorityKeyIdentifier are read to match certificates but are not in this list: RFC 5280 4.2.1.1 and 4.2.1.2 have
 * them non-critical, and `openssl cms -verify` refuses them when critical.
 */
const UNDERSTOOD_CRITICAL: ReadonlySet<string> = new Set([OID.basicConstraints, OID.keyUsage, OID.extendedKeyUsage]);

/** Names for critical extensions a certificate may carry, so a refusal says more than an object identifier. */
const EXTENSION_NAMES: Record<string, string> = {
  '2.5.29.14': 'subjectKeyIdentifier',
  '2.5.29.17': 'subjectAltName',
  '2.5.29.30': 'nameConstraints',
  '2.5.29.31': 'cRLDistributionPoints',
  '2.5.29.32': 'certificatePolicies',
  '2.5.29.33': 'policyMappings',
  '2.5.29.35': 'authorityKeyIdentifier',
  '2.5.29.36': 'policyConstraints',
  '2.5.29.54': 'inhibitAnyPolicy',
  '1.3.6.1.5.5.7.1.1': 'authorityInfoAccess',
};

/** What makes `signer` no archive signer whatever its chain: a CA certificate, or usages that do not allow it. */
function signerUsageProblems(signer: CertificateFacts, fail: (expected: string, found: string, message: string) => void): void {
  const name = oneLine(signer.x509.subject);
  if (signer.x509.ca) fail('an end-entity signer certificate', 'a CA certificate', `the signer certificate "${name}" is a CA certificate`);
  if (signer.keyUsage && !signer.keyUsage.digitalSignature && !signer.keyUsage.nonRepudiation) {
    fail('key usage digitalSignature or nonRepudiation', 'neither', `the signer certificate "${name}" is not allowed to sign`);
  }
  // One CA certifies both the archive signer and the reviewers who approve orders: chaining to --trust alone would let
  // a reviewer's key sign an archive. An archive signer is certified for CMS signing by name (extended key usage
  // emailProtection); a certificate without that usage, or with only "any usage", is not one.
  const usages = signer.x509.keyUsage ?? [];
  if (!usages.includes(EMAIL_PROTECTION)) {
    fail(
      `extended key usage emailProtection (${EMAIL_PROTECTION})`,
      usages.length === 0 ? 'no extended key usage' : usages.join(', '),
      `the signer certificate "${name}" is not certified to sign archives (its extended key usage lacks emailProtection)`,
    );
  }
}

/**
 * Why an archive signed now with this certificate (DER) would fail verify whatever the trust anchor: the checks verify
 * makes of the signer certificate itself (not of its chain). The export makes them before it reads any item, so that it
 * never seals an archive that verify must refuse. Empty when there is none.
 */
export function signerCertificateProblems(der: Buffer, now: Date): string[] {
  const facts = certificateFactsOrNull(der);
  if (!facts) return ['the certificate cannot be read to check its validity and extensions'];
  const problems: string[] = [];
  const name = oneLine(facts.x509.subject);
  signerUsageProblems(facts, (_expected, _found, message) => problems.push(message));
  const validity = validityProblem(facts, { signingTime: null, now });
  if (validity) problems.push(`the signer certificate "${name}" ${validity.message}`);
  for (const oid of facts.unhandledCritical) {
    const label = EXTENSION_NAMES[oid] ? `${EXTENSION_NAMES[oid]} (${oid})` : oid;
    problems.push(`the signer certificate "${name}" carries the critical extension ${label}, which verify does not process`);
  }
  return problems;
}

function checkSignerCertificate(
  signer: CertificateFacts,
  embedded: readonly CertificateFacts[],
  anchors: readonly X509Certificate[],
  times: ChainTimes,
): SignatureProblem[] {
  const problems: SignatureProblem[] = [];
  const fail = (expected: string, found: string, message: string): void => {
    problems.push({ check: 'signer-chain', expected, found, message });
  };
  const name = oneLine(signer.x509.subject);
  signerUsageProblems(signer, fail);

  const path: CertificateFacts[] = [signer];
  let current = signer;
  let anchored: X509Certificate | null = null;
  for (let depth = 0; depth < MAX_CHAIN_DEPTH && !anchored; depth++) {
    const anchor = anchors.find((candidate) => issuedBy(current.x509, candidate));
    if (anchor) {
      anchored = anchor;
      break;
    }
    const next = embedded.find((candidate) => !path.includes(candidate) && issuedBy(current.x509, candidate.x509));
    if (!next) break;
    path.push(next);
    current = next;
  }
  if (!anchored) {
    fail(
      'a chain to a certificate in --trust',
      `issuer "${oneLine(current.x509.issuer)}" not trusted`,
      `the signer certificate "${name}" does not chain to the trusted certificates`,
    );
    return problems;
  }
  const anchorFacts = certificateFactsOrNull(anchored.raw);
  if (!anchorFacts) {
    fail(
      'a trusted certificate whose validity and extensions can be read',
      'an unreadable certificate',
      `the trusted certificate "${oneLine(anchored.subject)}" that the signer chains to cannot be read to check its validity and extensions`,
    );
    return problems;
  }
  const chain = [...path, anchorFacts];
  for (const [index, facts] of chain.entries()) {
    const subject = oneLine(facts.x509.subject);
    const validity = validityProblem(facts, times);
    if (validity) fail(validity.expected, validity.found, `certificate "${subject}" ${validity.message}`);
    for (const oid of facts.unhandledCritical) {
      const label = EXTENSION_NAMES[oid] ? `${EXTENSION_NAMES[oid]} (${oid})` : oid;
      fail(
        'no critical extension but basicConstraints, keyUsage and extendedKeyUsage',
        `critical extension ${label}`,
        `certificate "${subject}" carries the critical extension ${label}, which scopex does not process, so the certificate is refused (RFC 5280 4.2)`,
      );
    }
    if (index > 0 && !facts.x509.ca) {
      fail('an issuing CA certificate', 'an end-entity certificate', `certificate "${subject}" issues certificates without being a CA`);
    }
    // RFC 5280 6.1.4 (l, m): a CA's pathLenConstraint bounds the CA certificates below it in the path, the end entity
    // not counted. Checked on the trust anchor too, as openssl does. RFC 5280 would not count a self-issued one (a CA's
    // key rollover) either; openssl counts it, or takes it for a root and refuses the chain: counted here as well, so
    // that no chain openssl refuses for its length passes.
    if (index > 0 && facts.x509.ca && facts.pathLength !== null) {
      const below = index - 1;
      if (below > facts.pathLength) {
        fail(
          `at most ${facts.pathLength} CA certificate${facts.pathLength === 1 ? '' : 's'} below it (pathLenConstraint)`,
          `${below}`,
          `certificate "${subject}" allows at most ${facts.pathLength} CA certificate${facts.pathLength === 1 ? '' : 's'} below it in the chain (pathLenConstraint), but the chain has ${below}`,
        );
      }
    }
  }
  return problems;
}

/** Why the certificate is not valid at the signing time and now, as the end of a sentence naming it; null when it is. */
function validityProblem(facts: CertificateFacts, times: ChainTimes): { expected: string; found: string; message: string } | null {
  const within = (time: Date): boolean => facts.notBefore <= time && time <= facts.notAfter;
  const signing = times.signingTime;
  const failsWhenSigned = signing !== null && !within(signing);
  const failsNow = !within(times.now);
  if (!failsWhenSigned && !failsNow) return null;
  const period = `valid from ${facts.notBefore.toISOString()} to ${facts.notAfter.toISOString()}`;
  const atSigning = signing ? `the signing time ${signing.toISOString()}` : '';
  const atNow = `now (${times.now.toISOString()})`;
  const expected = signing ? `valid at ${atSigning} and ${atNow}` : `valid ${atNow}`;
  if (failsWhenSigned && failsNow) return { expected, found: period, message: `is ${period}, neither at ${atSigning} nor ${atNow}` };
  if (failsWhenSigned) return { expected, found: period, message: `is ${period}, not at ${atSigning}` };
  const claim = signing ? '; it must still be valid, since the signing time is only the signer\'s own claim' : '';
  return { expected, found: period, message: `is ${period}, not ${atNow}${claim}` };
}

function issuedBy(child: X509Certificate, issuer: X509Certificate): boolean {
  try {
    return child.checkIssued(issuer) && child.verify(issuer.publicKey);
  } catch {
    return false;
  }
}

function identity(cert: X509Certificate): SignerIdentity {
  return { subject: oneLine(cert.subject), issuer: oneLine(cert.issuer), serial: cert.serialNumber.toLowerCase() };
}

function oneLine(name: string): string {
  return name.split('\n').filter(Boolean).join(', ');
}

function safe<T>(fn: () => T): T | null {
  try {
    return fn();
  } catch {
    return null;
  }
}

function singleValue(values: Map<string, DerNode[]>, oid: string): DerNode | undefined {
  const found = values.get(oid);
  return found && found.length === 1 ? found[0] : undefined;
}

function matchesSid(cert: CertificateFacts, sid: SignerInfo['sid']): boolean {
  if (sid.kind === 'issuer-serial') return cert.issuerDer.equals(sid.issuer) && cert.serial.equals(sid.serial);
  return cert.subjectKeyId !== null && cert.subjectKeyId.equals(sid.keyId);
}

function parseSignedData(der: Buffer): ParsedSignedData {
  const root = expectTag(readRoot(der), TAG.sequence, 'ContentInfo');
  const [typeNode, explicit] = childrenOf(der, root);
  const contentType = decodeOid(der, expectTag(typeNode, TAG.oid, 'ContentInfo contentType'));
  if (contentType !== OID.signedData) throw new DerError(`ContentInfo is ${contentType}, not SignedData`);
  const signedData = expectTag(childrenOf(der, expectTag(explicit, TAG.context0, 'ContentInfo content'))[0], TAG.sequence, 'SignedData');
  const fields = childrenOf(der, signedData);
  let index = 0;
  expectTag(fields[index++], TAG.integer, 'SignedData version');
  const digestAlgorithms = childrenOf(der, expectTag(fields[index++], TAG.set, 'SignedData digestAlgorithms')).map((node) => algorithmOid(der, node, 'a digestAlgorithms entry'));
  const encap = childrenOf(der, expectTag(fields[index++], TAG.sequence, 'encapContentInfo'));
  const eContentType = decodeOid(der, expectTag(encap[0], TAG.oid, 'eContentType'));
  const certificates: Buffer[] = [];
  if (fields[index]?.tag === TAG.context0) {
    for (const cert of childrenOf(der, fields[index++] as DerNode)) {
      if (cert.tag === TAG.sequence) certificates.push(Buffer.from(bytesOf(der, cert)));
    }
  }
  if (fields[index]?.tag === TAG.context1) index++; // CRLs: not used
  const signerInfos = childrenOf(der, expectTag(fields[index++], TAG.set, 'signerInfos')).map((node) => parseSignerInfo(der, node));
  if (index !== fields.length) throw new DerError('unexpected fields after signerInfos');
  return { digestAlgorithms, eContentType, hasEmbeddedContent: encap.length > 1, certificates, signerInfos };
}

function parseSignerInfo(der: Buffer, node: DerNode): SignerInfo {
  const fields = childrenOf(der, expectTag(node, TAG.sequence, 'SignerInfo'));
  let index = 0;
  expectTag(fields[index++], TAG.integer, 'SignerInfo version');
  const sidNode = fields[index++];
  let sid: SignerInfo['sid'];
  if (sidNode?.tag === TAG.sequence) {
    const [issuer, serial] = childrenOf(der, sidNode);
    sid = {
      kind: 'issuer-serial',
      issuer: Buffer.from(bytesOf(der, expectTag(issuer, TAG.sequence, 'signer issuer'))),
      serial: Buffer.from(contentOf(der, expectTag(serial, TAG.integer, 'signer serial'))),
    };
  } else if (sidNode?.tag === TAG.context0Primitive) {
    sid = { kind: 'key-id', keyId: Buffer.from(contentOf(der, sidNode)) };
  } else {
    throw new DerError('SignerInfo sid is neither issuerAndSerialNumber nor subjectKeyIdentifier');
  }
  // Its parameters are not looked at (openssl does not either).
  const digestOid = decodeOid(der, expectTag(childrenOf(der, expectTag(fields[index++], TAG.sequence, 'digestAlgorithm'))[0], TAG.oid, 'digestAlgorithm'));
  let signedAttributes: SignerInfo['signedAttributes'] = null;
  if (fields[index]?.tag === TAG.context0) {
    const attrsNode = fields[index++] as DerNode;
    const setDer = Buffer.from(bytesOf(der, attrsNode));
    setDer[0] = TAG.set;
    const values = new Map<string, DerNode[]>();
    const duplicates: string[] = [];
    for (const attribute of childrenOf(der, attrsNode)) {
      const [oidNode, valueSet] = childrenOf(der, expectTag(attribute, TAG.sequence, 'signed attribute'));
      const oid = decodeOid(der, expectTag(oidNode, TAG.oid, 'attribute type'));
      if (values.has(oid)) duplicates.push(oid);
      values.set(oid, childrenOf(der, expectTag(valueSet, TAG.set, 'attribute values')));
    }
    signedAttributes = { setDer, values, duplicates };
  }
  const algorithm = childrenOf(der, expectTag(fields[index++], TAG.sequence, 'signatureAlgorithm'));
  const signatureAlgorithm = { oid: decodeOid(der, expectTag(algorithm[0], TAG.oid, 'signatureAlgorithm')), parameters: algorithm[1] ?? null };
  const signatureValue = Buffer.from(contentOf(der, expectTag(fields[index], TAG.octetString, 'signature')));
  return { sid, digestOid, signedAttributes, signatureAlgorithm, signatureValue };
}

/** An entry of digestAlgorithms: SEQUENCE { OID, NULL or nothing }; anything else in it is malformed (as openssl has it). */
function algorithmOid(der: Buffer, node: DerNode | undefined, what: string): string {
  const [oid, parameters, ...more] = childrenOf(der, expectTag(node, TAG.sequence, what));
  const decoded = decodeOid(der, expectTag(oid, TAG.oid, what));
  if (more.length > 0 || (parameters && (parameters.tag !== TAG.null || parameters.end !== parameters.start + 2))) {
    throw new DerError(`${what} ${decoded} has parameters other than NULL`);
  }
  return decoded;
}

function certificateFactsOrNull(der: Buffer): CertificateFacts | null {
  return safe(() => certificateFacts(der));
}

function certificateFacts(der: Buffer): CertificateFacts {
  const x509 = new X509Certificate(der);
  let publicKey: KeyObject;
  try {
    publicKey = x509.publicKey;
  } catch {
    // OpenSSL decodes the key only when asked, and says no more than ERR_OSSL_EVP_DECODE_ERROR.
    throw new DerError('its public key cannot be decoded');
  }
  const root = expectTag(readRoot(der), TAG.sequence, 'Certificate');
  const tbs = childrenOf(der, expectTag(childrenOf(der, root)[0], TAG.sequence, 'tbsCertificate'));
  let index = tbs[0]?.tag === TAG.context0 ? 1 : 0;
  const serial = Buffer.from(contentOf(der, expectTag(tbs[index++], TAG.integer, 'serialNumber')));
  index++; // signature algorithm
  const issuerDer = Buffer.from(bytesOf(der, expectTag(tbs[index++], TAG.sequence, 'issuer')));
  const [from, to] = childrenOf(der, expectTag(tbs[index], TAG.sequence, 'validity'));
  if (!from || !to) throw new DerError('validity is incomplete');
  let keyUsage: CertificateFacts['keyUsage'] = null;
  let subjectKeyId: Buffer | null = null;
  let pathLength: number | null = null;
  const unhandledCritical: string[] = [];
  const extensions = tbs.find((node) => node.tag === 0xa3);
  if (extensions) {
    for (const extension of childrenOf(der, expectTag(childrenOf(der, extensions)[0], TAG.sequence, 'extensions'))) {
      const parts = childrenOf(der, extension);
      const oid = decodeOid(der, expectTag(parts[0], TAG.oid, 'extension id'));
      // Extension ::= SEQUENCE { extnID, critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING }
      const flag = parts.length === 3 ? expectTag(parts[1], TAG.boolean, 'extension critical flag') : null;
      if (flag && contentOf(der, flag).some((byte) => byte !== 0) && !UNDERSTOOD_CRITICAL.has(oid)) unhandledCritical.push(oid);
      const value = parts[parts.length - 1];
      if (!value || value.tag !== TAG.octetString) continue;
      const inner = readRoot(Buffer.from(contentOf(der, value)));
      const innerBuf = Buffer.from(contentOf(der, value));
      if (oid === OID.keyUsage && inner.tag === TAG.bitString) {
        const bits = contentOf(innerBuf, inner)[1] ?? 0;
        keyUsage = { digitalSignature: (bits & 0x80) !== 0, nonRepudiation: (bits & 0x40) !== 0, keyCertSign: (bits & 0x04) !== 0 };
      } else if (oid === OID.subjectKeyIdentifier && inner.tag === TAG.octetString) {
        subjectKeyId = Buffer.from(contentOf(innerBuf, inner));
      } else if (oid === OID.basicConstraints) {
        pathLength = pathLengthOf(innerBuf, expectTag(inner, TAG.sequence, 'basicConstraints'));
      }
    }
  }
  return {
    der,
    x509,
    publicKey,
    issuerDer,
    serial,
    notBefore: decodeTime(der, from),
    notAfter: decodeTime(der, to),
    keyUsage,
    subjectKeyId,
    pathLength,
    unhandledCritical,
  };
}

/** BasicConstraints ::= SEQUENCE { cA BOOLEAN DEFAULT FALSE, pathLenConstraint INTEGER (0..MAX) OPTIONAL } */
function pathLengthOf(buf: Buffer, node: DerNode): number | null {
  const integer = childrenOf(buf, node).find((child) => child.tag === TAG.integer);
  if (!integer) return null;
  const bytes = contentOf(buf, integer);
  if (bytes.length === 0 || ((bytes[0] as number) & 0x80) !== 0) throw new DerError('basicConstraints has a negative or empty pathLenConstraint');
  // Any value beyond the longest chain followed is as good as no limit.
  return bytes.length > 4 ? Number.MAX_SAFE_INTEGER : bytes.readUIntBE(0, bytes.length);
}
