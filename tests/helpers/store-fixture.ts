// A small encrypted world in a temp folder, laid out like `scopex samples generate` output, for tests.
//
//   const fx = await buildStoreFixture();          // or buildStoreFixture({ largeItemBytes: 20 * 2 ** 20 })
//   try { ... fx.items, fx.accounts.consumer, fx.range, loadConfig(fx.configFile) ... } finally { fx.cleanup(); }
//
// Layout (paths relative to fx.root): config.json, legal-process.json, pki/{ca,reviewer,signer}.{cert,key}.pem,
// keys/master.key (hex, 0600), keys/data-keys.json, stores/directory.json, stores/<mail|storage|im>/<account>/...,
// stores/subscriber/<account>.json, custody/ (empty; the config's custody log is custody/custody.jsonl).
//
// Accounts (fx.accounts):
//   consumer    acct-alice  consumer tenant; items on both edges of fx.range in every service, hostile names,
//                           an empty file, a PGP-encrypted mail
//   neighbour   acct-bob    consumer tenant; a few items inside the range (for swaps and isolation tests)
//   enterprise  acct-carol  enterprise tenant; one item per service
//   customerKey acct-dave   customer-key tenant: the provider has no key (openItem fails, openStored works)
//   empty       acct-erin   no mail, storage or IM items (empty index files); a subscriber record only
// Every account has a subscriber record (service 'subscriber', item id 'subscriber').
import { createHash, createSecretKey, randomBytes } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig, type ScopexConfig } from '../../src/config.js';
import type { StoreService } from '../../src/keys/key-service.js';
import { formatMasterKey } from '../../src/keys/master-key.js';
import { generateSamplePki, type SamplePki } from '../../src/samples/pki.js';
import type { Account } from '../../src/sources/account-directory.js';
import type { TimeRange } from '../../src/sources/source-adapter.js';
import { createStoreWriter, lazyReadable, type AccountWriter } from '../../src/sources/store-writer.js';
import { packageRoot } from '../../src/util/package-root.js';

export interface StoreFixtureOptions {
  /** Adds a streamed storage item `s-large` of this many bytes to the consumer account (inside the range). */
  largeItemBytes?: number;
  /** The first bytes of that item's plaintext (the rest is random). */
  largeItemPrefix?: Buffer;
  /** Generate and write the sample PKI (default true; generated once per test process and reused). */
  pki?: boolean;
  /** Another id for the empty account (acct-erin), also its account-id identifier (a GUID without dashes, say). */
  emptyAccountId?: string;
}

/** Where an item's timestamp lies relative to fx.range; subscriber records are not time-bound. */
export type FixturePosition = 'before-from' | 'at-from' | 'inside' | 'at-to' | 'after-to' | 'timeless';

export interface FixtureItem {
  service: StoreService;
  accountId: string;
  id: string;
  name: string;
  /** As written in the index (subscriber records: the record file's mtime). */
  timestamp: string;
  position: FixturePosition;
  /** Plaintext size. */
  bytes: number;
  /** SHA-256 (hex) of the plaintext. */
  sha256: string;
  /** The plaintext; absent only for the streamed large item. */
  plaintext?: Buffer;
  /** A distinctive ASCII string inside the plaintext; it must never appear in any blob. */
  marker: string;
  blobFile: string;
  encryption: 'provider-key' | 'customer-key';
  /** The per-service index fields (mail userEncryption; storage created/modified; im conversationId/participants). */
  fields: Record<string, unknown>;
}

export interface FixtureAccounts {
  consumer: Account;
  neighbour: Account;
  enterprise: Account;
  customerKey: Account;
  empty: Account;
}

export interface StoreFixture {
  /** The world folder (like W/ of a sample world). */
  root: string;
  configFile: string;
  storesRoot: string;
  masterKeyFile: string;
  dataKeysFile: string;
  custodyLogFile: string;
  /** The master key as written to keys/master.key (64 hex characters): for canary tests. */
  masterKeyHex: string;
  /** 2026-01-01T00:00:00.000Z .. 2026-06-30T23:59:59.000Z, inclusive; edge items sit on and just outside it. */
  range: TimeRange;
  accounts: FixtureAccounts;
  /** Every item of every service and account, each service+account in index order. */
  items: FixtureItem[];
  /** Present unless built with pki: false; the PEMs are also written under pki/. */
  pki?: SamplePki & { caCertFile: string; reviewerCertFile: string; reviewerKeyFile: string; signerCertFile: string; signerKeyFile: string };
  /** The items of one account in one service, in index order. */
  itemsOf(service: StoreService, accountId: string): FixtureItem[];
  /** loadConfig(configFile). */
  config(): ScopexConfig;
  /** Removes the whole folder. */
  cleanup(): void;
}

