// The payload's two long records, manifest-sha256.txt and production.json: parsed as they stream, then checked
// against what the archive holds. This is most of a large archive's per-file work apart from hashing, so
// `records-thread.ts` can run it on a thread of its own (see `record-checker.ts`); it never touches the archive
// itself, only the bytes and facts it is handed, and it gives back the failures it found.
import * as z from '../util/zod.js';
import { CATEGORIES, instant, isInstant } from '../order/schema.js';
import { ManifestReader } from './bag-files.js';
import type { DigestReader } from './digest-table.js';
import { ProductionTable } from './production-table.js';
import { JsonArrayReader } from './json-array-reader.js';
import { keyCount } from '../util/json-keys.js';
import { unsafeNameReason } from './names.js';
import type { VerifyCheckName, VerifyFailure } from './verify.js';
import { instantInRange } from '../util/in-range.js';
import { STORED_CIPHERTEXT_SUFFIX, SUBSCRIBER_FILE } from '../pipeline/item-paths.js';
import type { MetadataCategory } from '../pipeline/metadata-fields.js';
import { MetadataLines, type MetadataSummary } from './metadata-lines.js';
import { itemFacts, ItemSet } from './item-set.js';
import { BLOB_OVERHEAD } from '../keys/item-crypto.js';

/** production.json's encryption states (`none`: a metadata file, and only there). */
export const ENCRYPTION_STATES = ['provider-decrypted', 'customer-key', 'user-encrypted', 'none'] as const;

/** One production.json record (the schema passes other fields; `layoutProblem` refuses them). */
export const productionRecordSchema = z.object({
  path: z.string().check(z.minLength(1)),
  sha256: z.string().check(z.regex(/^[0-9a-f]{64}$/, 'lower-case hex SHA-256')),
  bytes: z.number().check(z.int(), z.nonnegative()),
  account: z.string().check(z.minLength(1)),
  category: z.enum(CATEGORIES),
  sourceId: z.nullable(z.string().check(z.minLength(1))),
  originalName: z.optional(z.nullable(z.string())),
  timestamp: z.nullable(instant),
  encryption: z.enum(ENCRYPTION_STATES),
  items: z.optional(z.number().check(z.int(), z.nonnegative())),
});

export const MANIFEST = 'manifest-sha256.txt';
export const PRODUCTION = 'production.json';
/** The one file of an account's subscriber category: its record, or for a customer-key account its stored ciphertext. */
const SUBSCRIBER_NAMES: ReadonlySet<string> = new Set([SUBSCRIBER_FILE, `${SUBSCRIBER_FILE}${STORED_CIPHERTEXT_SUFFIX}`]);
export type RecordFile = 'manifest' | 'production';

/** How the records are read: known once the entries are listed, before their names are checked. */
export interface RecordSettings {
  topFolder: string | null;
  /** Manifest lines and production records kept at most (memory stays bounded on a hostile archive). */
  maxRecords: number;
  /** Failures listed per check (all are counted). */
  maxFailures: number;
}

/** What the records are checked against: the archive's entries, once their names are checked. */
export interface RecordLayout {
  /** Bag paths of the entries with safe names (folders end with "/"), in the order the names were checked... */
  paths: readonly string[];
  /** ... and the index of each one's entry in the central directory. */
  indexes: ArrayLike<number>;
  entryCount: number;
}

/** What the one pass over the archive found, by entry index. */
export interface ReadResults {
  /** The SHA-256 of each file entry read in full. */
  digests: DigestReader;
  sizes: ArrayLike<number>;
}

/** The order's scope, for the records' categories and timestamps. */
export interface ScopeRule {
  categories: readonly string[];
  from: string;
  to: string;
  /**
   * With the account directory (verify --config): the tenant type of each account the order's targets resolve to.
   * A customer-key account's items are delivered as stored ciphertext, and no other account's are.
   */
  customerKey?: ReadonlyMap<string, boolean>;
}

/** Of one account's records of items (not metadata files): how many say customer-key and how many do not. */
interface EncryptionTally {
  stored: number;
  firstStored: string;
  decrypted: number;
  firstDecrypted: string;
}

/** The failures of one check: the first `maxFailures`, and how many there were in all. */
export interface CheckOutcome {
  failures: VerifyFailure[];
  count: number;
  detail: string;
}

class Failures {
  readonly listed: VerifyFailure[] = [];
  count = 0;

  constructor(
    private readonly max: number,
    private readonly topFolder: string | null,
  ) {}

  add(check: VerifyCheckName, path: string, expected: string, found: string, message: string): void {
    this.count++;
    if (this.listed.length < this.max) this.listed.push({ check, entry: this.topFolder ? `${this.topFolder}/${path}` : path, expected, found, message });
  }

  /** Failures that are counted and never listed: a reader kept only the first ones, which already fill the list. */
  addUnlisted(count: number): void {
    this.count += count;
  }

