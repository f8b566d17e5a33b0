// The account directory read from stores/directory.json: which accounts an exact identifier names.
import * as z from '../util/zod.js';
import { describeZodError, readJsonFile } from '../config.js';
import { InputError } from '../errors.js';
import { TARGET_TYPES, type TargetType } from '../order/schema.js';
import { safeSegment } from '../seal/safe-names.js';
import type { Account, AccountDirectory } from './account-directory.js';

export interface FileDirectoryOptions {
  /** Absolute path of directory.json (W/stores/directory.json). */
  file: string;
}

/**
 * Account ids become folder names in every store and in every archive, so they are safe ASCII and never "." or "..";
 * createFileDirectory also refuses a device name (`con`, `NUL.x`), a trailing dot and two ids that differ only in case.
 */
export const ACCOUNT_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export const directorySchema = z.strictObject({
  schema: z.literal('scopex.directory/v1'),
  accounts: z.array(
    z.strictObject({
      id: z.string().check(z.regex(ACCOUNT_ID_PATTERN, 'an account id of letters, digits, ".", "_" or "-" (at most 128)')),
      tenant: z.string().check(z.minLength(1)),
      tenantType: z.enum(['consumer', 'enterprise', 'customer-key']),
      identifiers: z.array(z.strictObject({ type: z.enum(TARGET_TYPES), value: z.string().check(z.minLength(1)) })),
    }),
  ),
});

/**
 * The form an identifier is compared in: emails ignore surrounding blanks and the case of ASCII letters, everything
 * else is exact. Only ASCII folds: Unicode lower-casing would make the KELVIN SIGN (U+212A) a "k", so that an address
 * that only looks the same would name the account.
 */
function comparable(type: TargetType, value: string): string {
  return type === 'email' ? value.trim().replace(/[A-Z]+/g, (letters) => letters.toLowerCase()) : value;
}

function key(type: TargetType, value: string): string {
  return `${type}\n${comparable(type, value)}`;
}

/**
 * The same key in Unicode's composed form (NFC): `josé` written with U+00E9 or with e and U+0301 shows the same. Targets
 * stay exact, but an identifier that matches one account exactly and another only in this form is ambiguous: the
 * reviewer could not tell from the order which of them it names.
 */
function canonicalKey(type: TargetType, value: string): string {
  // Folded before (a capital E before U+0301) and after (the KELVIN SIGN composes to a capital K).
  return key(type, comparable(type, value).normalize('NFC'));
}

export function createFileDirectory(options: FileDirectoryOptions): AccountDirectory {
  if (!options.file) throw new InputError('CONFIG_INVALID', 'the account directory needs the path of directory.json');
  const raw = readJsonFile(options.file, 'account directory');
  const parsed = directorySchema.safeParse(raw);
  if (!parsed.success) {
    throw new InputError('SCHEMA_VIOLATION', `account directory ${options.file}: ${describeZodError(parsed.error)}`);
  }

  const byId = new Map<string, Account>();
  const byFoldedId = new Map<string, string>();
  const byIdentifier = new Map<string, Account[]>();
  const byCanonical = new Map<string, Account[]>();
  for (const [index, account] of parsed.data.accounts.entries()) {
    if (byId.has(account.id)) {
      throw new InputError(
        'SCHEMA_VIOLATION',
        `account directory ${options.file}: field accounts.${index}.id: account id ${account.id} appears more than once, ids must be unique`,
      );
    }
    // The id is the account's folder in the archive as it is: one a file system would rename or merge with another's
    // would leave an archive whose folders name no account, or an order for both that cannot be sealed.
    if (safeSegment(account.id) !== account.id) {
      throw new InputError(
        'SCHEMA_VIOLATION',
        `account directory ${options.file}: field accounts.${index}.id: account id ${account.id} cannot be a folder name (a device name such as CON, or a trailing dot)`,
      );
    }
    const twin = byFoldedId.get(account.id.toLowerCase());
    if (twin !== undefined) {
      throw new InputError(
        'SCHEMA_VIOLATION',
        `account directory ${options.file}: field accounts.${index}.id: account id ${account.id} differs from account id ${twin} only in case, and ids name folders`,
      );
    }
    byId.set(account.id, account);
    byFoldedId.set(account.id.toLowerCase(), account.id);
    // An account-id identifier names the account it is listed under, or an order for one account would resolve to another.
    const foreign = account.identifiers.findIndex((identifier) => identifier.type === 'account-id' && identifier.value !== account.id);
    if (foreign >= 0) {
      throw new InputError(
        'SCHEMA_VIOLATION',
        `account directory ${options.file}: field accounts.${index}.identifiers.${foreign}: an account-id identifier of account ${account.id} must be ${account.id}`,
      );
    }
    const keys = new Set(account.identifiers.map((identifier) => key(identifier.type, identifier.value)));
    for (const k of keys) {
      const list = byIdentifier.get(k);
      if (list) list.push(account);
      else byIdentifier.set(k, [account]);
    }
    for (const k of new Set(account.identifiers.map((identifier) => canonicalKey(identifier.type, identifier.value)))) {
      const list = byCanonical.get(k);
      if (list) list.push(account);
      else byCanonical.set(k, [account]);
    }
  }

  return {
    resolve(target) {
      const exact = byIdentifier.get(key(target.type, target.value)) ?? [];
      if (exact.length === 0) return [];
      // Every account that holds it in either Unicode form: more than one, and the order is refused as ambiguous.
      const canonical = byCanonical.get(canonicalKey(target.type, target.value)) ?? [];
      return [...exact, ...canonical.filter((account) => !exact.includes(account))];
    },
    get(accountId) {
      return byId.get(accountId);
    },
  };
}
