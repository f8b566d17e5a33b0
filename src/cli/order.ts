// `scopex order check` and `scopex order approve`: thin wrappers over src/order.
import path from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import type { ApproveOptions } from '../order/approve-order.js';
import type { OrderContext } from '../order/check-order.js';
import type { OrderCheckReport } from '../order/check-report.js';
import { redactKeyMaterial } from '../util/key-material.js';
import { quoteText } from '../util/quote-text.js';
import { configFrom, printResult, type GlobalArgs } from './common.js';

interface CheckArgs extends GlobalArgs {
  order: string;
}

interface ApproveArgs extends GlobalArgs {
  order: string;
  key: string;
  cert: string;
  out?: string;
  force: boolean;
  reviewer?: string;
}

async function contextFrom(args: GlobalArgs): Promise<OrderContext> {
  const config = configFrom(args);
  const { createFileDirectory } = await import('../sources/file-directory.js');
  return { config, directory: createFileDirectory({ file: path.join(config.storesRoot, 'directory.json') }), now: new Date() };
}

const checkCommand: CommandModule<GlobalArgs, CheckArgs> = {
  command: 'check <order>',
  describe: 'validate an order: schema, legal process, approval signature and chain, validity, targets; prints every reason',
  builder: (yargs: Argv<GlobalArgs>) =>
    yargs
      .positional('order', { type: 'string', demandOption: true, describe: 'the order file (scopex.order/v1 JSON)' })
      .example('$0 order check W/orders/approved-warrant.json --config W/config.json', 'APPROVED, exit 0')
      .example('$0 order check W/orders/subpoena-asks-content.json --config W/config.json --json', 'REFUSED with every reason as JSON, exit 3')
      .epilogue(
        'Exit codes: 0 approved, 2 malformed, 3 refused. An order file checked before (per the custody log) is also refused when its targets now name other accounts than at its first check (TARGETS_MOVED).',
      ) as Argv<CheckArgs>,
  handler: async (args) => {
    const ctx = await contextFrom(args);
    const [{ reportOrderCheck }, { createFileCustodyLog }] = await Promise.all([
      import('../order/check-report.js'),
      import('../custody/file-custody-log.js'),
    ]);
    const outcome = await reportOrderCheck(path.resolve(args.order), ctx);
    if (outcome.custody) await createFileCustodyLog({ file: ctx.config.custodyLogFile }).append(outcome.custody);
    printResult(args, outcome.report, () => describeReport(outcome.report, args.order));
    if (outcome.error) {
      // The verdict and reasons are on stdout already; main.ts adds the one-line summary on stderr only.
      throw Object.assign(outcome.error, { resultPrinted: args.json || !args.quiet });
    }
  },
};

const approveCommand: CommandModule<GlobalArgs, ApproveArgs> = {
  command: 'approve <order>',
  describe: 'sign an order as a compliance reviewer (writes its approval block); refuses an order that fails any other check',
  builder: (yargs: Argv<GlobalArgs>) =>
    yargs
      .positional('order', { type: 'string', demandOption: true, describe: 'the order file to approve' })
      .option('key', { type: 'string', demandOption: true, describe: "the reviewer's private key (PEM)" })
      .option('cert', { type: 'string', demandOption: true, describe: "the reviewer's certificate (PEM), issued by a reviewer CA in the config" })
      .option('out', { type: 'string', describe: 'write the approved order here (default: replace ORDER atomically); never over an existing file without --force' })
      .option('force', { type: 'boolean', default: false, describe: 'replace an existing --out file' })
      .option('reviewer', { type: 'string', describe: "reviewer name in the approval (default: the certificate's common name)" })
      .example(
        '$0 order approve W/orders/unapproved.json --key W/pki/reviewer.key.pem --cert W/pki/reviewer.cert.pem --out /tmp/approved.json --config W/config.json',
        'sign an order into a new file',
      ) as Argv<ApproveArgs>,
  handler: async (args) => {
    const ctx = await contextFrom(args);
    const { approveOrder } = await import('../order/approve-order.js');
    const options: ApproveOptions = { orderFile: args.order, keyFile: args.key, certFile: args.cert, ctx };
    if (args.out !== undefined) options.out = args.out;
    if (args.force) options.replace = true;
    if (args.reviewer !== undefined) options.reviewer = args.reviewer;
    const { order, out } = await approveOrder(options);
    const approval = order.approval!;
    printResult(
      args,
      { ok: true, orderId: order.id, out: redactKeyMaterial(out), reviewer: approval.reviewer, approvedAt: approval.approvedAt },
      () => `${order.id}: approved by ${approval.reviewer} at ${approval.approvedAt}, written to ${redactKeyMaterial(out)}`,
    );
  },
};

export const orderCommand: CommandModule<GlobalArgs, GlobalArgs> = {
  command: 'order <command>',
  describe: 'check or approve a legal order',
  builder: (yargs: Argv<GlobalArgs>) =>
    yargs
      .command(checkCommand)
      .command(approveCommand)
      .demandCommand(1, 'name an order command: check or approve')
      .example('$0 order check ORDER.json', 'print the verdict and every reason') as Argv<GlobalArgs>,
  handler: () => undefined,
};

function describeReport(report: OrderCheckReport, file: string): string {
  const lines: string[] = [];
  // A file that is no order is named by its path, which may be anything typed there (a key pasted as the argument).
  const name = report.orderId ?? redactKeyMaterial(file);
  const count = report.reasons.length;
  lines.push(`${name}: ${report.verdict}${count > 0 ? ` (${count} reason${count === 1 ? '' : 's'})` : ''}`);
  for (const reason of report.reasons) lines.push(`  ${reason.code.padEnd(22)} ${reason.message}`);
  const { approval } = report;
  if (approval) {
    const by = `${approval.reviewer} (certificate ${approval.certificate === null ? 'that cannot be read' : quoteText(approval.certificate)}) at ${approval.approvedAt}`;
    lines.push(approval.valid ? `  approved by ${by}` : `  approval claimed by ${by}: it does not stand (see the reasons above)`);
  }
  for (const account of report.accounts) {
    const targets = account.targets.map((t) => `${t.type} ${t.value}`).join(', ');
    lines.push(`  account ${account.id} (${account.tenantType} tenant ${account.tenant}) <- ${targets}`);
  }
  return lines.join('\n');
}
