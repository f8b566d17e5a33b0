// scopex verify ARCHIVE --trust CA.pem [--order ORDER]: proves a delivered archive whole, authentic and in scope.
import path from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { AbortedError, InputError, IntegrityError } from '../errors.js';
import { describeInterrupt, whileInterruptible } from '../util/interrupts.js';
import { looksLikeKeyMaterial, redactKeyMaterial, redactKeyMaterialKeepingDigests } from '../util/key-material.js';
import type { AccountDirectory } from '../sources/account-directory.js';
import type { VerifyReport } from '../verify/verify.js';
import { configFrom, printResult, type GlobalArgs } from './common.js';

interface VerifyArgs extends GlobalArgs {
  archive: string;
  trust: string;
  order?: string;
  maxFailures: string;
}

export const verifyCommand: CommandModule<GlobalArgs, VerifyArgs> = {
  command: 'verify <archive>',
  describe: 'check a sealed archive: safe entries, signature and chain, every hash, Payload-Oxum, production.json, scope',
  builder: (y: Argv<GlobalArgs>) =>
    y
      .positional('archive', { type: 'string', demandOption: true, describe: 'the sealed <order-id>.zip' })
      .option('trust', { type: 'string', demandOption: true, describe: 'PEM file of the CA certificate(s) the signer must chain to' })
      .option('order', { type: 'string', describe: 'the order the archive must answer (its order.json must equal it)' })
      .option('max-failures', { type: 'string', default: '50', describe: 'list at most this many failures, 1 or more (all are counted)' })
      .example('$0 verify out/LE-2026-000123.zip --trust W/pki/ca.cert.pem', 'check an archive against the provider CA')
      .example('$0 verify out/LE-2026-000123.zip --trust ca.pem --order W/orders/approved-warrant.json --json', 'also check it answers this order, machine-readable')
      .epilogue(
        'An investigator needs no scopex config. With an explicit --config (the provider side), the order\'s targets are resolved in that config\'s account directory and every account of the archive must be one of theirs, and the verdict is also recorded in its custody log as an archive.verified event.',
      ) as unknown as Argv<VerifyArgs>,
  handler: async (args) => {
    const maxFailures = parseMaxFailures(args.maxFailures);
    const [{ verifyArchive }, { describeVerifyReport }] = await Promise.all([import('../verify/verify.js'), import('../verify/report-text.js')]);
    // Provider side: the config's account directory resolves the order's targets, so each account of the archive is
    // checked to be one of theirs (an investigator without a config gets the checks the archive alone allows).
    const directory = args.config !== undefined ? await accountDirectory(args) : undefined;
    // Verification writes nothing, so an interrupt ends it at once (with its JSON error under --json).
    const report = await whileInterruptible(
      () =>
        verifyArchive({
          archive: path.resolve(args.archive),
          trustFile: path.resolve(args.trust),
          orderFile: args.order ? path.resolve(args.order) : undefined,
          directory,
          maxFailures,
        }),
      {
        reason: (signal) => new AbortedError('ABORTED', `the verification of ${args.archive} was interrupted (${describeInterrupt(signal)}); no verdict was reached`),
        stopAtOnce: true,
      },
    );
    if (args.config !== undefined) await recordVerification(args, report);
    // Named by what was typed (ARCHIVE) and what the archive claims (its order id, entry names, paths, fields): none is
    // shown if it may be a key, on stdout as on stderr. The digests the checks write (`sha256 <hex>`) are kept.
    const shown = shownReport(report);
    printResult(args, shown, () => describeVerifyReport(shown));
    if (!report.ok) {
      const count = report.failures.length + report.failuresOmitted;
      const first = report.failures[0];
      const error = new IntegrityError(
        'VERIFY_FAILED',
        `archive ${args.archive} failed verification: ${count} failure${count === 1 ? '' : 's'}${first ? `, first [${first.check}] ${first.entry ?? 'archive'}: ${first.message}` : ''}`,
      );
      // The report above is the result; the entry point must not print a second JSON document.
      throw Object.assign(error, { resultPrinted: true });
    }
  },
};

/**
 * --max-failures as typed: a whole number of at least 1. As a yargs number, "abc" became NaN and "-1" or "2.5" were
 * taken as they are; and a report listing no failure would not name the first failure of each check.
 */
function parseMaxFailures(text: unknown): number {
  const typed = String(text).trim();
  const value = /^\d+$/.test(typed) ? Number(typed) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new InputError('USAGE', `--max-failures must be a whole number of at least 1; found ${JSON.stringify(String(text))}`);
  }
  return value;
}

/** The report with everything that came from the archive or was typed redacted (util/key-material.ts). */
function shownReport(report: VerifyReport): VerifyReport {
  const redact = redactKeyMaterialKeepingDigests;
  return {
    ...report,
    archive: redactKeyMaterial(report.archive),
    orderId: report.orderId === null ? null : redactKeyMaterial(report.orderId),
    checks: report.checks.map((check) => (check.detail === undefined ? check : { ...check, detail: redact(check.detail) })),
    failures: report.failures.map((failure) => ({
      ...failure,
      entry: failure.entry === null ? null : redact(failure.entry),
      message: redact(failure.message),
      expected: redact(failure.expected),
      found: redact(failure.found),
    })),
    signer: report.signer === null ? null : { ...report.signer, subject: redact(report.signer.subject), issuer: redact(report.signer.issuer) },
  };
}

/** The order id a verification is logged under when the archive names none (no order.json, no top folder). */
const UNKNOWN_ORDER_ID = 'unknown';

async function accountDirectory(args: VerifyArgs): Promise<AccountDirectory> {
  const config = configFrom(args);
  const { createFileDirectory } = await import('../sources/file-directory.js');
  return createFileDirectory({ file: path.join(config.storesRoot, 'directory.json') });
}

/**
 * Provider side: the verdict joins the custody log of the given config (the investigator's side has none). An archive
 * that names no order (a hostile one whose entries start with "/") is logged under UNKNOWN_ORDER_ID with
 * `orderIdKnown: false`: the log needs an order id, and a guess from the file name could pin it on a real order.
 * archive.verified is not an event that counts an order as received, so the marker adds no order to the figures.
 */
async function recordVerification(args: VerifyArgs, report: VerifyReport): Promise<void> {
  const config = configFrom(args);
  const { createFileCustodyLog } = await import('../custody/file-custody-log.js');
  // The id comes from the archive (its order.json, else its top folder), which may hold anything: a key is not logged.
  const orderId = report.orderId !== null && report.orderId !== '' && !looksLikeKeyMaterial(report.orderId) ? report.orderId : null;
  await createFileCustodyLog({ file: config.custodyLogFile }).append({
    event: 'archive.verified',
    orderId: orderId ?? UNKNOWN_ORDER_ID,
    details: {
      orderIdKnown: orderId !== null,
      archive: redactKeyMaterial(path.resolve(args.archive)),
      ok: report.ok,
      failures: report.failures.length + report.failuresOmitted,
      failedChecks: [...new Set(report.failures.map((failure) => failure.check))],
      orderChecked: args.order !== undefined,
      signer: report.signer?.subject ?? null,
    },
  });
}
