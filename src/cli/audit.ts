// scopex audit verify [LOG]: checks the custody log's hash chain and names every broken record.
import path from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import type { AuditReport } from '../custody/verify-log.js';
import { AbortedError, IntegrityError } from '../errors.js';
import { describeInterrupt, whileInterruptible } from '../util/interrupts.js';
import { redactKeyMaterial } from '../util/key-material.js';
import { configFrom, printResult, type GlobalArgs } from './common.js';

interface AuditVerifyArgs extends GlobalArgs {
  log?: string;
}

const auditVerifyCommand: CommandModule<GlobalArgs, AuditVerifyArgs> = {
  command: 'verify [log]',
  describe: 'check the custody log: every record hash, the chain, the sequence and the tail',
  builder: (y: Argv<GlobalArgs>) =>
    y
      .positional('log', { type: 'string', describe: 'custody log file (default: the one in the config)' })
      .example('$0 audit verify', 'check the configured custody log')
      .example('$0 audit verify W/custody/custody.jsonl --json', 'check a given log, machine-readable') as Argv<AuditVerifyArgs>,
  handler: async (args) => {
    const file = args.log ? path.resolve(args.log) : configFrom(args).custodyLogFile;
    const { verifyCustodyLog } = await import('../custody/verify-log.js');
    const report = await whileInterruptible(() => verifyCustodyLog(file), {
      reason: (signal) => new AbortedError('ABORTED', `the check of custody log ${file} was interrupted (${describeInterrupt(signal)}); no verdict was reached`),
      stopAtOnce: true,
    });
    // A problem quotes what a line holds (a field name it should not have): not shown if it may be a key, on stdout as
    // on stderr.
    const shown = { ...report, file: redactKeyMaterial(report.file), failures: report.failures.map((failure) => ({ ...failure, problem: redactKeyMaterial(failure.problem) })) };
    printResult(args, shown, () => describeAudit(shown));
    if (!report.ok) {
      const first = report.failures[0];
      const count = report.failures.length + report.moreFailures;
      const error = new IntegrityError(
        'AUDIT_LOG_BROKEN',
        `custody log ${file} is broken: ${count} problem${count === 1 ? '' : 's'}${first ? `, first at seq ${first.seq}: ${first.problem}` : ''}`,
      );
      // The report above is the result; the entry point must not print a second JSON document.
      throw Object.assign(error, { resultPrinted: true });
    }
  },
};

export function describeAudit(report: AuditReport): string {
  const lines = [
    `custody log ${report.file}: ${report.records} record${report.records === 1 ? '' : 's'}, last seq ${report.lastSeq}` +
      (report.headChecked ? '' : report.records === 0 ? ' (a new log: no head file yet)' : ' (no head file)'),
  ];
  if (report.ok) {
    lines.push('intact: every hash, link and sequence number checks out');
    if (!report.headChecked && report.records > 0) {
      lines.push('its first append stopped before writing the head file; the next append writes it');
    }
  } else {
    for (const failure of report.failures) lines.push(`  seq ${failure.seq} (line ${failure.line}) ${failure.kind}: ${failure.problem}`);
    if (report.moreFailures > 0) lines.push(`  ... and ${report.moreFailures} more`);
  }
  return lines.join('\n');
}

export const auditCommand: CommandModule<GlobalArgs, GlobalArgs> = {
  command: 'audit <command>',
  describe: 'custody-log integrity',
  builder: (y: Argv<GlobalArgs>) =>
    y.command(auditVerifyCommand).demandCommand(1, 'name an audit command: verify').example('$0 audit verify', 'check the custody log'),
  handler: () => undefined,
};
