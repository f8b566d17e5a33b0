// The scopex config (config/scopex.json, or --config FILE): where the stores, keys, trust anchors and custody log are.
import type { Stats } from 'node:fs';
import path from 'node:path';
import * as z from './util/zod.js';
import { describeFsError, InputError, ScopexError } from './errors.js';
import { notValidJson } from './util/json-position.js';
import { describeStrictJsonError, parseStrictJson, StrictJsonError } from './order/strict-json.js';
import { looksLikeKeyMaterial, redactKeyMaterial } from './util/key-material.js';
import { readInputFileSync } from './util/read-input-file.js';
import { isOneLineTagValue } from './seal/bagit-text.js';
import { CATEGORIES, PROCESSES, type Category, type LegalProcess } from './order/schema.js';

/** A path; a value that looks like key material (a key pasted in the wrong place) is refused without being shown. */
const relPath = z.string().check(
  z.minLength(1),
  z.refine((text) => !looksLikeKeyMaterial(text), 'a file path (the value is not shown: it looks like key material)'),
);

export const configSchema = z.strictObject({
  schema: z.literal('scopex.config/v1'),
  /** Written into bag-info.txt as Source-Organization. */
  organization: z.string().check(
    z.minLength(1),
    z.refine((text) => !looksLikeKeyMaterial(text), 'an organization name (the value is not shown: it looks like key material)'),
    z.refine(isOneLineTagValue, 'one line for bag-info.txt: no control characters, line or paragraph separators, or blanks at either end'),
  ),
  /** Path to the legal-process rules (which process may compel which categories). */
  legalProcess: relPath,
  /** Root of the stores: directory.json, mail/, storage/, im/, subscriber/. */
  stores: relPath,
  keys: z.strictObject({ masterKey: relPath, dataKeys: relPath }),
  /** Reviewer CA certificates (PEM) that approvals must chain to. */
  reviewerCa: z.array(relPath).check(z.minLength(1)),
  /**
   * The archive signer: certificate and private key (PEM), and optionally the CA certificate(s) that issued it, which a
   * batch re-run checks existing archives against (by default, the issuer of the certificate found among the
   * certificates after it in its own file and the reviewer CAs).
   */
  signer: z.strictObject({ certificate: relPath, key: relPath, ca: z.optional(relPath) }),
  custodyLog: relPath,
  /** Set only in generated sample worlds: their keys and nonces come from a seeded generator. */
  sampleWorld: z.optional(z.strictObject({ seed: z.string(), warning: z.string() })),
});
export type ConfigFile = z.infer<typeof configSchema>;

export const legalProcessSchema = z.strictObject({
  schema: z.literal('scopex.legal-process/v1'),
  permits: z.strictObject(
    Object.fromEntries(PROCESSES.map((p) => [p, z.array(z.enum(CATEGORIES))])) as Record<
      LegalProcess,
      z.ZodMiniArray<z.ZodMiniEnum<{ [K in Category]: K }>>
    >,
  ),
});
export type LegalProcessRules = z.infer<typeof legalProcessSchema>;

/** The config with every path made absolute, and the legal-process rules loaded. */
export interface ScopexConfig {
  file: string;
  organization: string;
  legalProcess: LegalProcessRules;
  legalProcessFile: string;
  storesRoot: string;
  masterKeyFile: string;
  dataKeysFile: string;
  reviewerCaFiles: string[];
  signerCertificateFile: string;
  signerKeyFile: string;
  /** signer.ca: the CA(s) the archive signer chains to, when the config names them. */
  signerCaFile?: string;
  custodyLogFile: string;
  sampleWorld?: { seed: string; warning: string };
}

/**
 * `config/scopex.json` in the current folder, as a relative default reads (DESIGN.md, README, --help). It was the one
 * in scopex's install folder, which holds production paths (/srv/scopex, /etc/scopex): a config/scopex.json beside
 * the user was ignored for it, and its errors named paths the user never gave.
 */
export function defaultConfigFile(): string {
  return path.resolve('config', 'scopex.json');
}

/**
 * Reads a JSON file; a missing or malformed file is an InputError naming it. `inspect` sees the open file's stats
 * before a byte is read, and what it throws as a scopex error goes through as it is.
 */
export function readJsonFile(file: string, what: string, inspect?: (stats: Stats) => void): unknown {
  let text: string;
  try {
    text = readInputFileSync(file, inspect).toString('utf8');
  } catch (error) {
    if (error instanceof ScopexError) throw error;
    throw new InputError('FILE_UNREADABLE', `cannot read ${what} ${file}: ${describeFsError(error)}`, { cause: error });
  }
  try {
    // Strict, as orders are: JSON.parse keeps the last of two equal keys without a word, so a second "subpoena" line in
    // the legal-process rules widened what a subpoena compels, and a second "reviewerCa" replaced the trusted CA.
    return parseStrictJson(text);
  } catch (error) {
    // No cause: the parser's message quotes the start of the file, which may be a key given here by mistake.
    if (!(error instanceof StrictJsonError)) throw new InputError('JSON_MALFORMED', `${what} ${file} ${notValidJson(error, text)}`);
    // A key pasted where a field name goes is key material all the same.
    throw new InputError('JSON_MALFORMED', redactKeyMaterial(`${what} ${file}: ${describeStrictJsonError(error, text)}`));
  }
}

/** Formats the first zod issue as "field: what was expected". */
export function describeZodError(error: z.core.$ZodError): string {
  const issue = error.issues[0];
  if (!issue) return 'invalid';
  const field = issue.path.length > 0 ? issue.path.map(String).join('.') : '(top level)';
  // zod quotes unknown keys, and a key pasted as a field name is key material all the same.
  return redactKeyMaterial(`field ${field}: ${issue.message}`);
}

export function loadConfig(file: string = defaultConfigFile()): ScopexConfig {
  const absolute = path.resolve(file);
  const raw = readJsonFile(absolute, 'config');
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    throw new InputError('CONFIG_INVALID', `config ${absolute}: ${describeZodError(parsed.error)}`);
  }
  const dir = path.dirname(absolute);
  const at = (p: string) => path.resolve(dir, p);
  const legalProcessFile = at(parsed.data.legalProcess);
  const rulesRaw = readJsonFile(legalProcessFile, 'legal-process rules');
  const rules = legalProcessSchema.safeParse(rulesRaw);
  if (!rules.success) {
    throw new InputError('CONFIG_INVALID', `legal-process rules ${legalProcessFile}: ${describeZodError(rules.error)}`);
  }
  const config: ScopexConfig = {
    file: absolute,
    organization: parsed.data.organization,
    legalProcess: rules.data,
    legalProcessFile,
    storesRoot: at(parsed.data.stores),
    masterKeyFile: at(parsed.data.keys.masterKey),
    dataKeysFile: at(parsed.data.keys.dataKeys),
    reviewerCaFiles: parsed.data.reviewerCa.map(at),
    signerCertificateFile: at(parsed.data.signer.certificate),
    signerKeyFile: at(parsed.data.signer.key),
    custodyLogFile: at(parsed.data.custodyLog),
  };
  if (parsed.data.signer.ca !== undefined) config.signerCaFile = at(parsed.data.signer.ca);
  if (parsed.data.sampleWorld) config.sampleWorld = parsed.data.sampleWorld;
  return config;
}
