// scopex notify [--as-of DATE]: who may now be told of a demand, and which demands go back to the customer.
import type { Argv, CommandModule } from 'yargs';
import type { NoticesResult } from '../custody/notices.js';
import { AbortedError, IntegrityError } from '../errors.js';
import { describeInterrupt, whileInterruptible } from '../util/interrupts.js';
import { redactKeyMaterial } from '../util/key-material.js';
import { configFrom, printResult, type GlobalArgs } from './common.js';

interface NotifyArgs extends GlobalArgs {
  asOf?: string;
  log?: string;
}

export const notifyCommand: CommandModule<GlobalArgs, NotifyArgs> = {
  command: 'notify',
  describe: 'accounts whose holders may now be told of a demand, and enterprise demands to redirect to the customer',
  builder: (y: Argv<GlobalArgs>) =>
    y
      .option('as-of', { type: 'string', describe: 'the day (or ISO time) to judge non-disclosure orders at (default: now)' })
      .option('log', { type: 'string', describe: 'custody log file (default: the one in the config)' })
      .example('$0 notify', 'who may be told today')
      .example('$0 notify --as-of 2027-07-01 --json', 'who may be told on 1 July 2027, as JSON') as Argv<NotifyArgs>,
  handler: async (args) => {
    const [{ notices }, { parseInstant }] = await Promise.all([import('../custody/notices.js'), import('../custody/read-log.js')]);
    const asOf = args.asOf ? parseInstant(args.asOf, 'end', '--as-of') : new Date();
    const logFile = args.log ?? configFrom(args).custodyLogFile;
    const result = await whileInterruptible(() => notices({ logFile, asOf }), {
      reason: (signal) => new AbortedError('ABORTED', `notify was interrupted (${describeInterrupt(signal)}); nothing was reported`),
      stopAtOnce: true,
    });
    const shown = shownNotices(result);
    printResult(args, shown, () => describeNotices(shown));
    if (!result.logVerified) {
      // Printed (marked) for the record, but nobody may be told on the word of a log that fails audit: a forged or
      // edited record could end a non-disclosure order early.
      const error = new IntegrityError(
        'AUDIT_LOG_BROKEN',
        `custody log ${logFile} fails audit verification, so these notices may not reflect what was logged: tell nobody on their word; run scopex audit verify ${logFile}`,
      );
      throw Object.assign(error, { resultPrinted: true });
    }
  },
};

/**
 * The notices as printed. A log written before order ids that look like key material were refused (or written by
 * another tool) may still hold such an id: the log stays as it is, but the id is not shown.
 */
function shownNotices(result: NoticesResult): NoticesResult {
  const shownId = <T extends { orderId: string }>(entry: T): T => ({ ...entry, orderId: redactKeyMaterial(entry.orderId) });
  return { ...result, notify: result.notify.map(shownId), withheld: result.withheld.map(shownId), redirect: result.redirect.map(shownId) };
}

export function describeNotices(result: NoticesResult): string {
  const lines = [`as of ${result.asOf}${result.logVerified ? '' : '  (WARNING: custody log fails audit verification)'}`];
  lines.push(result.notify.length ? 'may be told now:' : 'nobody may be told yet');
  for (const n of result.notify) {
    const enterprise = n.enterpriseAccounts.length ? `; enterprise customer of ${n.enterpriseAccounts.join(', ')}` : '';
    lines.push(`  ${n.orderId}: ${n.accounts.join(', ') || '(no accounts)'} (${n.notifyFrom ? `non-disclosure ended ${n.notifyFrom}` : 'no non-disclosure order'}${enterprise})`);
  }
  if (result.withheld.length) {
    lines.push('still under a non-disclosure order:');
    for (const w of result.withheld) lines.push(`  ${w.orderId}: ${w.accounts.join(', ')} until ${w.until}`);
  }
  if (result.redirect.length) {
    lines.push('enterprise demands to redirect to the customer:');
    for (const r of result.redirect) {
      const named = r.accounts.length ? r.accounts.join(', ') : r.targets !== null ? `${r.targets} target(s)` : '';
      lines.push(`  ${r.orderId}: refused ${r.refusedAt}${named ? ` (${named})` : ''}`);
    }
  }
  return lines.join('\n');
}
