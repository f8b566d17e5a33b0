// Benchmark worlds: generated through the built CLI (optionally cached, keyed by every parameter),
// and approved orders that cover their consumer accounts.
import { createHash, X509Certificate } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { keyFromPem, signOrder } from '../../src/order/approval-sign.js';
import { CATEGORIES, type Order } from '../../src/order/schema.js';
import { runChecked, runTimed } from './process-timer.js';

/** The repository root, from dist/tests/bench/ (built) or tests/bench/ (source). */
export const repoRoot = findRepoRoot(path.dirname(fileURLToPath(import.meta.url)));
/** The scopex entry point the benchmark drives: this checkout's build unless `--cli` names another. */
export const cli = { entry: path.join(repoRoot, 'dist', 'bin', 'main.js') };

export type Profile = 'realistic' | 'small-items' | 'large-items';

export interface WorldSpec {
  /** A short label for tables and folder names ("large", "small", "series-200k", ...). */
  label: string;
  profile: Profile;
  bytes: number;
  accounts: number;
  seed: number;
}

export interface World {
  spec: WorldSpec;
  dir: string;
  config: string;
  generateSeconds: number | null;
  fromCache: boolean;
}

export interface DirectoryAccount {
  id: string;
  tenant: string;
  tenantType: string;
  identifiers: { type: string; value: string }[];
}

/** The bench orders ask for every category the schema knows. */
export const ALL_CATEGORIES = CATEGORIES;

/** Runs the scopex CLI and fails loudly with its message when it exits non-zero. */
export function scopex(args: readonly string[], cwd?: string): ReturnType<typeof runChecked> {
  return runChecked(process.execPath, [cli.entry, ...args], cwd ? { cwd } : {});
}

/**
 * Generates a world in `parent`, or reuses `cacheDir/<key>` when a cache is given. The key covers every
 * generation parameter and the built generator code, so a changed generator never serves a stale world.
 */
export async function buildWorld(spec: WorldSpec, parent: string, cacheDir: string | null): Promise<World> {
  if (cacheDir) {
    const dir = path.join(cacheDir, `${spec.label}-${worldKey(spec)}`);
    if (existsSync(path.join(dir, '.complete'))) {
      return { spec, dir, config: path.join(dir, 'config.json'), generateSeconds: null, fromCache: true };
    }
    const building = `${dir}.building-${process.pid}`;
    rmSync(building, { recursive: true, force: true });
    const seconds = await generate(spec, building);
    writeFileSync(path.join(building, '.complete'), `${JSON.stringify(spec)}\n`);
    rmSync(dir, { recursive: true, force: true });
    renameSync(building, dir);
    return { spec, dir, config: path.join(dir, 'config.json'), generateSeconds: seconds, fromCache: false };
  }
  const dir = path.join(parent, `world-${spec.label}`);
  rmSync(dir, { recursive: true, force: true });
  const seconds = await generate(spec, dir);
  return { spec, dir, config: path.join(dir, 'config.json'), generateSeconds: seconds, fromCache: false };
}

async function generate(spec: WorldSpec, dir: string): Promise<number> {
  mkdirSync(path.dirname(dir), { recursive: true });
  const run = await scopex([
    'samples', 'generate',
    '--out', dir,
    '--accounts', String(spec.accounts),
    '--size', String(spec.bytes),
    '--seed', String(spec.seed),
    '--profile', spec.profile,
    '--quiet',
  ]);
  return run.seconds;
}

export function worldKey(spec: WorldSpec): string {
  const hash = createHash('sha256');
  hash.update(JSON.stringify({ profile: spec.profile, bytes: spec.bytes, accounts: spec.accounts, seed: spec.seed }));
  for (const folder of ['samples', 'sources', 'keys']) hashTree(hash, path.join(repoRoot, 'dist', 'src', folder));
  return hash.digest('hex').slice(0, 16);
}

function hashTree(hash: ReturnType<typeof createHash>, folder: string): void {
  if (!existsSync(folder)) return;
  for (const name of readdirSync(folder).sort()) {
    const file = path.join(folder, name);
    if (statSync(file).isDirectory()) hashTree(hash, file);
    else if (name.endsWith('.js')) hash.update(name).update(readFileSync(file));
  }
}

/**
 * Reads every file under `folder` once and throws the bytes away, so that they are in the page cache. The shell
 * baseline reads files it has just written; a world taken from the cache would otherwise make the first timed export
 * read its stores from the disk, and a median of 3 runs would mix the two.
 */
