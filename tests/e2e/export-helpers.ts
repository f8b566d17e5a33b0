// Shared by the export end-to-end tests: build the CLI once, spawn it, and read a world's stores and keys
// independently of scopex (node:crypto only), so that the tests check the pipeline against the ground truth.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createDecipheriv, createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { packageRoot } from '../../src/util/package-root.js';

export const ROOT = packageRoot();
export const CLI = path.join(ROOT, 'dist', 'bin', 'main.js');

function newestMtime(folder: string): number {
  let newest = 0;
  for (const entry of readdirSync(folder, { withFileTypes: true })) {
    const full = path.join(folder, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestMtime(full));
    else if (entry.name.endsWith('.ts')) newest = Math.max(newest, statSync(full).mtimeMs);
  }
  return newest;
}

/** Builds dist/ (tsc, then the bundle) unless it is already newer than every source file (the build takes long on a busy machine). */
export function buildCli(): void {
  if (existsSync(CLI) && statSync(CLI).mtimeMs > newestMtime(path.join(ROOT, 'src'))) return;
  spawnSync('npm', ['run', '--silent', 'build'], { cwd: ROOT, stdio: 'ignore' });
  if (!existsSync(CLI)) throw new Error('the build did not produce dist/bin/main.js');
}

export interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export function runCli(args: string[], options: { cwd?: string } = {}): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: options.cwd ?? ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

export interface CliWorld {
  /** A new temp folder holding the world (remove it after the tests). */
  root: string;
  world: string;
  config: string;
}

/** Builds the CLI and has it generate a 5-account sample world (plus `extra` flags) in a new temp folder. */
export async function generateCliWorld(seed: string, extra: string[] = []): Promise<CliWorld> {
  buildCli();
  const root = mkdtempSync(path.join(os.tmpdir(), 'scopex-'));
  const world = path.join(root, 'w');
  const generated = await runCli(['samples', 'generate', '--out', world, '--accounts', '5', ...extra, '--seed', seed, '--quiet']);
  if (generated.code !== 0) throw new Error(`samples generate exited ${String(generated.code)}: ${generated.stderr}`);
  return { root, world, config: path.join(world, 'config.json') };
}

export function unzip(archive: string, folder: string): void {
  execFileSync('unzip', ['-q', '-o', archive, '-d', folder]);
}

export function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Every file under a folder, as `/`-separated paths relative to it. */
export function listFiles(folder: string, prefix = ''): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(path.join(folder, prefix), { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) out.push(...listFiles(folder, rel));
    else out.push(rel);
  }
  return out;
}

export interface DirectoryAccount {
  id: string;
  tenantType: string;
  identifiers: { type: string; value: string }[];
}

export function readDirectory(world: string): DirectoryAccount[] {
  const raw = JSON.parse(readFileSync(path.join(world, 'stores', 'directory.json'), 'utf8')) as { accounts: DirectoryAccount[] };
  return raw.accounts;
}

/** The accounts an order's exact targets name (emails compared without case), read straight from directory.json. */
export function accountsOf(order: { targets: { type: string; value: string }[] }, world: string): DirectoryAccount[] {
  const norm = (type: string, value: string) => (type === 'email' ? value.trim().toLowerCase() : value);
  const found = new Map<string, DirectoryAccount>();
  for (const target of order.targets) {
    for (const account of readDirectory(world)) {
      if (account.identifiers.some((i) => i.type === target.type && norm(i.type, i.value) === norm(target.type, target.value))) found.set(account.id, account);
    }
  }
  return [...found.values()];
}

export interface IndexLine {
  id: string;
  timestamp: string;
  bytes: number;
  name: string;
  [field: string]: unknown;
}

export function readIndex(world: string, service: string, accountId: string): IndexLine[] {
  const file = path.join(world, 'stores', service, accountId, 'index.jsonl');
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as IndexLine);
}

export interface WorldKeys {
  masterHex: string;
  /** Unwrapped data keys by account (provider-key accounts only). */
  dataKeys: Map<string, Buffer>;
  /** The wrapped forms as stored in data-keys.json. */
  wrapped: string[];
}

