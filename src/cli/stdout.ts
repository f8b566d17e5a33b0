// Writing a command's result to stdout, and knowing whether it all got there. A result that could not be written (a
// full disk, an I/O error) must not end as a success: `scopex report transparency --csv > figures.csv && publish
// figures.csv` went on with an empty file, and `batch --json` left JSON cut off in the middle of a record, at exit 0.
import { fstatSync, readlinkSync, writeSync } from 'node:fs';
import { isatty } from 'node:tty';
import { describeFsError, EXIT, InputError } from '../errors.js';

let firstError: Error | undefined;
let direct: boolean | undefined;

/**
 * Keeps the first error a write to stdout ends in (a pipe's or a terminal's, reported later), from before anything is
 * written; without a listener Node either dropped it, when process.exit came first, or died of it with a stack trace.
 * stderr gets a listener too: when it cannot be written there is no one to tell.
 */
export function watchStdout(): void {
  process.stdout.on('error', (error: Error) => {
    firstError ??= error;
  });
  process.stderr.on('error', () => undefined);
}

/**
 * Writes all of `text` to stdout. Redirected to a file or a device, stdout is written synchronously by Node, which
 * ignores a short write: on a disk that fills up, the rest of the text was dropped without an error. There, the text
 * is written here until every byte is taken or the system refuses (ENOSPC, EIO).
 */
export function writeStdout(text: string): void {
  if (firstError) return;
  direct ??= writesSynchronously();
  if (!direct) {
    process.stdout.write(text);
    return;
  }
  const bytes = Buffer.from(text, 'utf8');
  try {
    for (let offset = 0; offset < bytes.length; ) offset += writeSync(1, bytes, offset);
  } catch (error) {
    firstError ??= error as Error;
  }
}

/**
 * What a failed write to stdout stands for, or undefined when all was written. EPIPE is a reader that went away
 * (`| head -1`): it took what it wanted, and that is no failure of scopex.
 */
export function stdoutFailure(): InputError | undefined {
  const code = (firstError as NodeJS.ErrnoException | undefined)?.code;
  if (!firstError || code === 'EPIPE') return undefined;
  return new InputError(
    'OUTPUT_UNWRITABLE',
    `cannot write the output to ${stdoutTarget() ?? 'standard output'}: ${describeFsError(firstError)}; what it holds is incomplete.`,
    { cause: firstError },
  );
}

/**
 * The exit code once stdout failed: a command that succeeded now fails as an output that cannot be written (exit 2);
 * one that had already failed keeps its code (the first failure), and stderr says both.
 */
export function exitCodeAfterStdoutFailure(exitCode: number): number {
  return exitCode === EXIT.ok ? EXIT.input : exitCode;
}

/** Whether stdout is a file or a device other than a terminal (where Node writes it with fs.writeSync). */
function writesSynchronously(): boolean {
  try {
    const stats = fstatSync(1);
    return stats.isFile() || stats.isBlockDevice() || (stats.isCharacterDevice() && !isatty(1));
  } catch {
    return false;
  }
}

/** The file stdout was redirected to, where the system says (Linux); undefined for a pipe, a socket or elsewhere. */
function stdoutTarget(): string | undefined {
  try {
    const target = readlinkSync('/proc/self/fd/1');
    return target.startsWith('/') ? target : undefined;
  } catch {
    return undefined;
  }
}
