// Reading a file the user named (an order, a config, a certificate, a key): a regular file only, and never a wait.
//
// A plain open() of a FIFO waits for a writer, for ever, before any check can run (and a synchronous read of one
// blocks the thread, so that not even Ctrl-C gets through). O_NONBLOCK makes the open return at once and changes
// nothing for a regular file; fstat on the open file then refuses anything else before a byte is read.
import { closeSync, constants, fstatSync, openSync, readFileSync, type Stats } from 'node:fs';
import { open } from 'node:fs/promises';
import { NotRegularFileError } from '../errors.js';

/** The flags to open a user-named input file with: read-only, and no waiting for a FIFO's writer. */
export const INPUT_OPEN_FLAGS = constants.O_RDONLY | constants.O_NONBLOCK;

/**
 * The whole file, which must be a regular file; errors are Node's (ENOENT, EACCES, ...) or NotRegularFileError.
 * `inspect` sees the open file's stats before a byte is read (and may throw).
 */
export function readInputFileSync(file: string, inspect?: (stats: Stats) => void): Buffer {
  const fd = openSync(file, INPUT_OPEN_FLAGS);
  try {
    const stats = fstatSync(fd);
    if (!stats.isFile()) throw new NotRegularFileError(file, stats.isDirectory());
    inspect?.(stats);
    return readFileSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** readInputFileSync, without blocking the thread. */
export async function readInputFile(file: string, inspect?: (stats: Stats) => void): Promise<Buffer> {
  const handle = await open(file, INPUT_OPEN_FLAGS);
  try {
    const stats = await handle.stat();
    if (!stats.isFile()) throw new NotRegularFileError(file, stats.isDirectory());
    inspect?.(stats);
    return await handle.readFile();
  } finally {
    await handle.close();
  }
}
