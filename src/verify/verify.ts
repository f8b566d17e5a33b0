// `scopex verify`: proves a delivered archive is whole, authentic and in scope. It reads as a checklist: one pass
// over the ZIP hashes every entry, then each verifyXxx step compares what was found with what was signed, and every
// failure is collected (up to a cap) instead of stopping at the first.
import { createHash, type Hash, type X509Certificate } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import { describeFsError, InputError, ScopexError } from '../errors.js';
import { approvalIssuedBy, approvalSignatureMatches, verifyApproval } from '../order/approval-verify.js';
import { canonicalJson } from '../order/canonical.js';
import { resolveTargets } from '../order/targets.js';
import { ACCOUNT_LABEL } from '../seal/bagit-text.js';
import type { AccountDirectory } from '../sources/account-directory.js';
import { ACCOUNT_ID_PATTERN } from '../sources/file-directory.js';
import { STORED_CIPHERTEXT_SUFFIX, SUBSCRIBER_FILE } from '../pipeline/item-paths.js';
import { isMetadataCategory, METADATA_FILE } from '../pipeline/metadata-fields.js';
import { instantInRange } from '../util/in-range.js';
import { notValidJson } from '../util/json-position.js';
import { INPUT_OPEN_FLAGS, readInputFileSync } from '../util/read-input-file.js';
import { orderSchemaFor, type Order } from '../order/schema.js';
import { bagInfoProblem, checkBagitDeclaration, ManifestReader, parseBagInfo } from './bag-files.js';
import { verifyDetachedSignature } from './cms-signature.js';
import { DigestTable } from './digest-table.js';
import { HashBatcher, MAX_BATCHED_ENTRY_BYTES } from './hash-batcher.js';
import type { MetadataSummary } from './metadata-lines.js';
import { looksLikeKeyMaterial } from '../util/key-material.js';
import { BagFolders, NameTwins, unportableSegment, unsafeNameReason } from './names.js';
import { LocalRecordChecker, startRecordsThread, type EarlyReadResult, type RecordChecker, type RecordSink } from './record-checker.js';
import { MANIFEST, PRODUCTION, splitPayloadPath, type CheckOutcome, type RecordFile, type RecordLayout, type ScopeRule } from './record-checks.js';
import { listZip, scanZip, storedDataRange, type EntrySink, type ZipEntry, type ZipListing } from './safe-zip.js';
import { loadTrustAnchors } from './trust-anchors.js';
import { PauseForSignals } from '../util/pause-for-signals.js';
import { parseOrderBytes, parseOrderJson } from '../order/read-order.js';

export interface VerifyOptions {
  archive: string;
  /** PEM file of the certificate(s) the archive signer must chain to. */
  trustFile: string;
  /**
   * The certificates to trust, when the caller has read and chosen them (a batch re-run: the one CA of trustFile that
   * issued the configured signer); trustFile then only says where they came from, and is not read again.
   */
  trustAnchors?: readonly X509Certificate[];
  /** The order the archive must answer; the archive's order.json must equal it. */
  orderFile?: string;
  /**
   * The provider's account directory (verify --config): the order's targets are resolved with it, as export resolved
   * them, and every account of the archive must be one of theirs. Without it only account-id targets are resolved.
   */
  directory?: AccountDirectory;
  /** Failures listed in the report (all are counted); default 50. */
  maxFailures?: number;
  /**
   * The verifier's clock (default: the current time): the signer's certificate chain must be valid at it as well as
   * at the signing time, and the signing time must not lie ahead of it.
   */
  now?: Date;
  /** Hash small entries on a worker thread: by default only when there are many of them. */
  hashThread?: 'auto' | 'always' | 'never';
  /**
   * Parse and check the manifest and production.json on a thread of their own, which needs the built records thread
   * beside this module: by default when there are many entries and the thread is there; 'always' fails without it.
   */
  recordsThread?: 'auto' | 'always' | 'never';
}

export const VERIFY_CHECKS = [
  'zip-structure',
  'entry-names',
  'entry-types',
  'bag-layout',
  'signature',
  'signer-chain',
  'tag-manifest',
  'payload-manifest',
  'payload-oxum',
  'production',
  'order',
  'scope',
] as const;
export type VerifyCheckName = (typeof VERIFY_CHECKS)[number];

export interface VerifyFailure {
  check: VerifyCheckName;
  /** The ZIP entry name at fault, or null when the fault is the archive as a whole. */
  entry: string | null;
  expected: string;
  found: string;
  message: string;
}

export interface VerifyReport {
  ok: boolean;
  archive: string;
  orderId: string | null;
  failures: VerifyFailure[];
  /** Failures found beyond `maxFailures` and not listed. */
  failuresOmitted: number;
  checks: { name: VerifyCheckName; ok: boolean; detail?: string }[];
  counts: { entries: number; payloadFiles: number; payloadBytes: number; tagFiles: number };
  signer: { subject: string; issuer: string; serial: string } | null;
  signingTime: string | null;
}

/** From this many entries on, a worker thread pays for its start-up (the records thread, else the hashing one)... */
const THREAD_FROM_ENTRIES = 2000;
/**
 * The longest entry name verify accepts, in UTF-8 bytes. Export writes at most ~840: an order id (64), `data`, an
 * account folder and a category (MAX_SEGMENT_BYTES each at most) and MAX_RELATIVE_PATH_BYTES below it. Info-ZIP's
 * unzip cuts a name at 4,096 bytes and writes the file under the cut name; macOS takes paths of 1,024 at most.
 */
export const MAX_ENTRY_NAME_BYTES = 1024;
/** ... and from this many bytes in large entries, the hashing thread does (it costs about what hashing 40 MB does). */
const HASH_THREAD_FROM_BYTES = 64 * 1024 * 1024;
/** Manifest lines and production records beyond the payload file count that are still kept (and reported). */
const SLACK_RECORDS = 10_000;
const REQUIRED_TAG_FILES = ['bagit.txt', 'bag-info.txt', 'manifest-sha256.txt', 'order.json', 'production.json'] as const;
const TAG_MANIFEST = 'tagmanifest-sha256.txt';
const SIGNATURE = 'signature.p7s';
/** Every file outside data/ that export writes (DESIGN.md's archive layout): nothing else may be there. */
const BAG_TAG_FILES = [...REQUIRED_TAG_FILES, TAG_MANIFEST, SIGNATURE] as const;
/** Small tag files held in memory for parsing, with their size caps. */
const CAPTURED: Record<string, number> = {
  'bagit.txt': 64 * 1024,
  'bag-info.txt': 1024 * 1024,
  [TAG_MANIFEST]: 1024 * 1024,
  'order.json': 4 * 1024 * 1024,
  [SIGNATURE]: 1024 * 1024,
};

/** Checks the archive end to end; a bad archive gives `ok: false`, only unreadable inputs throw (InputError). */
export async function verifyArchive(options: VerifyOptions): Promise<VerifyReport> {
  const anchors = options.trustAnchors ?? loadTrustAnchors(options.trustFile);
  const givenOrder = options.orderFile ? readGivenOrder(options.orderFile) : null;
  let file: FileHandle;
  try {
    file = await open(options.archive, INPUT_OPEN_FLAGS);
  } catch (error) {
    throw new InputError('FILE_UNREADABLE', `cannot read the archive ${options.archive}: ${describeFsError(error)}`, { cause: error });
  }
  try {
    const stat = await file.stat();
    if (!stat.isFile()) {
      throw new InputError('FILE_UNREADABLE', `cannot read the archive ${options.archive}: ${stat.isDirectory() ? 'it is a folder' : 'it is not a regular file'}`);
    }
    const verification = new ArchiveVerification(options, anchors, givenOrder);
    try {
      await verification.verify(file, stat.size);
    } catch (error) {
      // A read that fails half-way (EIO, a file that vanished) is an unreadable input, not a verdict and not a bug.
      const code = (error as { code?: unknown } | null)?.code;
      if (error instanceof ScopexError || typeof code !== 'string') throw error;
      throw new InputError('FILE_UNREADABLE', `reading the archive ${options.archive} failed: ${describeFsError(error)}`, { cause: error });
    }
    return verification.report();
  } finally {
    await file.close();
  }
}

/**
 * The order schema as verify applies it: a target value that looks like key material (a GUID without dashes) is taken.
 * Export took it because the account directory holds it, so the archive's order.json already carries it, and --order is
 * the reader's own copy of that order: quoting its values shows nobody anything new. Every other check stays.
 */
const orderSchema = orderSchemaFor(() => true);

function readGivenOrder(orderFile: string): { bytes: Buffer; value: unknown } {
  let bytes: Buffer;
  try {
    bytes = readInputFileSync(orderFile);
  } catch (error) {
    throw new InputError('FILE_UNREADABLE', `cannot read the order ${orderFile}: ${describeFsError(error)}`, { cause: error });
  }
  // Read as order check reads an order (strict JSON, the schema): an --order that is no order is malformed input
  // (exit 2), not "the archive answers a different order" (exit 4), which blamed the archive for the flag.
  parseOrderBytes(bytes, orderFile, () => true);
  return { bytes, value: parseOrderJson(bytes, orderFile) };
}

