// Writes each ZIP entry's local header, data descriptor and central directory record as one Buffer.
//
// compress-commons writes every header field as a Buffer of its own (a fresh Buffer.alloc(2) or (4) per field), about
// 30 per entry. For the 52,428 small entries of the benchmark's mail world that was 270 MB of short-lived allocation
// on the main thread, a sixth of all the export made there. Here the same fields are read from the entry with the
// same getters and encoded into one Buffer per header, handed to the engine's `write` once. The bytes, the offsets
// the engine records on the entry, and the changes it makes to a ZIP64 entry (version needed, extra field) are the
// engine's own: tests compare both ways, field by field and archive by archive. If the engine or an entry is not as
// expected, the engine's own method does the work.

const SIG_LFH = 0x04034b50;
const SIG_DD = 0x08074b50;
const SIG_CFH = 0x02014b50;
const ZIP64_MAGIC = 0xffffffff;
const ZIP64_MAGIC_SHORT = 0xffff;
const ZIP64_EXTRA_ID = 0x0001;
const MIN_VERSION_ZIP64 = 45;
/** What the engine writes for an entry written whole (APPNOTE 4.4.3.2: 1.0, stored). */
const MIN_VERSION_INITIAL = 10;
const VERSION_MADEBY = 45;

const DATA_DESCRIPTOR_FLAG = 1 << 3;
const ENCRYPTION_FLAG = 1 << 0;
const STRONG_ENCRYPTION_FLAG = 1 << 6;
const UTF8_NAMES_FLAG = 1 << 11;

const LOCAL_HEADER_BYTES = 30;
const CENTRAL_HEADER_BYTES = 46;
/** Where the CRC-32 starts in a local header: signature, version, flags, method and DOS time come before it. */
const LOCAL_DATA_OFFSET = 14;

interface GeneralPurposeBit {
  usesDataDescriptor(): boolean;
  useDataDescriptor(value: boolean): void;
  usesUTF8ForNames(): boolean;
  usesEncryption(): boolean;
  usesStrongEncryption(): boolean;
}

interface ZipEntry {
  _offsets: { file: number; data: number; contents: number };
  getGeneralPurposeBit(): GeneralPurposeBit;
  getMethod(): number;
  getName(): string;
  getComment(): string;
  getLocalFileDataExtra(): Buffer;
  getCentralDirectoryExtra(): Buffer;
  isZip64(): boolean;
  getVersionNeededToExtract(): number;
  setVersionNeededToExtract(version: number): void;
  getTimeDos(): number;
  getCrc(): number;
  setCrc(crc: number): void;
  getCompressedSize(): number;
  setCompressedSize(bytes: number): void;
  getSize(): number;
  setSize(bytes: number): void;
  getPlatform(): number;
  getInternalAttributes(): number;
  getExternalAttributes(): number;
  setExtra(extra: Buffer): void;
}

interface ZipEngine {
  offset: number;
  /** The engine's state for its end records (see archiveNeedsZip64); absent in an engine not as expected. */
  _archive?: { forceZip64?: boolean; centralLength: number; centralOffset: number };
  _entries?: unknown[];
  isZip64?(): boolean;
  write(chunk: unknown): boolean;
  _writeLocalFileHeader(entry: ZipEntry): void;
  _writeDataDescriptor(entry: ZipEntry): void;
  _writeCentralFileHeader(entry: ZipEntry): void;
}

type HeaderWriter = (this: ZipEngine, entry: ZipEntry) => void;

/**
 * Whether a value must go in a ZIP64 field: APPNOTE 4.4.8, 4.4.9 and 4.4.16 make 0xffffffff in a 32-bit field mean
 * "see the ZIP64 field", so a value of exactly that needs one too. The engine switches at greater-than, and wrote an
 * item of exactly 4,294,967,295 bytes with that raw value and no ZIP64 field: libzip refused the whole archive.
 */
