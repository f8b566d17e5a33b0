// Generates a complete sample world (DESIGN.md, "The sample world"): PKI, keys, encrypted stores, config and orders.
import { AsyncLocalStorage } from 'node:async_hooks';
import { createSecretKey } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { ConfigFile } from '../config.js';
import { InputError } from '../errors.js';
import { formatMasterKey } from '../keys/master-key.js';
import type { Account, TenantType } from '../sources/account-directory.js';
import { createStoreWriter } from '../sources/store-writer.js';
import { packageRoot } from '../util/package-root.js';
import { writeAccountContent, type AccountPerson, type AccountPlan } from './account-content.js';
import { generateSamplePkiAsync, type SamplePki } from './pki.js';
import { writeSampleOrders, type SampleOrderInfo } from './sample-orders.js';
import { FIRST_NAMES, LAST_NAMES, capitalize } from './sample-text.js';
import { createSeededRandom, type SeededRandom } from './seeded-random.js';
import { ensureDirSync } from '../util/ensure-dir.js';
import { SAMPLE_DEFAULTS, SAMPLE_PROFILES, type SampleProfile } from './profiles.js';

export { SAMPLE_DEFAULTS, SAMPLE_PROFILES, type SampleProfile } from './profiles.js';


export const MIN_ACCOUNTS = 5;

export const SAMPLE_WORLD_WARNING =
  'SAMPLE WORLD ONLY: its master key, data keys and nonces come from a seeded, predictable generator. ' +
  'Anyone who knows the seed can decrypt every store here. Never put real data in this world and never reuse its keys.';

export interface SampleWorldProgress {
  /** Plaintext bytes written so far. */
  bytes: number;
  /** The size aimed for (the world may end a little above or below it). */
  targetBytes: number;
  accountsDone: number;
  accounts: number;
}

export interface SampleWorldOptions {
  /** The world folder W; created, and must be empty or absent (or an earlier sample world with `force`). */
  out: string;
  accounts?: number;
  /** Total plaintext bytes to aim for across all stores. */
  size?: number;
  seed?: string;
  profile?: SampleProfile;
  /** Replace an existing sample world at `out` (only a folder whose config.json says it is a sample world). */
  force?: boolean;
  /** Reuse already generated PKIs (tests and benchmarks) instead of generating two fresh ones. */
  pki?: { trusted: SamplePki; untrusted: SamplePki };
  /** The orders' issue and expiry dates are relative to this (default: now). */
  now?: Date;
  onProgress?: (progress: SampleWorldProgress) => void;
}

export interface SampleWorldSummary {
  out: string;
  configFile: string;
  seed: string;
  profile: SampleProfile;
  accounts: number;
  tenants: Record<TenantType, number>;
  items: { mail: number; storage: number; im: number; subscriber: number };
  plaintextBytes: number;
  orders: SampleOrderInfo[];
  elapsedMs: number;
  warning: string;
}

/**
 * Written first into the world folder and removed last: a folder holding it is a sample world whose generation was
 * interrupted or crashed, which `force` may replace like a finished one (and nothing else may be replaced).
 */
export const UNFINISHED_WORLD_MARKER = '.scopex-sample-world-unfinished';

const KIB = 1024;
const MIB = 1024 * KIB;
const DAY = 24 * 3600 * 1000;
/** Accounts written side by side: small-file writes wait on the disk, not the CPU. */
const ACCOUNTS_AT_ONCE = 4;

