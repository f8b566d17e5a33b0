import { constants, createHash, verify, X509Certificate } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { InputError } from '../../src/errors.js';
import { createLocalKeyService } from '../../src/keys/local-key-service.js';
import type { StoreService } from '../../src/keys/key-service.js';
import { approvalSigningBytes } from '../../src/order/canonical.js';
import { APPROVAL_PSS_SALT } from '../../src/order/approval-sign.js';
import { checkOrder } from '../../src/order/check-order.js';
import { createFileDirectory } from '../../src/sources/file-directory.js';
import { generateSamplePkiAsync, type SamplePki } from '../../src/samples/pki.js';
import { generateSampleWorld, type SampleWorldSummary } from '../../src/samples/sample-world.js';

const root = mkdtempSync(path.join(os.tmpdir(), 'scopex-samples-'));
let pki: { trusted: SamplePki; untrusted: SamplePki };
let world: SampleWorldSummary;
const W = path.join(root, 'a');

function files(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...files(full));
    else out.push(full);
  }
  return out.sort();
}

/** A digest of every file's relative path and bytes under the given folders of a world. */
function treeDigest(worldDir: string, folders: string[]): string {
  const hash = createHash('sha256');
  for (const folder of folders) {
    for (const file of files(path.join(worldDir, folder))) {
      hash.update(path.relative(worldDir, file)).update('\0').update(readFileSync(file)).update('\0');
    }
  }
  return hash.digest('hex');
}

interface IndexLine {
  id: string;
  timestamp: string;
  bytes: number;
  name: string;
  [field: string]: unknown;
}

function index(worldDir: string, service: 'mail' | 'storage' | 'im', account: string): IndexLine[] {
  return readFileSync(path.join(worldDir, 'stores', service, account, 'index.jsonl'), 'utf8')
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as IndexLine);
}

function accountIds(worldDir: string): string[] {
  const directory = JSON.parse(readFileSync(path.join(worldDir, 'stores', 'directory.json'), 'utf8')) as { accounts: { id: string }[] };
  return directory.accounts.map((account) => account.id);
}

async function plaintext(worldDir: string, service: StoreService, accountId: string, itemId: string): Promise<string> {
  const keys = createLocalKeyService({
    masterKeyFile: path.join(worldDir, 'keys', 'master.key'),
    dataKeysFile: path.join(worldDir, 'keys', 'data-keys.json'),
  });
  const blobFile =
    service === 'subscriber'
      ? path.join(worldDir, 'stores', 'subscriber', `${accountId}.json`)
      : path.join(worldDir, 'stores', service, accountId, 'blobs', itemId);
  return (await keys.readItem({ service, accountId, itemId, blobFile }, 64 * 1024 * 1024)).bytes.toString('utf8');
}

beforeAll(async () => {
  const [trusted, untrusted] = await Promise.all([generateSamplePkiAsync(), generateSamplePkiAsync({ organization: 'Outsider' })]);
  pki = { trusted, untrusted };
  world = await generateSampleWorld({ out: W, accounts: 6, size: 300_000, seed: 'test-seed', pki });
});

afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('sample world determinism', () => {
  it('gives byte-identical stores and keys for the same seed, and different ones for another seed', async () => {
    const same = path.join(root, 'same');
    const other = path.join(root, 'other');
    await generateSampleWorld({ out: same, accounts: 6, size: 300_000, seed: 'test-seed', pki });
    await generateSampleWorld({ out: other, accounts: 6, size: 300_000, seed: 'another-seed', pki });
    expect(files(path.join(W, 'stores')).length).toBeGreaterThan(50);
    expect(treeDigest(same, ['stores', 'keys'])).toBe(treeDigest(W, ['stores', 'keys']));
    expect(treeDigest(other, ['stores', 'keys'])).not.toBe(treeDigest(W, ['stores', 'keys']));
    expect(readFileSync(path.join(other, 'keys', 'master.key'), 'utf8')).not.toBe(readFileSync(path.join(W, 'keys', 'master.key'), 'utf8'));
  });
});