const needsZip64 = (value: number): boolean => value >= ZIP64_MAGIC;
const entryNeedsZip64 = (entry: ZipEntry): boolean => needsZip64(entry.getSize()) || needsZip64(entry.getCompressedSize());

/** The engine's getShortBytes and getLongBytes keep the low 16 and 32 bits. */
const short = (value: number): number => (value & 0xffff) >>> 0;
const long = (value: number): number => (value & 0xffffffff) >>> 0;

/** As the engine's getEightBytes: low word, then the high word truncated to 32 bits. */
function writeEight(buffer: Buffer, value: number, at: number): void {
  buffer.writeUInt32LE(value % 0x100000000, at);
  buffer.writeUInt32LE((value / 0x100000000) | 0, at + 4);
}

function flagsOf(bits: GeneralPurposeBit): number {
  return (
    (bits.usesDataDescriptor() ? DATA_DESCRIPTOR_FLAG : 0) |
    (bits.usesUTF8ForNames() ? UTF8_NAMES_FLAG : 0) |
    (bits.usesEncryption() ? ENCRYPTION_FLAG : 0) |
    (bits.usesStrongEncryption() ? STRONG_ENCRYPTION_FLAG : 0)
  );
}

/**
 * The length of a name or comment as the engine writes it. The engine writes UTF-8 bytes, and gives their count as the
 * length when the entry's UTF-8 flag is set and the string's own length otherwise. The entry sets that flag for any
 * text whose two lengths differ, so they agree here; text that breaks that rule is left to the engine (undefined).
 */
function textLength(text: string, utf8: boolean): number | undefined {
  const bytes = Buffer.byteLength(text, 'utf8');
  return utf8 || bytes === text.length ? bytes : undefined;
}

/** Streamed entries declared and not yet begun, by engine and entry name (see declareLargeEntry, declareWholeEntry). */
const declaredLarge = new WeakMap<object, Map<string, number>>();
const declaredWhole = new WeakMap<object, Map<string, { crc32: number; bytes: number }>>();
/** Entries written with a declared CRC-32, by engine and name, until confirmDeclaredEntry compares what was written. */
const writtenWhole = new WeakMap<object, Map<string, { entry: ZipEntry; crc32: number; bytes: number }>>();

/**
 * Declares that the entry `name`, about to be appended to `archive` as a stream, holds `bytes` bytes whose CRC-32 is
 * `crc32` (the caller read them once for it). Its local header then carries the CRC-32 and sizes, as an entry written
 * whole does, with no data descriptor (bit 3 clear; a ZIP64 field for 4 GiB or more). Why: a stored entry whose
 * length comes only after its data leaves a reader that streams the archive (bsdtar reading a pipe) to find its end by
 * looking for a descriptor in the data, and an item's own bytes can hold one, followed by whole entries of their own
 * (a file planted in a suspect's cloud storage): that reader then ended the entry early and extracted the planted ones,
 * in an archive that verified. Once the data is written, confirmDeclaredEntry must be asked whether it matched.
 * Returns whether the declaration was taken (the engine is as expected).
 */
export function declareWholeEntry(archive: object, name: string, crc32: number, bytes: number): boolean {
  const engine = engineOf(archive);
  if (!engine || !Number.isSafeInteger(bytes) || bytes < 0) return false;
  let names = declaredWhole.get(engine);
  if (!names) declaredWhole.set(engine, (names = new Map()));
  names.set(name, { crc32: crc32 >>> 0, bytes });
  return true;
}

/**
 * After a declared entry was appended: undefined when its bytes had the CRC-32 and size declared, else why not (its
 * local header then says what its data is not: the archive must not be sealed). Also when it was never written.
 */
