// The BagIt 1.0 (RFC 8493) text files: bagit.txt, bag-info.txt and manifest lines, byte for byte.

export const BAGIT_TXT = 'BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n';
export const BAGIT_FILE = 'bagit.txt';
export const BAG_INFO_FILE = 'bag-info.txt';
export const MANIFEST_FILE = 'manifest-sha256.txt';
export const TAG_MANIFEST_FILE = 'tagmanifest-sha256.txt';
export const SIGNATURE_FILE = 'signature.p7s';

/** Names the sealer writes itself, or that BagIt reserves: a caller's tag file may not take them. */
export function isReservedTagName(name: string): boolean {
  const lower = name.toLowerCase();
  return (
    lower === BAGIT_FILE ||
    lower === BAG_INFO_FILE ||
    lower === SIGNATURE_FILE ||
    lower === 'fetch.txt' ||
    lower === 'data' ||
    /^(tag)?manifest-[a-z0-9]+\.txt$/.test(lower)
  );
}

/**
 * A bag-info.txt value on one line for every reader: no control character (C0, DEL, C1: a tab, NUL or VT too), no line
 * or paragraph separator (bagit.py reads tag files with Python's splitlines, which breaks at VT, FF, U+001C-U+001E,
 * U+0085, U+2028 and U+2029 as well as CR and LF), and no white space at either end (RFC 8493 §2.2.2: the label, a
 * colon, one space, the value; a reader trims the rest, so the value would not come back as written).
 */
export function isOneLineTagValue(value: string): boolean {
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  return value !== '' && !/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/u.test(value) && value.trim() === value;
}

/** RFC 8493 §2.1.3: a manifest path percent-encodes CR, LF and `%` (and nothing else). */
export function encodeManifestPath(path: string): string {
  return path.replace(/%/g, '%25').replace(/\n/g, '%0A').replace(/\r/g, '%0D');
}

/** One manifest line (RFC 8493 2.1.3): checksum, two spaces, path with `%`, LF and CR percent-encoded, LF. */
export function manifestLine(sha256: string, path: string): string {
  return `${sha256}  ${encodeManifestPath(path)}\n`;
}

export interface BagInfo {
  sourceOrganization: string;
  baggingDate: Date;
  externalIdentifier: string;
  payloadBytes: number;
  payloadFiles: number;
  /** Scopex-Account lines, in this order. */
  accounts: readonly string[];
}

/** The bag-info.txt label of each account the export resolved (a label of scopex's own, RFC 8493 §2.2.2). */
export const ACCOUNT_LABEL = 'Scopex-Account';

/** bag-info.txt: `Label: value` lines (RFC 8493 §2.2.2); Bagging-Date is the UTC day, YYYY-MM-DD. */
export function bagInfoText(info: BagInfo): string {
  return [
    `Source-Organization: ${info.sourceOrganization}`,
    `Bagging-Date: ${info.baggingDate.toISOString().slice(0, 10)}`,
    `External-Identifier: ${info.externalIdentifier}`,
    `Payload-Oxum: ${info.payloadBytes}.${info.payloadFiles}`,
    ...info.accounts.map((account) => `${ACCOUNT_LABEL}: ${account}`),
    '',
  ].join('\n');
}