describe('sample world layout', () => {
  it('writes a config that loads, with every path inside the world', () => {
    const config = loadConfig(path.join(W, 'config.json'));
    expect(config.storesRoot).toBe(path.join(W, 'stores'));
    expect(config.masterKeyFile).toBe(path.join(W, 'keys', 'master.key'));
    expect(config.dataKeysFile).toBe(path.join(W, 'keys', 'data-keys.json'));
    expect(config.reviewerCaFiles).toEqual([path.join(W, 'pki', 'ca.cert.pem')]);
    expect(config.signerCertificateFile).toBe(path.join(W, 'pki', 'signer.cert.pem'));
    expect(config.signerKeyFile).toBe(path.join(W, 'pki', 'signer.key.pem'));
    expect(config.custodyLogFile).toBe(path.join(W, 'custody', 'custody.jsonl'));
    expect(config.sampleWorld?.seed).toBe('test-seed');
    expect(config.sampleWorld?.warning).toMatch(/seeded/i);
    expect(config.legalProcess.permits.subpoena).toEqual(['subscriber']);
  });

  it('keeps key files private and the master key in its format', () => {
    const master = path.join(W, 'keys', 'master.key');
    expect(readFileSync(master, 'utf8')).toMatch(/^[0-9a-f]{64}\n$/);
    for (const file of [master, path.join(W, 'keys', 'data-keys.json'), path.join(W, 'pki', 'reviewer.key.pem'), path.join(W, 'pki', 'signer.key.pem')]) {
      expect(statSync(file).mode & 0o077).toBe(0);
    }
    for (const cert of ['ca', 'reviewer', 'signer']) {
      const certificate = new X509Certificate(readFileSync(path.join(W, 'pki', `${cert}.cert.pem`)));
      expect(certificate.verify(new X509Certificate(readFileSync(path.join(W, 'pki', 'ca.cert.pem'))).publicKey)).toBe(true);
    }
  });

  it('has every tenant type, and customer-key accounts have no provider key', () => {
    const directory = JSON.parse(readFileSync(path.join(W, 'stores', 'directory.json'), 'utf8')) as {
      accounts: { id: string; tenantType: string }[];
    };
    const types = new Set(directory.accounts.map((account) => account.tenantType));
    expect([...types].sort()).toEqual(['consumer', 'customer-key', 'enterprise']);
    const dataKeys = JSON.parse(readFileSync(path.join(W, 'keys', 'data-keys.json'), 'utf8')) as {
      accounts: Record<string, { state: string; wrapped?: string }>;
    };
    for (const account of directory.accounts) {
      const state = dataKeys.accounts[account.id]?.state;
      expect(state).toBe(account.tenantType === 'customer-key' ? 'customer-key' : 'provider-key');
    }
    expect(world.tenants.consumer + world.tenants.enterprise + world.tenants['customer-key']).toBe(6);
  });

  it('writes unique safe item ids, and items exactly on and one second outside the order range', () => {
    for (const account of accountIds(W)) {
      for (const service of ['mail', 'storage', 'im'] as const) {
        const lines = index(W, service, account);
        const ids = lines.map((line) => line.id);
        expect(new Set(ids).size).toBe(ids.length);
        for (const line of lines) {
          expect(line.id).toMatch(/^[A-Za-z0-9._-]+$/);
          expect(Date.parse(line.timestamp)).toBeGreaterThanOrEqual(Date.parse('2025-10-01T00:00:00Z'));
          expect(Date.parse(line.timestamp)).toBeLessThanOrEqual(Date.parse('2026-10-31T23:59:59Z'));
          expect(statSync(path.join(W, 'stores', service, account, 'blobs', line.id)).size).toBe(line.bytes + 33);
        }
        const times = new Set(lines.map((line) => line.timestamp));
        for (const edge of ['2025-12-31T23:59:59Z', '2026-01-01T00:00:00Z', '2026-06-30T23:59:59Z', '2026-07-01T00:00:00Z']) {
          expect(times.has(edge), `${service} ${account} ${edge}`).toBe(true);
        }
      }
    }
  });
});