export function confirmDeclaredEntry(archive: object, name: string): string | undefined {
  const engine = engineOf(archive);
  const written = engine ? writtenWhole.get(engine)?.get(name) : undefined;
  if (!engine || !written) return `entry ${name} was declared with its CRC-32 but not written so`;
  writtenWhole.get(engine)?.delete(name);
  const crc = written.entry.getCrc() >>> 0;
  const size = written.entry.getSize();
  if (crc === written.crc32 && size === written.bytes && written.entry.getCompressedSize() === written.bytes) return undefined;
  return `entry ${name} was written with CRC-32 ${crc.toString(16)} and ${size} bytes, but its local header says CRC-32 ${written.crc32.toString(16)} and ${written.bytes} bytes (the item changed between its two reads)`;
}

/** Takes the declaration of the entry `name` (whole, or large), if any. */
function takeDeclared<T>(map: WeakMap<object, Map<string, T>>, engine: object, name: string): T | undefined {
  const names = map.get(engine);
  const declared = names?.get(name);
  if (declared !== undefined) names?.delete(name);
  return declared;
}

/**
 * Declares that the entry `name`, about to be appended to `archive` as a stream, will hold `bytes` bytes, more than
 * 4 GiB. Its local header then says so as APPNOTE 4.3.9 and 4.5.3 want, as libarchive writes it: version 4.5, sizes
 * 0xffffffff and a ZIP64 field holding the size, with the CRC-32 (not known until the end) left to the 24-byte data
 * descriptor. The engine writes such an entry's header before it has seen a byte of it, so without this its header
 * said version 2.0 with no ZIP64 field, and a reader that streams the archive took its descriptor for a 16-byte one
 * (bsdtar: "ZIP compressed data is wrong size"). Returns whether the declaration was taken (the engine is as expected).
 */
export function declareLargeEntry(archive: object, name: string, bytes: number): boolean {
  const engine = engineOf(archive);
  if (!engine || !needsZip64(bytes)) return false;
  let names = declaredLarge.get(engine);
  if (!names) declaredLarge.set(engine, (names = new Map()));
  names.set(name, bytes);
  return true;
}

/**
 * The ZIP64 field of a streamed entry's local header: both sizes (APPNOTE 4.5.3: a local header's field holds both).
 * Its presence tells a reader that streams the archive that the descriptor is the ZIP64 one. Decision: the real sizes,
 * although bit 3 would have them zero (4.4.4): Info-ZIP's unzip takes the sizes of a local ZIP64 field as the entry's,
 * and with zeros there it read no byte of it ("bad CRC 00000000"), while libzip's consistency check (ziptool -c)
 * refuses real sizes beside a zero CRC-32. unzip is what an investigator has; libzip reads the archive without -c.
 */
function zip64LocalExtra(bytes: number): Buffer {
  const field = Buffer.allocUnsafe(20);
  field.writeUInt16LE(ZIP64_EXTRA_ID, 0);
  field.writeUInt16LE(16, 2);
  writeEight(field, bytes, 4);
  writeEight(field, bytes, 12);
  return field;
}