  outcome(detail: string): CheckOutcome {
    return { failures: this.listed, count: this.count, detail };
  }
}

/** A manifest line's entry when the archive has none, or a record's when its size is not checked. */
const NO_ENTRY = -1;
/** A manifest line whose path is not a payload path. */
const NOT_A_PAYLOAD_PATH = -2;

interface PayloadPlan {
  /** The manifest's lines' paths (line i's hash is the manifest's slot i)... */
  paths: string[];
  /** ... and each one's entry index, NO_ENTRY, or NOT_A_PAYLOAD_PATH. */
  entries: Int32Array;
  /** Listed payload files the archive has. */
  listedFiles: number;
}

interface PlannedFailure {
  /** The record it is about (the record count for the manifest files without a record)... */
  record: number;
  /** ... and whether it comes before that record's size check. */
  beforeSize: boolean;
  path: string;
  expected: string;
  found: string;
  message: string;
}

interface ProductionPlan {
  failures: PlannedFailure[];
  /** The entry each record's size is checked against, or NO_ENTRY. */
  sizeEntries: Int32Array;
}

export class RecordChecks {
  /** Bag path to entry index, for entries with safe names. */
  private readonly bagEntries = new Map<string, number>();
  /** The payload files (under data/, not folders) in archive order, and their entry indexes. */
  private readonly payload: string[] = [];
  private readonly payloadIndexes: number[] = [];
  private entryCount = -1;
  private manifest: ManifestReader;
  private production: ProductionTable;
  private productionReader: JsonArrayReader;
  private productionReadable = false;
  private recordsOverflowed = false;
  /** Failures of the 'production' check found while parsing (reported first by `checkProduction`). */
  private parseFailures: Failures;
  /** The digest-free part of the payload and production checks, once the layout and both files are in. */
  private plan: { payload: PayloadPlan; production: ProductionPlan } | null = null;
  /** The line count each metadata file's record gives (`items`), by path and with its record number... */
  private readonly claimedItems = new Map<string, { record: number; items: number }>();
  /** ... and the lines each metadata file read has. */
  private readonly lineCounts = new Map<string, number>();
  /** The items the lines of each metadata file read name, when every line is one scopex writes... */
  private readonly lineItems = new Map<string, ItemSet>();
  /** ... and those the content records name, by account and service (`contentKey`), and the services that have any. */
  private readonly contentItems = new Map<string, ItemSet>();
  private readonly contentServices = new Set<string>();
  /** The sourceIds of each account's content of a service: export delivers each item once. */
  private readonly contentIds = new Map<string, Set<unknown>>();
  private lastContent: { account: string; category: string; items: ItemSet; ids: Set<unknown> } | null = null;
  private readonly encryptions = new Map<string, EncryptionTally>();
  private lastTally: { account: string; tally: EncryptionTally } | null = null;

  constructor(private readonly settings: RecordSettings) {
    this.manifest = this.manifestReader();
    this.production = this.productionTable();
    this.parseFailures = this.failures();
    this.productionReader = this.newProductionReader();
  }

  /** Once, before any check (the files may be read before it). */
  setLayout(layout: RecordLayout): void {
    if (this.entryCount >= 0) throw new Error('the record checks were given a layout twice');
    for (let i = 0; i < layout.paths.length; i++) {
      const path = layout.paths[i] as string;
      const index = layout.indexes[i] as number;
      this.bagEntries.set(path, index);
      if (path.startsWith('data/') && !path.endsWith('/')) {
        this.payload.push(path);
        this.payloadIndexes.push(index);
      }
    }
    this.entryCount = layout.entryCount;
  }

  /** Where the bytes of `file` go, in order; `end()` once they are all there. */
  sink(file: RecordFile): { update(chunk: Buffer): void; end(): void } {
    if (file === 'manifest') return this.manifest;
    const reader = this.productionReader;
    return {
      update: (chunk) => reader.update(chunk),
      end: () => {
        reader.end();
        this.productionReadable = !reader.failed;
      },
    };
  }

  /**
   * Where the bytes of the metadata file at bag path `path` go, in order: its lines are checked (`MetadataLines`), and
   * their count is held against the `items` its record gives. `done` gets the lines' summary.
   */
  metadataSink(path: string, category: MetadataCategory, done: (summary: MetadataSummary) => void): { update(chunk: Buffer): void; end(): void } {
    const items = new ItemSet();
    return new MetadataLines(
      category,
      (summary) => {
        this.lineCounts.set(path, summary.lines);
        // A file with a line scopex does not write fails for it; what its other lines name is then beside the point.
        if (summary.problems === 0) this.lineItems.set(path, items);
        done(summary);
      },
      items,
    );
  }