class ArchiveVerification {
  private readonly failures: VerifyFailure[] = [];
  private omitted = 0;
  private readonly failureCounts = new Map<VerifyCheckName, number>();
  private readonly checks: VerifyReport['checks'] = [];
  private readonly maxFailures: number;
  private readonly now: Date;

  private listing: ZipListing | null = null;
  private topFolder: string | null = null;
  /** Bag-relative path (e.g. "data/a/mail.content/m1.eml") to its first entry, for entries with safe names. */
  private readonly bagEntries = new Map<string, ZipEntry>();
  /** Bag paths of the payload files (under data/, not folders), set once the names are checked. */
  private readonly payload: string[] = [];
  /** The entries of `payload`, in the same order. */
  private readonly payloadEntries: ZipEntry[] = [];
  /** The SHA-256 and byte count of each file entry read in full, by its index in the central directory. */
  private digests = new DigestTable(0);
  private sizes = new Float64Array(0);
  private readonly captured = new Map<string, Buffer>();
  /** What the lines of each metadata file held, by bag path, once it is read. */
  private readonly metadataFiles = new Map<string, MetadataSummary>();
  /** The manifest and production.json: parsed and checked here or on a records thread. */
  private records: RecordChecker | null = null;
  private order: Order | null = null;
  private parsedOrder: ArchiveOrder | null = null;
  private signer: VerifyReport['signer'] = null;
  private signingTime: Date | null = null;

  constructor(
    private readonly options: VerifyOptions,
    private readonly anchors: readonly X509Certificate[],
    private readonly givenOrder: { bytes: Buffer; value: unknown } | null,
  ) {
    this.maxFailures = options.maxFailures ?? 50;
    this.now = options.now ?? new Date();
  }

  async verify(file: FileHandle, size: number): Promise<void> {
    // The records thread starts as soon as the end records say how many entries there are, so that it is up by the
    // time the central directory is read.
    let thread: RecordChecker | undefined;
    let listing: ZipListing;
    try {
      listing = await listZip(file, size, (count) => {
        thread = this.startRecordsThread(count);
      });
    } catch (error) {
      await thread?.close();
      throw error;
    }
    this.records = thread ?? new LocalRecordChecker();
    try {
      this.listing = listing;
      for (const problem of listing.problems) this.fail('zip-structure', problem.entry, problem.expected, problem.found, problem.message);
      if (listing.fatal) {
        this.pass('zip-structure', 'the entries cannot be listed');
        for (const name of VERIFY_CHECKS.slice(1)) this.skip(name, 'not run: the archive cannot be read');
        return;
      }
      this.digests = new DigestTable(listing.entries.length);
      this.sizes = new Float64Array(listing.entries.length);
      await this.readArchive(file, listing);
      this.pass('zip-structure', `${listing.entries.length} entries tile ${size} bytes`);
      // The record checks are asked for at once: a records thread works through them while this thread checks the
      // layout, the signature, the tag manifest and the order. Their outcomes are taken in the same order as ever.
      const asked = this.askRecordChecks();
      this.verifyBagLayout();
      this.verifySignature();
      this.verifyTagManifest();
      this.verifyPayload(await asked.payload);
      this.verifyPayloadOxum();
      this.verifyProduction(await asked.production);
      this.verifyOrder();
      await this.verifyScope(asked.scope);
    } finally {
      await this.records.close();
    }
  }

  /**
   * Names and types from the central directory, then one pass over the entries. A records thread reads the manifest
   * and production.json meanwhile, from where the central directory puts them, and parses them while the names are
   * checked and the pass goes on.
   */
  private async readArchive(file: FileHandle, listing: ZipListing): Promise<void> {
    this.topFolder = mostCommonTopFolder(listing.entries);
    const settings = {
      topFolder: this.topFolder,
      // Manifest lines and production records are kept in memory: bound them by what the archive can hold.
      maxRecords: listing.entries.length + SLACK_RECORDS,
      maxFailures: this.maxFailures,
    };
    let records = this.recordChecks();
    records.begin(settings);
    const early = records.threaded ? await this.readEarly(file, listing, records) : null;
    await this.verifyEntryNames(listing.entries);
    for (const [path, entry] of this.bagEntries) {
      if (path.startsWith('data/') && !path.endsWith('/')) {
        this.payload.push(path);
        this.payloadEntries.push(entry);
      }
    }
    this.verifyEntryTypes(listing.entries);
    // The thread read the first entry of each name under the top folder: unless those are the entries the names give
    // (or either file is not plainly stored), both files are read by the pass and checked here instead.
    if (records.threaded && (early === null || !this.sameEntries(early))) {
      await records.close();
      records = this.records = new LocalRecordChecker();
      records.begin(settings);
    }
    records.setLayout(this.recordLayout(listing.entries));
    if (records.threaded && early) await this.readMetadataEarly(file, listing, records, early);
    const mode = this.options.hashThread ?? 'auto';
    const useWorker = mode === 'always' || (mode === 'auto' && worthAHashThread(listing.entries, records.threaded));
    const batcher = new HashBatcher((slot, digest, at) => this.digests.set(slot, digest, at), useWorker);
    try {
      await this.readEntries(file, listing, batcher, records, records.threaded && early ? early : new Map());
    } finally {
      await batcher.close();
    }
  }

  /** A records thread when there are enough entries to pay for one (`RecordChecks` runs the same either way). */
  private startRecordsThread(entryCount: number): RecordChecker | undefined {
    const mode = this.options.recordsThread ?? 'auto';
    if (mode === 'never' || (mode === 'auto' && entryCount < THREAD_FROM_ENTRIES)) return undefined;
    return startRecordsThread(mode === 'always');
  }

  /**
   * Has the records thread read the manifest and production.json: the first entry of each name under the top folder,
   * by entry index. Null, and nothing read, when either is there but not plainly stored.
   */
  private async readEarly(file: FileHandle, listing: ZipListing, records: RecordChecker): Promise<Map<number, EarlyRead> | null> {
    const top = this.topFolder;
    const wanted = new Map<string, RecordFile>(top === null ? [] : [[`${top}/${MANIFEST}`, 'manifest'], [`${top}/${PRODUCTION}`, 'production']]);
    const found: { entry: ZipEntry; file: RecordFile; range: { position: number; length: number } }[] = [];
    for (const entry of listing.entries) {
      const which = wanted.get(entry.name);
      if (which === undefined) continue;
      wanted.delete(entry.name);
      const range = await storedDataRange(file, listing, entry);
      if (!range) return null;
      found.push({ entry, file: which, range });
      if (wanted.size === 0) break;
    }
    const early = new Map<number, EarlyRead>();
    for (const { entry, file: which, range } of found) {
      const result = records.readEarly(which, file.fd, range.position, range.length);
      result.catch(() => undefined); // awaited after the pass; a failure meanwhile must not go unhandled
      early.set(entry.index, { file: which, path: which === 'manifest' ? MANIFEST : PRODUCTION, result, claimed: false });
    }
    return early;
  }

  /**
   * Has the records thread read and check the metadata files too (their lines are parsed one by one: the main thread
   * has enough with hashing the payload). A file that is not plainly stored is left to the pass.
   */
  private async readMetadataEarly(file: FileHandle, listing: ZipListing, records: RecordChecker, early: Map<number, EarlyRead>): Promise<void> {
    for (let i = 0; i < this.payload.length; i++) {
      const path = this.payload[i] as string;
      if (!path.endsWith(METADATA_FILE)) continue;
      const { category, rest } = splitPayloadPath(path);
      if (rest !== METADATA_FILE || !isMetadataCategory(category)) continue;
      const entry = this.payloadEntries[i] as ZipEntry;
      const range = await storedDataRange(file, listing, entry);
      if (!range) continue;
      const result = records.readMetadata(path, category, file.fd, range.position, range.length);
      result.catch(() => undefined); // awaited after the pass, as the early reads are
      early.set(entry.index, { file: null, path, result, claimed: false });
    }
  }

  /** Whether the entries read early are exactly those the names give the manifest and production.json. */
  private sameEntries(early: ReadonlyMap<number, EarlyRead>): boolean {
    const read = new Map([...early].map(([index, taken]) => [taken.path, index]));
    return [MANIFEST, PRODUCTION].every((path) => this.bagEntries.get(path)?.index === read.get(path));
  }

  private recordLayout(entries: readonly ZipEntry[]): RecordLayout {
    const paths = [...this.bagEntries.keys()];
    const indexes = new Int32Array(paths.length);
    let at = 0;
    for (const entry of this.bagEntries.values()) indexes[at++] = entry.index;
    return { paths, indexes, entryCount: entries.length };
  }