export const FIXTURE_RANGE_ISO = { from: '2026-01-01T00:00:00.000Z', to: '2026-06-30T23:59:59.000Z' } as const;

/** Names that break naive path handling; every one must come back unchanged from an adapter. */
export const HOSTILE_NAMES = {
  dotdot: '..',
  traversal: '../../etc/passwd',
  absolute: '/etc/shadow',
  backslash: 'dir\\sub\\file.txt',
  control: 'bell\u0007tab\tnl\nesc\u001bdel\u007f.txt',
  nfc: 'caf\u00e9.txt',
  nfd: 'cafe\u0301.txt',
  long: `${'L'.repeat(296)}.txt`,
} as const;

let cachedPki: SamplePki | undefined;

const ACCOUNTS: FixtureAccounts = {
  consumer: {
    id: 'acct-alice',
    tenant: 'consumer',
    tenantType: 'consumer',
    identifiers: [
      { type: 'email', value: 'Alice@Contoso.example' },
      { type: 'im-handle', value: 'live:alice' },
      { type: 'phone', value: '+1-555-0100' },
      { type: 'account-id', value: 'acct-alice' },
    ],
  },
  neighbour: {
    id: 'acct-bob',
    tenant: 'consumer',
    tenantType: 'consumer',
    identifiers: [
      { type: 'email', value: 'bob@contoso.example' },
      { type: 'im-handle', value: 'live:bob' },
      { type: 'account-id', value: 'acct-bob' },
    ],
  },
  enterprise: {
    id: 'acct-carol',
    tenant: 'fabrikam',
    tenantType: 'enterprise',
    identifiers: [
      { type: 'email', value: 'carol@fabrikam.example' },
      { type: 'account-id', value: 'acct-carol' },
    ],
  },
  customerKey: {
    id: 'acct-dave',
    tenant: 'woodgrove',
    tenantType: 'customer-key',
    identifiers: [
      { type: 'email', value: 'dave@woodgrove.example' },
      { type: 'account-id', value: 'acct-dave' },
    ],
  },
  empty: {
    id: 'acct-erin',
    tenant: 'consumer',
    tenantType: 'consumer',
    identifiers: [
      { type: 'email', value: 'erin@contoso.example' },
      { type: 'account-id', value: 'acct-erin' },
    ],
  },
};

function withEmptyAccountId(id: string | undefined): FixtureAccounts {
  if (id === undefined) return ACCOUNTS;
  const empty = ACCOUNTS.empty;
  const identifiers = empty.identifiers.map((identifier) => (identifier.type === 'account-id' ? { type: identifier.type, value: id } : identifier));
  return { ...ACCOUNTS, empty: { ...empty, id, identifiers } };
}

const from = Date.parse(FIXTURE_RANGE_ISO.from);
const to = Date.parse(FIXTURE_RANGE_ISO.to);
const iso = (ms: number) => new Date(ms).toISOString();
const MID = Date.parse('2026-03-15T12:00:00.000Z');

interface Planned {
  service: 'mail' | 'storage' | 'im';
  id: string;
  name: string;
  timestamp: string;
  position: FixturePosition;
  fields: Record<string, unknown>;
  body?: Buffer;
}

function marker(service: string, accountId: string, id: string): string {
  return `SCOPEX-FIXTURE-PLAINTEXT ${service}/${accountId}/${id} ${randomBytes(8).toString('hex')}`;
}

