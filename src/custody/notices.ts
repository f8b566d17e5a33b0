// Customer notice: whose account holders may now be told of a demand, and which demands go back to the customer.
import { readCustodyRecords, stringArray } from './read-log.js';
import { verifyCustodyLog } from './verify-log.js';

export interface NoticesOptions {
  logFile: string;
  asOf: Date;
}

export interface NoticeDue {
  orderId: string;
  accounts: string[];
  /** Enterprise accounts among them: their organisation (the customer) is told as well. */
  enterpriseAccounts: string[];
  /** When the holders could first be told: the end of the non-disclosure order, or null when there was none. */
  notifyFrom: string | null;
}

export interface NoticeWithheld {
  orderId: string;
  accounts: string[];
  enterpriseAccounts: string[];
  /** The non-disclosure order runs until this time. */
  until: string;
}

export interface RedirectDue {
  orderId: string;
  /** When the demand was refused for redirection. */
  refusedAt: string;
  /** Accounts or target count the demand named, as far as the log knows them. */
  accounts: string[];
  targets: number | null;
}

export interface NoticesResult {
  asOf: string;
  /** Whether the log passed audit verification: a forged or edited record could tell holders of a demand under a gag. */
  logVerified: boolean;
  notify: NoticeDue[];
  withheld: NoticeWithheld[];
  redirect: RedirectDue[];
}

/**
 * Each export logs a 'notification.due' event; the latest one per order counts (a forced re-export replaces it).
 * Enterprise demands refused with ENTERPRISE_REDIRECT must be sent to the customer, unless the same order was later
 * sealed (the customer then consented or could not be reached). Only events up to `asOf` are considered.
 */
export async function notices(options: NoticesOptions): Promise<NoticesResult> {
  const asOf = options.asOf.getTime();
  const due = new Map<string, { accounts: string[]; enterpriseAccounts: string[]; notifyFrom: string | null }>();
  const redirects = new Map<string, RedirectDue>();
  for await (const record of readCustodyRecords(options.logFile)) {
    if (!(Date.parse(record.time) <= asOf)) continue;
    const details = record.details;
    switch (record.event) {
      case 'notification.due': {
        const notifyFrom = typeof details['notifyFrom'] === 'string' ? details['notifyFrom'] : null;
        due.set(record.orderId, {
          accounts: stringArray(details['accounts']),
          enterpriseAccounts: stringArray(details['enterpriseAccounts']),
          notifyFrom,
        });
        break;
      }
      case 'order.refused':
        if (stringArray(details['reasons']).includes('ENTERPRISE_REDIRECT')) {
          redirects.set(record.orderId, {
            orderId: record.orderId,
            refusedAt: record.time,
            accounts: [...new Set([...stringArray(details['accounts']), ...stringArray(details['enterpriseAccounts'])])],
            targets: typeof details['targets'] === 'number' ? details['targets'] : null,
          });
        }
        break;
      case 'export.sealed':
        redirects.delete(record.orderId);
        break;
      default:
        break;
    }
  }
  const notify: NoticeDue[] = [];
  const withheld: NoticeWithheld[] = [];
  for (const [orderId, entry] of due) {
    const until = entry.notifyFrom === null ? null : Date.parse(entry.notifyFrom);
    if (until === null || (Number.isFinite(until) && until <= asOf)) {
      notify.push({ orderId, ...entry });
    } else {
      // An unreadable date keeps the holders uninformed: withholding is the safe side of a gag order.
      withheld.push({ orderId, accounts: entry.accounts, enterpriseAccounts: entry.enterpriseAccounts, until: entry.notifyFrom ?? '' });
    }
  }
  const byId = <T extends { orderId: string }>(a: T, b: T) => (a.orderId < b.orderId ? -1 : a.orderId > b.orderId ? 1 : 0);
  const audit = await verifyCustodyLog(options.logFile);
  return {
    asOf: options.asOf.toISOString(),
    logVerified: audit.ok,
    notify: notify.sort(byId),
    withheld: withheld.sort(byId),
    redirect: [...redirects.values()].sort(byId),
  };
}