export async function generateSampleWorld(options: SampleWorldOptions): Promise<SampleWorldSummary> {
  const started = Date.now();
  const settings = checkOptions(options);
  const { out, accounts: accountCount, size, seed, profile } = settings;
  const now = options.now ?? new Date();
  prepareFolder(out, options.force ?? false);
  const unfinishedMarker = path.join(out, UNFINISHED_WORLD_MARKER);
  ensureDirSync(out);
  writeFileSync(unfinishedMarker, 'A scopex sample world is being generated here; until this file is gone it is unfinished.\n');

  const random = createSeededRandom(seed);
  const people = makePeople(random.fork('people'), accountCount);
  const plans = planAccounts(random.fork('plan'), people, size, profile);

  // RSA key generation runs off the main thread while the stores are written.
  const validity = { notBefore: new Date(now.getTime() - 730 * DAY), notAfter: new Date(now.getTime() + 3650 * DAY) };
  const pkiPromise = options.pki ? Promise.resolve(options.pki.trusted) : generateSamplePkiAsync(validity);
  const untrustedPkiPromise = options.pki
    ? Promise.resolve(options.pki.untrusted)
    : generateSamplePkiAsync({ ...validity, organization: 'Unrelated Outside Party' });
  pkiPromise.catch(() => undefined);
  untrustedPkiPromise.catch(() => undefined);

  for (const folder of ['pki', 'keys', 'stores', 'orders', 'custody']) ensureDirSync(path.join(out, folder));

  // Keys: seeded in sample worlds only (see SAMPLE_WORLD_WARNING).
  const masterRaw = random.fork('master-key').bytes(32);
  const masterKeyFile = path.join(out, 'keys', 'master.key');
  writeFileSync(masterKeyFile, formatMasterKey(masterRaw), { mode: 0o600 });
  chmodSync(masterKeyFile, 0o600);
  const masterKey = createSecretKey(masterRaw);
  masterRaw.fill(0);
  // Each account draws its data key and nonces from its own seeded stream, found through the async context, so
  // accounts can be written side by side and still give the same bytes whatever order their writes finish in.
  const keyStreams = new AsyncLocalStorage<SeededRandom>();
  const writer = createStoreWriter({
    storesRoot: path.join(out, 'stores'),
    dataKeysFile: path.join(out, 'keys', 'data-keys.json'),
    masterKey,
    random: (bytes) => {
      const stream = keyStreams.getStore();
      if (!stream) throw new Error('sample-world key material was drawn outside an account');
      return stream.bytes(bytes);
    },
  });

  const items = { mail: 0, storage: 0, im: 0, subscriber: 0 };
  let plaintextBytes = 0;
  let accountsDone = 0;
  const report = () => options.onProgress?.({ bytes: plaintextBytes, targetBytes: size, accountsDone, accounts: accountCount });
  const contactRandom = random.fork('contacts');
  const outsiders = makeOutsiders();
  const contactsOf = plans.map((_plan, index) => [
    ...pickOthers(contactRandom, people, index, 8),
    ...pickOthers(contactRandom, outsiders, -1, 4),
  ]);

  const writeOne = async (plan: AccountPlan, index: number) => {
    const { account } = plan.person;
    // Opened before the first await, so directory.json and data-keys.json list accounts in plan order.
    const accountWriter = writer.openAccount(account, account.tenantType === 'customer-key' ? 'customer-key' : 'provider-key');
    try {
      const counts = await writeAccountContent({
        plan,
        writer: accountWriter,
        random: random.fork(`account/${account.id}`),
        contacts: contactsOf[index]!,
        onItem: (_service, bytes) => {
          plaintextBytes += bytes;
          report();
        },
      });
      items.mail += counts.mail;
      items.storage += counts.storage;
      items.im += counts.im;
      items.subscriber += 1;
    } finally {
      await accountWriter.close();
    }
    accountsDone += 1;
    report();
  };
  for (let first = 0; first < plans.length; first += ACCOUNTS_AT_ONCE) {
    const batch = plans.slice(first, first + ACCOUNTS_AT_ONCE);
    const results = await Promise.allSettled(
      batch.map((plan, offset) => keyStreams.run(random.fork(`keys/${plan.person.account.id}`), () => writeOne(plan, first + offset))),
    );
    const failed = results.find((result) => result.status === 'rejected');
    if (failed) throw failed.reason;
  }
  await writer.finish();

  const pki = await pkiPromise;
  writePki(out, pki);
  copyFileSync(path.join(packageRoot(), 'config', 'legal-process.json'), path.join(out, 'legal-process.json'));
  const configFile = path.join(out, 'config.json');
  writeFileSync(configFile, `${JSON.stringify(worldConfig(seed), null, 2)}\n`);
  writeFileSync(path.join(out, 'README.txt'), `This is a scopex sample world (seed ${JSON.stringify(seed)}).\n\n${SAMPLE_WORLD_WARNING}\n\nUse it with: scopex <command> --config ${configFile}\nThe sample orders and what each should do are listed in orders/README.txt.\n`);

  const orders = writeSampleOrders({
    folder: path.join(out, 'orders'),
    pki,
    untrustedPki: await untrustedPkiPromise,
    now,
    accounts: {
      warrant: [people[0]!, people[1]!],
      consumer: people[2]!,
      enterprise: people[3]!,
      customerKey: people[4]!,
    },
  });

  const tenants: Record<TenantType, number> = { consumer: 0, enterprise: 0, 'customer-key': 0 };
  for (const person of people) tenants[person.account.tenantType] += 1;
  rmSync(unfinishedMarker);
  return {
    out,
    configFile,
    seed,
    profile,
    accounts: accountCount,
    tenants,
    items,
    plaintextBytes,
    orders,
    elapsedMs: Date.now() - started,
    warning: SAMPLE_WORLD_WARNING,
  };
}