  report(): VerifyReport {
    const payload = this.payloadPaths();
    const payloadBytes = this.payloadBytes();
    const tagFiles = [...this.bagEntries.keys()].filter((path) => !path.startsWith('data/') && !path.endsWith('/')).length;
    return {
      ok: this.failures.length + this.omitted === 0,
      archive: this.options.archive,
      // Entries named "/x" share the empty first segment: that names no order.
      orderId: this.order?.id ?? (this.topFolder || null),
      failures: this.failures,
      failuresOmitted: this.omitted,
      checks: [...this.checks].sort((a, b) => VERIFY_CHECKS.indexOf(a.name) - VERIFY_CHECKS.indexOf(b.name)),
      counts: { entries: this.listing?.entries.length ?? 0, payloadFiles: payload.length, payloadBytes, tagFiles },
      signer: this.signer,
      signingTime: this.signingTime ? this.signingTime.toISOString() : null,
    };
  }

  // ---- the checklist -------------------------------------------------------------------------------------------

  /**
   * Safe names only: relative, no `..`, no backslash, no duplicates (nor twins by case or Unicode normalisation, of
   * files or of folders), one top folder, and every segment one scopex writes (portable to Windows and macOS).
   */
  private async verifyEntryNames(entries: readonly ZipEntry[]): Promise<void> {
    const top = this.topFolder;
    const exact = new Set<string>();
    const twins = new NameTwins(exact, top === null ? '' : `${top}/`);
    const folders = new BagFolders();
    /** The folder of each file of the bag, by entry index: a file named like a folder is found by it below. */
    const folderOfFile = new Int32Array(entries.length).fill(-1);
    const unportable = (name: string, segment: string): boolean => {
      const reason = unportableSegment(segment);
      if (reason) this.fail('entry-names', name, 'names scopex writes, which extract the same everywhere', segment, `unportable entry name: ${reason}`);
      return reason !== null;
    };
    if (top !== null) unportable(`${top}/`, top);
    const folderEntries: string[] = [];
    // The file whose folders are being added (one object and one callback for all files). A folder inside a twin
    // folder is a twin too: only the first twin folder of a file is reported.
    const walking = { name: '', relative: '', twinReported: false };
    const onNewFolder = (segment: string, end: number, twinOf: number): void => {
      if (unportable(walking.name, segment) || twinOf < 0 || walking.twinReported) return;
      walking.twinReported = true;
      this.fail('entry-names', walking.name, 'folder names distinct without case and after Unicode normalisation', `the folder "${walking.relative.slice(0, end)}", the same as "${folders.pathOf(twinOf)}"`, 'the entry lies in a folder that is a twin of another by case or Unicode normalisation: extracted on Windows or macOS, the two folders are one');
    };
    const pause = new PauseForSignals();
    for (const entry of entries) {
      const name = entry.name;
      // Each name costs about its length here (64 units for the fixed costs of an entry).
      if (pause.due(name.length + 64)) await pause.now();
      const unsafe = unsafeNameReason(name);
      // A UTF-16 unit is at most 3 bytes of UTF-8 (a surrogate pair, 4 bytes, is two units).
      const nameBytes = name.length * 3 > MAX_ENTRY_NAME_BYTES ? Buffer.byteLength(name) : 0;
      if (nameBytes > MAX_ENTRY_NAME_BYTES) {
        this.fail('entry-names', name, `a name of at most ${MAX_ENTRY_NAME_BYTES} bytes, as scopex writes`, `${nameBytes} bytes`, `the entry name is ${nameBytes} bytes long: unzip cuts names past 4,096 bytes and writes the file under another name, and macOS cannot unpack paths past 1,024`);
      }
      if (!entry.nameIsUtf8) {
        this.fail('entry-names', name, 'a UTF-8 name (flagged as such)', 'undecodable or unflagged non-ASCII bytes', 'the entry name is not declared UTF-8, so other tools may read it differently');
      }
      if (entry.unicodePathName !== null && entry.unicodePathName !== name) {
        this.fail('entry-names', name, `one name "${name}"`, `a Unicode Path field naming "${entry.unicodePathName}"`, 'the entry carries a second, different name');
      }
      if (unsafe) this.fail('entry-names', name, 'a safe relative name', unsafe, `unsafe entry name: ${unsafe}`);
      const known = exact.size;
      exact.add(name);
      if (exact.size === known) {
        this.fail('entry-names', name, 'each name once', 'a duplicate', 'the entry name appears twice');
        continue;
      }
      const twin = twins.twinOf(name);
      if (twin !== undefined) {
        this.fail('entry-names', name, 'names distinct without case and after Unicode normalisation', `the same as "${twin}"`, 'the entry name is a twin of another by case or Unicode normalisation (NFC/NFD): extracted on Windows or macOS, one overwrites the other');
        continue;
      }
      if (top === null || name.charCodeAt(top.length) !== 0x2f || !name.startsWith(top)) {
        this.fail('entry-names', name, `an entry under "${top ?? '<order-id>'}/"`, name, 'the entry lies outside the single top folder');
        continue;
      }
      const relative = name.slice(top.length + 1);
      if (unsafe || relative === '') continue;
      if (relative.charCodeAt(relative.length - 1) === 0x2f) {
        // A folder entry: judged below, against the folders the files need.
        folderEntries.push(relative);
        this.bagEntries.set(relative, entry);
        continue;
      }
      // Every folder above a file, each judged once, when it is first met.
      const cut = relative.lastIndexOf('/');
      walking.name = name;
      walking.relative = relative;
      walking.twinReported = false;
      folderOfFile[entry.index] = folders.addFoldersOf(relative, cut, onNewFolder);
      unportable(name, relative.slice(cut + 1));
      this.bagEntries.set(relative, entry);
    }
    // A file whose name is also a folder: `bagEntries` holds files under their name, folders with a trailing "/".
    const both: ZipEntry[] = [];
    for (const [relative, entry] of this.bagEntries) {
      const folder = folderOfFile[entry.index] as number;
      if (folder >= 0 && folders.childOf(folder, relative.slice(relative.lastIndexOf('/') + 1)) !== undefined) both.push(entry);
    }
    // "Nothing extra" holds for folders too: a folder entry must be above some file of the bag (data/ alone may be
    // empty: it is how scopex writes a bag with no payload). An empty folder suggests a production that is not there.
    for (const relative of folderEntries) {
      const folder = relative.slice(0, -1);
      const file = this.bagEntries.get(folder);
      const needed = folders.has(folder);
      if (file && !needed) both.push(file);
      if (!needed && relative !== 'data/') {
        this.fail('bag-layout', this.entryName(relative), 'folder entries only above files of the bag', 'an empty folder', `the folder entry ${relative} holds no file of the bag (an added folder)`);
      }
    }
    both.sort((a, b) => a.index - b.index);
    for (const file of both) this.fail('entry-names', file.name, 'a file or a folder', 'both', 'the same name is used for a file and a folder');
    this.pass('entry-names', `${entries.length} names under "${top ?? ''}/"`);
  }

  /** Regular files and folders only: no symbolic links, devices or other special entries. */
  private verifyEntryTypes(entries: readonly ZipEntry[]): void {
    for (const entry of entries) {
      const host = entry.versionMadeBy >> 8;
      const isFolderName = entry.name.endsWith('/');
      if (host === 3 || host === 19) {
        const type = (entry.externalAttributes >>> 16) & 0o170000;
        if (type === 0o120000) {
          this.fail('entry-types', entry.name, 'a regular file', 'a symbolic link', 'the entry is a symbolic link');
        } else if (type !== 0 && type !== 0o100000 && type !== 0o040000) {
          this.fail('entry-types', entry.name, 'a regular file', `file type 0o${type.toString(8)}`, 'the entry is a special file');
        } else if ((type === 0o040000) !== isFolderName && type !== 0) {
          this.fail('entry-types', entry.name, isFolderName ? 'a folder' : 'a regular file', type === 0o040000 ? 'a folder' : 'a regular file', 'the entry type contradicts its name');
        }
      }
      if ((entry.externalAttributes & 0x400) !== 0) {
        this.fail('entry-types', entry.name, 'a regular file', 'a reparse point (link)', 'the entry is a Windows link');
      }
      if (((entry.externalAttributes & 0x10) !== 0) !== isFolderName && (entry.externalAttributes & 0x10) !== 0) {
        this.fail('entry-types', entry.name, 'a regular file', 'a folder attribute', 'the entry type contradicts its name');
      }
      if (isFolderName && entry.uncompressedSize !== 0) {
        this.fail('entry-types', entry.name, 'an empty folder entry', `${entry.uncompressedSize} bytes`, 'a folder entry carries data');
      }
      const unsafe = unsafeAttributes(entry, isFolderName);
      if (unsafe) this.fail('entry-types', entry.name, unsafe.expected, unsafe.found, unsafe.message);
    }
    this.pass('entry-types', 'regular files and folders only, with plain permissions');
  }