function mailBody(accountId: string, id: string, at: string, mark: string, encryption: 'pgp' | null): Buffer {
  const date = new Date(at).toUTCString().replace('GMT', '+0000');
  const lines = [
    `From: Someone <someone@contoso.example>`,
    `To: ${accountId}@contoso.example`,
    `Subject: fixture message ${id}`,
    `Date: ${date}`,
    `Message-ID: <${id}.${accountId}@contoso.example>`,
    'MIME-Version: 1.0',
  ];
  if (encryption === 'pgp') {
    lines.push('Content-Type: multipart/encrypted; protocol="application/pgp-encrypted"; boundary="b1"', '', '--b1',
      'Content-Type: application/pgp-encrypted', '', 'Version: 1', '', '--b1', 'Content-Type: application/octet-stream', '',
      '-----BEGIN PGP MESSAGE-----', '', `hQEMA${mark.replace(/\s/g, '')}`, '-----END PGP MESSAGE-----', '', '--b1--', '');
  } else {
    lines.push('Content-Type: text/plain; charset=utf-8', '', `Hello, this is ${id}.`, mark, '');
  }
  return Buffer.from(lines.join('\r\n'), 'utf8');
}

function plan(accountId: string, role: keyof FixtureAccounts): Planned[] {
  const out: Planned[] = [];
  const mail = (id: string, ms: number, position: FixturePosition, name = `${id}.eml`, userEncryption: 'pgp' | null = null) =>
    out.push({
      service: 'mail',
      id,
      name,
      timestamp: iso(ms),
      position,
      // The envelope as the mail system indexes it, as the sample world does (the customer-key account's only one).
      fields: { userEncryption, from: 'someone@contoso.example', to: [`${accountId}@contoso.example`], cc: [], messageId: `<${id}.${accountId}@contoso.example>` },
    });
  const file = (id: string, ms: number, position: FixturePosition, name: string, body?: Buffer) =>
    out.push({ service: 'storage', id, name, timestamp: iso(ms), position, fields: { created: iso(ms - 86_400_000), modified: iso(ms) }, ...(body ? { body } : {}) });
  const im = (id: string, timestamp: string, position: FixturePosition, name = `${id}.json`) =>
    out.push({
      service: 'im',
      id,
      name,
      timestamp,
      position,
      fields: { conversationId: `conv-${accountId}-1`, participants: [`live:${accountId}`, 'live:friend'] },
    });

  switch (role) {
    case 'consumer':
      mail('m-before-from', from - 1, 'before-from');
      mail('m-at-from', from, 'at-from');
      mail('m-inside', MID, 'inside');
      mail('m-pgp', MID + 1000, 'inside', 'm-pgp.eml', 'pgp');
      mail('m-hostile', MID + 2000, 'inside', HOSTILE_NAMES.traversal);
      mail('m-at-to', to, 'at-to');
      mail('m-after-to', to + 1, 'after-to');
      file('s-before-from', from - 1000, 'before-from', 'Documents/old.txt');
      file('s-at-from', from, 'at-from', 'Documents/Taxes/2026/at-from.txt');
      file('s-inside', MID, 'inside', 'Photos/2026/03/inside.txt');
      file('s-empty', MID + 1000, 'inside', 'empty.txt', Buffer.alloc(0));
      Object.entries(HOSTILE_NAMES).forEach(([key, name], index) => file(`s-hostile-${key}`, MID + 2000 + index * 1000, 'inside', name));
      file('s-at-to', to, 'at-to', 'Documents/at-to.txt');
      file('s-after-to', to + 1000, 'after-to', 'Documents/after-to.txt');
      im('i-before-from', iso(from - 1), 'before-from');
      // The same instant as the range start, written with an offset: comparison is by instant, not by text.
      im('i-at-from', '2026-01-01T01:00:00.000+01:00', 'at-from');
      im('i-inside', iso(MID), 'inside');
      im('i-hostile', iso(MID + 1000), 'inside', HOSTILE_NAMES.control);
      im('i-at-to', iso(to), 'at-to');
      im('i-after-to', iso(to + 1), 'after-to');
      break;
    case 'neighbour':
      mail('m-1', MID, 'inside');
      mail('m-2', MID + 60_000, 'inside');
      file('s-1', MID, 'inside', 'notes.txt');
      file('s-2', MID + 60_000, 'inside', HOSTILE_NAMES.nfd);
      im('i-1', iso(MID), 'inside');
      im('i-2', iso(MID + 60_000), 'inside');
      break;
    case 'enterprise':
    case 'customerKey':
      mail('m-1', MID, 'inside');
      mail('m-after-to', to + 1, 'after-to');
      file('s-1', MID, 'inside', 'report.docx');
      im('i-1', iso(MID), 'inside');
      break;
    case 'empty':
      break;
    default: {
      const unknown: never = role;
      throw new Error(`unknown role ${String(unknown)}`);
    }
  }
  return out;
}

