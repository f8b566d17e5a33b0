// What every command shares: the global flags, loading the config, and printing results.
import { existsSync } from 'node:fs';
import type { Argv } from 'yargs';
import { loadConfig, defaultConfigFile, type ScopexConfig } from '../config.js';
import { InputError } from '../errors.js';
import { escapeJsonForTerminal, quoteText, terminalSafe } from '../util/quote-text.js';
import { writeStdout } from './stdout.js';

export interface GlobalArgs {
  config?: string;
  json: boolean;
  quiet: boolean;
  debug: boolean;
}

export function withGlobals<T>(y: Argv<T>): Argv<T & GlobalArgs> {
  return y
    .option('config', { type: 'string', describe: 'config file (default: config/scopex.json in the current folder)' })
    .option('json', { type: 'boolean', default: false, describe: 'print the result as JSON on stdout' })
    .option('quiet', { type: 'boolean', default: false, describe: 'print nothing but errors' })
    .option('debug', { type: 'boolean', default: false, describe: 'print stack traces with errors' })
    .middleware(refuseRepeatedOrEmptyValues, true) as Argv<T & GlobalArgs>;
}

/** What yargs hands a middleware besides the arguments (@types/yargs leaves the second parameter out). */
interface ParserView {
  getOptions(): { key: Record<string, unknown>; array: string[]; boolean: string[] };
  getGroups(): Record<string, string[]>;
  getInternalMethods?: () => { getUsageInstance?: () => { getPositionalGroupName?: () => string } | undefined };
}

/**
 * Every option and argument that takes a value is given once, and not empty, for every command. yargs turns a repeated
 * option into an array (`--out a --out b`), which a command expecting one path crashed on ("internal error") or
 * joined with a comma, and takes `--out ""` or a `--config` with nothing after it as "", which resolves to the current
 * folder and gave messages about that folder instead of the flag. Arrays by design (batch's ORDERS) may hold many
 * values, none of them empty. Booleans are left alone: yargs keeps the last value given.
 */
export function refuseRepeatedOrEmptyValues(argv: Record<string, unknown>, parser?: ParserView): void {
  if (!parser) return;
  const { key: declared, array } = parser.getOptions();
  const positionalGroup = parser.getInternalMethods?.().getUsageInstance?.()?.getPositionalGroupName?.() ?? 'Positionals:';
  const positionals = new Set(parser.getGroups()[positionalGroup] ?? []);
  for (const key of Object.keys(declared)) {
    const value = argv[key];
    if (positionals.has(key)) {
      // Every positional of scopex names a file (or folder). yargs hands a lone "-" over as "" too.
      const name = `the ${key.toUpperCase()} argument`;
      const empty = array.includes(key) ? Array.isArray(value) && value.includes('') : value === '';
      if (empty) throw new InputError('USAGE', `${array.includes(key) ? `one of ${name}s` : name} is empty or "-"; name a file (scopex reads no standard input)`);
    } else if (Array.isArray(value) && !array.includes(key)) {
      throw new InputError('USAGE', `--${key} was given ${value.length === 2 ? 'twice' : `${value.length} times`}; give it once`);
    } else if (value === '') {
      throw new InputError('USAGE', `--${key} is empty; give it a value`);
    }
  }
}

/**
 * A boolean flag given a value (`--json=maybe`) takes only true or false. yargs reads any other value as false, so
 * `--json=yes` printed text and `--force=yes` did not force: a bad flag is a usage error, as for every other option.
 * The values are gone from what yargs hands over, so the command line as typed (`rawArgs`) is looked at, up to "--".
 */
export function refuseValuedBooleans(rawArgs: readonly string[]) {
  return (_argv: Record<string, unknown>, parser?: ParserView): void => {
    if (!parser) return;
    const booleans = new Set(parser.getOptions().boolean);
    const isBoolean = (name: string) => booleans.has(name) || booleans.has(name.replace(/-([a-z])/g, (_dash, letter: string) => letter.toUpperCase()));
    for (const arg of rawArgs) {
      if (arg === '--') break;
      const match = /^--([^=]+)=([\s\S]*)$/.exec(arg);
      if (!match) continue;
      const [, name = '', value = ''] = match;
      // `--no-json=...` is no flag yargs knows (strict mode refuses it), so only the flag's own name is looked for.
      if (!isBoolean(name)) continue;
      if (value === 'true' || value === 'false') continue;
      throw new InputError('USAGE', `--${name} is a flag: give it alone, or as --${name}=true or --${name}=false; found ${quoteText(value)}`);
    }
  };
}

export function configFrom(args: GlobalArgs): ScopexConfig {
  if (args.config !== undefined) return loadConfig(args.config);
  const file = defaultConfigFile();
  if (!existsSync(file)) {
    throw new InputError('FILE_UNREADABLE', `no --config was given, and there is no config/scopex.json in the current folder (${file}); give --config FILE`);
  }
  return loadConfig(file);
}

/** Progress goes to stderr, and only when a person is watching it. */
export function progressWanted(args: GlobalArgs): boolean {
  return Boolean(process.stderr.isTTY) && !args.quiet && !args.json;
}

/** Prints a command's result: JSON on stdout with --json, the human text otherwise (unless --quiet). */
export function printResult(args: GlobalArgs, result: unknown, human: () => string): void {
  if (args.json) {
    // Same document for a parser; no raw bidi, C1 or zero-width character for the terminal it may be read on.
    writeStdout(`${escapeJsonForTerminal(JSON.stringify(result, null, 2))}\n`);
  } else if (!args.quiet) {
    const text = human();
    if (text) writeStdout(terminalSafe(text.endsWith('\n') ? text : `${text}\n`));
  }
}
