// The output folder of an export or a batch: made with its missing parents, and those removed again when a run that
// made them leaves them empty (a run that fails leaves no folder of its own behind).
import { mkdir, rmdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { describeFsError, InputError } from '../errors.js';

/**
 * mkdir -p, one level at a time. Node 20's `mkdir(dir, { recursive: true })` never settles, spinning a core, when
 * a parent is a folder where nothing can be created (`/proc/x/y`); plain mkdir fails there with ENOENT. Returns the
 * folders it made, outermost first.
 */
async function makeFolder(folder: string): Promise<string[]> {
  try {
    await mkdir(folder);
    return [folder];
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === 'EEXIST') {
      if ((await stat(folder)).isDirectory()) return [];
      throw error;
    }
    const parent = path.dirname(folder);
    if (code !== 'ENOENT' || parent === folder) throw error;
    const made = await makeFolder(parent);
    try {
      await mkdir(folder);
      return [...made, folder];
    } catch (again) {
      if ((again as { code?: unknown }).code !== 'EEXIST' || !(await stat(folder)).isDirectory()) throw again;
      return made;
    }
  }
}

/** The output folder, made with its missing parents: the folders made, outermost first (OUTPUT_UNWRITABLE if it cannot be). */
export async function makeOutputFolder(outDir: string): Promise<string[]> {
  try {
    return await makeFolder(outDir);
  } catch (error) {
    throw new InputError('OUTPUT_UNWRITABLE', `cannot create output folder ${outDir}: ${describeFsError(error)}`, { cause: error });
  }
}

/** Removes `made` (outermost first) from the innermost out, as far as they are empty; never throws. */
export async function removeEmptyFolders(made: string[]): Promise<void> {
  for (const folder of made.toReversed()) {
    const removed = await rmdir(folder).then(
      () => true,
      () => false,
    );
    if (!removed) return;
  }
}
