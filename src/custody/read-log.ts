// Reading the custody log for figures and notices: one record at a time, never the whole file.
import { createReadStream, promises as fs } from 'node:fs';
import readline from 'node:readline';
import { describeFsError, InputError } from '../errors.js';
import { isInstant } from '../order/schema.js';
import type { CustodyRecord } from './custody-log.js';
import { parseRecord } from './file-custody-log.js';

/** FILE_UNREADABLE unless `file` is a regular file this process can read (a folder would fail mid-read). */
export async function checkLogReadable(file: string): Promise<void> {
  let problem: string | undefined;
  try {
    await fs.access(file, fs.constants.R_OK);
    const stat = await fs.stat(file);
    if (stat.isDirectory()) problem = 'it is a folder';
    else if (!stat.isFile()) problem = 'it is not a regular file';
  } catch (error) {
    throw new InputError('FILE_UNREADABLE', `cannot read custody log ${file}: ${describeFsError(error)}`, { cause: error });
  }
  if (problem) throw new InputError('FILE_UNREADABLE', `cannot read custody log ${file}: ${problem}`);
}

/**
 * Every well-formed record of the log, in file order. Lines that are not records are skipped (audit verify names them).
 * With `containing`, lines without that text are skipped before they are parsed (a search for one order's records in
 * a large log). A reader that stops early closes the file.
 */
export async function* readCustodyRecords(file: string, containing?: string): AsyncGenerator<CustodyRecord> {
  await checkLogReadable(file);
  const input = createReadStream(file, { encoding: 'utf8' });
  const lines = readline.createInterface({ input, crlfDelay: Infinity });
  try {
    for await (const line of lines) {
      if (containing !== undefined && !line.includes(containing)) continue;
      const record = parseRecord(line);
      if (record) yield record;
    }
  } finally {
    lines.close();
    input.destroy();
  }
}

/**
 * A day ("2026-06-30") or an instant with a zone. A bare day means the start of that day (UTC) for a lower bound and
 * its last millisecond for an upper bound, so that ranges are inclusive at both ends. The day must be on the calendar
 * (Date would roll 2026-02-30 over to 2 March): the check orders' dates pass, `isInstant`.
 */
export function parseInstant(text: string, bound: 'start' | 'end', flag: string): Date {
  const day = /^\d{4}-\d{2}-\d{2}$/.test(text);
  const iso = day ? `${text}T${bound === 'start' ? '00:00:00.000' : '23:59:59.999'}Z` : text;
  const zoned = day || /(Z|[+-]\d{2}:\d{2})$/i.test(text);
  const value = new Date(iso);
  if (!zoned || Number.isNaN(value.getTime()) || !/^\d{4}-\d{2}-\d{2}/.test(text)) {
    throw new InputError('USAGE', `${flag} ${JSON.stringify(text)}: expected a day (2026-06-30) or an ISO time with a zone (2026-06-30T12:00:00Z)`);
  }
  if (!isInstant(`${text.slice(0, 10)}T00:00:00Z`)) {
    throw new InputError('USAGE', `${flag} ${JSON.stringify(text)}: ${text.slice(0, 10)} is not a day of the calendar`);
  }
  return value;
}

export function stringArray(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}
