// mkdir -p that always ends: Node's own recursive mkdir loops forever under /proc (mkdir says ENOENT for a parent
// that exists), so a user's mistyped --out there would hang the command instead of failing.
import { mkdirSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';

function isCode(error: unknown, code: string): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === code;
}

export async function ensureDir(dir: string): Promise<void> {
  const absolute = path.resolve(dir);
  try {
    await mkdir(absolute);
  } catch (error) {
    if (isCode(error, 'EEXIST')) return;
    const parent = path.dirname(absolute);
    if (!isCode(error, 'ENOENT') || parent === absolute) throw error;
    await ensureDir(parent);
    // A second ENOENT now means the parent exists but cannot hold folders: report it instead of retrying.
    await mkdir(absolute).catch((again: unknown) => {
      if (!isCode(again, 'EEXIST')) throw again;
    });
  }
}

export function ensureDirSync(dir: string): void {
  const absolute = path.resolve(dir);
  try {
    mkdirSync(absolute);
  } catch (error) {
    if (isCode(error, 'EEXIST')) return;
    const parent = path.dirname(absolute);
    if (!isCode(error, 'ENOENT') || parent === absolute) throw error;
    ensureDirSync(parent);
    try {
      mkdirSync(absolute);
    } catch (again) {
      if (!isCode(again, 'EEXIST')) throw again;
    }
  }
}
