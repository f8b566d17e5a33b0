// What every command shares: the global flags, loading the config, and printing results.
import type { Argv } from 'yargs';
import { loadConfig, defaultConfigFile, type ScopexConfig } from '../config.js';

export interface GlobalArgs {
  config?: string;
  json: boolean;
  quiet: boolean;
  debug: boolean;
}

export function withGlobals<T>(y: Argv<T>): Argv<T & GlobalArgs> {
  return y
    .option('config', { type: 'string', describe: 'config file (default: config/scopex.json)' })
    .option('json', { type: 'boolean', default: false, describe: 'print the result as JSON on stdout' })
    .option('quiet', { type: 'boolean', default: false, describe: 'print nothing but errors' })
    .option('debug', { type: 'boolean', default: false, describe: 'print stack traces with errors' }) as Argv<T & GlobalArgs>;
}

export function configFrom(args: GlobalArgs): ScopexConfig {
  return loadConfig(args.config ?? defaultConfigFile());
}

/** Progress goes to stderr, and only when a person is watching it. */
export function progressWanted(args: GlobalArgs): boolean {
  return Boolean(process.stderr.isTTY) && !args.quiet && !args.json;
}

/** Prints a command's result: JSON on stdout with --json, the human text otherwise (unless --quiet). */
export function printResult(args: GlobalArgs, result: unknown, human: () => string): void {
  if (args.json) {
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  } else if (!args.quiet) {
    const text = human();
    if (text) process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
  }
}