  /** Forgets whatever `file` was fed, as if it had never been read. */
  discard(file: RecordFile): void {
    this.plan = null;
    if (file === 'manifest') {
      this.manifest = this.manifestReader();
      return;
    }
    this.production = this.productionTable();
    this.productionReadable = false;
    this.recordsOverflowed = false;
    this.parseFailures = this.failures();
    this.productionReader = this.newProductionReader();
    this.claimedItems.clear();
    this.contentItems.clear();
    this.contentIds.clear();
    this.contentServices.clear();
    this.lastContent = null;
    this.encryptions.clear();
    this.lastTally = null;
  }

  /**
   * Does the part of the payload and production checks that needs no digest: matching manifest lines and records to
   * entries, and every rule about paths, names and the manifest. A records thread calls it once the layout and both
   * files are in, so that it runs while the archive is still being hashed; the checks call it themselves otherwise.
   * The outcomes are the same either way.
   */
  prepare(): void {
    this.planned();
  }

  private planned(): { payload: PayloadPlan; production: ProductionPlan } {
    this.requireLayout();
    if (this.plan === null) {
      const payload = this.planPayload();
      this.plan = { payload, production: this.planProduction(payload) };
    }
    return this.plan;
  }

  /** Every payload file is in manifest-sha256.txt with the hash recomputed here, and nothing else is. */
  checkPayload(read: ReadResults): CheckOutcome {
    const plan = this.planned().payload;
    const failures = this.failures();
    for (const problem of this.manifest.problems) failures.add('payload-manifest', MANIFEST, problem.expected, problem.found, problem.message);
    failures.addUnlisted(this.manifest.problemCount - this.manifest.problems.length);
    if (!hasDigest(read, this.bagEntries.get(MANIFEST))) {
      failures.add('payload-manifest', MANIFEST, `a readable ${MANIFEST}`, 'none', 'the payload cannot be checked without the manifest');
      return failures.outcome('not verifiable');
    }
    const { paths, entries } = plan;
    const manifest = this.manifest;
    for (let line = 0; line < paths.length; line++) {
      const path = paths[line] as string;
      const at = entries[line] as number;
      if (at === NOT_A_PAYLOAD_PATH) {
        failures.add('payload-manifest', path, 'a path under data/', path, `the manifest lists ${path}, which is not a payload path`);
        continue;
      }
      const found = at === NO_ENTRY ? undefined : at;
      if (found !== undefined && read.digests.is(found, manifest.hashBytes, line * 32)) continue;
      const expected = manifest.hash(line);
      const actual = found === undefined ? undefined : read.digests.hex(found);
      if (found === undefined) failures.add('payload-manifest', path, `${path} in the archive`, 'nothing', `${path} is listed but missing`);
      else if (actual === undefined) failures.add('payload-manifest', path, `sha256 ${expected}`, 'unreadable data', `${path} could not be read`);
      else failures.add('payload-manifest', path, `sha256 ${expected}`, `sha256 ${actual}`, `${path} does not match its hash`);
    }
    if (plan.listedFiles !== this.payload.length) {
      for (const path of this.payload) {
        if (!this.manifest.entries.has(path)) failures.add('payload-manifest', path, 'only files listed in the manifest', 'an unlisted file', `${path} is not in the manifest (an added file)`);
      }
    }
    return failures.outcome(`${this.manifest.entries.size} payload files`);
  }

  /** Each manifest line's entry, and how many listed payload files the archive has. */
  private planPayload(): PayloadPlan {
    const paths = [...this.manifest.entries.keys()];
    const entries = new Int32Array(paths.length);
    // Listed payload files, counted: when they are all the payload files, none is unlisted.
    let listedFiles = 0;
    // The manifest usually lists the files in archive order: the next payload file is then the one listed.
    let next = 0;
    for (let line = 0; line < paths.length; line++) {
      const path = paths[line] as string;
      if (!path.startsWith('data/') || unsafeNameReason(path)) {
        entries[line] = NOT_A_PAYLOAD_PATH;
        continue;
      }
      let found: number | undefined;
      if (this.payload[next] === path) found = this.payloadIndexes[next++];
      else found = this.bagEntries.get(path);
      if (found !== undefined && !path.endsWith('/')) listedFiles++;
      entries[line] = found ?? NO_ENTRY;
    }
    return { paths, entries, listedFiles };
  }

