// The archive's signature: CMS SignedData (DER, detached, SHA-256) built by node-forge, signed by node:crypto.
import { constants, privateEncrypt, type KeyObject } from 'node:crypto';
import forge from 'node-forge';

// DER prefix of a PKCS#1 v1.5 DigestInfo for SHA-256 (RFC 8017 §9.2, note 1); the 32-byte digest follows.
const SHA256_DIGEST_INFO_PREFIX = Buffer.from('3031300d060960864801650304020105000420', 'hex');

const OID = {
  data: '1.2.840.113549.1.7.1',
  sha256: '2.16.840.1.101.3.4.2.1',
  contentType: '1.2.840.113549.1.9.3',
  messageDigest: '1.2.840.113549.1.9.4',
  signingTime: '1.2.840.113549.1.9.5',
} as const;

export interface DetachedSignatureInput {
  /** The signed bytes (tagmanifest-sha256.txt); small, so held in memory. */
  content: Buffer;
  certificatePem: string;
  /** A private KeyObject: forge never sees the key, only a signer that asks node:crypto for a signature. */
  key: KeyObject;
  signingTime: Date;
}

/**
 * forge calls `signer.key.sign(md, 'RSASSA-PKCS1-V1_5')` with a finished SHA-256 digest of the signed attributes
 * and expects the signature as a binary string. This object answers with node:crypto, so the private key stays a
 * KeyObject and never becomes a string or a forge key.
 */
function nativeRsaSigner(key: KeyObject): { sign(md: forge.md.MessageDigest, scheme?: string): string } {
  return {
    sign(md, scheme) {
      if (scheme !== undefined && scheme !== 'RSASSA-PKCS1-V1_5') {
        throw new Error(`the CMS signer only does RSASSA-PKCS1-V1_5, not ${scheme}`);
      }
      const digest = Buffer.from(md.digest().getBytes(), 'binary');
      if (digest.length !== 32) throw new Error(`expected a 32-byte SHA-256 digest, got ${digest.length} bytes`);
      const digestInfo = Buffer.concat([SHA256_DIGEST_INFO_PREFIX, digest]);
      return privateEncrypt({ key, padding: constants.RSA_PKCS1_PADDING }, digestInfo).toString('binary');
    },
  };
}

/** DER bytes of a detached CMS SignedData over `content` with contentType, messageDigest and signingTime. */
export function signDetached(input: DetachedSignatureInput): Buffer {
  const certificate = forge.pki.certificateFromPem(input.certificatePem);
  const signedData = forge.pkcs7.createSignedData();
  signedData.content = forge.util.createBuffer(input.content.toString('binary'));
  signedData.addCertificate(certificate);
  signedData.addSigner({
    key: nativeRsaSigner(input.key) as unknown as forge.pki.rsa.PrivateKey,
    certificate,
    digestAlgorithm: OID.sha256,
    // forge encodes the attributes in the order given, and DER wants a SET OF sorted by encoding (X.690 11.6): each
    // encoding starts 0x30 then its length, and those differ (contentType 0x18, signingTime 0x1c as UTCTime or 0x1e
    // as GeneralizedTime, messageDigest 0x2f), so this is their DER order. Out of order, OpenSSL still verifies the
    // bytes as signed, but a verifier that re-encodes them (Bouncy Castle, OpenSSL's own -cmsout) does not.
    authenticatedAttributes: [
      { type: OID.contentType, value: OID.data },
      // forge takes a Date here although its typings say string.
      { type: OID.signingTime, value: input.signingTime as unknown as string },
      { type: OID.messageDigest },
    ],
  });
  signedData.sign({ detached: true });
  return Buffer.from(forge.asn1.toDer(signedData.toAsn1()).getBytes(), 'binary');
}
