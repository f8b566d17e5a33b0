// The --trust file: one or more PEM certificates the archive signer must chain to.
import { X509Certificate } from 'node:crypto';
import { describeFsError, InputError } from '../errors.js';
import { readInputFileSync } from '../util/read-input-file.js';

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** The certificates of a PEM file; `what` names it in errors (the --trust file, unless said otherwise). */
export function loadTrustAnchors(file: string, what = 'the trust file'): X509Certificate[] {
  let text: string;
  try {
    text = readInputFileSync(file).toString('utf8');
  } catch (error) {
    throw new InputError('FILE_UNREADABLE', `cannot read ${what} ${file}: ${describeFsError(error)}`, {
      cause: error,
    });
  }
  const blocks = text.match(PEM_CERTIFICATE) ?? [];
  if (blocks.length === 0) {
    throw new InputError('FILE_UNREADABLE', `${what} ${file} holds no PEM certificate (a BEGIN CERTIFICATE block)`);
  }
  return blocks.map((block, index) => {
    try {
      return new X509Certificate(block);
    } catch (error) {
      throw new InputError('FILE_UNREADABLE', `certificate ${index + 1} in ${what} ${file} cannot be parsed`, {
        cause: error,
      });
    }
  });
}
