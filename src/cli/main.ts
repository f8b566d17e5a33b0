#!/usr/bin/env node
// The scopex entry point: the only place that turns errors into exit codes and calls process.exit.
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { AbortedError, describeFsError, EXIT, exitCodeFor, InputError, openFilesSentence, OrderError, pathErrorOf, ScopexError } from '../errors.js';
import { describeInterrupt, handleInterruptsFromStart, interruptsReleased } from '../util/interrupts.js';
import { redactKeyMaterial } from '../util/key-material.js';
import { escapeJsonForTerminal, oneLine, terminalSafe } from '../util/quote-text.js';
import { packageVersion } from '../util/package-root.js';
import { auditCommand } from './audit.js';
import { refuseValuedBooleans, withGlobals } from './common.js';
import { batchCommand } from './batch.js';
import { exportCommand } from './export.js';
import { notifyCommand } from './notify.js';
import { orderCommand } from './order.js';
import { exitCodeAfterStdoutFailure, stdoutFailure, watchStdout, writeStdout } from './stdout.js';
import { reportCommand } from './report.js';
import { samplesCommand } from './samples.js';
import { verifyCommand } from './verify.js';

export async function main(argv: string[]): Promise<number> {
  const debug = booleanFlag(argv, 'debug');
  const json = booleanFlag(argv, 'json');
  // As early as scopex code can run: before it, Node's own start and the loading of the bundle (some 50-70 ms) are
  // still ended by a signal in Node's way (exit 143 for SIGTERM, 129 for SIGHUP).
  handleInterruptsFromStart((signal) => {
    const error = new AbortedError('ABORTED', `interrupted (${describeInterrupt(signal)}); the command stopped before it finished`);
    process.exit(report(error, { debug, json }));
  });
  try {
    const cli = withGlobals(yargs(argv)).middleware(refuseValuedBooleans(argv), true);
    skipHelpCaching(cli);
    await cli
      .scriptName('scopex')
      .usage('$0 <command> [options]\n\nHands over exactly the data an approved legal order names, sealed and signed.')
      .command(samplesCommand)
      .command(orderCommand)
      .command(exportCommand)
      .command(batchCommand)
      .command(verifyCommand)
      .command(auditCommand)
      .command(reportCommand)
      .command(notifyCommand)
      .demandCommand(1, 'name a command (see scopex --help)')
      .strict()
      .recommendCommands()
      .wrap(Math.min(110, process.stdout.columns || 100))
      .fail((message, error) => {
        if (error) throw error;
        throw new InputError('USAGE', message ?? 'invalid usage (see --help)');
      })
      .exitProcess(false)
      .help()
      .alias('help', 'h')
      .version(packageVersion())
      .parseAsync();
    return process.exitCode === undefined ? 0 : Number(process.exitCode);
  } catch (error) {
    return report(error, { debug, json });
  }
}

/**
 * yargs renders a command's whole help text before running it, in case the command fails and help is to be shown
 * (about 25 ms of every run here). scopex never shows help on failure (`.fail` throws) and no command asks for help
 * itself, so the rendering is skipped; `--help` renders it as before. If a yargs version lacks these internals, it is
 * left as it is.
 */
function skipHelpCaching(cli: object): void {
  type Usage = { cacheHelpMessage?: unknown };
  const internal = (cli as { getInternalMethods?: () => { getUsageInstance?: () => Usage | undefined } }).getInternalMethods;
  const usage = typeof internal === 'function' ? internal.call(cli).getUsageInstance?.() : undefined;
  if (usage && typeof usage.cacheHelpMessage === 'function') usage.cacheHelpMessage = () => undefined;
}

/**
 * A boolean flag as yargs reads it, known before yargs runs (the error path may come first): `--name` and
 * `--name=true` set it, `--no-name` and `--name=false` clear it, the last one wins; nothing after `--` is a flag.
 * Matching `--json` alone, `--json=true` (the spelling the usage error suggests) gave no JSON document on failure.
 */