  /**
   * One front-to-back pass: every file is hashed, small tag files are kept, large ones are parsed as they stream. The
   * entries in `taking` the records thread reads itself; what it read counts only where the pass would have read the
   * entry too.
   */
  private async readEntries(
    file: FileHandle,
    listing: ZipListing,
    batcher: HashBatcher,
    records: RecordChecker,
    taking: ReadonlyMap<number, EarlyRead>,
  ): Promise<void> {
    // The bag path of each file entry, by its index in the central directory; the few tag files read for more than
    // their hash are marked.
    const paths = new Array<string | undefined>(listing.entries.length);
    for (const [path, entry] of this.bagEntries) if (!path.endsWith('/')) paths[entry.index] = path;
    const special = new Uint8Array(listing.entries.length);
    for (const path of [...Object.keys(CAPTURED), MANIFEST, PRODUCTION]) {
      const entry = this.bagEntries.get(path);
      if (entry) special[entry.index] = 1;
    }
    for (const path of this.payload) {
      const { category, rest } = splitPayloadPath(path);
      if (rest === METADATA_FILE && isMetadataCategory(category)) special[(this.bagEntries.get(path) as ZipEntry).index] = 1;
    }
    const digests = this.digests;
    const problems = await scanZip(file, listing, (entry) => {
      const path = paths[entry.index];
      if (path === undefined) return null;
      if (special[entry.index] === 0) return new HashSink(entry.index, digests, this.sizes, batcher, file.fd);
      const taken = taking.get(entry.index);
      return taken ? claimSink(taken) : this.sinkFor(path, entry, records);
    });
    await batcher.finish();
    for (const [index, taken] of taking) {
      const { sha256, bytes, summary } = await taken.result;
      if (taken.claimed) {
        digests.setHex(index, sha256);
        this.sizes[index] = bytes;
        if (summary) this.metadataFiles.set(taken.path, summary);
      } else if (taken.file !== null) {
        records.discard(taken.file);
      }
    }
    for (const problem of problems) this.fail('zip-structure', problem.entry, problem.expected, problem.found, problem.message);
  }

  private sinkFor(path: string, entry: ZipEntry, records: RecordChecker): EntrySink {
    const cap = CAPTURED[path];
    const hash = createHash('sha256');
    let bytes = 0;
    let extra: RecordSink | null = null;
    if (cap !== undefined) {
      if (entry.uncompressedSize > cap) {
        this.fail('bag-layout', this.entryName(path), `at most ${cap} bytes`, `${entry.uncompressedSize} bytes`, `${path} is too large to be a genuine tag file`);
      } else {
        const parts: Buffer[] = [];
        extra = { update: (chunk) => parts.push(Buffer.from(chunk)), end: () => this.captured.set(path, Buffer.concat(parts)) };
      }
    } else if (path === MANIFEST) {
      extra = records.sink('manifest');
    } else if (path === PRODUCTION) {
      extra = records.sink('production');
    } else {
      const { category } = splitPayloadPath(path);
      if (isMetadataCategory(category)) extra = records.metadataSink(path, category, (summary) => this.metadataFiles.set(path, summary));
    }
    return {
      update: (chunk) => {
        hash.update(chunk);
        bytes += chunk.length;
        extra?.update(chunk);
      },
      end: () => {
        this.digests.set(entry.index, hash.digest());
        this.sizes[entry.index] = bytes;
        extra?.end();
      },
    };
  }

  /** BagIt essentials: the required tag files exist, bagit.txt declares 1.0, bag-info.txt has its labels. */
  private verifyBagLayout(): void {
    for (const name of BAG_TAG_FILES) {
      if (!this.bagEntries.has(name)) this.fail('bag-layout', this.entryName(name), `${name} in the bag`, 'nothing', `the bag has no ${name}`);
    }
    for (const path of this.bagEntries.keys()) {
      if (path.startsWith('data/') || path.endsWith('/') || (BAG_TAG_FILES as readonly string[]).includes(path)) continue;
      this.fail('bag-layout', this.entryName(path), `only the tag files scopex writes (${BAG_TAG_FILES.join(', ')}) beside data/`, path, extraTagFileMessage(path));
    }
    const bagit = this.captured.get('bagit.txt');
    if (bagit) {
      const problem = checkBagitDeclaration(bagit.toString('utf8'));
      if (problem) this.fail('bag-layout', this.entryName('bagit.txt'), 'BagIt-Version: 1.0, Tag-File-Character-Encoding: UTF-8', problem, `bagit.txt is not a BagIt 1.0 declaration: ${problem}`);
    }
    const infoBytes = this.captured.get('bag-info.txt');
    const infoProblem = infoBytes ? bagInfoProblem(infoBytes.toString('utf8')) : null;
    if (infoProblem) this.fail('bag-layout', this.entryName('bag-info.txt'), 'RFC 8493 tags, "Label: value" on each line', infoProblem, `bag-info.txt is not BagIt tags: ${infoProblem}`);
    const info = this.bagInfo();
    if (info) {
      for (const label of ['Source-Organization', 'Bagging-Date', 'External-Identifier', 'Payload-Oxum']) {
        const count = info.get(label)?.length ?? 0;
        if (count !== 1) this.fail('bag-layout', this.entryName('bag-info.txt'), `one ${label}`, `${count}`, `bag-info.txt must have exactly one ${label}`);
      }
      const bagged = info.get('Bagging-Date')?.[0];
      if (bagged !== undefined && !isCalendarDay(bagged)) {
        this.fail('bag-layout', this.entryName('bag-info.txt'), 'Bagging-Date YYYY-MM-DD', shownValue(bagged), 'bag-info.txt gives a Bagging-Date that is not a day (RFC 8493: YYYY-MM-DD)');
      }
      const external = info.get('External-Identifier')?.[0];
      if (external !== undefined && external !== this.topFolder) {
        this.fail('bag-layout', this.entryName('bag-info.txt'), `External-Identifier ${this.topFolder ?? ''}`, external, 'bag-info.txt names another order than the top folder');
      }
      this.checkAccountLines(info.get(ACCOUNT_LABEL) ?? []);
    }
    this.pass('bag-layout', 'BagIt 1.0 with bag-info, manifests, order, production record and signature');
  }

  /**
   * bag-info.txt lists every account the export resolved, one `Scopex-Account` line each: an export resolves at least
   * one (a target that resolves to none refuses the order), and each one once.
   */
  private checkAccountLines(values: readonly string[]): void {
    const entry = this.entryName('bag-info.txt');
    if (values.length === 0) {
      this.fail('bag-layout', entry, `a ${ACCOUNT_LABEL} line for each account the export resolved`, 'none', `bag-info.txt lists no ${ACCOUNT_LABEL}, so an account left out whole could not be told from one with nothing to deliver`);
    }
    const seen = new Set<string>();
    for (const value of values) {
      if (!ACCOUNT_ID_PATTERN.test(value)) {
        this.fail('bag-layout', entry, `${ACCOUNT_LABEL}: an account id`, shownValue(value), `bag-info.txt gives a ${ACCOUNT_LABEL} that is not an account id`);
      } else if (seen.has(value)) {
        this.fail('bag-layout', entry, `each ${ACCOUNT_LABEL} once`, value, `bag-info.txt lists account ${value} twice`);
      }
      seen.add(value);
    }
  }

  /** The accounts bag-info.txt says the export resolved (its well-formed Scopex-Account lines), or null without any. */
  private listedAccounts(): ReadonlySet<string> | null {
    const values = (this.bagInfo()?.get(ACCOUNT_LABEL) ?? []).filter((value) => ACCOUNT_ID_PATTERN.test(value));
    return values.length === 0 ? null : new Set(values);
  }