function plaintextFor(p: Planned, accountId: string, mark: string): Buffer {
  if (p.body) return p.body;
  switch (p.service) {
    case 'mail':
      return mailBody(accountId, p.id, p.timestamp, mark, p.fields.userEncryption === 'pgp' ? 'pgp' : null);
    case 'storage':
      return Buffer.from(`File ${p.id} of ${accountId}\n${mark}\n${'lorem ipsum '.repeat(40)}\n`, 'utf8');
    case 'im':
      return Buffer.from(
        `${JSON.stringify({ conversationId: p.fields.conversationId, participants: p.fields.participants, from: `live:${accountId}`, sentAt: p.timestamp, text: `${mark} see you soon` })}\n`,
        'utf8',
      );
    default: {
      const unknown: never = p.service;
      throw new Error(`unknown service ${String(unknown)}`);
    }
  }
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Builds the fixture world in a new temp folder. Call cleanup() when done. */
export async function buildStoreFixture(options: StoreFixtureOptions = {}): Promise<StoreFixture> {
  const root = mkdtempSync(path.join(os.tmpdir(), 'scopex-'));
  try {
    return await build(root, options);
  } catch (error) {
    rmSync(root, { recursive: true, force: true });
    throw error;
  }
}

async function build(root: string, options: StoreFixtureOptions): Promise<StoreFixture> {
  const storesRoot = path.join(root, 'stores');
  const masterKeyFile = path.join(root, 'keys', 'master.key');
  const dataKeysFile = path.join(root, 'keys', 'data-keys.json');
  const custodyLogFile = path.join(root, 'custody', 'custody.jsonl');
  mkdirSync(path.dirname(masterKeyFile), { recursive: true });
  mkdirSync(path.dirname(custodyLogFile), { recursive: true });

  const masterRaw = randomBytes(32);
  const masterKeyHex = masterRaw.toString('hex');
  writeFileSync(masterKeyFile, formatMasterKey(masterRaw), { mode: 0o600 });
  const masterKey = createSecretKey(masterRaw);

  const writer = createStoreWriter({ storesRoot, dataKeysFile, masterKey, random: (n) => randomBytes(n) });
  const items: FixtureItem[] = [];
  const accounts = withEmptyAccountId(options.emptyAccountId);
  for (const role of Object.keys(accounts) as (keyof FixtureAccounts)[]) {
    const account = accounts[role];
    const encryption = account.tenantType === 'customer-key' ? 'customer-key' : 'provider-key';
    const accountWriter = writer.openAccount(account, encryption);
    try {
      for (const p of plan(account.id, role)) {
        const mark = marker(p.service, account.id, p.id);
        const plaintext = plaintextFor(p, account.id, mark);
        await accountWriter.writeItem(p.service, { id: p.id, timestamp: p.timestamp, name: p.name, ...p.fields }, plaintext);
        items.push({
          service: p.service,
          accountId: account.id,
          id: p.id,
          name: p.name,
          timestamp: p.timestamp,
          position: p.position,
          bytes: plaintext.length,
          sha256: sha256(plaintext),
          plaintext,
          marker: plaintext.length > 0 ? mark : '',
          blobFile: path.join(storesRoot, p.service, account.id, 'blobs', p.id),
          encryption,
          fields: p.fields,
        });
      }
      if (role === 'consumer' && options.largeItemBytes !== undefined) {
        items.push(await writeLargeItem(accountWriter, storesRoot, account.id, options.largeItemBytes, options.largeItemPrefix));
      }
      const mark = marker('subscriber', account.id, 'subscriber');
      const record = {
        accountId: account.id,
        displayName: `Fixture user ${account.id}`,
        tenant: account.tenant,
        signup: { at: '2024-05-01T10:00:00Z', ip: '198.51.100.7', email: account.identifiers[0]?.value },
        logins: [
          { at: '2026-02-01T08:00:00Z', ip: '203.0.113.10' },
          { at: '2026-04-01T09:30:00Z', ip: '2001:db8::1' },
        ],
        note: mark,
      };
      await accountWriter.writeSubscriber(record);
      const plaintext = Buffer.from(`${JSON.stringify(record, null, 2)}\n`, 'utf8');
      const blobFile = path.join(storesRoot, 'subscriber', `${account.id}.json`);
      items.push({
        service: 'subscriber',
        accountId: account.id,
        id: 'subscriber',
        name: `${account.id}.json`,
        timestamp: statSync(blobFile).mtime.toISOString(),
        position: 'timeless',
        bytes: plaintext.length,
        sha256: sha256(plaintext),
        plaintext,
        marker: mark,
        blobFile,
        encryption,
        fields: {},
      });
    } finally {
      await accountWriter.close();
    }
  }
  await writer.finish();
  masterRaw.fill(0);

  copyFileSync(path.join(packageRoot(), 'config', 'legal-process.json'), path.join(root, 'legal-process.json'));
  let pki: StoreFixture['pki'];
  if (options.pki !== false) {
    cachedPki ??= generateSamplePki({ organization: 'Scopex Fixture' });
    const dir = path.join(root, 'pki');
    mkdirSync(dir, { recursive: true });
    const files = {
      caCertFile: path.join(dir, 'ca.cert.pem'),
      reviewerCertFile: path.join(dir, 'reviewer.cert.pem'),
      reviewerKeyFile: path.join(dir, 'reviewer.key.pem'),
      signerCertFile: path.join(dir, 'signer.cert.pem'),
      signerKeyFile: path.join(dir, 'signer.key.pem'),
    };
    writeFileSync(files.caCertFile, cachedPki.ca.certificatePem);
    writeFileSync(files.reviewerCertFile, cachedPki.reviewer.certificatePem);
    writeFileSync(files.reviewerKeyFile, cachedPki.reviewer.keyPem, { mode: 0o600 });
    writeFileSync(files.signerCertFile, cachedPki.signer.certificatePem);
    writeFileSync(files.signerKeyFile, cachedPki.signer.keyPem, { mode: 0o600 });
    pki = { ...cachedPki, ...files };
  }
  const configFile = path.join(root, 'config.json');
  const config = {
    schema: 'scopex.config/v1',
    organization: 'Scopex Test Fixture',
    legalProcess: 'legal-process.json',
    stores: 'stores',
    keys: { masterKey: 'keys/master.key', dataKeys: 'keys/data-keys.json' },
    reviewerCa: ['pki/ca.cert.pem'],
    signer: { certificate: 'pki/signer.cert.pem', key: 'pki/signer.key.pem' },
    custodyLog: 'custody/custody.jsonl',
  };
  writeFileSync(configFile, `${JSON.stringify(config, null, 2)}\n`);

  return {
    root,
    configFile,
    storesRoot,
    masterKeyFile,
    dataKeysFile,
    custodyLogFile,
    masterKeyHex,
    range: { from: new Date(from), to: new Date(to) },
    accounts: structuredClone(accounts),
    items,
    ...(pki ? { pki } : {}),
    itemsOf: (service, accountId) => items.filter((item) => item.service === service && item.accountId === accountId),
    config: () => loadConfig(configFile),
    cleanup: () => rmSync(root, { recursive: true, force: true }),
  };
}

/** A large item streamed through the writer chunk by chunk (never held whole), with its hash computed on the way. */
async function writeLargeItem(writer: AccountWriter, storesRoot: string, accountId: string, bytes: number, prefix?: Buffer): Promise<FixtureItem> {
  const id = 's-large';
  const mark = marker('storage', accountId, id);
  const chunk = Buffer.concat([Buffer.from(`${mark}\n`, 'ascii'), randomBytes(1 << 20)]);
  const hash = createHash('sha256');
  function* chunks(): Generator<Buffer> {
    let left = bytes;
    if (prefix) {
      const head = prefix.subarray(0, Math.min(left, prefix.length));
      hash.update(head);
      left -= head.length;
      yield head;
    }
    while (left > 0) {
      const piece = chunk.subarray(0, Math.min(left, chunk.length));
      hash.update(piece);
      left -= piece.length;
      yield piece;
    }
  }
  const timestamp = iso(MID + 500);
  const fields = { created: iso(MID - 86_400_000), modified: timestamp };
  await writer.writeItem('storage', { id, timestamp, name: 'Videos/large.bin', ...fields }, lazyReadable(chunks), bytes);
  return {
    service: 'storage',
    accountId,
    id,
    name: 'Videos/large.bin',
    timestamp,
    position: 'inside',
    bytes,
    sha256: hash.digest('hex'),
    marker: bytes > mark.length ? mark : '',
    blobFile: path.join(storesRoot, 'storage', accountId, 'blobs', id),
    encryption: 'provider-key',
    fields,
  };
}