function booleanFlag(argv: readonly string[], name: string): boolean {
  let value = false;
  for (const arg of argv) {
    if (arg === '--') break;
    if (arg === `--${name}` || arg === `--${name}=true`) value = true;
    else if (arg === `--no-${name}` || arg === `--${name}=false`) value = false;
  }
  return value;
}

function report(error: unknown, flags: { debug: boolean; json: boolean }): number {
  const code = exitCodeFor(error);
  const pathError = pathErrorOf(error);
  // Too few file descriptors (a low `ulimit -n`) is the environment's, not a bug, wherever it struck.
  const tooManyOpenFiles = openFilesSentence(error);
  const known = tooManyOpenFiles !== undefined || error instanceof ScopexError || (pathError !== undefined && code !== EXIT.internal);
  // Never what may be key material (a key pasted into a config path or an order field is quoted by the error that
  // refuses it): on stderr, in --json and in --debug traces alike.
  const message = redactKeyMaterial(
    tooManyOpenFiles ??
      (error instanceof ScopexError
        ? error.message
        : pathError && known
          ? `cannot ${pathError.syscall} ${pathError.path}: ${describeFsError(error)}`
          : `internal error: ${error instanceof Error ? error.message : String(error)}`),
  );
  // A command that already printed its result (an audit or batch report with failures) sets resultPrinted, so that
  // --json leaves exactly one JSON document on stdout.
  const resultPrinted = typeof error === 'object' && error !== null && (error as { resultPrinted?: unknown }).resultPrinted === true;
  if (flags.json && !resultPrinted) {
    const body: Record<string, unknown> = {
      ok: false,
      exitCode: code,
      error: { code: error instanceof ScopexError ? error.code : (pathError?.code ?? 'INTERNAL'), message },
    };
    if (error instanceof OrderError) body['reasons'] = error.reasons.map((reason) => ({ ...reason, message: redactKeyMaterial(reason.message) }));
    writeStdout(`${escapeJsonForTerminal(JSON.stringify(body, null, 2))}\n`);
  }
  // One sentence on one line: a line break in it comes from a name (a file named with one), not from scopex.
  process.stderr.write(`scopex: ${oneLine(message)}\n`);
  if (error instanceof OrderError && error.reasons.length > 1) {
    for (const reason of error.reasons) process.stderr.write(`  - ${oneLine(redactKeyMaterial(reason.message))}\n`);
  }
  if (flags.debug && error instanceof Error) {
    process.stderr.write(`${terminalSafe(redactKeyMaterial(error.stack ?? ''))}\n`);
    let cause = error.cause;
    while (cause instanceof Error) {
      process.stderr.write(`caused by: ${terminalSafe(redactKeyMaterial(cause.stack ?? cause.message))}\n`);
      cause = cause.cause;
    }
  } else if (!known) {
    process.stderr.write('scopex: this is a bug; run again with --debug for details\n');
  }
  return code;
}

/**
 * Settles once everything written to `stream` so far has been handed to the system. A pipe takes 64 KiB at a time,
 * and process.exit drops what it has not taken yet: a long --json report read through a pipe was cut off there.
 */
function drained(stream: NodeJS.WriteStream): Promise<void> {
  return new Promise((resolve) => {
    if (stream.destroyed || stream.writableLength === 0) resolve();
    else stream.write('', () => resolve());
  });
}

watchStdout();
let exitCode = await main(hideBin(process.argv));
// A command stopped at once (verify, audit verify) may leave a custody record being written: it ends first.
await interruptsReleased();
await Promise.all([drained(process.stdout), drained(process.stderr)]);
// A pipe's write error may come after the drain's callback: it is in by the next turn of the loop.
await new Promise((resolve) => setImmediate(resolve));
const unwritten = stdoutFailure();
if (unwritten) {
  process.stderr.write(`scopex: ${unwritten.message}\n`);
  exitCode = exitCodeAfterStdoutFailure(exitCode);
  await drained(process.stderr);
}
process.exit(exitCode);