export function warmPageCache(folder: string): { files: number; bytes: number; seconds: number } {
  const started = performance.now();
  const buffer = Buffer.allocUnsafe(1 << 20);
  let files = 0;
  let bytes = 0;
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const file = path.join(dir, entry.name);
      if (entry.isDirectory()) {
        walk(file);
        continue;
      }
      if (!entry.isFile()) continue;
      const fd = openSync(file, 'r');
      try {
        for (let read = readSync(fd, buffer); read > 0; read = readSync(fd, buffer)) bytes += read;
      } finally {
        closeSync(fd);
      }
      files += 1;
    }
  };
  walk(folder);
  return { files, bytes, seconds: (performance.now() - started) / 1000 };
}

/** warmPageCache of a world's stores, logged. */
export function warmStores(world: World, log: (message: string) => void): void {
  const warmed = warmPageCache(path.join(world.dir, 'stores'));
  log(`  ${world.spec.label}: stores read once into the page cache (untimed): ${warmed.files} files, ${(warmed.bytes / 2 ** 20).toFixed(1)} MiB in ${warmed.seconds.toFixed(1)} s`);
}

export function readDirectory(world: World): DirectoryAccount[] {
  const file = path.join(world.dir, 'stores', 'directory.json');
  const parsed = JSON.parse(readFileSync(file, 'utf8')) as { accounts?: DirectoryAccount[] };
  if (!Array.isArray(parsed.accounts)) throw new Error(`${file}: expected an "accounts" array`);
  return parsed.accounts;
}

/** Consumer accounts only: enterprise data needs a redirect decision, customer-key data cannot be decrypted. */
export function consumerAccounts(world: World): DirectoryAccount[] {
  return readDirectory(world).filter((account) => account.tenantType === 'consumer');
}

function targetFor(account: DirectoryAccount): { type: string; value: string } {
  const email = account.identifiers.find((identifier) => identifier.type === 'email');
  return email ?? { type: 'account-id', value: account.id };
}

/** Writes an unsigned search warrant for these accounts, every category, a wide date range; then approves it. */
export async function writeApprovedOrder(world: World, id: string, accounts: readonly DirectoryAccount[], folder: string): Promise<string> {
  if (accounts.length === 0) throw new Error(`world ${world.spec.label}: no consumer account to name in order ${id}`);
  const day = 24 * 3600 * 1000;
  const now = Date.now();
  const instant = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
  const order = {
    schema: 'scopex.order/v1',
    id,
    process: 'search-warrant',
    authority: { name: 'Benchmark District Court', jurisdiction: 'US', caseNumber: `BENCH-${id}` },
    issuedAt: instant(now - day),
    expiresAt: instant(now + 365 * day),
    targets: accounts.map(targetFor),
    categories: [...ALL_CATEGORIES],
    dateRange: { from: '1970-01-01T00:00:00Z', to: '2099-12-31T23:59:59Z' },
    enterpriseRedirect: 'not-applicable',
  };
  mkdirSync(folder, { recursive: true });
  const unsigned = path.join(folder, `${id}.unsigned.json`);
  const approved = path.join(folder, `${id}.json`);
  writeFileSync(unsigned, `${JSON.stringify(order, null, 2)}\n`);
  const pki = path.join(world.dir, 'pki');
  const keyFile = path.join(pki, 'reviewer.key.pem');
  const certFile = path.join(pki, 'reviewer.cert.pem');
  const run = await runTimed(process.execPath, [cli.entry, 'order', 'approve', unsigned, '--key', keyFile, '--cert', certFile, '--config', world.config, '--out', approved, '--quiet']);
  if (run.exitCode === 2 && /unknown argument|not built/i.test(run.stderr)) {
    // `order approve` is not in this build: sign with the shared foundation's signOrder, as the command would.
    approvalFallbacks.add(world.spec.label);
    const certificatePem = readFileSync(certFile, 'utf8');
    const reviewer = /CN=([^\n,]+)/.exec(new X509Certificate(certificatePem).subject)?.[1] ?? 'benchmark reviewer';
    const signed = signOrder(order as Order, { reviewer, certificatePem, key: keyFromPem(readFileSync(keyFile)) });
    writeFileSync(approved, `${JSON.stringify(signed, null, 2)}\n`);
  } else if (run.exitCode !== 0) {
    throw new Error(`scopex order approve ${unsigned} exited with ${run.exitCode}: ${run.stderr.trim().slice(-500)}`);
  }
  rmSync(unsigned, { force: true });
  return approved;
}

/** Worlds whose orders were approved in-process because the build had no `order approve` yet. */
export const approvalFallbacks = new Set<string>();

function findRepoRoot(start: string): string {
  let dir = start;
  for (;;) {
    if (existsSync(path.join(dir, 'package.json')) && existsSync(path.join(dir, 'tsconfig.json'))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`no package.json above ${start}`);
    dir = parent;
  }
}