function localFileHeader(original: HeaderWriter): HeaderWriter {
  return function writeLocalFileHeader(this: ZipEngine, entry: ZipEntry): void {
    const bits = entry.getGeneralPurposeBit();
    const method = entry.getMethod();
    const name = entry.getName();
    const whole = takeDeclared(declaredWhole, this, name);
    let declared = takeDeclared(declaredLarge, this, name);
    let extra = entry.getLocalFileDataExtra();
    if (whole !== undefined) {
      // Written as if whole: the CRC-32 and sizes before the data, no descriptor after it.
      declared = undefined;
      entry.setCrc(whole.crc32);
      entry.setSize(whole.bytes);
      entry.setCompressedSize(whole.bytes);
      bits.useDataDescriptor(false);
      entry.setVersionNeededToExtract(needsZip64(whole.bytes) ? MIN_VERSION_ZIP64 : MIN_VERSION_INITIAL);
      let written = writtenWhole.get(this);
      if (!written) writtenWhole.set(this, (written = new Map()));
      written.set(name, { entry, ...whole });
    } else if (entryNeedsZip64(entry) || declared !== undefined) {
      bits.useDataDescriptor(true);
      entry.setVersionNeededToExtract(MIN_VERSION_ZIP64);
    }
    const nameLength = textLength(name, bits.usesUTF8ForNames());
    if (nameLength === undefined) {
      if (whole !== undefined) writtenWhole.get(this)?.delete(name);
      original.call(this, entry);
      return;
    }
    const wholeZip64 = whole !== undefined && needsZip64(whole.bytes);
    if (declared !== undefined) extra = Buffer.concat([extra, zip64LocalExtra(declared)]);
    if (wholeZip64) extra = Buffer.concat([extra, zip64LocalExtra(whole.bytes)]);
    const start = this.offset;
    entry._offsets.file = start;
    const header = Buffer.allocUnsafe(LOCAL_HEADER_BYTES + nameLength + extra.length);
    header.writeUInt32LE(SIG_LFH, 0);
    header.writeUInt16LE(short(entry.getVersionNeededToExtract()), 4);
    header.writeUInt16LE(flagsOf(bits), 6);
    header.writeUInt16LE(short(method), 8);
    header.writeUInt32LE(long(entry.getTimeDos()), 10);
    if (declared !== undefined || wholeZip64) {
      header.writeUInt32LE(wholeZip64 ? long(entry.getCrc()) : 0, 14);
      header.writeUInt32LE(ZIP64_MAGIC, 18);
      header.writeUInt32LE(ZIP64_MAGIC, 22);
    } else if (bits.usesDataDescriptor()) {
      header.fill(0, 14, 26);
    } else {
      header.writeUInt32LE(long(entry.getCrc()), 14);
      header.writeUInt32LE(long(entry.getCompressedSize()), 18);
      header.writeUInt32LE(long(entry.getSize()), 22);
    }
    header.writeUInt16LE(short(nameLength), 26);
    header.writeUInt16LE(short(extra.length), 28);
    header.write(name, LOCAL_HEADER_BYTES, 'utf8');
    extra.copy(header, LOCAL_HEADER_BYTES + nameLength);
    this.write(header);
    entry._offsets.data = start + LOCAL_DATA_OFFSET;
    entry._offsets.contents = this.offset;
  };
}

function dataDescriptor(this: ZipEngine, entry: ZipEntry): void {
  const zip64 = entryNeedsZip64(entry);
  const descriptor = Buffer.allocUnsafe(zip64 ? 24 : 16);
  descriptor.writeUInt32LE(SIG_DD, 0);
  descriptor.writeUInt32LE(long(entry.getCrc()), 4);
  if (zip64) {
    writeEight(descriptor, entry.getCompressedSize(), 8);
    writeEight(descriptor, entry.getSize(), 16);
  } else {
    descriptor.writeUInt32LE(long(entry.getCompressedSize()), 8);
    descriptor.writeUInt32LE(long(entry.getSize()), 12);
  }
  this.write(descriptor);
}

