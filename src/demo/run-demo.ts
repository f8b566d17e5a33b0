// `npm run demo`: the main job end to end on a fresh sample world, running the real CLI as a user would.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { packageRoot } from '../util/package-root.js';

const cli = path.join(packageRoot(), 'dist', 'bin', 'main.js');
const world = mkdtempSync(path.join(tmpdir(), 'scopex-demo-'));
const config = path.join(world, 'config.json');
const out = path.join(world, 'out');

function step(title: string, args: string[], expectedExit = 0): void {
  process.stdout.write(`\n== ${title}\n$ scopex ${args.map(quote).join(' ')}\n`);
  const result = spawnSync(process.execPath, [cli, ...args], { stdio: 'inherit' });
  if (result.status !== expectedExit) {
    process.stderr.write(`demo: expected exit ${expectedExit}, got ${result.status ?? result.signal}\n`);
    process.exit(1);
  }
}

function quote(arg: string): string {
  return /^[\w./:@=-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

const orders = path.join(world, 'orders');
const approved = path.join(orders, 'demo-approved.json');

step('1. Build a sample world (encrypted stores, keys, PKI, sample orders)', ['samples', 'generate', '--out', world, '--accounts', '12', '--seed', 'demo']);
step('2. An order nobody approved is refused (exit 3)', ['order', 'check', path.join(orders, 'unapproved.json'), '--config', config], 3);
step('3. A compliance reviewer approves it', [
  'order', 'approve', path.join(orders, 'unapproved.json'),
  '--key', path.join(world, 'pki', 'reviewer.key.pem'),
  '--cert', path.join(world, 'pki', 'reviewer.cert.pem'),
  '--out', approved, '--config', config,
]);
step('4. The approved order passes every check', ['order', 'check', approved, '--config', config]);
step('5. Export: only the named accounts, categories and dates, sealed and signed', ['export', approved, '--out', out, '--config', config]);
const archive = readdirSync(out).find((name) => name.endsWith('.zip'));
if (!archive) {
  process.stderr.write('demo: the export left no archive\n');
  process.exit(1);
}
step('6. Verify the delivered archive as the investigator would', [
  'verify', path.join(out, archive), '--trust', path.join(world, 'pki', 'ca.cert.pem'), '--order', approved, '--config', config,
]);
step('7. The custody log is intact', ['audit', 'verify', '--config', config]);
const unzipped = path.join(world, 'unzipped');
const bag = path.join(unzipped, archive.replace(/\.zip$/, ''));
process.stdout.write(`\n== 8. Check the signature with standard tools (unzip, openssl), not with scopex\n`);
const tools = spawnSync('sh', ['-c', 'command -v unzip && command -v openssl'], { stdio: 'ignore' });
if (tools.status === 0) {
  spawnSync('unzip', ['-q', path.join(out, archive), '-d', unzipped], { stdio: 'inherit' });
  const args = ['cms', '-verify', '-binary', '-inform', 'DER', '-in', 'signature.p7s', '-content', 'tagmanifest-sha256.txt',
    '-CAfile', path.join(world, 'pki', 'ca.cert.pem'), '-purpose', 'any', '-out', '/dev/null'];
  process.stdout.write(`$ cd ${bag} && openssl ${args.map(quote).join(' ')}\n`);
  const checked = spawnSync('openssl', args, { cwd: bag, stdio: 'inherit' });
  if (checked.status !== 0) {
    process.stderr.write('demo: openssl did not accept the signature\n');
    process.exit(1);
  }
} else {
  process.stdout.write('(skipped: unzip or openssl is not installed)\n');
}
process.stdout.write(`\nDone. The world, the archive, its unzipped bag and the custody log are in ${world}\n`);