  /** production.json has exactly one well-formed record per payload file, agreeing with the manifest. */
  checkProduction(read: ReadResults, contentServices: readonly string[] = []): CheckOutcome {
    const plan = this.planned().production;
    const failures = this.parseFailures;
    const productionRead = hasDigest(read, this.bagEntries.get(PRODUCTION));
    if (!productionRead || !this.productionReadable) {
      if (!productionRead) failures.add('production', PRODUCTION, 'a readable production.json', 'none', 'production.json is missing or unreadable');
      return failures.outcome('not verifiable');
    }
    // The planned failures, each in its place among the size checks, which are the only ones that need the pass.
    const planned = plan.failures;
    let next = 0;
    const addPlanned = (record: number, beforeSize: boolean): void => {
      for (let failure = planned[next]; failure && failure.record === record && (!beforeSize || failure.beforeSize); failure = planned[++next]) {
        failures.add('production', failure.path, failure.expected, failure.found, failure.message);
      }
    };
    const production = this.production;
    for (let index = 0; index < production.length; index++) {
      addPlanned(index, true);
      const found = plan.sizeEntries[index] as number;
      if (found !== NO_ENTRY) {
        const actualBytes = read.digests.has(found) ? read.sizes[found] : undefined;
        const bytes = production.bytes(index);
        if (actualBytes !== undefined && actualBytes !== bytes) {
          const path = production.path(index);
          failures.add('production', path, `${actualBytes} bytes`, `${bytes} bytes`, `production.json gives the wrong size for ${path}`);
        }
      }
      addPlanned(index, false);
    }
    addPlanned(production.length, false);
    // README: a metadata file's `items` is its line count.
    for (const [path, { record, items }] of this.claimedItems) {
      const lines = this.lineCounts.get(path);
      if (lines === undefined || lines === items || !hasDigest(read, this.bagEntries.get(path))) continue;
      failures.add('production', path, `items ${lines} (the file's lines)`, `items ${items}`, `production.json record ${record + 1} gives the wrong line count for ${path}`);
    }
    this.checkLinesAgainstContent(read, failures, contentServices);
    // Export delivers all of an account's items as stored ciphertext (a customer-key tenant's) or none of them.
    for (const [account, tally] of this.encryptions) {
      if (tally.stored === 0 || tally.decrypted === 0) continue;
      const [fewer, path] = tally.stored <= tally.decrypted ? ['customer-key', tally.firstStored] : ['not customer-key', tally.firstDecrypted];
      failures.add(
        'production',
        path,
        `every item of account ${account} customer-key (stored ciphertext), or none`,
        `${tally.stored} customer-key, ${tally.decrypted} not`,
        `production.json says ${fewer} for ${path}, unlike the account's other items: export delivers an account's items all as stored ciphertext or none`,
      );
    }
    return failures.outcome(`${production.length} records`);
  }

  /**
   * Export writes a metadata line for each item it delivers: when the archive holds a service's content (for any
   * account: the order's categories are the same for every account), or the order it carries names that content
   * (`namedServices`: a service's content all left out fails too), the lines of each account's metadata file for it
   * name the same items, sourceId and timestamp, as that account's content records in production.json, and say the
   * same of each (itemFacts: size, and mail's encryption; a file's path).
   */
  private checkLinesAgainstContent(read: ReadResults, failures: Failures, namedServices: readonly string[]): void {
    for (const [path, lines] of this.lineItems) {
      if (!hasDigest(read, this.bagEntries.get(path))) continue;
      const { account, category } = splitPayloadPath(path);
      const service = category.slice(0, category.length - METADATA_SUFFIX.length);
      if (!category.endsWith(METADATA_SUFFIX) || !(this.contentServices.has(service) || namedServices.includes(service))) continue;
      const content = this.contentItems.get(contentKey(account, service)) ?? new ItemSet();
      if (content.equals(lines)) continue;
      const records = `${content.count} ${service}.content record${content.count === 1 ? '' : 's'} of account ${account}`;
      failures.add(
        'production',
        path,
        `a line for each of the ${records}`,
        lines.count === content.count ? `${lines.count} lines, not all agreeing with those records` : `${lines.count} line${lines.count === 1 ? '' : 's'}`,
        `the lines of ${path} and the ${records} in production.json name different items, or say different things of them (${FACTS_NAMED[service] ?? 'sourceId, timestamp, size'})`,
      );
    }
  }