describe('sample world content', () => {
  it('no encrypted blob contains its known plaintext', async () => {
    const account = accountIds(W)[0]!;
    const mail = index(W, 'mail', account);
    const firstMail = await plaintext(W, 'mail', account, mail[0]!.id);
    const subscriber = await plaintext(W, 'subscriber', account, 'subscriber');
    const known = [
      'Content-Type:',
      'MIME-Version: 1.0',
      'Message-ID:',
      'loginHistory',
      'conversationId',
      firstMail.slice(firstMail.indexOf('\r\n\r\n') + 4, firstMail.indexOf('\r\n\r\n') + 40),
      (JSON.parse(subscriber) as { name: string }).name,
      ...(JSON.parse(readFileSync(path.join(W, 'stores', 'directory.json'), 'utf8')) as { accounts: { identifiers: { value: string }[] }[] }).accounts.flatMap(
        (a) => a.identifiers.map((identifier) => identifier.value),
      ),
    ].map((text) => Buffer.from(text, 'utf8'));
    const blobs = files(path.join(W, 'stores')).filter((file) => file.includes(`${path.sep}blobs${path.sep}`) || file.includes(`${path.sep}subscriber${path.sep}`));
    expect(blobs.length).toBeGreaterThan(50);
    for (const blob of blobs) {
      const bytes = readFileSync(blob);
      expect(bytes.subarray(0, 4).toString('latin1')).toBe('SCXB');
      for (const text of known) expect(bytes.includes(text), `${blob} holds ${text.toString()}`).toBe(false);
    }
  });

  it('writes RFC 5322 mail with CRLF, threads and attachments', async () => {
    const account = accountIds(W)[0]!;
    const mail = index(W, 'mail', account);
    const messages = await Promise.all(mail.slice(0, 3).map((line) => plaintext(W, 'mail', account, line.id)));
    for (const message of messages) {
      expect(message).toMatch(/^Date: \w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} \+0000\r\n/);
      for (const header of ['From: ', 'To: ', 'Subject: ', 'Message-ID: <']) expect(message).toContain(`\r\n${header}`);
      expect(message.replace(/\r\n/g, '')).not.toContain('\n');
      for (const line of message.split('\r\n')) expect(line.length).toBeLessThanOrEqual(998);
    }
    expect(messages[0]).toContain('Content-Type: multipart/mixed;');
    expect(messages[0]).toContain('Content-Transfer-Encoding: base64');
    const firstId = /Message-ID: (<[^>]+>)/.exec(messages[0]!)?.[1];
    expect(messages[1]).toContain(`In-Reply-To: ${firstId}`);
    expect(messages[2]).toMatch(/References: <[^>]+> <[^>]+>/);
    expect(messages[1]).toMatch(/Subject: Re: /);
  });

  it('has user-encrypted mail marked in the index (S/MIME and PGP)', async () => {
    const account = accountIds(W)[0]!;
    const mail = index(W, 'mail', account);
    const smime = mail.find((line) => line.userEncryption === 'smime');
    const pgp = mail.find((line) => line.userEncryption === 'pgp');
    expect(smime && pgp).toBeTruthy();
    expect(mail.every((line) => [null, 'smime', 'pgp'].includes(line.userEncryption as string | null))).toBe(true);
    expect(await plaintext(W, 'mail', account, smime!.id)).toContain('Content-Type: application/pkcs7-mime; smime-type=enveloped-data');
    const pgpMessage = await plaintext(W, 'mail', account, pgp!.id);
    expect(pgpMessage).toContain('multipart/encrypted; protocol="application/pgp-encrypted"');
    expect(pgpMessage).toContain('-----BEGIN PGP MESSAGE-----');
  });

  it('has storage with nested folders, empty files and hostile names', () => {
    const names = accountIds(W).flatMap((account) => index(W, 'storage', account));
    const all = names.map((line) => line.name);
    expect(all).toContain('..');
    expect(all.some((name) => name.split('/').includes('..') && name !== '..')).toBe(true);
    expect(all.some((name) => name.startsWith('/'))).toBe(true);
    expect(all.some((name) => name.includes('\\'))).toBe(true);
    // eslint-disable-next-line no-control-regex
    expect(all.some((name) => /[\u0000-\u001f]/.test(name))).toBe(true);
    const nfc = all.filter((name) => name !== name.normalize('NFD'));
    expect(nfc.some((name) => all.includes(name.normalize('NFD')))).toBe(true);
    expect(all.some((name) => name.split('/').some((part) => part.length >= 300))).toBe(true);
    expect(all.some((name) => name.split('/').length >= 4)).toBe(true);
    expect(names.some((line) => line.bytes === 0)).toBe(true);
    for (const line of names) {
      expect(line.timestamp).toBe(line['modified']);
      expect(Date.parse(line['created'] as string)).toBeLessThanOrEqual(Date.parse(line['modified'] as string));
    }
  });

  it('stores IM as one JSON item per message, across many days', async () => {
    const account = accountIds(W)[0]!;
    const im = index(W, 'im', account);
    const first = im[0]!;
    expect(first.name).toBe(`${first['conversationId'] as string}/${first.timestamp.replace(/[-:]/g, '')}.json`);
    const message = JSON.parse(await plaintext(W, 'im', account, first.id)) as Record<string, unknown>;
    expect(Object.keys(message).sort()).toEqual(['conversationId', 'from', 'participants', 'sentAt', 'text']);
    expect(message['participants']).toEqual(first['participants']);
    expect(message['sentAt']).toBe(first.timestamp);
    for (const id of accountIds(W)) {
      const byConversation = new Map<string, Set<string>>();
      for (const line of index(W, 'im', id)) {
        const days = byConversation.get(line['conversationId'] as string) ?? new Set<string>();
        days.add(line.timestamp.slice(0, 10));
        byConversation.set(line['conversationId'] as string, days);
      }
      expect(Math.max(...[...byConversation.values()].map((days) => days.size)), id).toBeGreaterThanOrEqual(6);
    }
  });

  it('writes subscriber records with sign-up, recovery and months of login history', async () => {
    const record = JSON.parse(await plaintext(W, 'subscriber', accountIds(W)[1]!, 'subscriber')) as {
      name: string;
      signUp: { date: string; ip: string };
      recovery: { email: string; phone: string };
      loginHistory: { time: string; ip: string }[];
    };
    expect(record.name).toMatch(/^\S+ \S+$/);
    expect(record.signUp.ip).toBeTruthy();
    expect(record.recovery.email).toContain('@');
    expect(record.recovery.phone).toMatch(/^\+\d+$/);
    const times = record.loginHistory.map((login) => Date.parse(login.time));
    expect(Math.max(...times) - Math.min(...times)).toBeGreaterThan(180 * 24 * 3600 * 1000);
  });
});

