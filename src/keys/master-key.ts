// The master key file: 64 hex characters (32 bytes), readable by its owner only.
import { createSecretKey, type KeyObject } from 'node:crypto';
import { describeFsError, KeyError } from '../errors.js';
import { readInputFileSync } from '../util/read-input-file.js';

export function loadMasterKey(file: string): KeyObject {
  let text: string;
  try {
    text = readInputFileSync(file).toString('utf8').trim();
  } catch (error) {
    throw new KeyError('MASTER_KEY_UNAVAILABLE', `cannot read the master key file ${file}: ${describeFsError(error)}`);
  }
  if (!/^[0-9a-fA-F]{64}$/.test(text)) {
    // Never echo the content: it is, or is close to, key material.
    throw new KeyError('MASTER_KEY_UNAVAILABLE', `the master key file ${file} does not hold 64 hexadecimal characters`);
  }
  const raw = Buffer.from(text, 'hex');
  try {
    return createSecretKey(raw);
  } finally {
    raw.fill(0);
  }
}

export function formatMasterKey(raw: Buffer): string {
  return `${raw.toString('hex')}\n`;
}