  /**
   * Everything `checkProduction` finds without the pass, in the order it reports it: per record, the failures before
   * its size check and those after, then the manifest files without a record. And which entry's size each record is
   * checked against.
   */
  private planProduction(payload: PayloadPlan): ProductionPlan {
    const failures: PlannedFailure[] = [];
    const sizeEntries = new Int32Array(this.production.length).fill(NO_ENTRY);
    let index = 0;
    let beforeSize = true;
    const fail = (path: string, expected: string, found: string, message: string): void => {
      failures.push({ record: index, beforeSize, path, expected, found, message });
    };
    // The record paths seen: by entry index for paths in the archive, by name for the others.
    const seenEntries = new Uint8Array(this.entryCount);
    const seenOthers = new Set<string>();
    // Manifest payload paths with a record, counted: when they are all of them, none lacks a record.
    let recorded = 0;
    // Records usually follow the archive's and the manifest's order: the next file and manifest line are then theirs.
    const manifestPaths = payload.paths;
    const manifest = this.manifest;
    let nextFile = 0;
    let nextLine = 0;
    const production = this.production;
    for (; index < production.length; index++) {
      beforeSize = true;
      // The path is read out of the table only when it is not the next file's (compared on its bytes).
      const next = this.payload[nextFile];
      let found: number | undefined;
      let path: string;
      if (next !== undefined && production.pathIs(index, next)) {
        path = next;
        found = this.payloadIndexes[nextFile++];
      } else {
        path = production.path(index);
        found = this.bagEntries.get(path);
      }
      const record = { path, account: production.account(index), category: production.category(index) };
      const again = found !== undefined ? seenEntries[found] === 1 : seenOthers.has(record.path);
      if (again) {
        fail(record.path, 'one record per file', 'a second record', `production.json lists ${record.path} twice`);
        continue;
      }
      if (found !== undefined) seenEntries[found] = 1;
      else seenOthers.add(record.path);
      let listed: number | undefined;
      if (manifestPaths[nextLine] === record.path) listed = nextLine++;
      else listed = manifest.entries.get(record.path);
      if (listed === undefined) {
        fail(record.path, 'a file in the manifest', 'a record for a file the manifest does not list', `production.json describes ${record.path}, which is not in the manifest`);
      } else {
        if (record.path.startsWith('data/')) recorded++;
        if (!production.sha256Is(index, manifest.hashBytes, listed * 32)) {
          fail(record.path, `sha256 ${manifest.hash(listed)} (manifest)`, `sha256 ${production.sha256(index)}`, `production.json and the manifest disagree on ${record.path}`);
        }
      }
      if (found !== undefined) sizeEntries[index] = found;
      beforeSize = false;
      const metadata = record.category.endsWith('.metadata');
      // The usual record: its path is data/<its account>/<its category>/<rest>, read without splitting the path.
      const restAt = plainRecordRestAt(record.path, record.account, record.category);
      let rest: string | null = null;
      if (restAt < 0) {
        const parts = splitPayloadPath(record.path);
        if (parts.root !== 'data' || parts.rest === null) {
          fail(record.path, 'data/<account>/<category>/<file>', record.path, 'the record path is not a payload path');
          continue;
        }
        if (parts.account !== record.account) fail(record.path, `account ${parts.account} (from the path)`, `account ${record.account}`, 'the record names another account than its path');
        if (parts.category !== record.category) fail(record.path, `category ${parts.category} (from the path)`, `category ${record.category}`, 'the record names another category than its path');
        rest = parts.rest;
      }
      if (metadata && (rest ?? record.path.slice(restAt)) !== 'metadata.jsonl') {
        fail(record.path, `data/${record.account}/${record.category}/metadata.jsonl`, record.path, 'a metadata category must be one metadata.jsonl file');
      }
      // Export writes one subscriber record per account, as stored ciphertext for a customer-key account: any other
      // file in that folder would pass as a "subscriber" record, undated, whatever it holds (a whole message).
      if (record.category === 'subscriber' && !SUBSCRIBER_NAMES.has(rest ?? record.path.slice(restAt))) {
        fail(record.path, `data/${record.account}/subscriber/${SUBSCRIBER_FILE}`, record.path, 'the subscriber category must be one subscriber.json file, the account\'s subscriber record');
      }
      if (production.time(index) === null && !metadata && record.category !== 'subscriber') {
        fail(record.path, 'a timestamp', 'null', 'only metadata files and subscriber records may lack a timestamp');
      }
      if (!production.hasSourceId(index) && !metadata && record.category !== 'subscriber') {
        fail(record.path, 'a source id', 'null', 'only metadata files and subscriber records may lack a source id');
      }
    }
    beforeSize = false;
    let listed = 0;
    for (const path of manifestPaths) if (path.startsWith('data/')) listed++;
    if (recorded !== listed) {
      for (const path of manifestPaths) {
        if (!path.startsWith('data/')) continue;
        const found = this.bagEntries.get(path);
        const seen = found !== undefined ? seenEntries[found] === 1 : seenOthers.has(path);
        if (!seen) fail(path, 'a production.json record', 'none', `${path} has no record in production.json`);
      }
    }
    return { failures, sizeEntries };
  }

