// The keys scopex holds (the master key, each account's data key as wrapped and as unwrapped), for telling a target
// value that is one of them from an identifier the account directory holds. A target that looks like key material is
// let through when the directory holds it (a GUID without dashes, a hashed alias); a directory that holds a key as an
// identifier must not carry that key into an approved order and a sealed archive.
import { readFileSync } from 'node:fs';
import { dataKeysSchema, unwrapDataKey } from './data-keys.js';
import { loadMasterKey } from './master-key.js';

const MIN_KEY_BYTES = 16;

export interface HeldKeyFiles {
  masterKeyFile: string;
  dataKeysFile: string;
}

/**
 * Whether `value` holds one of the keys in these files, written as hex (any case, any separators, `0x` or `\x`
 * prefixes), base64 or base64url, or a list of decimal bytes. Best effort: a file that cannot be read or used adds
 * no key (the command that needs it fails on its own). The keys are read at each call, and their bytes wiped after it.
 */
export function holdsHeldKey(files: HeldKeyFiles, value: string): boolean {
  const keys = readHeldKeys(files);
  try {
    const forms = writtenForms(value);
    return keys.some((key) => matches(forms, key));
  } finally {
    for (const key of keys) key.fill(0);
  }
}

interface WrittenForms {
  /** The value's hexadecimal digits alone, in lower case, prefixes dropped. */
  hex: string;
  /** The value without blanks, dots and padding, in the base64 alphabet (base64url's '-' and '_' as '+' and '/'). */
  base64: string;
  /** The value's decimal numbers, comma-joined with a comma at each end. */
  decimal: string;
}

function writtenForms(value: string): WrittenForms {
  return {
    hex: value.replace(/\\x|0x/gi, '').toLowerCase().replace(/[^0-9a-f]/g, ''),
    base64: value.replace(/[\s.=]/g, '').replaceAll('-', '+').replaceAll('_', '/'),
    decimal: `,${(value.match(/\d+/g) ?? []).map(Number).join(',')},`,
  };
}

function matches(forms: WrittenForms, key: Buffer): boolean {
  return (
    forms.hex.includes(key.toString('hex')) ||
    forms.base64.includes(key.toString('base64').replace(/=+$/, '')) ||
    forms.decimal.includes(`,${[...key].join(',')},`)
  );
}

function readHeldKeys(files: HeldKeyFiles): Buffer[] {
  const keys: Buffer[] = [];
  let master;
  try {
    master = loadMasterKey(files.masterKeyFile);
    keys.push(master.export());
  } catch {
    master = undefined;
  }
  let accounts: Record<string, { state: string; wrapped?: string }> = {};
  try {
    const parsed = dataKeysSchema.safeParse(JSON.parse(readFileSync(files.dataKeysFile, 'utf8')));
    if (parsed.success) accounts = parsed.data.accounts;
  } catch {
    // No data keys to compare: the key service refuses the file when it is used.
  }
  for (const [accountId, entry] of Object.entries(accounts)) {
    if (entry.wrapped === undefined) continue;
    const wrapped = Buffer.from(entry.wrapped, 'base64');
    // A key is 32 bytes (60 wrapped): a much shorter value is no key to look for, and would match by chance.
    if (wrapped.length >= MIN_KEY_BYTES) keys.push(wrapped);
    if (!master) continue;
    try {
      keys.push(unwrapDataKey(master, accountId, entry.wrapped).export());
    } catch {
      // A wrapped key that does not open is compared as written only.
    }
  }
  return keys;
}