  /** The CMS signature over tagmanifest-sha256.txt, its maths and its signer's chain to --trust. */
  private verifySignature(): void {
    const signature = this.captured.get(SIGNATURE);
    const content = this.captured.get(TAG_MANIFEST);
    if (!signature || !content) {
      const missing = !signature ? SIGNATURE : TAG_MANIFEST;
      this.fail('signature', this.entryName(missing), `a readable ${missing}`, 'none', `the signature cannot be checked without ${missing}`);
      this.pass('signature', 'not verifiable');
      this.skip('signer-chain', 'not run: no signature to check');
      return;
    }
    let outcome: ReturnType<typeof verifyDetachedSignature>;
    try {
      outcome = verifyDetachedSignature({ signature, content, trustAnchors: this.anchors, now: this.now });
    } catch (error) {
      // A hostile signature.p7s is a failed check, never an unreadable archive: the other checks still report.
      const reason = (error as { code?: unknown } | null)?.code ?? (error as Error | null)?.message ?? String(error);
      this.fail('signature', this.entryName(SIGNATURE), 'a verifiable CMS signature', String(reason), 'the signature in signature.p7s could not be checked');
      this.pass('signature', 'not verifiable');
      this.skip('signer-chain', 'not run: the signature could not be checked');
      return;
    }
    this.signer = outcome.signer;
    this.signingTime = outcome.signingTime;
    for (const problem of outcome.problems) this.fail(problem.check, this.entryName(SIGNATURE), problem.expected, problem.found, problem.message);
    // scopex signs the bag at the moment it dates it: a seal of another day was made apart from the bag.
    const bagged = this.bagInfo()?.get('Bagging-Date');
    const signedOn = this.signingTime?.toISOString().slice(0, 10);
    if (signedOn !== undefined && bagged?.length === 1 && isCalendarDay(bagged[0] as string) && bagged[0] !== signedOn) {
      this.fail('signature', this.entryName(SIGNATURE), `a signing time on the Bagging-Date, ${bagged[0] as string}`, `signed ${this.signingTime!.toISOString()}`, 'the archive was signed on another day than bag-info.txt says it was bagged (scopex signs a bag as it dates it)');
    }
    this.pass('signature', `CMS SignedData over ${TAG_MANIFEST}: ${outcome.detail}`);
    this.pass('signer-chain', this.signer ? `${this.signer.subject} chains to --trust` : 'no signer certificate');
  }

  /** Every tag file is listed in the signed tag manifest with its hash; nothing outside data/ is unlisted. */
  private verifyTagManifest(): void {
    const bytes = this.captured.get(TAG_MANIFEST);
    if (!bytes) {
      this.fail('tag-manifest', this.entryName(TAG_MANIFEST), `a readable ${TAG_MANIFEST}`, 'none', 'the tag files cannot be checked without the tag manifest');
      this.pass('tag-manifest', 'not verifiable');
      return;
    }
    const tags = new ManifestReader(Number.MAX_SAFE_INTEGER, this.maxFailures);
    tags.update(bytes);
    tags.end();
    for (const problem of tags.problems) this.fail('tag-manifest', this.entryName(TAG_MANIFEST), problem.expected, problem.found, problem.message);
    this.failUnlisted('tag-manifest', tags.problemCount - tags.problems.length);
    for (const [path, slot] of tags.entries) {
      if (path.startsWith('data/') || path === TAG_MANIFEST || path === SIGNATURE || unsafeNameReason(path)) {
        this.fail('tag-manifest', this.entryName(path), 'tag files only', path, `the tag manifest lists ${path}, which is not a tag file it can cover`);
        continue;
      }
      this.compareHash('tag-manifest', path, tags.hash(slot));
    }
    for (const name of REQUIRED_TAG_FILES) {
      if (!tags.entries.has(name)) this.fail('tag-manifest', this.entryName(name), `${name} listed in ${TAG_MANIFEST}`, 'not listed', `${name} is not covered by the signature`);
    }
    for (const path of this.bagEntries.keys()) {
      if (path.startsWith('data/') || path.endsWith('/') || path === TAG_MANIFEST || path === SIGNATURE) continue;
      if (!tags.entries.has(path)) this.fail('tag-manifest', this.entryName(path), 'only files listed in the tag manifest', 'an unlisted file', `${path} is not in the tag manifest (an added file)`);
    }
    this.pass('tag-manifest', `${tags.entries.size} tag files`);
  }

  /**
   * Asks for the payload, production and scope checks of the records, in that order (the scope one only when the
   * archive's order.json is a valid order). A failed request rejects when its outcome is awaited, not before.
   */
  private askRecordChecks(): { payload: Promise<CheckOutcome>; production: Promise<CheckOutcome>; scope: ScopeOutcomes | null } {
    const records = this.recordChecks();
    const payload = records.payload({ digests: this.digests, sizes: this.sizes });
    const order = this.archiveOrder().parsed?.data;
    // A service whose content the order names: its metadata lines are held to its content records even when the
    // archive holds none of them (all of a service's content left out).
    const contentServices = (order?.categories ?? []).filter((category) => category.endsWith('.content')).map((category) => category.slice(0, -'.content'.length));
    const production = records.production(contentServices);
    const rule = (of: Order): ScopeRule => ({ categories: of.categories, from: of.dateRange.from, to: of.dateRange.to, ...this.tenantRule(of) });
    const archive = order ? records.scope(rule(order)) : null;
    // A different --order (the order check fails on that already) is the one the investigator holds: what lies
    // outside it is named too, not only what lies outside the order the archive carries.
    const given = order ? this.differingGivenOrder() : null;
    const againstGiven = given ? records.scope(rule(given)) : null;
    for (const outcome of [payload, production, archive, againstGiven]) outcome?.catch(() => undefined);
    return { payload, production, scope: archive ? { archive, given: given && againstGiven ? { order: given, outcome: againstGiven } : null } : null };
  }

  /** With --config: whether each account the order's targets resolve to is a customer-key tenant's. */
  private tenantRule(order: Order): Pick<ScopeRule, 'customerKey'> {
    const directory = this.options.directory;
    if (!directory) return {};
    const accounts = resolveTargets(order.targets, directory).accounts;
    return { customerKey: new Map(accounts.map(({ account }) => [account.id, account.tenantType === 'customer-key'])) };
  }

  /** --order when it is a valid order whose canonical JSON differs from the archive's order.json; else null. */
  private differingGivenOrder(): Order | null {
    if (!this.givenOrder) return null;
    const parsed = orderSchema.safeParse(this.givenOrder.value);
    if (!parsed.success) return null;
    return canonicalJson(this.givenOrder.value) === canonicalJson(this.archiveOrder().value) ? null : parsed.data;
  }

  /** Every payload file is in manifest-sha256.txt with the hash recomputed here, and nothing else is. */
  private verifyPayload(outcome: CheckOutcome): void {
    this.absorb('payload-manifest', outcome);
    this.pass('payload-manifest', outcome.detail);
  }

  /** bag-info.txt Payload-Oxum equals the payload's byte and file counts. */
  private verifyPayloadOxum(): void {
    const oxum = this.bagInfo()?.get('Payload-Oxum')?.[0];
    const paths = this.payloadPaths();
    const bytes = this.payloadBytes();
    const actual = `${bytes}.${paths.length}`;
    if (oxum === undefined) {
      this.fail('payload-oxum', this.entryName('bag-info.txt'), actual, 'no Payload-Oxum', 'bag-info.txt has no Payload-Oxum');
    } else if (oxum !== actual) {
      this.fail('payload-oxum', this.entryName('bag-info.txt'), actual, oxum, 'Payload-Oxum does not match the payload (octets.files)');
    }
    this.pass('payload-oxum', actual);
  }

  /** production.json has exactly one well-formed record per payload file, agreeing with the manifest. */
  private verifyProduction(outcome: CheckOutcome): void {
    this.absorb('production', outcome);
    const detail = this.accountsWhole();
    this.pass('production', `${outcome.detail}${detail}`);
  }

  /**
   * Each account's data against the accounts bag-info.txt says the export resolved: no data of an account it does not
   * list, and for each one it lists, what export writes for every account whatever its range holds (a subscriber record
   * and each metadata category's file, an empty one when the account has no such items), when the order the archive
   * carries names them. An account left out whole, or part of one, fails. Returns a detail for the check's line.
   */
  private accountsWhole(): string {
    const listed = this.listedAccounts();
    const accounts = this.payloadAccounts();
    if (listed) {
      for (const account of [...accounts].sort()) {
        if (listed.has(account)) continue;
        this.fail('production', this.entryName(`data/${account}/`), `an account bag-info.txt lists (${[...listed].join(', ')})`, account, `the archive holds data of account ${account}, which bag-info.txt does not list among the accounts the export resolved`);
      }
    }
    const order = this.archiveOrder().parsed?.data;
    const required = order ? order.categories.filter((category) => category === 'subscriber' || isMetadataCategory(category)) : [];
    const expected = listed ?? accounts;
    if (required.length > 0) {
      for (const account of [...expected].sort()) {
        const files = required.map((category) => `data/${account}/${category}/${category === 'subscriber' ? SUBSCRIBER_FILE : METADATA_FILE}`);
        if (!accounts.has(account)) {
          const file = `data/${account}/`;
          this.fail('production', this.entryName(file), `${files.join(', ')}, as export writes for every account of an order naming ${required.join(', ')}`, 'no data of the account', `account ${account}, which bag-info.txt lists, has no data in the archive, though the order asks for its ${required.join(', ')}`);
          continue;
        }
        for (const [index, file] of files.entries()) {
          const category = required[index] as string;
          // A customer-key account's subscriber record is its stored ciphertext.
          if (this.bagEntries.has(file) || (category === 'subscriber' && this.bagEntries.has(`${file}${STORED_CIPHERTEXT_SUFFIX}`))) continue;
          const what = category === 'subscriber' ? 'subscriber record' : `${category} file`;
          this.fail('production', this.entryName(file), `${file}, as export writes for every account of an order naming ${category}`, 'no such file', `account ${account} has no ${what} (${file}), which the order asks for`);
        }
      }
    }
    return listed ? `; ${listed.size} account(s) listed in bag-info.txt, ${accounts.size} with data` : '';
  }