  /** Every record within the order: its category among the order's, its timestamp inside the date range (inclusive). */
  checkScope(rule: ScopeRule): CheckOutcome {
    const failures = this.failures();
    const from = Date.parse(rule.from);
    const to = Date.parse(rule.to);
    const categories = new Set<string>(rule.categories);
    const production = this.production;
    for (let index = 0; index < production.length; index++) {
      const category = production.category(index);
      if (!categories.has(category)) {
        const path = production.path(index);
        // A file of the bag in that category's folder is named once, by the check of the payload's folders: the
        // record adds nothing to it (a record whose category is not its folder's fails the production check).
        const inItsFolder = this.bagEntries.has(path) && plainRecordRestAt(path, production.account(index), category) >= 0;
        if (!inItsFolder) failures.add('scope', path, `a category among ${rule.categories.join(', ')}`, category, `${path} is of a category the order does not name`);
      }
      const time = production.time(index);
      if (time !== null && !instantInRange(production.timestamp(index) ?? '', time, from, to)) {
        const path = production.path(index);
        failures.add('scope', path, `a time from ${rule.from} to ${rule.to}`, production.timestamp(index) ?? '', `${path} lies outside the order's date range`);
      }
    }
    // The account directory says whose data the provider cannot decrypt (an account of the archive it does not
    // resolve to fails elsewhere); an account whose records mix both fails production.
    for (const [account, tally] of rule.customerKey ? this.encryptions : []) {
      const customerKey = rule.customerKey?.get(account);
      if (customerKey === undefined || (tally.stored > 0 && tally.decrypted > 0)) continue;
      if (customerKey && tally.decrypted > 0) {
        failures.add('scope', tally.firstDecrypted, `customer-key (stored ciphertext): account ${account} is a customer-key tenant's in the account directory`, 'not customer-key', `production.json says ${tally.firstDecrypted} was decrypted, but the provider holds no key to account ${account}'s data (a customer-key tenant's)`);
      } else if (!customerKey && tally.stored > 0) {
        failures.add('scope', tally.firstStored, `decrypted items: account ${account} is not a customer-key tenant's in the account directory`, 'customer-key', `production.json says ${tally.firstStored} is stored ciphertext the provider cannot decrypt, but account ${account} is not a customer-key tenant's`);
      }
    }
    return failures.outcome('');
  }

  private requireLayout(): void {
    if (this.entryCount < 0) throw new Error('the records were checked before the layout was given');
  }

  private failures(): Failures {
    return new Failures(this.settings.maxFailures, this.settings.topFolder);
  }

  /** Keeps as many problems as a check lists: the rest are counted, so the outcome is the same as keeping them all. */
  private manifestReader(): ManifestReader {
    return new ManifestReader(this.settings.maxRecords, this.settings.maxFailures, this.settings.maxRecords);
  }

  /** Sized for one record per entry at most: columns grow by copying, and untouched room costs no memory. */
  private productionTable(): ProductionTable {
    return new ProductionTable(this.settings.maxRecords);
  }

  private newProductionReader(): JsonArrayReader {
    return new JsonArrayReader(
      (value, index, writtenKeys) => {
        // Counted from a plain record's fields first; one by one only when that differs (a field twice, or extra ones).
        const plain = isPlainProductionRecord(value) ? value : null;
        if ((plain === null || writtenKeys !== plainKeyCount(plain)) && writtenKeys !== keyCount(value as object)) this.repeatedKey(value, index);
        if (plain) this.keepProductionRecord(plain, index);
        else this.acceptProductionRecord(value, index);
      },
      (message) => this.parseFailures.add('production', PRODUCTION, 'a JSON array of records', message, `production.json cannot be read: ${message}`),
    );
  }

  /** A record that writes a key twice: a reader keeping the first value would read another record. */
  private repeatedKey(value: unknown, index: number): void {
    const path = (value as { path?: unknown }).path;
    this.parseFailures.add(
      'production',
      typeof path === 'string' ? path : PRODUCTION,
      'each field once',
      'a field written twice',
      `production.json record ${index + 1} gives a field twice; JSON readers differ on which value they take`,
    );
  }

