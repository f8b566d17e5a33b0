// A private key file, or the file of wrapped data keys, that other users may read or write: refused, not used.
import type { Stats } from 'node:fs';
import { KeyError, type KeyErrorCode } from '../errors.js';

/**
 * Throws when `stats` (of the file opened, so of a symbolic link's target) give the group or other users any access:
 * as ssh refuses such a private key, since a key anyone on the host can read may already have leaked, and one anyone
 * can write may have been swapped. `what` names the file as the message starts: "the master key file".
 */
export function refuseKeyFileOpenToOthers(stats: Pick<Stats, 'mode'>, what: string, file: string, code: KeyErrorCode): void {
  if ((stats.mode & 0o077) === 0) return;
  const octal = (stats.mode & 0o777).toString(8).padStart(4, '0');
  throw new KeyError(code, `${what} ${file} is open to other users (mode ${octal}); it must be readable by its owner only (chmod 600 ${file})`);
}