  /** The accounts that have a category folder under data/. */
  private payloadAccounts(): Set<string> {
    const accounts = new Set<string>();
    // Paths of one account follow each other: a path under the previous one's data/<account>/ has the same account.
    let lastPrefix: string | null = null;
    for (const path of this.payloadPaths()) {
      if (lastPrefix !== null && path.startsWith(lastPrefix)) continue;
      const { account, category } = splitPayloadPath(path);
      // A file right under data/ or an account folder is not in a category: bag-layout fails it.
      lastPrefix = category ? `data/${account}/` : null;
      if (category) accounts.add(account);
    }
    return accounts;
  }

  /** The archive's order.json is a scopex order for this bag, and equals --order when given. */
  private verifyOrder(): void {
    const entry = this.entryName('order.json');
    const { bytes, value, jsonError, parsed } = this.archiveOrder();
    if (!bytes) {
      this.fail('order', entry, 'a readable order.json', 'none', 'the archive has no readable order.json');
      this.pass('order', 'not verifiable');
      return;
    }
    if (jsonError !== undefined || !parsed) {
      this.fail('order', entry, 'JSON', jsonError ?? '', 'order.json is not valid JSON');
      this.pass('order', 'not verifiable');
      return;
    }
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      this.fail('order', entry, 'a scopex.order/v1 document', `${issue?.path.join('.') ?? ''}: ${issue?.message ?? ''}`, 'order.json is not a valid scopex order');
    } else {
      this.order = parsed.data;
      if (parsed.data.id !== this.topFolder) this.fail('order', entry, `order id ${this.topFolder ?? ''} (the top folder)`, parsed.data.id, 'order.json is for another order than the archive');
    }
    const approval = parsed.success ? this.verifySealedApproval(entry, parsed.data, value as Record<string, unknown>) : '';
    let detail = `order.json is a well-formed scopex order for this archive${approval}`;
    if (this.givenOrder) {
      if (bytes.equals(this.givenOrder.bytes)) {
        detail = `order.json is byte-identical to --order${approval}`;
      } else if (canonicalJson(value) === canonicalJson(this.givenOrder.value)) {
        detail = `order.json equals --order (same canonical JSON, different formatting)${approval}`;
      } else {
        const given = this.givenOrder.value as Record<string, unknown> | null;
        const differing = differingFields(value, given);
        this.fail(
          'order',
          entry,
          `the order in ${this.options.orderFile ?? '--order'} (sha256 ${sha256(this.givenOrder.bytes)})`,
          `another order (sha256 ${sha256(bytes)}; differs in ${differing})`,
          'the archive answers a different order than the one given',
        );
      }
    }
    this.pass('order', detail);
  }

  /**
   * The approval sealed into order.json, as far as the archive and --trust can prove it; returns the words the order
   * check's detail ends with. scopex seals only approved orders, so an order.json without an approval, or changed
   * after it was signed, is a contradiction whatever the verifier trusts. Who approved it is proven only when --trust
   * also issued the reviewer's certificate (the provider's CA usually issues both): then the approval is judged as
   * `order check` judges it, at the time the archive was signed. An investigator's --trust may hold only the signer's
   * CA; the detail then says that the approver was not proven, rather than fail a genuine archive.
   *
   * The archive cannot have been signed before the order was issued or approved: export refuses an order that is not
   * yet valid or not approved. The CMS signing time is given to the whole second (it drops the fraction), so the
   * signing happened before the next whole second. The order's expiry is not held against the signing time: an export
   * checks it when it starts, and a long export may be sealed after it.
   */
  private verifySealedApproval(entry: string, order: Order, signed: Record<string, unknown>): string {
    const approval = order.approval;
    if (!approval) {
      this.fail('order', entry, 'an approved order (an approval block)', 'no approval', 'order.json carries no approval; scopex seals only approved orders');
      return '';
    }
    const approver = `approval by ${JSON.stringify(approval.reviewer)} of ${approval.approvedAt}`;
    if (!approvalSignatureMatches(signed, approval)) {
      this.fail(
        'order',
        entry,
        'an approval whose signature matches the order under the certificate it carries',
        approver,
        'order.json was changed after it was approved, or its approval was not signed with the key of its certificate',
      );
      return '';
    }
    const latestSigning = this.signingTime ? new Date(this.signingTime.getTime() + 999) : null;
    const issuers = this.anchors.filter((ca) => ca.ca && approvalIssuedBy(approval, ca));
    if (latestSigning) {
      for (const [field, claimed] of [['issuedAt', order.issuedAt], ['approval.approvedAt', approval.approvedAt]] as const) {
        if (latestSigning.getTime() < Date.parse(claimed)) {
          this.fail(
            'order',
            entry,
            `a signing time no earlier than ${field} ${claimed}`,
            `signed ${this.signingTime!.toISOString()}`,
            `the archive was signed before its order's ${field}; an export seals only orders already issued and approved`,
          );
        }
      }
    }
    if (issuers.length === 0) {
      return `, approved by ${JSON.stringify(approval.reviewer)} at ${approval.approvedAt} (its signature matches; the reviewer's certificate is not issued by --trust, so who approved it is not proven here)`;
    }
    for (const reason of verifyApproval(signed, approval, issuers, latestSigning ?? this.now)) {
      // An approval dated after the signing is reported above, in the archive's terms.
      if (reason.message.startsWith('field approval.approvedAt:')) continue;
      this.fail('order', entry, 'an approval valid when the archive was signed', approver, reason.message);
    }
    return `, approved by ${JSON.stringify(approval.reviewer)} at ${approval.approvedAt} with a certificate issued by --trust`;
  }

  /** The archive's order.json, read once: its bytes, its JSON value (or why it is not JSON) and the schema's verdict. */
  private archiveOrder(): ArchiveOrder {
    if (this.parsedOrder) return this.parsedOrder;
    const bytes = this.captured.get('order.json');
    let result: ArchiveOrder = { bytes };
    if (bytes) {
      const text = bytes.toString('utf8');
      try {
        const value: unknown = JSON.parse(text);
        result = { bytes, value, parsed: orderSchema.safeParse(value) };
      } catch (error) {
        result = { bytes, jsonError: `text that ${notValidJson(error, text)}` };
      }
    }
    this.parsedOrder = result;
    return result;
  }

  /**
   * Every record within the order: its category among the order's categories, its timestamp inside the date range
   * (inclusive). Accounts can only be checked offline when every target is an account id; otherwise the directory
   * that resolved them is not available to the verifier. `records` is the records' scope check, asked for when the
   * order was found valid.
   */
  private async verifyScope(outcomes: ScopeOutcomes | null): Promise<void> {
    const order = this.order;
    if (!order || !outcomes) {
      this.skip('scope', 'not run: no valid order.json');
      return;
    }
    const detail = await this.scopeAgainst(order, await outcomes.archive);
    const given = outcomes.given;
    if (given) {
      await this.scopeAgainst(given.order, await given.outcome);
      this.pass('scope', `${detail}; and against --order: categories ${given.order.categories.join(', ')}; ${given.order.dateRange.from} to ${given.order.dateRange.to}`);
    } else {
      this.pass('scope', detail);
    }
  }

  /**
   * The archive's accounts against the accounts the order's targets resolve to in the account directory now, as export
   * resolves them. A target the directory no longer resolves (an identifier since moved or removed) cannot vouch for
   * any account: the archive's accounts are then held to the rest, and the detail says which targets did not resolve.
   */
  private accountsResolved(order: Order, accounts: ReadonlySet<string>, directory: AccountDirectory, exported: ReadonlySet<string> | null): string {
    const resolution = resolveTargets(order.targets, directory);
    const resolved = new Set(resolution.accounts.map((entry) => entry.account.id));
    const listed = [...resolved].sort().join(', ') || 'none';
    for (const account of [...accounts].sort()) {
      if (!resolved.has(account)) {
        this.fail(
          'scope',
          this.entryName(`data/${account}/`),
          `an account among those the order's targets resolve to in the account directory (${listed})`,
          account,
          `account ${account} is not an account the order's targets resolve to`,
        );
      }
    }
    // And the other way: an account a target resolves to now that the export did not resolve is missing from the
    // archive, unless the directory has changed since (which verify cannot tell, so it says so).
    for (const { account, targets } of exported ? resolution.accounts : []) {
      if (exported?.has(account.id)) continue;
      const target = targets[0] as (typeof targets)[number];
      this.fail(
        'scope',
        this.entryName('bag-info.txt'),
        `account ${account.id}, which target ${target.type} ${JSON.stringify(target.value)} resolves to in the account directory, among the accounts the export resolved`,
        [...exported ?? []].join(', '),
        `account ${account.id}, which the order's targets resolve to, is missing from the archive (bag-info.txt does not list it), or the account directory has changed since the export`,
      );
    }
    const unresolved = resolution.reasons.length === 0 ? '' : `; ${resolution.reasons.length} target(s) no longer resolve in the account directory`;
    return `${accounts.size} account(s), all among the ${resolved.size} the targets resolve to in the account directory${unresolved}`;
  }

  /**
   * An account-id target names its account whatever the directory says, and export refuses an order with a target it
   * cannot resolve: every account-id target is among the accounts the export resolved.
   */
  private targetsListed(order: Order, listed: ReadonlySet<string>): void {
    for (const target of order.targets) {
      if (target.type !== 'account-id' || listed.has(target.value)) continue;
      this.fail(
        'scope',
        this.entryName('bag-info.txt'),
        `account ${target.value}, which the order names by id, among the accounts the export resolved`,
        [...listed].join(', '),
        `account ${target.value}, a target of order ${order.id}, is missing from the archive: bag-info.txt does not list it`,
      );
    }
  }

  /**
   * Each line of a metadata file the order's categories name: a metadata line scopex writes (no field beyond its
   * service's, such as a subject), naming a time inside the order's date range. Each line is its item's record, so it
   * is held to the range as a content item's production record is.
   */
  private metadataLinesAgainst(order: Order): void {
    const from = Date.parse(order.dateRange.from);
    const to = Date.parse(order.dateRange.to);
    const range = `${order.dateRange.from} to ${order.dateRange.to}`;
    for (const [path, summary] of this.metadataFiles) {
      const { category } = splitPayloadPath(path);
      if (!order.categories.includes(category as Order['categories'][number])) continue;
      const entry = this.entryName(path);
      const { problem, problems, earliest, latest } = summary;
      if (problem) {
        const more = problems > 1 ? ` (and ${problems - 1} more line${problems === 2 ? '' : 's'})` : '';
        this.fail('scope', entry, `${category} lines as scopex writes them`, `line ${problem.line}: ${problem.message}${more}`, `${path} holds a line that is not a ${category} line: ${problem.message}`);
      }
      if (earliest && earliest.at < from) {
        this.fail('scope', entry, `times within ${range}`, `line ${earliest.line}: ${earliest.text}`, `${path} names an item that lies outside the order's date range`);
      }
      // One line cannot be both before the range and after it.
      if (latest && latest.at >= from && !instantInRange(latest.text, latest.at, from, to)) {
        this.fail('scope', entry, `times within ${range}`, `line ${latest.line}: ${latest.text}`, `${path} names an item that lies outside the order's date range`);
      }
    }
  }

  /**
   * The records' scope outcome against `order`, then the payload folders: categories the order names, accounts its
   * targets can be (at most one per target; by id when every target is an account id). Returns the check's detail.
   */
  private async scopeAgainst(order: Order, records: CheckOutcome): Promise<string> {
    this.absorb('scope', records);
    const categories = new Set<string>(order.categories);
    const accounts = new Set<string>();
    // Paths of one folder follow each other: a path under the previous one's data/<account>/<category>/ has the same
    // account and category.
    let lastPrefix: string | null = null;
    let lastCategoryNamed = true;
    for (const path of this.payloadPaths()) {
      const sameFolder = lastPrefix !== null && path.startsWith(lastPrefix);
      if (sameFolder && lastCategoryNamed) continue;
      const { account, category, rest } = splitPayloadPath(path);
      if (!sameFolder) {
        lastPrefix = rest === null ? null : path.slice(0, path.length - rest.length);
        lastCategoryNamed = !category || categories.has(category);
        if (account) accounts.add(account);
      }
      if (category && !categories.has(category)) {
        this.fail('scope', this.entryName(path), `a category among ${order.categories.join(', ')}`, category, `${path} lies in a category folder the order does not name`);
      }
    }
    this.metadataLinesAgainst(order);
    // The accounts bag-info.txt lists are the export's claim of what the targets resolved to: held to the targets as
    // the accounts with data are (production holds the data to the list).
    const listed = this.listedAccounts();
    const withData = accounts.size;
    for (const account of listed ?? []) accounts.add(account);
    if (listed) this.targetsListed(order, listed);
    let accountDetail = `${accounts.size} account(s); targets other than account ids cannot be resolved offline`;
    // Each target resolves to exactly one account: more accounts than targets is data of an account no target names.
    if (accounts.size > order.targets.length) {
      const held = [...accounts].sort();
      this.fail(
        'scope',
        this.entryName('data/'),
        `at most ${order.targets.length} account(s), one per target of order ${order.id}`,
        `${held.length} accounts (${held.join(', ')})`,
        `the archive holds data of ${withData} account(s)${withData === held.length ? '' : ` and names ${held.length} in all (bag-info.txt lists accounts with no data too)`}, but the order's ${order.targets.length} target(s) resolve to at most ${order.targets.length}`,
      );
    }
    if (this.options.directory) {
      accountDetail = this.accountsResolved(order, accounts, this.options.directory, listed);
    } else if (order.targets.every((target) => target.type === 'account-id')) {
      const named = new Set(order.targets.map((target) => target.value));
      for (const account of accounts) {
        if (!named.has(account)) this.fail('scope', this.entryName(`data/${account}/`), `an account among ${[...named].join(', ')}`, account, `account ${account} is not a target of the order`);
      }
      accountDetail = `${accounts.size} account(s), all named by the order`;
    }
    return `categories ${order.categories.join(', ')}; ${order.dateRange.from} to ${order.dateRange.to}; ${accountDetail}`;
  }

  // ---- helpers -------------------------------------------------------------------------------------------------

  private recordChecks(): RecordChecker {
    if (this.records === null) throw new Error('the records are checked only after the archive was read');
    return this.records;
  }

  /** The failures a record check found, as if each had been reported here. */
  private absorb(check: VerifyCheckName, outcome: CheckOutcome): void {
    for (const failure of outcome.failures) this.fail(failure.check, failure.entry, failure.expected, failure.found, failure.message);
    this.failUnlisted(check, outcome.count - outcome.failures.length);
  }

  /**
   * Failures beyond the ones listed: counted against their check and omitted. Only for failures that come after at
   * least `maxFailures` listed ones of the same source, which leave the list full.
   */
  private failUnlisted(check: VerifyCheckName, count: number): void {
    if (count <= 0) return;
    this.failureCounts.set(check, (this.failureCounts.get(check) ?? 0) + count);
    this.omitted += count;
  }

  private compareHash(check: 'tag-manifest', path: string, expected: string, found = this.bagEntries.get(path)): void {
    const actual = found ? this.digests.hex(found.index) : undefined;
    if (actual === expected) return;
    const entry = this.entryName(path);
    if (!found) {
      this.fail(check, entry, `${path} in the archive`, 'nothing', `${path} is listed but missing`);
    } else if (actual === undefined) {
      this.fail(check, entry, `sha256 ${expected}`, 'unreadable data', `${path} could not be read`);
    } else {
      this.fail(check, entry, `sha256 ${expected}`, `sha256 ${actual}`, `${path} does not match its hash`);
    }
  }

  private payloadPaths(): readonly string[] {
    return this.payload;
  }

  /** The SHA-256 computed for a bag path, when its entry was read in full. */
  private digestOf(path: string): string | undefined {
    const entry = this.bagEntries.get(path);
    return entry ? this.digests.hex(entry.index) : undefined;
  }

  /** The bytes of the payload files: as read, or as the central directory declares for those not read in full. */
  private payloadBytes(): number {
    let sum = 0;
    for (const entry of this.payloadEntries) {
      sum += this.digests.has(entry.index) ? (this.sizes[entry.index] as number) : entry.uncompressedSize;
    }
    return sum;
  }

  private bagInfo(): Map<string, string[]> | null {
    const bytes = this.captured.get('bag-info.txt');
    return bytes ? parseBagInfo(bytes.toString('utf8')) : null;
  }

  private entryName(path: string): string {
    return this.topFolder ? `${this.topFolder}/${path}` : path;
  }

  private fail(check: VerifyCheckName, entry: string | null, expected: string, found: string, message: string): void {
    this.failureCounts.set(check, (this.failureCounts.get(check) ?? 0) + 1);
    if (this.failures.length < this.maxFailures) this.failures.push({ check, entry, expected, found, message });
    else this.omitted++;
  }

  /** Records a check as run; it passed when it recorded no failure. */
  private pass(name: VerifyCheckName, detail: string): void {
    const failed = this.failureCounts.get(name) ?? 0;
    this.checks.push({ name, ok: failed === 0, detail: failed === 0 ? detail : `${failed} failure${failed === 1 ? '' : 's'}` });
  }

  private skip(name: VerifyCheckName, detail: string): void {
    this.checks.push({ name, ok: false, detail });
  }
}

