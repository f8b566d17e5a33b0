// Where an archive of decrypted data must not be written: into the stores or beside the keys and the custody log.
import { realpathSync, statSync } from 'node:fs';
import path from 'node:path';
import type { ScopexConfig } from '../config.js';
import { InputError } from '../errors.js';

/**
 * Refuses (exit 2, USAGE) an `--out` that is the stores folder or inside it (encrypted at rest: a plaintext copy there
 * undoes that), or the folder of the master key, the data keys, the signer's key or the custody log (a plaintext
 * archive beside the master key or in the log's folder would be shared or backed up with them). Only those folders
 * themselves: one beneath a key's folder is the user's layout (the key may sit in the folder of the config). Paths
 * are compared after their symbolic links are resolved, as far as they exist, and folders also by device and inode,
 * so that a second name of one (a bind mount) is the same folder.
 */
export function refuseProtectedOutDir(outDir: string, config: ScopexConfig): void {
  const out = realLocation(outDir);
  const stores = realLocation(config.storesRoot);
  // The folders --out is in (itself first, when it exists), by device and inode.
  const outFolders = existingFoldersOf(out);
  const storesId = folderIdentity(stores);
  if (out === stores || out.startsWith(`${stores}${path.sep}`) || (storesId !== null && outFolders.includes(storesId))) {
    throw new InputError('USAGE', `--out ${outDir} is inside the stores folder ${config.storesRoot}, which holds data encrypted at rest; choose a folder outside it`);
  }
  const beside: [string, string][] = [
    ['master key', config.masterKeyFile],
    ['data keys', config.dataKeysFile],
    ["signer's key", config.signerKeyFile],
    ['custody log', config.custodyLogFile],
  ];
  for (const [what, file] of beside) {
    const folder = realLocation(path.dirname(file));
    const folderId = folderIdentity(folder);
    if (out === folder || (folderId !== null && folderIdentity(out) === folderId)) {
      throw new InputError('USAGE', `--out ${outDir} is the folder of the ${what} ${file}; choose a folder that holds no key or custody log`);
    }
  }
}

/** A folder's device and inode, or null when it is not an existing folder. */
function folderIdentity(folder: string): string | null {
  try {
    const found = statSync(folder, { bigint: true });
    return found.isDirectory() ? `${found.dev}:${found.ino}` : null;
  } catch {
    return null;
  }
}

/** The identities of `folder` (when it exists) and of each folder above it, up to the root. */
function existingFoldersOf(folder: string): string[] {
  const found: string[] = [];
  for (let current = folder; ; current = path.dirname(current)) {
    const identity = folderIdentity(current);
    if (identity !== null) found.push(identity);
    if (path.dirname(current) === current) return found;
  }
}

/** `target` made absolute with the symbolic links of its longest existing part resolved; the rest as given. */
function realLocation(target: string): string {
  let existing = path.resolve(target);
  const rest: string[] = [];
  for (;;) {
    try {
      return path.join(realpathSync(existing), ...rest);
    } catch {
      const parent = path.dirname(existing);
      if (parent === existing) return path.resolve(target);
      rest.unshift(path.basename(existing));
      existing = parent;
    }
  }
}
