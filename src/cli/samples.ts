// `scopex samples generate`: builds a sample world for the demo, the tests and the benchmarks.
import type { Argv, CommandModule } from 'yargs';
import { AbortedError, InputError, outputWriteError } from '../errors.js';
import { SAMPLE_DEFAULTS, SAMPLE_PROFILES, type SampleProfile } from '../samples/profiles.js';
import type { SampleWorldSummary } from '../samples/sample-world.js';
import { describeInterrupt, whileInterruptible } from '../util/interrupts.js';
import { printResult, progressWanted, type GlobalArgs } from './common.js';

interface GenerateArgs extends GlobalArgs {
  out: string;
  accounts: string;
  size: string;
  seed: string;
  profile: SampleProfile;
  force: boolean;
}

const SEEDED_KEYS_NOTICE =
  'WARNING: a sample world\'s master key, data keys and nonces come from a SEEDED, PREDICTABLE generator so that ' +
  'the same seed gives byte-identical stores. They are for sample worlds ONLY: never put real data in one, never reuse ' +
  'its keys. (The PKI keys are random RSA keys from node:crypto, so pki/ differs between runs.)';

const generateCommand: CommandModule<GlobalArgs, GenerateArgs> = {
  command: 'generate',
  describe: 'build a sample world: encrypted stores, keys, PKI, config and sample orders',
  builder: (yargs: Argv<GlobalArgs>) =>
    yargs
      .usage(`$0 samples generate --out W [options]\n\nBuilds a deterministic sample world in W.\n\n${SEEDED_KEYS_NOTICE}`)
      .option('out', { type: 'string', demandOption: true, describe: 'folder to create the world in (must be new or empty)' })
      // As typed, so that an error quotes what was typed (as yargs numbers, "abc" was NaN and "" was 0).
      .option('accounts', { type: 'string', default: String(SAMPLE_DEFAULTS.accounts), describe: 'number of accounts (at least 5)' })
      .option('size', { type: 'string', default: String(SAMPLE_DEFAULTS.size), describe: 'total plaintext bytes to aim for (large files are streamed)' })
      .option('seed', { type: 'string', default: SAMPLE_DEFAULTS.seed, describe: 'seed of the content, times, store keys and nonces (the PKI is new each run)' })
      .option('profile', {
        choices: SAMPLE_PROFILES,
        default: SAMPLE_DEFAULTS.profile,
        describe: 'realistic mix, small-items (mail of 2-6 KiB) or large-items (files of 16-64 MiB)',
      })
      .option('force', { type: 'boolean', default: false, describe: 'replace an earlier sample world in --out' })
      .example('$0 samples generate --out /tmp/w --accounts 50 --seed 1', 'a 50-account world, then: scopex order check /tmp/w/orders/approved-warrant.json --config /tmp/w/config.json')
      .example('$0 samples generate --out /tmp/big --size 2000000000 --profile large-items', 'a 2 GB world for benchmarks') as Argv<GenerateArgs>,
  handler: async (args) => {
    const summary = await runWithProgress(args);
    printResult(args, summary, () => describe(summary));
  },
};

async function runWithProgress(args: GenerateArgs): Promise<SampleWorldSummary> {
  const common = {
    out: args.out,
    accounts: wholeNumber('--accounts', args.accounts, `a whole number from 5 to 100000`),
    size: wholeNumber('--size', args.size, 'a whole number of bytes'),
    seed: args.seed,
    profile: args.profile,
    force: args.force,
  };
  const { generateSampleWorld } = await import('../samples/sample-world.js');
  // An interrupted world is left as it is, marked unfinished, and --force replaces it (src/samples/sample-world.ts).
  // A full disk or a folder that refuses writes leaves the world unfinished too, and says so in one sentence (exit 2).
  const unwritable = (error: unknown) =>
    outputWriteError(error, args.out, (folder, why) => `cannot write the sample world into ${folder}: ${why}; it is left unfinished: run again with --force once it can be written`) ?? error;
  const interruptible = (generate: () => Promise<SampleWorldSummary>) =>
    whileInterruptible(() => generate().catch((error: unknown) => Promise.reject(unwritable(error))), {
      reason: (signal) =>
        new AbortedError(
          'ABORTED',
          `samples generate was interrupted (${describeInterrupt(signal)}); ${args.out} holds an unfinished world: run again with --force to replace it`,
        ),
      stopAtOnce: true,
    });
  if (!progressWanted(args)) return interruptible(() => generateSampleWorld(common));
  const { default: cliProgress } = await import('cli-progress');
  const bar = new cliProgress.SingleBar(
    { format: 'generating |{bar}| {percentage}% {value}/{total} MB | accounts {accountsDone}/{accounts}', stream: process.stderr, hideCursor: true },
    cliProgress.Presets.shades_classic,
  );
  const mb = (bytes: number) => Math.round(bytes / 1e6);
  bar.start(Math.max(1, mb(common.size)), 0, { accountsDone: 0, accounts: common.accounts });
  try {
    return await interruptible(() =>
      generateSampleWorld({
        ...common,
        onProgress: (progress) => {
          bar.setTotal(Math.max(1, mb(progress.targetBytes), mb(progress.bytes)));
          bar.update(mb(progress.bytes), { accountsDone: progress.accountsDone, accounts: progress.accounts });
        },
      }),
    );
  } finally {
    bar.stop();
  }
}

function describe(summary: SampleWorldSummary): string {
  const accepted = summary.orders.filter((order) => order.expectedExitCode === 0).length;
  return [
    `sample world written to ${summary.out} in ${(summary.elapsedMs / 1000).toFixed(1)} s (seed ${JSON.stringify(summary.seed)}, profile ${summary.profile})`,
    `  accounts: ${summary.accounts} (consumer ${summary.tenants.consumer}, enterprise ${summary.tenants.enterprise}, customer-key ${summary.tenants['customer-key']})`,
    `  items: mail ${summary.items.mail}, storage ${summary.items.storage}, im ${summary.items.im}, subscriber ${summary.items.subscriber}; ${summary.plaintextBytes} plaintext bytes`,
    `  orders: ${summary.orders.length} in ${summary.out}/orders (${accepted} approved, the rest must be refused; see orders/README.txt)`,
    `  config: ${summary.configFile}`,
    `  ${summary.warning}`,
  ].join('\n');
}

export const samplesCommand: CommandModule<GlobalArgs, GlobalArgs> = {
  command: 'samples <command>',
  describe: 'sample worlds for the demo, tests and benchmarks (seeded keys: never for real data)',
  builder: (yargs: Argv<GlobalArgs>) =>
    yargs
      .command(generateCommand)
      .demandCommand(1, 'name a samples command: generate')
      .example('$0 samples generate --out /tmp/w', 'a 12-account sample world in /tmp/w'),
  handler: () => undefined,
};

/** A count as typed: digits only (blanks around them allowed), quoted as typed when it is not one. */
function wholeNumber(flag: string, text: string, what: string): number {
  const value = /^\s*\d+\s*$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(value)) throw new InputError('USAGE', `${flag} must be ${what}, found ${JSON.stringify(text)}`);
  return value;
}
