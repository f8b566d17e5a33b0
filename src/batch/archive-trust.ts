// The CA certificate(s) a batch re-run checks an existing archive against before it skips the order as sealed.
import type { X509Certificate } from 'node:crypto';
import type { ScopexConfig } from '../config.js';
import { InputError } from '../errors.js';
import { loadTrustAnchors } from '../verify/trust-anchors.js';

export interface ArchiveTrust {
  /** The file the anchors were read from (passed to the verifier as its trust file). */
  file: string;
  anchors: X509Certificate[];
}

/**
 * `--trust` when given, else the config's `signer.ca`, else the CA that issued the configured signer certificate:
 * the one certificate, among those after it in its own file (a chain) and the reviewer CAs (sample worlds have one CA
 * for both), that it was issued and signed by. Only that CA, not the whole file it is in: a reviewer CA bundle may hold
 * CAs that never certify archive signers. The archives a batch seals are signed by that signer; with a separate
 * archive-signing CA, checking them against the first reviewer CA made every good archive "not verify".
 */
export function archiveTrust(config: ScopexConfig, trustFile?: string): ArchiveTrust {
  if (trustFile) return { file: trustFile, anchors: loadTrustAnchors(trustFile) };
  if (config.signerCaFile) return { file: config.signerCaFile, anchors: loadTrustAnchors(config.signerCaFile, 'the signer CA file (signer.ca)') };
  const [signer, ...chain] = loadTrustAnchors(config.signerCertificateFile, 'the signer certificate');
  const candidates = [
    ...chain.map((certificate) => ({ certificate, file: config.signerCertificateFile })),
    ...config.reviewerCaFiles.flatMap((file) => loadTrustAnchors(file, 'the reviewer CA file').map((certificate) => ({ certificate, file }))),
  ];
  const issuer = signer && candidates.find(({ certificate }) => issued(certificate, signer));
  if (!signer || !issuer) {
    throw new InputError(
      'CONFIG_INVALID',
      `cannot tell which CA issued the signer certificate ${config.signerCertificateFile}${signer ? ` (issuer "${oneLine(signer.issuer)}")` : ''}: ` +
        `neither the certificates after it in its file nor the reviewer CAs did; name its CA as signer.ca in the config ${config.file}, or give --trust`,
    );
  }
  return { file: issuer.file, anchors: [issuer.certificate] };
}

function issued(issuer: X509Certificate, certificate: X509Certificate): boolean {
  try {
    return issuer.ca && certificate.checkIssued(issuer) && certificate.verify(issuer.publicKey);
  } catch {
    return false;
  }
}

function oneLine(name: string): string {
  return name.split('\n').filter(Boolean).join(', ');
}