/**
 * A file that is only hashed: by the batcher when the reader has it all in one window; else handed over to the
 * batcher's thread, which reads it from the archive (`fd`) itself, or hashed here chunk by chunk, turn about.
 */
class HashSink implements EntrySink {
  private hash: Hash | null = null;
  private bytes = 0;

  constructor(
    private readonly slot: number,
    private readonly digests: DigestTable,
    private readonly sizes: Float64Array,
    private readonly batcher: HashBatcher,
    private readonly fd: number,
  ) {}

  whole(data: Buffer): void {
    this.sizes[this.slot] = data.length;
    this.batcher.add(this.slot, data);
  }

  delegate(position: number, length: number): Promise<number> | null {
    if (!this.batcher.shouldDelegate(length)) return null;
    this.sizes[this.slot] = length;
    return this.batcher.delegate(this.slot, this.fd, position, length);
  }

  update(chunk: Buffer): void {
    this.hash ??= createHash('sha256');
    this.hash.update(chunk);
    this.bytes += chunk.length;
    this.batcher.countStreamedHere(chunk.length);
  }

  end(): void {
    this.sizes[this.slot] = this.bytes;
    this.digests.set(this.slot, (this.hash ?? createHash('sha256')).digest());
  }
}

/**
 * Many bytes in large entries, or many entries when there is no records thread: enough work to pay for starting the
 * hashing thread. With a records thread, many small entries are hashed here: on 2 cores the records thread, V8's
 * compiler threads and this one are then about evenly loaded, and a third busy thread only took turns with them
 * (52k entries: 0.90x the wall time with the hashing here, over 42 alternating pairs).
 */