  /** A record that is not plain: held to the schema, and kept when it passes. */
  private acceptProductionRecord(value: unknown, index: number): void {
    const parsed = productionRecordSchema.safeParse(value);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const path = typeof value === 'object' && value !== null ? (value as { path?: unknown }).path : undefined;
      this.parseFailures.add(
        'production',
        typeof path === 'string' ? path : PRODUCTION,
        'a record with path, sha256, bytes, account, category, sourceId, timestamp, encryption',
        `${issue?.path.join('.') || 'record'}: ${issue?.message ?? 'invalid'}`,
        `production.json record ${index + 1} is malformed`,
      );
      return;
    }
    this.keepProductionRecord(parsed.data, index, value as Record<string, unknown>);
  }

  private keepProductionRecord(record: z.infer<typeof productionRecordSchema>, index: number, value: Record<string, unknown> = record): void {
    const problem = layoutProblem(record, value);
    if (problem) this.parseFailures.add('production', record.path, problem.expected, problem.found, `production.json record ${index + 1} ${problem.message}`);
    const max = this.settings.maxRecords;
    if (this.production.length >= max) {
      if (!this.recordsOverflowed) this.parseFailures.add('production', PRODUCTION, `at most ${max} records`, 'more', 'production.json holds far more records than the archive holds files');
      this.recordsOverflowed = true;
      return;
    }
    if (record.items !== undefined && record.category.endsWith(METADATA_SUFFIX) && !this.claimedItems.has(record.path)) {
      this.claimedItems.set(record.path, { record: index, items: record.items });
    }
    if (!record.category.endsWith(METADATA_SUFFIX)) this.tallyEncryption(record.account, record.path, record.encryption === 'customer-key');
    if (record.category.endsWith(CONTENT_SUFFIX)) {
      const service = record.category.slice(0, record.category.length - CONTENT_SUFFIX.length);
      // The line gives the item's size as stored; a customer-key blob adds its header and tag.
      const size = record.encryption === 'customer-key' ? record.bytes - BLOB_OVERHEAD : record.bytes;
      const { items, ids } = this.contentOf(record.account, record.category);
      if (record.sourceId !== null && ids.size === ids.add(record.sourceId).size) {
        // Named only when it is a plain item id: it comes from the archive.
        const item = /^[A-Za-z0-9_.-]{1,64}$/.test(record.sourceId) ? `item ${record.sourceId}` : 'an item';
        this.parseFailures.add('production', record.path, `${item} delivered once`, 'a second record of it', `production.json record ${index + 1} delivers ${item} of account ${record.account} in ${record.category} a second time (export delivers each item once)`);
      }
      // A file's path is its originalName; mail and messages have none (neither do their lines).
      items.add(record.sourceId, record.timestamp, itemFacts(service, size, record.encryption), service === 'storage' ? record.originalName : undefined);
    }
    this.production.push(record);
  }

  private tallyEncryption(account: string, path: string, stored: boolean): void {
    // Records come account by account: most are the last one's.
    let tally = this.lastTally?.account === account ? this.lastTally.tally : this.encryptions.get(account);
    if (!tally) {
      tally = { stored: 0, firstStored: '', decrypted: 0, firstDecrypted: '' };
      this.encryptions.set(account, tally);
    }
    if (this.lastTally?.tally !== tally) this.lastTally = { account, tally };
    if (stored) {
      if (tally.stored++ === 0) tally.firstStored = path;
    } else if (tally.decrypted++ === 0) {
      tally.firstDecrypted = path;
    }
  }

  /** The items named by the content records of `account` in `category` (a content category). */
  private contentOf(account: string, category: string): { items: ItemSet; ids: Set<unknown> } {
    // Records come account by account and category by category: most are the last one's.
    const last = this.lastContent;
    if (last && last.account === account && last.category === category) return last;
    const service = category.slice(0, category.length - CONTENT_SUFFIX.length);
    const key = contentKey(account, service);
    let items = this.contentItems.get(key);
    if (!items) this.contentItems.set(key, (items = new ItemSet()));
    let ids = this.contentIds.get(key);
    if (!ids) this.contentIds.set(key, (ids = new Set()));
    this.contentServices.add(service);
    this.lastContent = { account, category, items, ids };
    return this.lastContent;
  }
}

const METADATA_SUFFIX = '.metadata';
const CONTENT_SUFFIX = '.content';
/** What a service's metadata lines and content records must agree on, as a failure names it. */
const FACTS_NAMED: Readonly<Record<string, string>> = {
  mail: 'sourceId, timestamp, size, encryption',
  storage: 'sourceId, timestamp, size, path',
};

/** The key of an account's content of a service ("/" is in neither: an account with one fails elsewhere). */
function contentKey(account: string, service: string): string {
  return `${account}/${service}`;
}

const RECORD_FIELDS: ReadonlySet<string> = new Set(Object.keys(productionRecordSchema.shape));

/**
 * What a record says that the archive layout (README "production.json") contradicts: a field scopex does not write;
 * `customer-key` on a file not named `<name>.scxb` (the stored ciphertext); `user-encrypted` (S/MIME or PGP mail as
 * stored) outside mail.content; `none` (plain text scopex wrote) on anything but a metadata file; `items` (a metadata
 * file's line count) on anything else. A metadata file says `none`: the `provider-decrypted` of earlier archives is
 * refused, as those archives (without Scopex-Account lines) no longer verify anyway.
 */
function layoutProblem(record: z.infer<typeof productionRecordSchema>, value: Record<string, unknown>): { expected: string; found: string; message: string } | null {
  for (const key in value) {
    if (!RECORD_FIELDS.has(key)) {
      const shown = /^[A-Za-z0-9_.-]{1,64}$/.test(key) ? JSON.stringify(key) : '(a name not shown)';
      return { expected: [...RECORD_FIELDS].join(', '), found: `a field ${shown}`, message: `has a field ${shown} that production records do not have` };
    }
  }
  const metadata = record.category.endsWith('.metadata');
  const { encryption } = record;
  if (encryption === 'customer-key' && !record.path.endsWith(STORED_CIPHERTEXT_SUFFIX)) {
    return { expected: `a path ending ${STORED_CIPHERTEXT_SUFFIX} (the stored ciphertext)`, found: 'encryption customer-key', message: `says customer-key for a file not named as stored ciphertext (${STORED_CIPHERTEXT_SUFFIX})` };
  }
  if (encryption === 'user-encrypted' && record.category !== 'mail.content') {
    return { expected: 'user-encrypted only for mail.content', found: `encryption user-encrypted in ${record.category}`, message: 'says user-encrypted for an item that is not mail' };
  }
  if (encryption === 'none' && !metadata) {
    return { expected: 'none only for a metadata file', found: `encryption none in ${record.category}`, message: 'says none (plain text scopex wrote) for an item of a store' };
  }
  if (metadata && encryption !== 'none') {
    return { expected: 'none for a metadata file', found: `encryption ${encryption}`, message: `says ${encryption} for a metadata file scopex wrote` };
  }
  if (record.items !== undefined && !metadata) {
    return { expected: 'items only on a metadata file', found: `items ${record.items}`, message: 'gives a line count (items) for a file that is not a metadata file' };
  }
  return null;
}