function centralFileHeader(original: HeaderWriter): HeaderWriter {
  return function writeCentralFileHeader(this: ZipEngine, entry: ZipEntry): void {
    const bits = entry.getGeneralPurposeBit();
    const utf8 = bits.usesUTF8ForNames();
    const name = entry.getName();
    const comment = entry.getComment();
    const nameLength = textLength(name, utf8);
    const commentLength = textLength(comment, utf8);
    if (nameLength === undefined || commentLength === undefined) {
      original.call(this, entry);
      return;
    }
    const method = entry.getMethod();
    let fileOffset = entry._offsets.file;
    let size = entry.getSize();
    let compressedSize = entry.getCompressedSize();
    if (entryNeedsZip64(entry) || needsZip64(fileOffset)) {
      size = ZIP64_MAGIC;
      compressedSize = ZIP64_MAGIC;
      fileOffset = ZIP64_MAGIC;
      entry.setVersionNeededToExtract(MIN_VERSION_ZIP64);
      const zip64Extra = Buffer.allocUnsafe(28);
      zip64Extra.writeUInt16LE(ZIP64_EXTRA_ID, 0);
      zip64Extra.writeUInt16LE(24, 2);
      writeEight(zip64Extra, entry.getSize(), 4);
      writeEight(zip64Extra, entry.getCompressedSize(), 12);
      writeEight(zip64Extra, entry._offsets.file, 20);
      entry.setExtra(zip64Extra);
    }
    const extra = entry.getCentralDirectoryExtra();
    const header = Buffer.allocUnsafe(CENTRAL_HEADER_BYTES + nameLength + extra.length + commentLength);
    header.writeUInt32LE(SIG_CFH, 0);
    header.writeUInt16LE(short((entry.getPlatform() << 8) | VERSION_MADEBY), 4);
    header.writeUInt16LE(short(entry.getVersionNeededToExtract()), 6);
    header.writeUInt16LE(flagsOf(bits), 8);
    header.writeUInt16LE(short(method), 10);
    header.writeUInt32LE(long(entry.getTimeDos()), 12);
    header.writeUInt32LE(long(entry.getCrc()), 16);
    header.writeUInt32LE(long(compressedSize), 20);
    header.writeUInt32LE(long(size), 24);
    header.writeUInt16LE(short(nameLength), 28);
    header.writeUInt16LE(short(extra.length), 30);
    header.writeUInt16LE(short(commentLength), 32);
    header.writeUInt16LE(0, 34);
    header.writeUInt16LE(short(entry.getInternalAttributes()), 36);
    header.writeUInt32LE(long(entry.getExternalAttributes()), 38);
    header.writeUInt32LE(long(fileOffset), 42);
    header.write(name, CENTRAL_HEADER_BYTES, 'utf8');
    extra.copy(header, CENTRAL_HEADER_BYTES + nameLength);
    header.write(comment, CENTRAL_HEADER_BYTES + nameLength + extra.length, 'utf8');
    this.write(header);
  };
}

function engineOf(archive: object): ZipEngine | undefined {
  const engine = (archive as { _module?: { engine?: Partial<ZipEngine> } })._module?.engine;
  if (
    !engine ||
    typeof engine.offset !== 'number' ||
    typeof engine.write !== 'function' ||
    typeof engine._writeLocalFileHeader !== 'function' ||
    typeof engine._writeDataDescriptor !== 'function' ||
    typeof engine._writeCentralFileHeader !== 'function'
  ) {
    return undefined;
  }
  return engine as ZipEngine;
}

/**
 * The engine's own choice of ZIP64 end records, at greater-or-equal (see needsZip64): an archive of exactly 65,535
 * entries, or whose central directory starts or runs exactly 0xffffffff bytes, gave that marker in its classic end
 * record with no ZIP64 record to resolve it.
 */
function archiveNeedsZip64(this: Required<ZipEngine>): boolean {
  const state = this._archive;
  return state.forceZip64 === true || this._entries.length >= ZIP64_MAGIC_SHORT || needsZip64(state.centralLength) || needsZip64(state.centralOffset);
}

/**
 * Installs the one-Buffer header writers on one archiver ZipArchive; returns whether it could. Install it before
 * compactCentralDirectory, which renders each central directory record with the engine's writer as it finds it.
 */
export function writeZipHeadersWhole(archive: object): boolean {
  const engine = engineOf(archive);
  if (!engine) return false;
  if (typeof engine.isZip64 === 'function' && typeof engine._archive === 'object' && Array.isArray(engine._entries)) {
    engine.isZip64 = archiveNeedsZip64 as () => boolean;
  }
  engine._writeLocalFileHeader = localFileHeader(engine._writeLocalFileHeader);
  engine._writeDataDescriptor = dataDescriptor;
  engine._writeCentralFileHeader = centralFileHeader(engine._writeCentralFileHeader);
  return true;
}