function worthAHashThread(entries: readonly ZipEntry[], recordsThreaded: boolean): boolean {
  if (entries.length >= THREAD_FROM_ENTRIES && !recordsThreaded) return true;
  let largeBytes = 0;
  for (const entry of entries) if (entry.compressedSize > MAX_BATCHED_ENTRY_BYTES) largeBytes += entry.compressedSize;
  return largeBytes >= HASH_THREAD_FROM_BYTES;
}

/**
 * Permissions and attributes an extractor would apply that scopex never writes (it writes files 0644 and folders 0755
 * from a Unix host, with the DOS archive or folder bit): setuid, setgid or sticky bits; a file without owner read
 * (mode 000 leaves the investigator locked out), executable, or writable by all; a folder its owner cannot list or
 * enter; DOS hidden, system, volume-label or device bits. A Unix mode is read from the upper 16 bits when the entry
 * comes from a Unix host, or from any host when they are set (unzip reads them then too).
 */
function unsafeAttributes(entry: ZipEntry, isFolder: boolean): { expected: string; found: string; message: string } | null {
  const attributes = entry.externalAttributes;
  const dos = attributes & 0xffff & ~(DOS_READ_ONLY | DOS_FOLDER | DOS_ARCHIVE | DOS_NORMAL | DOS_REPARSE_POINT);
  if (dos !== 0) {
    return { expected: 'DOS attributes read-only, folder or archive only', found: `DOS attributes 0x${(attributes & 0xffff).toString(16)}`, message: `${entry.name} carries DOS attributes (hidden, system, volume label or other) that scopex never writes` };
  }
  const host = entry.versionMadeBy >> 8;
  const mode = attributes >>> 16;
  if (mode === 0 && host !== 3 && host !== 19) return null;
  const type = mode & 0o170000;
  if (type !== 0 && type !== 0o100000 && type !== 0o040000) return null; // a link or special file: reported as such
  const permissions = mode & 0o7777;
  const shown = `mode ${permissions.toString(8).padStart(4, '0')}`;
  if ((permissions & 0o7000) !== 0) return { expected: isFolder ? 'mode 0755' : 'mode 0644', found: shown, message: `${entry.name} has the setuid, setgid or sticky bit set` };
  if ((permissions & 0o002) !== 0) return { expected: isFolder ? 'mode 0755' : 'mode 0644', found: shown, message: `${entry.name} would be writable by every user once extracted` };
  if (isFolder) {
    if ((permissions & 0o700) !== 0o700) return { expected: 'mode 0755', found: shown, message: `the folder ${entry.name} would not be readable and enterable by its owner once extracted` };
    return null;
  }
  if ((permissions & 0o400) === 0) return { expected: 'mode 0644', found: shown, message: `${entry.name} would not be readable by its owner once extracted` };
  if ((permissions & 0o111) !== 0) return { expected: 'mode 0644', found: shown, message: `${entry.name} would be executable once extracted` };
  return null;
}

const DOS_READ_ONLY = 0x01;
const DOS_FOLDER = 0x10;
const DOS_ARCHIVE = 0x20;
const DOS_NORMAL = 0x80;
/** Reported as a Windows link on its own. */
const DOS_REPARSE_POINT = 0x400;

/** The first segment most entry names share (the first such in the listing when counts tie), or null. */
function mostCommonTopFolder(entries: readonly ZipEntry[]): string | null {
  let first: string | null = null;
  let firstCount = 0;
  const others = new Map<string, number>();
  for (const entry of entries) {
    const name = entry.name;
    const slash = name.indexOf('/');
    if (slash < 0) continue;
    if (first !== null && slash === first.length && name.startsWith(first)) {
      firstCount++;
      continue;
    }
    const top = name.slice(0, slash);
    if (first === null) {
      first = top;
      firstCount = 1;
    } else {
      others.set(top, (others.get(top) ?? 0) + 1);
    }
  }
  let best = first;
  let bestCount = firstCount;
  for (const [top, count] of others) {
    if (count > bestCount) {
      best = top;
      bestCount = count;
    }
  }
  return best;
}

/** order.json as found in the archive: absent (no bytes), not JSON (jsonError), or the schema's verdict on it. */
interface ArchiveOrder {
  bytes?: Buffer | undefined;
  value?: unknown;
  jsonError?: string;
  parsed?: ReturnType<typeof orderSchema.safeParse>;
}

/** The records' scope outcomes: against the archive's order, and against a different valid --order. */
interface ScopeOutcomes {
  archive: Promise<CheckOutcome>;
  given: { order: Order; outcome: Promise<CheckOutcome> } | null;
}

interface EarlyRead {
  /** The record file, or null for a metadata file (whose lines are only counted if the pass would read it). */
  file: RecordFile | null;
  /** Its bag path. */
  path: string;
  result: Promise<EarlyReadResult>;
  /** Whether the pass over the archive came to the entry and would have read it. */
  claimed: boolean;
}

/**
 * Why a file outside data/ that export never writes is refused, even when the tag manifest lists it and the signature
 * covers it: BagIt tools act on fetch.txt and on manifests of every algorithm, which verify would otherwise not read.
 */
function extraTagFileMessage(path: string): string {
  const lower = path.toLowerCase();
  if (lower === 'fetch.txt') return 'the bag has a fetch.txt, which tells a BagIt tool to download payload files the bag does not hold; scopex never writes one';
  if (/^manifest-[^/]*\.txt$/.test(lower)) return `the bag has a second payload manifest, ${path}, which BagIt tools hold the payload to and verify does not read; scopex writes only ${MANIFEST}`;
  if (/^tagmanifest-[^/]*\.txt$/.test(lower)) return `the bag has a second tag manifest, ${path}, which BagIt tools hold the tag files to and verify does not read; scopex writes only ${TAG_MANIFEST}`;
  return `the bag has ${path}, a tag file scopex never writes (an added file)`;
}

/** The pass's sink for an entry the records thread reads itself: it only notes that the pass would read it. */
function claimSink(taken: EarlyRead): EntrySink {
  const claim = (): void => {
    taken.claimed = true;
  };
  return {
    whole: claim,
    delegate: () => {
      claim();
      return taken.result.then((read) => read.crc);
    },
    update: () => undefined,
    end: claim,
  };
}

/** A real day written YYYY-MM-DD. */
function isCalendarDay(text: string): boolean {
  return /^\d{4}-\d{2}-\d{2}$/.test(text) && !Number.isNaN(Date.parse(`${text}T00:00:00Z`)) && new Date(`${text}T00:00:00Z`).toISOString().startsWith(text);
}

/** A value from the archive, shown when it is short plain text. */
function shownValue(text: string): string {
  return /^[\x20-\x7e]{1,64}$/.test(text) && !looksLikeKeyMaterial(text) ? text : '(a value not shown)';
}

function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function differingFields(found: unknown, expected: Record<string, unknown> | null): string {
  if (typeof found !== 'object' || found === null || expected === null || typeof expected !== 'object') return 'its whole content';
  const keys = new Set([...Object.keys(found), ...Object.keys(expected)]);
  const differing = [...keys].filter((key) => canonicalJson((found as Record<string, unknown>)[key] ?? null) !== canonicalJson(expected[key] ?? null));
  return differing.length > 0 ? differing.join(', ') : 'formatting';
}