export function readWorldKeys(world: string): WorldKeys {
  const masterHex = readFileSync(path.join(world, 'keys', 'master.key'), 'utf8').trim();
  const master = Buffer.from(masterHex, 'hex');
  const file = JSON.parse(readFileSync(path.join(world, 'keys', 'data-keys.json'), 'utf8')) as {
    accounts: Record<string, { state: string; wrapped?: string }>;
  };
  const dataKeys = new Map<string, Buffer>();
  const wrapped: string[] = [];
  for (const [accountId, entry] of Object.entries(file.accounts)) {
    if (!entry.wrapped) continue;
    wrapped.push(entry.wrapped);
    const blob = Buffer.from(entry.wrapped, 'base64');
    const decipher = createDecipheriv('aes-256-gcm', master, blob.subarray(0, 12));
    decipher.setAAD(Buffer.from(`scopex.data-key/v1\n${accountId}`, 'utf8'));
    decipher.setAuthTag(blob.subarray(blob.length - 16));
    dataKeys.set(accountId, Buffer.concat([decipher.update(blob.subarray(12, blob.length - 16)), decipher.final()]));
  }
  return { masterHex, dataKeys, wrapped };
}

/** Decrypts one at-rest blob ("SCXB" | 1 | nonce | ciphertext | tag) with node:crypto. */
export function decryptBlob(key: Buffer, blob: Buffer, service: string, accountId: string, itemId: string): Buffer {
  const decipher = createDecipheriv('aes-256-gcm', key, blob.subarray(5, 17));
  decipher.setAAD(Buffer.from(`scopex.item/v1\n${service}\n${accountId}\n${itemId}`, 'utf8'));
  decipher.setAuthTag(blob.subarray(blob.length - 16));
  return Buffer.concat([decipher.update(blob.subarray(17, blob.length - 16)), decipher.final()]);
}

/** Every form of key material that must never leave the key store: master, data keys, wrapped keys, signer key body. */
export function canaries(world: string): string[] {
  const keys = readWorldKeys(world);
  const out = [keys.masterHex, keys.masterHex.toUpperCase(), Buffer.from(keys.masterHex, 'hex').toString('base64')];
  for (const key of keys.dataKeys.values()) out.push(key.toString('hex'), key.toString('hex').toUpperCase(), key.toString('base64'));
  out.push(...keys.wrapped);
  const pem = readFileSync(path.join(world, 'pki', 'signer.key.pem'), 'utf8');
  const body = pem.split('\n').filter((line) => line && !line.startsWith('-----'));
  out.push(...body.filter((line) => line.length >= 40), body.join(''));
  return out;
}

/** The canaries found in a text or a file's bytes (as latin1, so binary files are searched too). */
export function canariesIn(haystack: string | Buffer, needles: string[]): string[] {
  const text = typeof haystack === 'string' ? haystack : haystack.toString('latin1');
  return needles.filter((needle) => text.includes(needle));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Runs the CLI and sends `signal` once `ready()` holds; 'finished' when it ended before that. */
export async function runAndSignalWhen(args: string[], signal: NodeJS.Signals, ready: () => boolean, started: { pid?: number } = {}): Promise<CliRun | 'finished'> {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  started.pid = child.pid;
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  let done = false;
  const exited = new Promise<CliRun>((resolve) =>
    child.on('close', (code, killedBy) => {
      done = true;
      resolve({ code, signal: killedBy, stdout, stderr });
    }),
  );
  const until = Date.now() + 60_000;
  while (!done && !ready() && Date.now() < until) await sleep(2);
  if (done) return 'finished';
  child.kill(signal);
  return exited;
}

/**
 * `args` with `{}` placeholders replaced by the files of a CLI world (`{order}` the approved warrant, `{unapproved}`,
 * `{key}` and `{cert}` the reviewer's, `{ca}`, `{config}`, `{out}` a folder under root), and by `extra`'s own.
 */
export function withWorldFiles(cli: CliWorld, args: string[], extra: Record<string, string> = {}): string[] {
  const files: Record<string, string> = {
    '{order}': path.join(cli.world, 'orders', 'approved-warrant.json'),
    '{unapproved}': path.join(cli.world, 'orders', 'unapproved.json'),
    '{key}': path.join(cli.world, 'pki', 'reviewer.key.pem'),
    '{cert}': path.join(cli.world, 'pki', 'reviewer.cert.pem'),
    '{ca}': path.join(cli.world, 'pki', 'ca.cert.pem'),
    '{config}': cli.config,
    '{out}': path.join(cli.root, 'out'),
    ...extra,
  };
  return args.map((arg) => files[arg] ?? arg);
}
