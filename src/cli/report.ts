// scopex report transparency --from D --to D: the transparency-report figures, from the custody log.
import type { Argv, CommandModule } from 'yargs';
import type { PeriodFigures, TransparencyReport } from '../custody/transparency.js';
import { AbortedError, InputError, IntegrityError } from '../errors.js';
import { describeInterrupt, whileInterruptible } from '../util/interrupts.js';
import { configFrom, printResult, type GlobalArgs } from './common.js';
import { writeStdout } from './stdout.js';

interface TransparencyArgs extends GlobalArgs {
  from: string;
  to: string;
  csv: boolean;
  log?: string;
  periods: 'half-year' | 'whole';
}

const transparencyCommand: CommandModule<GlobalArgs, TransparencyArgs> = {
  command: 'transparency',
  describe: 'orders received, refused (and why), accounts, disclosures; national-security letters only in bands of 500',
  builder: (y: Argv<GlobalArgs>) =>
    y
      .option('from', { type: 'string', demandOption: true, describe: 'first day (or ISO time) of the window, inclusive' })
      .option('to', { type: 'string', demandOption: true, describe: 'last day (or ISO time) of the window, inclusive' })
      .option('csv', { type: 'boolean', default: false, describe: 'print the figures as CSV (period_from,period_to,figure,value)' })
      .option('periods', { choices: ['half-year', 'whole'] as const, default: 'half-year' as const, describe: 'split the window into half-years, or not' })
      .option('log', { type: 'string', describe: 'custody log file (default: the one in the config)' })
      .example('$0 report transparency --from 2026-01-01 --to 2026-12-31', 'figures for 2026, one column per half-year')
      .example('$0 report transparency --from 2026-07-01 --to 2026-12-31 --csv', 'the second half of 2026 as CSV')
      .epilogue(
        'Exit codes: 0 done, 2 bad flags or an unreadable log, 4 the custody log fails audit verification (the figures are still printed, marked as such).',
      ) as Argv<TransparencyArgs>,
  handler: async (args) => {
    if (args.csv && args.json) throw new InputError('USAGE', '--csv and --json are mutually exclusive: pick one output format');
    const [{ countHalfYears, MAX_HALF_YEARS, transparencyCsv, transparencyReport }, { parseInstant }] = await Promise.all([
      import('../custody/transparency.js'),
      import('../custody/read-log.js'),
    ]);
    const from = parseInstant(args.from, 'start', '--from');
    const to = parseInstant(args.to, 'end', '--to');
    if (from.getTime() > to.getTime()) throw new InputError('USAGE', `--from ${args.from} is after --to ${args.to}`);
    const halfYears = countHalfYears(from, to);
    if (args.periods === 'half-year' && halfYears > MAX_HALF_YEARS) {
      throw new InputError(
        'USAGE',
        `--from ${args.from} to --to ${args.to} spans ${halfYears} half-years; a report has at most ${MAX_HALF_YEARS} half-years (50 years): narrow the window, or give --periods whole for one column`,
      );
    }
    const logFile = args.log ?? configFrom(args).custodyLogFile;
    const report = await whileInterruptible(() => transparencyReport({ logFile, from, to, periods: args.periods }), {
      reason: (signal) => new AbortedError('ABORTED', `the transparency report was interrupted (${describeInterrupt(signal)}); nothing was reported`),
      stopAtOnce: true,
    });
    if (args.csv) {
      if (!args.quiet) writeStdout(transparencyCsv(report));
    } else {
      printResult(args, report, () => describeTransparency(report));
    }
    if (!report.logVerified) {
      // The figures are printed (marked) for the record, but a script reading them must not take them as sound.
      const error = new IntegrityError(
        'AUDIT_LOG_BROKEN',
        `custody log ${logFile} fails audit verification, so the figures may not reflect what was logged; run scopex audit verify ${logFile}`,
      );
      throw Object.assign(error, { resultPrinted: true });
    }
  },
};

export function describeTransparency(report: TransparencyReport): string {
  const columns: PeriodFigures[] = report.periods.length > 1 ? [...report.periods, report.total] : [report.total];
  const heads = columns.map((p) => (p === report.total && report.periods.length > 1 ? 'total' : `${p.from.slice(0, 10)}..${p.to.slice(0, 10)}`));
  const reasons = [...new Set(columns.flatMap((p) => Object.keys(p.refusalReasons)))].sort();
  const rows: [string, (p: PeriodFigures) => string | number][] = [
    ['orders received', (p) => p.ordersReceived],
    ['orders refused', (p) => p.ordersRefused],
    ...reasons.map((r): [string, (p: PeriodFigures) => number] => [`  refused: ${r}`, (p) => p.refusalReasons[r] ?? 0]),
    ['accounts specified', (p) => p.accountsSpecified],
    ['content disclosed', (p) => p.contentDisclosed],
    ['only non-content disclosed', (p) => p.nonContentOnly],
    ['no data found', (p) => p.noDataFound],
    ['not completed', (p) => p.notCompleted],
    ['national-security letters', (p) => p.nationalSecurityLetters.ordersReceived],
    ['  accounts specified (NSL)', (p) => p.nationalSecurityLetters.accountsSpecified],
  ];
  const labelWidth = Math.max(...rows.map(([label]) => label.length));
  const widths = heads.map((h, i) => Math.max(h.length, ...rows.map(([, f]) => String(f(columns[i]!)).length)));
  const line = (label: string, cells: string[]) =>
    `${label.padEnd(labelWidth)}  ${cells.map((c, i) => c.padStart(widths[i]!)).join('  ')}`.trimEnd();
  return [
    `transparency report ${report.from} .. ${report.to}${report.logVerified ? '' : '  (WARNING: custody log fails audit verification)'}`,
    line('', heads),
    ...rows.map(([label, f]) => line(label, columns.map((p) => String(f(p))))),
    'national-security-letter figures are given only in bands of 500 and are left out of every other figure',
  ].join('\n');
}

export const reportCommand: CommandModule<GlobalArgs, GlobalArgs> = {
  command: 'report <command>',
  describe: 'reports computed from the custody log',
  builder: (y: Argv<GlobalArgs>) =>
    y
      .command(transparencyCommand)
      .demandCommand(1, 'name a report: transparency')
      .example('$0 report transparency --from 2026-01-01 --to 2026-06-30', 'transparency figures for a half-year'),
  handler: () => undefined,
};