describe('sample orders', () => {
  const approved = ['approved-warrant.json', 'approved-subpoena.json', 'approved-court-order.json', 'approved-customer-key.json', 'approved-enterprise-consented.json'];

  it('signs every approved order with the sample reviewer (RSA-PSS, SHA-256, salt 32)', () => {
    const ca = new X509Certificate(readFileSync(path.join(W, 'pki', 'ca.cert.pem')));
    for (const file of approved) {
      const order = JSON.parse(readFileSync(path.join(W, 'orders', file), 'utf8')) as Record<string, unknown> & {
        approval: { certificate: string; signature: string };
      };
      const certificate = new X509Certificate(order.approval.certificate);
      expect(certificate.verify(ca.publicKey), file).toBe(true);
      const ok = verify('sha256', approvalSigningBytes(order), {
        key: certificate.publicKey,
        padding: constants.RSA_PKCS1_PSS_PADDING,
        saltLength: APPROVAL_PSS_SALT,
      }, Buffer.from(order.approval.signature, 'base64'));
      expect(ok, file).toBe(true);
    }
    const tampered = JSON.parse(readFileSync(path.join(W, 'orders', 'tampered.json'), 'utf8')) as Record<string, unknown> & {
      approval: { certificate: string; signature: string };
    };
    expect(
      verify('sha256', approvalSigningBytes(tampered), {
        key: new X509Certificate(tampered.approval.certificate).publicKey,
        padding: constants.RSA_PKCS1_PSS_PADDING,
        saltLength: APPROVAL_PSS_SALT,
      }, Buffer.from(tampered.approval.signature, 'base64')),
    ).toBe(false);
  });

  it('gets the verdict each order is named for from the order gate', async () => {
    const config = loadConfig(path.join(W, 'config.json'));
    const directory = createFileDirectory({ file: path.join(W, 'stores', 'directory.json') });
    const listed = readdirSync(path.join(W, 'orders')).filter((file) => file.endsWith('.json')).sort();
    expect(listed).toEqual(world.orders.map((order) => order.file).sort());
    expect(readFileSync(path.join(W, 'orders', 'README.txt'), 'utf8')).toContain('tampered.json');
    for (const expected of world.orders) {
      let code: string | null = null;
      let kind = 0;
      try {
        await checkOrder(path.join(W, 'orders', expected.file), { config, directory, now: new Date() });
      } catch (error) {
        code = (error as { code: string }).code;
        kind = error instanceof InputError ? 2 : 3;
      }
      expect({ file: expected.file, code, kind }).toEqual({ file: expected.file, code: expected.expectedCode, kind: expected.expectedExitCode });
    }
  });
});