function checkOptions(options: SampleWorldOptions): { out: string; accounts: number; size: number; seed: string; profile: SampleProfile } {
  if (!options.out) throw new InputError('USAGE', 'samples generate needs --out, the folder to create the world in');
  const accounts = options.accounts ?? SAMPLE_DEFAULTS.accounts;
  if (!Number.isInteger(accounts) || accounts < MIN_ACCOUNTS || accounts > 100_000) {
    throw new InputError('USAGE', `--accounts must be a whole number from ${MIN_ACCOUNTS} to 100000, found ${String(accounts)}`);
  }
  const size = options.size ?? SAMPLE_DEFAULTS.size;
  if (!Number.isSafeInteger(size) || size < 0) throw new InputError('USAGE', `--size must be a whole number of bytes, found ${String(size)}`);
  const seed = options.seed ?? SAMPLE_DEFAULTS.seed;
  const profile = options.profile ?? SAMPLE_DEFAULTS.profile;
  if (!(SAMPLE_PROFILES as readonly string[]).includes(profile)) {
    throw new InputError('USAGE', `--profile must be one of ${SAMPLE_PROFILES.join(', ')}, found ${String(profile)}`);
  }
  return { out: path.resolve(options.out), accounts, size, seed, profile };
}

/** Refuses to write into a folder holding anything but an earlier sample world (replaced only with force). */
function prepareFolder(out: string, force: boolean): void {
  if (!existsSync(out)) return;
  if (!statSync(out).isDirectory()) throw new InputError('OUTPUT_EXISTS', `--out ${out} exists and is not a folder`);
  if (readdirSync(out).length === 0) return;
  const unfinished = existsSync(path.join(out, UNFINISHED_WORLD_MARKER));
  const isSampleWorld = unfinished || (existsSync(path.join(out, 'config.json')) && existsSync(path.join(out, 'stores', 'directory.json')));
  if (!force || !isSampleWorld) {
    throw new InputError(
      'OUTPUT_EXISTS',
      isSampleWorld
        ? `--out ${out} already holds ${unfinished ? 'an unfinished' : 'a'} sample world; pass --force to replace it`
        : `--out ${out} is not empty and is not a sample world; choose an empty or new folder`,
    );
  }
  rmSync(out, { recursive: true, force: true });
}

function tenantTypeFor(index: number, random: SeededRandom): TenantType {
  // Fixed roles first: the sample orders name accounts 0-4 (consumer x3, enterprise, customer-key).
  const fixed: TenantType[] = ['consumer', 'consumer', 'consumer', 'enterprise', 'customer-key'];
  const role = fixed[index];
  if (role) return role;
  const roll = random.float();
  return roll < 0.6 ? 'consumer' : roll < 0.85 ? 'enterprise' : 'customer-key';
}

const ENTERPRISE_TENANTS = ['fabrikam.example', 'northwind.example'] as const;
const CUSTOMER_KEY_TENANT = 'woodgrove.example';

function makePeople(random: SeededRandom, count: number): AccountPerson[] {
  const used = new Set<string>();
  const people: AccountPerson[] = [];
  let enterprises = 0;
  for (let index = 0; index < count; index += 1) {
    const tenantType = tenantTypeFor(index, random);
    const first = random.pick(FIRST_NAMES);
    const last = random.pick(LAST_NAMES);
    let local = `${first}.${last}`;
    if (used.has(local)) local = `${local}${index + 1}`;
    used.add(local);
    let tenant: string;
    let domain: string;
    switch (tenantType) {
      case 'consumer':
        tenant = 'contoso-consumer';
        domain = 'contoso.example';
        break;
      case 'enterprise':
        tenant = ENTERPRISE_TENANTS[enterprises % ENTERPRISE_TENANTS.length]!;
        enterprises += 1;
        domain = tenant;
        break;
      case 'customer-key':
        tenant = CUSTOMER_KEY_TENANT;
        domain = tenant;
        break;
      default: {
        const unreachable: never = tenantType;
        throw new Error(`unknown tenant type ${String(unreachable)}`);
      }
    }
    const email = `${local}@${domain}`;
    const imHandle = `live:${local}`;
    const identifiers: Account['identifiers'] = [
      { type: 'email', value: email },
      { type: 'im-handle', value: imHandle },
    ];
    if (tenantType === 'consumer') identifiers.push({ type: 'phone', value: `+1206${5550000 + index}` });
    const account: Account = { id: `acct-${String(index + 1).padStart(4, '0')}`, tenant, tenantType, identifiers };
    people.push({ account, name: `${capitalize(first)} ${capitalize(last)}`, email, imHandle });
  }
  return people;
}

