// The master key file: 64 hex characters (32 bytes), readable by its owner only.
import { createSecretKey, type KeyObject } from 'node:crypto';
import { statSync } from 'node:fs';
import { describeFsError, KeyError } from '../errors.js';
import { readInputFileSync } from '../util/read-input-file.js';
import { refuseKeyFileOpenToOthers } from './key-file-mode.js';

export function loadMasterKey(file: string): KeyObject {
  let text: string;
  let mode = 0;
  try {
    text = readInputFileSync(file, (stats) => (mode = stats.mode)).toString('utf8').trim();
  } catch (error) {
    throw new KeyError('MASTER_KEY_UNAVAILABLE', `cannot read the master key file ${file}: ${describeFsError(error)}`);
  }
  // As ssh does with a private key: a master key others may read (or write) is refused, not used.
  refuseKeyFileOpenToOthers({ mode }, 'the master key file', file, 'MASTER_KEY_UNAVAILABLE');
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

/**
 * Refuses a master key file that other users may read or write, when there is one; its content is not read. A batch
 * checks this before any order runs (an export checks it when it loads the key): one that cannot be read at all is
 * left to the orders that need it, since an order of customer-key accounts alone never reads it.
 */
export function refuseMasterKeyOpenToOthers(file: string): void {
  let stats;
  try {
    stats = statSync(file);
  } catch {
    return;
  }
  refuseKeyFileOpenToOthers(stats, 'the master key file', file, 'MASTER_KEY_UNAVAILABLE');
}

export function formatMasterKey(raw: Buffer): string {
  return `${raw.toString('hex')}\n`;
}