describe('sample world options', () => {
  it('refuses bad options and folders that are not empty sample worlds', async () => {
    await expect(generateSampleWorld({ out: path.join(root, 'x'), accounts: 2, pki })).rejects.toMatchObject({ code: 'USAGE' });
    await expect(generateSampleWorld({ out: path.join(root, 'x'), size: -1, pki })).rejects.toMatchObject({ code: 'USAGE' });
    const busy = path.join(root, 'busy');
    mkdirSync(busy);
    writeFileSync(path.join(busy, 'precious.txt'), 'keep me');
    await expect(generateSampleWorld({ out: busy, force: true, pki })).rejects.toMatchObject({ code: 'OUTPUT_EXISTS' });
    expect(readFileSync(path.join(busy, 'precious.txt'), 'utf8')).toBe('keep me');
    await expect(generateSampleWorld({ out: W, size: 1000, pki })).rejects.toMatchObject({ code: 'OUTPUT_EXISTS' });
  });

  it('replaces an earlier sample world with force', async () => {
    const again = path.join(root, 'again');
    await generateSampleWorld({ out: again, accounts: 5, size: 10_000, seed: 'one', pki });
    await generateSampleWorld({ out: again, accounts: 5, size: 10_000, seed: 'two', pki, force: true });
    expect(loadConfig(path.join(again, 'config.json')).sampleWorld?.seed).toBe('two');
  });

  it('small-items puts the bytes into mail of 2-6 KiB', async () => {
    const out = path.join(root, 'small');
    const summary = await generateSampleWorld({ out, accounts: 5, size: 600_000, profile: 'small-items', pki });
    const sizes = accountIds(out).flatMap((id) => index(out, 'mail', id)).map((line) => line.bytes);
    const inBand = sizes.filter((bytes) => bytes >= 2048 && bytes <= 6.5 * 1024);
    expect(inBand.length).toBeGreaterThan(100);
    expect(inBand.length / sizes.length).toBeGreaterThan(0.7);
    expect(summary.items.mail).toBe(sizes.length);
  });

  it('large-items streams storage files of at least 16 MiB', async () => {
    const out = path.join(root, 'large');
    await generateSampleWorld({ out, accounts: 5, size: 20 * 1024 * 1024, profile: 'large-items', pki });
    const large = accountIds(out)
      .flatMap((id) => index(out, 'storage', id).map((line) => ({ id, line })))
      .filter(({ line }) => line.bytes >= 16 * 1024 * 1024);
    expect(large.length).toBe(1);
    const { id, line } = large[0]!;
    expect(statSync(path.join(out, 'stores', 'storage', id, 'blobs', line.id)).size).toBe(line.bytes + 33);
    rmSync(out, { recursive: true, force: true });
  });
});