function hasDigest(read: ReadResults, index: number | undefined): boolean {
  return index !== undefined && read.digests.has(index);
}

const PRODUCTION_CATEGORIES: ReadonlySet<unknown> = new Set(CATEGORIES);
const PRODUCTION_ENCRYPTION: ReadonlySet<unknown> = new Set(ENCRYPTION_STATES);

function isCount(value: unknown): boolean {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function isNonEmptyText(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0;
}

/**
 * The common case of `productionRecordSchema`, without zod's per-record cost: a record that plainly satisfies every
 * rule of the schema (each test here is as strict as the schema's or stricter; the timestamp is checked against
 * `instant`'s own pattern). Anything else, null: the schema itself then decides and says what is wrong.
 */
export function plainProductionRecord(value: unknown): { success: true; data: z.infer<typeof productionRecordSchema> } | null {
  if (!isPlainProductionRecord(value)) return null;
  const { path, sha256, bytes, account, category, sourceId, originalName, timestamp, encryption, items } = value;
  return {
    success: true,
    data: {
      path,
      sha256,
      bytes: bytes as number,
      account,
      category: category as (typeof CATEGORIES)[number],
      sourceId,
      ...(originalName !== undefined ? { originalName } : {}),
      timestamp,
      encryption,
      ...(items !== undefined ? { items } : {}),
    },
  };
}

/** `plainProductionRecord` as a test: the value's own fields then read as the schema would give them. */
function isPlainProductionRecord(value: unknown): value is z.infer<typeof productionRecordSchema> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const { path, sha256, bytes, account, category, sourceId, originalName, timestamp, encryption, items } = value as Record<string, unknown>;
  if (!isNonEmptyText(path) || typeof sha256 !== 'string' || !isLowerHexSha256(sha256) || !isCount(bytes)) return false;
  if (!isNonEmptyText(account) || !PRODUCTION_CATEGORIES.has(category) || !PRODUCTION_ENCRYPTION.has(encryption)) return false;
  if (sourceId !== null && !isNonEmptyText(sourceId)) return false;
  if (originalName !== undefined && originalName !== null && typeof originalName !== 'string') return false;
  if (timestamp !== null && !isInstant(timestamp)) return false;
  if (items !== undefined && !isCount(items)) return false;
  return true;
}

/** The keys of a plain record without extra fields (one with them has as many more, found one by one). */
function plainKeyCount(record: z.infer<typeof productionRecordSchema>): number {
  return 8 + (record.originalName === undefined ? 0 : 1) + (record.items === undefined ? 0 : 1);
}

function isLowerHexSha256(text: string): boolean {
  if (text.length !== 64) return false;
  for (let i = 0; i < 64; i++) {
    const code = text.charCodeAt(i);
    if (!((code >= 0x30 && code <= 0x39) || (code >= 0x61 && code <= 0x66))) return false;
  }
  return true;
}

/**
 * Where the part after `data/<account>/<category>/` begins when `path` starts with exactly that (account and category
 * free of "/"), else -1. Only the usual case is taken here; anything else is split and compared by the caller.
 */
function plainRecordRestAt(path: string, account: string, category: string): number {
  if (!path.startsWith('data/') || account.includes('/') || category.includes('/')) return -1;
  const accountEnd = 5 + account.length;
  const categoryEnd = accountEnd + 1 + category.length;
  if (!path.startsWith(account, 5) || path.charCodeAt(accountEnd) !== 0x2f) return -1;
  if (!path.startsWith(category, accountEnd + 1) || path.charCodeAt(categoryEnd) !== 0x2f) return -1;
  return categoryEnd + 1;
}

/** The first three segments of a bag path and the rest (null when there are fewer than four segments). */
export function splitPayloadPath(path: string): { root: string; account: string; category: string; rest: string | null } {
  const first = path.indexOf('/');
  if (first < 0) return { root: path, account: '', category: '', rest: null };
  const second = path.indexOf('/', first + 1);
  if (second < 0) return { root: path.slice(0, first), account: path.slice(first + 1), category: '', rest: null };
  const third = path.indexOf('/', second + 1);
  return {
    root: path.slice(0, first),
    account: path.slice(first + 1, second),
    category: third < 0 ? path.slice(second + 1) : path.slice(second + 1, third),
    rest: third < 0 ? null : path.slice(third + 1),
  };
}
