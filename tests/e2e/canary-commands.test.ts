// Plants a canary master key in a sample world and runs every command, the failing paths and --debug included,
// then looks for any form of key material in everything they printed, logged or archived.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSampleWorld } from '../../src/samples/sample-world.js';
import { buildCli, canariesIn, listFiles, runCli, unzip, type CliRun } from './export-helpers.js';

/** A master key nobody would type by accident, so any hit is a leak. */
const CANARY_MASTER = Buffer.from('5ca1ab1ec0ffee00d15ea5edfeedface0ddba11cafebabe0badc0de5ca1ab1e0', 'hex');

function wrapAad(accountId: string): Buffer {
  return Buffer.from(`scopex.data-key/v1\n${accountId}`, 'utf8');
}

/** Re-wraps every data key of the world under the canary master key; returns the data keys it saw. */
function plantCanaryMasterKey(world: string): Buffer[] {
  const keysDir = path.join(world, 'keys');
  const oldMaster = Buffer.from(readFileSync(path.join(keysDir, 'master.key'), 'utf8').trim(), 'hex');
  const file = JSON.parse(readFileSync(path.join(keysDir, 'data-keys.json'), 'utf8')) as {
    accounts: Record<string, { state: string; wrapped?: string }>;
  };
  const dataKeys: Buffer[] = [];
  for (const [accountId, entry] of Object.entries(file.accounts)) {
    if (!entry.wrapped) continue;
    const blob = Buffer.from(entry.wrapped, 'base64');
    const decipher = createDecipheriv('aes-256-gcm', oldMaster, blob.subarray(0, 12));
    decipher.setAAD(wrapAad(accountId));
    decipher.setAuthTag(blob.subarray(blob.length - 16));
    const dataKey = Buffer.concat([decipher.update(blob.subarray(12, blob.length - 16)), decipher.final()]);
    dataKeys.push(dataKey);
    const nonce = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', CANARY_MASTER, nonce);
    cipher.setAAD(wrapAad(accountId));
    const body = Buffer.concat([cipher.update(dataKey), cipher.final()]);
    entry.wrapped = Buffer.concat([nonce, body, cipher.getAuthTag()]).toString('base64');
  }
  writeFileSync(path.join(keysDir, 'data-keys.json'), `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600 });
  writeFileSync(path.join(keysDir, 'master.key'), `${CANARY_MASTER.toString('hex')}\n`, { mode: 0o600 });
  return dataKeys;
}

function needlesFor(world: string, dataKeys: Buffer[]): string[] {
  const needles = [CANARY_MASTER.toString('hex'), CANARY_MASTER.toString('hex').toUpperCase(), CANARY_MASTER.toString('base64')];
  for (const key of dataKeys) needles.push(key.toString('hex'), key.toString('hex').toUpperCase(), key.toString('base64'));
  const wrapped = JSON.parse(readFileSync(path.join(world, 'keys', 'data-keys.json'), 'utf8')) as {
    accounts: Record<string, { wrapped?: string }>;
  };
  for (const entry of Object.values(wrapped.accounts)) if (entry.wrapped) needles.push(entry.wrapped);
  for (const pem of ['signer.key.pem', 'reviewer.key.pem']) {
    const body = readFileSync(path.join(world, 'pki', pem), 'utf8')
      .split('\n')
      .filter((line) => line && !line.startsWith('-----'));
    needles.push(...body.filter((line) => line.length >= 40));
  }
  return needles;
}

function filesUnder(folder: string): string[] {
  try {
    return listFiles(folder).map((rel) => path.join(folder, rel));
  } catch {
    return [];
  }
}

describe('no command leaks key material (canary master key planted)', () => {
  let root: string;
  let world: string;
  let config: string;
  let needles: string[];
  const runs: { name: string; run: CliRun }[] = [];

  async function scopex(name: string, args: string[]): Promise<CliRun> {
    const run = await runCli([...args, '--config', config]);
    runs.push({ name, run });
    return run;
  }

  beforeAll(async () => {
    buildCli();
    root = mkdtempSync(path.join(tmpdir(), 'scopex-canary-'));
    world = path.join(root, 'world');
    await generateSampleWorld({ out: world, accounts: 8, seed: 'canary', size: 2_000_000 });
    const dataKeys = plantCanaryMasterKey(world);
    config = path.join(world, 'config.json');
    needles = needlesFor(world, dataKeys);
    const orders = path.join(world, 'orders');
    const out = path.join(root, 'out');

    // The normal paths.
    await scopex('order check', ['order', 'check', path.join(orders, 'approved-warrant.json')]);
    await scopex('order check --json refused', ['order', 'check', path.join(orders, 'tampered.json'), '--json']);
    await scopex('order check malformed', ['order', 'check', path.join(orders, 'malformed.json')]);
    await scopex('order approve', [
      'order', 'approve', path.join(orders, 'unapproved.json'),
      '--key', path.join(world, 'pki', 'reviewer.key.pem'),
      '--cert', path.join(world, 'pki', 'reviewer.cert.pem'),
      '--out', path.join(root, 'approved.json'),
    ]);
    await scopex('export', ['export', path.join(orders, 'approved-warrant.json'), '--out', out, '--json']);
    await scopex('export customer-key', ['export', path.join(orders, 'approved-customer-key.json'), '--out', out]);
    const archives = readdirSync(out).filter((name) => name.endsWith('.zip'));
    for (const archive of archives) {
      await scopex('verify', ['verify', path.join(out, archive), '--trust', path.join(world, 'pki', 'ca.cert.pem'), '--json']);
      unzip(path.join(out, archive), path.join(root, 'unzipped'));
    }
    // Key material planted where verify and audit verify quote what they find (round 8 keys K2, K6): an archive's
    // entry name, and the name of a field a log record should not have. Their reports on stdout and in --json do not
    // show it, as their stderr summaries do not. (Kept apart: the folders scanned for key material below hold none.)
    const plantedHex = CANARY_MASTER.toString('hex');
    const tampered = path.join(root, 'tampered');
    const top = archives[0]!.replace(/\.zip$/, '');
    mkdirSync(path.join(tampered, top, 'data'), { recursive: true });
    const plantedZip = path.join(tampered, 'planted.zip');
    copyFileSync(path.join(out, archives[0]!), plantedZip);
    writeFileSync(path.join(tampered, top, 'data', `${plantedHex}.txt`), 'planted\n');
    execFileSync('zip', ['-q', '-X', plantedZip, `${top}/data/${plantedHex}.txt`], { cwd: tampered });
    for (const json of [[], ['--json']]) {
      await scopex(`verify${json.join('')}, key as an entry name`, ['verify', plantedZip, '--trust', path.join(world, 'pki', 'ca.cert.pem'), ...json]);
    }
    const { createFileCustodyLog: plantedLog } = await import('../../src/custody/file-custody-log.js');
    const editedLog = path.join(tampered, 'edited-custody.jsonl');
    await plantedLog({ file: editedLog }).append({ event: 'order.checked', orderId: 'LE-1', details: {} });
    const [first] = readFileSync(editedLog, 'utf8').split('\n');
    writeFileSync(editedLog, `${JSON.stringify({ ...(JSON.parse(first!) as object), [plantedHex]: 1 })}\n`);
    for (const json of [[], ['--json']]) {
      await scopex(`audit verify${json.join('')}, key as a field name`, ['audit', 'verify', editedLog, ...json]);
    }
    await scopex('batch', ['batch', orders, '--out', path.join(root, 'batch'), '--json', '--concurrency', '2']);
    await scopex('audit verify', ['audit', 'verify']);
    await scopex('report', ['report', 'transparency', '--from', '2026-01-01', '--to', '2027-12-31', '--json']);
    await scopex('report csv', ['report', 'transparency', '--from', '2026-01-01', '--to', '2027-12-31', '--csv']);
    await scopex('notify', ['notify', '--json']);

    // The failing paths, with --debug so stack traces and causes are printed too.
    const keysFile = path.join(world, 'keys', 'data-keys.json');
    const goodKeys = readFileSync(keysFile);
    const broken = JSON.parse(goodKeys.toString('utf8')) as { accounts: Record<string, { wrapped?: string }> };
    for (const entry of Object.values(broken.accounts)) {
      if (entry.wrapped) entry.wrapped = `${entry.wrapped.slice(0, 20)}AAAA${entry.wrapped.slice(24)}`;
    }
    writeFileSync(keysFile, JSON.stringify(broken));
    await scopex('export, data key fails to unwrap', ['export', path.join(orders, 'approved-warrant.json'), '--out', path.join(root, 'bad1'), '--debug']);
    writeFileSync(keysFile, goodKeys);

    const masterFile = path.join(world, 'keys', 'master.key');
    writeFileSync(masterFile, `${CANARY_MASTER.toString('hex')}zz\n`);
    await scopex('export, master key file malformed', ['export', path.join(orders, 'approved-warrant.json'), '--out', path.join(root, 'bad2'), '--debug']);
    writeFileSync(masterFile, `${CANARY_MASTER.toString('hex').slice(0, 62)}00\n`);
    await scopex('export, wrong master key', ['export', path.join(orders, 'approved-warrant.json'), '--out', path.join(root, 'bad3'), '--debug', '--json']);
    writeFileSync(masterFile, `${CANARY_MASTER.toString('hex')}\n`);

    // Key material pasted into the wrong place: it is refused without being quoted back, and never logged.
    const configText = readFileSync(config, 'utf8');
    const pastedConfig = path.join(world, 'pasted-config.json');
    const configJson = JSON.parse(configText) as { keys: { masterKey: string } };
    configJson.keys.masterKey = CANARY_MASTER.toString('hex');
    writeFileSync(pastedConfig, JSON.stringify(configJson));
    runs.push({
      name: 'export, master key pasted into the config',
      run: await runCli(['export', path.join(orders, 'approved-warrant.json'), '--out', path.join(root, 'bad4'), '--debug', '--json', '--config', pastedConfig]),
    });
    const warrant = JSON.parse(readFileSync(path.join(orders, 'approved-warrant.json'), 'utf8')) as Record<string, unknown>;
    const signerKey = readFileSync(path.join(world, 'pki', 'signer.key.pem'), 'utf8');
    const pasted = path.join(root, 'pasted-order.json');
    writeFileSync(pasted, JSON.stringify({ ...warrant, id: signerKey, process: CANARY_MASTER.toString('hex') }));
    await scopex('export, private key pasted as the order id', ['export', pasted, '--out', path.join(root, 'bad5'), '--debug', '--json']);
    await scopex('batch, private key pasted as the order id', ['batch', pasted, '--out', path.join(root, 'bad6'), '--json']);
    const pastedTarget = path.join(root, 'pasted-target.json');
    writeFileSync(pastedTarget, JSON.stringify({ ...warrant, targets: [{ type: 'email', value: CANARY_MASTER.toString('base64') }] }));
    await scopex('order check, master key pasted as a target', ['order', 'check', pastedTarget, '--json']);

    // A raw key as the ORDER argument, and as an order id (64 hex digits fit the id pattern): malformed, never echoed.
    const canaryHex = CANARY_MASTER.toString('hex');
    await scopex('order check, master key as the ORDER argument', ['order', 'check', path.join(root, canaryHex)]);
    await scopex('order check --json, master key as the ORDER argument', ['order', 'check', path.join(root, canaryHex), '--json']);
    const keyId = path.join(root, 'key-id.json');
    writeFileSync(keyId, JSON.stringify({ ...warrant, id: canaryHex }));
    await scopex('order check, master key as the order id', ['order', 'check', keyId]);
    await scopex('order check --json, master key as the order id', ['order', 'check', keyId, '--json']);
    await scopex('export, master key as the order id', ['export', keyId, '--out', path.join(root, 'bad7'), '--json']);
    await scopex('batch, master key as the order id', ['batch', keyId, '--out', path.join(root, 'bad8')]);
    await scopex('batch --json, master key as the order id', ['batch', keyId, '--out', path.join(root, 'bad8'), '--json']);
    await scopex('order approve, master key as the order id', [
      'order', 'approve', keyId,
      '--key', path.join(world, 'pki', 'reviewer.key.pem'),
      '--cert', path.join(world, 'pki', 'reviewer.cert.pem'),
      '--out', path.join(root, 'approved-key-id.json'),
    ]);
    // A log written before such ids were refused (or by another tool) may still hold one: notify does not show it.
    const oldLog = path.join(root, 'old-custody.jsonl');
    const { createFileCustodyLog } = await import('../../src/custody/file-custody-log.js');
    const log = createFileCustodyLog({ file: oldLog });
    await log.append({ event: 'notification.due', orderId: canaryHex, details: { accounts: ['acct-0001'], enterpriseAccounts: [], notifyFrom: null } });
    await log.append({ event: 'notification.due', orderId: canaryHex.toUpperCase(), details: { accounts: ['acct-0002'], enterpriseAccounts: [], notifyFrom: '2099-01-01T00:00:00Z' } });
    await log.append({ event: 'order.refused', orderId: CANARY_MASTER.toString('base64'), details: { process: 'subpoena', reasons: ['ENTERPRISE_REDIRECT'], targets: 1 } });
    await scopex('notify, keys as order ids in an old log', ['notify', '--log', oldLog]);
    await scopex('notify --json, keys as order ids in an old log', ['notify', '--log', oldLog, '--json']);
  }, 240_000);

  afterAll(() => {
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('ran every command, and the failing ones failed as they should', () => {
    const byName = new Map(runs.map(({ name, run }) => [name, run.code]));
    expect(byName.get('order check')).toBe(0);
    expect(byName.get('order check --json refused')).toBe(3);
    expect(byName.get('order check malformed')).toBe(2);
    expect(byName.get('order approve')).toBe(0);
    expect(byName.get('export')).toBe(0);
    expect(byName.get('verify')).toBe(0);
    expect(byName.get('batch')).toBe(6);
    expect(byName.get('audit verify')).toBe(0);
    for (const name of ['verify, key as an entry name', 'verify--json, key as an entry name', 'audit verify, key as a field name', 'audit verify--json, key as a field name']) {
      expect(byName.get(name), name).toBe(4);
    }
    const plantedReport = runs.find((r) => r.name === 'verify, key as an entry name')!.run.stdout;
    expect(plantedReport).toMatch(/data\/\[not shown: it may be key material\]\.txt is not in the manifest/);
    expect(runs.find((r) => r.name === 'audit verify, key as a field name')!.run.stdout).toMatch(/does not define \("\[not shown: it may be key material\]"\)/);
    expect(byName.get('export, data key fails to unwrap')).not.toBe(0);
    expect(byName.get('export, master key file malformed')).not.toBe(0);
    expect(byName.get('export, wrong master key')).not.toBe(0);
    expect(byName.get('export, master key pasted into the config')).toBe(2);
    expect(byName.get('export, private key pasted as the order id')).toBe(2);
    expect(byName.get('batch, private key pasted as the order id')).toBe(6);
    expect(byName.get('order check, master key pasted as a target')).not.toBe(0);
    for (const name of [
      'order check, master key as the ORDER argument',
      'order check --json, master key as the ORDER argument',
      'order check, master key as the order id',
      'order check --json, master key as the order id',
      'export, master key as the order id',
      'order approve, master key as the order id',
    ]) {
      expect(byName.get(name), name).toBe(2);
    }
    expect(byName.get('batch, master key as the order id')).toBe(6);
    expect(byName.get('notify --json, keys as order ids in an old log')).toBe(0);
    const notified = JSON.parse(runs.find((r) => r.name === 'notify --json, keys as order ids in an old log')!.run.stdout) as Record<string, unknown[]>;
    expect([notified['notify']!.length, notified['withheld']!.length, notified['redirect']!.length]).toEqual([1, 1, 1]);
    expect(needles.length).toBeGreaterThan(10);
  });

  it('records provider-side verifications (verify with --config) in the custody log', () => {
    const records = readFileSync(path.join(world, 'custody', 'custody.jsonl'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as { event: string; details: { ok?: boolean; archive?: string } });
    // The archive with a planted entry fails, as it should; every archive export sealed verifies.
    const verified = records.filter((record) => record.event === 'archive.verified' && !record.details.archive?.endsWith('planted.zip'));
    expect(verified.length).toBeGreaterThanOrEqual(1);
    expect(verified.every((record) => record.details.ok === true)).toBe(true);
  });

  it('prints no key material on stdout or stderr of any command', () => {
    for (const { name, run } of runs) {
      expect(canariesIn(run.stdout, needles), `${name} stdout`).toEqual([]);
      expect(canariesIn(run.stderr, needles), `${name} stderr`).toEqual([]);
    }
  });

  it('puts no key material in any archive, bag file, custody log or written order', () => {
    const files = [
      ...filesUnder(path.join(root, 'out')),
      ...filesUnder(path.join(root, 'batch')),
      ...filesUnder(path.join(root, 'unzipped')),
      ...filesUnder(path.join(world, 'custody')),
      path.join(root, 'approved.json'),
    ];
    expect(files.length).toBeGreaterThan(5);
    for (const file of files) {
      if (!statSync(file).isFile()) continue;
      expect(canariesIn(readFileSync(file), needles), file).toEqual([]);
    }
  });
});