/** People outside the provider: they appear in mail and chats, but have no account here. */
function makeOutsiders(): AccountPerson[] {
  return [
    ['Pat Morgan', 'pat.morgan@example.net'],
    ['Sam Lee', 'sam.lee@example.org'],
    ['Robin Hart', 'robin@hart-family.example'],
    ['Accounts Payable', 'ap@supplier.example'],
    ['Dr. Kim Office', 'appointments@clinic.example'],
  ].map(([name, email]) => ({
    account: { id: 'external', tenant: 'external', tenantType: 'consumer', identifiers: [] },
    name: name!,
    email: email!,
    imHandle: `live:${email!.split('@')[0]!}`,
  }));
}

/** Up to `count` distinct items, never the one at index `self`; O(count), however long the list. */
function pickOthers<T>(random: SeededRandom, items: readonly T[], self: number, count: number): T[] {
  const available = items.length - (self >= 0 && self < items.length ? 1 : 0);
  const picked = new Set<number>();
  while (picked.size < Math.min(count, available)) {
    const index = random.below(items.length);
    if (index !== self) picked.add(index);
  }
  return [...picked].map((index) => items[index]!);
}

/** How many bytes each account gets per service, by profile. */
function planAccounts(random: SeededRandom, people: AccountPerson[], size: number, profile: SampleProfile): AccountPlan[] {
  const plans: AccountPlan[] = people.map((person) => ({
    person,
    mailBytes: 0,
    imBytes: 0,
    storageBytes: 0,
    largeFiles: [],
    smallMail: profile === 'small-items',
  }));
  switch (profile) {
    case 'realistic': {
      // Some people use much more than others.
      const weights = plans.map(() => 0.4 + random.float() * 1.6);
      const total = weights.reduce((sum, weight) => sum + weight, 0);
      plans.forEach((plan, index) => {
        const share = Math.floor((size * weights[index]!) / total);
        plan.mailBytes = Math.floor(share * 0.3);
        plan.imBytes = Math.floor(share * 0.015);
        let storage = share - plan.mailBytes - plan.imBytes;
        let large = Math.floor(storage * 0.7);
        while (large > 2 * MIB) {
          const bytes = Math.min(large, random.logBetween(2 * MIB, 256 * MIB));
          plan.largeFiles.push(bytes);
          large -= bytes;
          storage -= bytes;
        }
        plan.storageBytes = storage;
      });
      if (size >= 4 * MIB && plans.every((plan) => plan.largeFiles.length === 0)) plans[0]!.largeFiles.push(2 * MIB + 512 * KIB);
      break;
    }
    case 'small-items':
      for (const plan of plans) plan.mailBytes = Math.floor(size / plans.length);
      break;
    case 'large-items': {
      let left = size;
      let next = 0;
      while (left > 0) {
        const bytes = Math.max(16 * MIB, Math.min(left, random.between(16 * MIB, 64 * MIB)));
        plans[next % plans.length]!.largeFiles.push(bytes);
        next += 1;
        left -= bytes;
      }
      break;
    }
    default: {
      const unreachable: never = profile;
      throw new Error(`unknown profile ${String(unreachable)}`);
    }
  }
  return plans;
}

function writePki(out: string, pki: SamplePki): void {
  const file = (name: string) => path.join(out, 'pki', name);
  writeFileSync(file('ca.cert.pem'), pki.ca.certificatePem);
  writeFileSync(file('reviewer.cert.pem'), pki.reviewer.certificatePem);
  writeFileSync(file('reviewer.key.pem'), pki.reviewer.keyPem, { mode: 0o600 });
  writeFileSync(file('signer.cert.pem'), pki.signer.certificatePem);
  writeFileSync(file('signer.key.pem'), pki.signer.keyPem, { mode: 0o600 });
  chmodSync(file('reviewer.key.pem'), 0o600);
  chmodSync(file('signer.key.pem'), 0o600);
}

function worldConfig(seed: string): ConfigFile {
  return {
    schema: 'scopex.config/v1',
    organization: 'Contoso Cloud Legal Compliance (sample world)',
    legalProcess: 'legal-process.json',
    stores: 'stores',
    keys: { masterKey: 'keys/master.key', dataKeys: 'keys/data-keys.json' },
    reviewerCa: ['pki/ca.cert.pem'],
    signer: { certificate: 'pki/signer.cert.pem', key: 'pki/signer.key.pem' },
    custodyLog: 'custody/custody.jsonl',
    sampleWorld: { seed, warning: SAMPLE_WORLD_WARNING },
  };
}
