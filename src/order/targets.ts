// Targets are exact identifiers: each must name one account. Patterns, wildcards, domains and tenants never resolve.
import { holdsHeldKey, type HeldKeyFiles } from '../keys/held-keys.js';
import type { Account, AccountDirectory } from '../sources/account-directory.js';
import type { OrderReason } from './approval-verify.js';
import { isExactTargetType, type KnownIdentifier, type OrderTarget, type Target } from './schema.js';

/** One account the order names, with the targets that named it. */
export interface ResolvedAccount {
  account: Account;
  targets: Target[];
}

/** Characters that make a value a pattern (glob, SQL LIKE, regular expression) rather than one identifier. */
const PATTERN_CHARACTERS = /[*?%[\]{}()|^$\\]/;

/** Why a target asks for more than one exact identifier, or null when it is exact. */
export function blanketProblem(target: OrderTarget): string | null {
  if (!isExactTargetType(target.type)) {
    return `a ${target.type} target names every account in it`;
  }
  if (PATTERN_CHARACTERS.test(target.value)) return 'it is a pattern or wildcard, not an exact identifier';
  if (/\s/.test(target.value)) return 'it contains blanks, so it is not one exact identifier';
  if (target.type === 'email') {
    const at = target.value.indexOf('@');
    if (at === -1 || at !== target.value.lastIndexOf('@')) return 'an email target needs exactly one "@"; without a mailbox it names a whole domain';
    if (at === 0) return 'it has no mailbox part, so it names a whole domain';
    if (at === target.value.length - 1) return 'it has no domain part';
  }
  return null;
}

export interface TargetResolution {
  reasons: OrderReason[];
  accounts: ResolvedAccount[];
}

/**
 * Resolves every target; a blanket, unknown or ambiguous one is a reason, and resolution goes on for the rest. An empty
 * list is a blanket demand too (DESIGN.md: "empty lists are refused: there is no blanket access").
 */
export function resolveTargets(targets: readonly OrderTarget[], directory: AccountDirectory): TargetResolution {
  const reasons: OrderReason[] = [];
  if (targets.length === 0) {
    reasons.push({ code: 'BLANKET_TARGET', message: 'field targets: the list is empty; expected at least one exact identifier, there is no blanket access' });
  }
  const byAccount = new Map<string, ResolvedAccount>();
  for (const [index, target] of targets.entries()) {
    const field = `field targets.${index} (${target.type} ${JSON.stringify(target.value)})`;
    const blanket = blanketProblem(target);
    if (blanket || !isExactTargetType(target.type)) {
      reasons.push({ code: 'BLANKET_TARGET', message: `${field}: ${blanket ?? 'not an exact identifier'}; there is no blanket access` });
      continue;
    }
    const exact: Target = { type: target.type, value: target.value };
    const found = lookup(exact, directory);
    if (found.length !== 1) {
      reasons.push({
        code: 'TARGET_UNRESOLVED',
        message:
          found.length === 0
            ? `${field}: no account has this identifier`
            : `${field}: ${found.length} accounts have this identifier; expected exactly one`,
      });
      continue;
    }
    const account = found[0]!;
    const entry = byAccount.get(account.id);
    if (entry) entry.targets.push(exact);
    else byAccount.set(account.id, { account, targets: [exact] });
  }
  return { reasons, accounts: [...byAccount.values()] };
}

function lookup(target: Target, directory: AccountDirectory): Account[] {
  // An account id names the account with that id, whatever identifiers other accounts list.
  if (target.type === 'account-id') {
    const account = directory.get(target.value);
    return account ? [account] : [];
  }
  const found = directory.resolve(target);
  // One account listed under two spellings of the same identifier is still one account.
  return [...new Map(found.map((account) => [account.id, account])).values()];
}

/**
 * The identifiers the directory holds, as the order schema asks (schema.ts, KnownIdentifier): a target value that looks
 * like key material is taken when it names an account, and is none of the keys in `keys` (a directory holding the
 * master key as an identifier must not carry it into an approved order and an archive). Not shown otherwise, so a
 * pasted key is never quoted back.
 */
export function directoryIdentifiers(directory: AccountDirectory, keys?: HeldKeyFiles): KnownIdentifier {
  return (target) => lookup(target, directory).length > 0 && !(keys !== undefined && holdsHeldKey(keys, target.value));
}
