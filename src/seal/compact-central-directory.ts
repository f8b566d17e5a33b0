// Keeps the ZIP's central directory as bytes instead of objects.
//
// compress-commons holds every written entry's ZipArchiveEntry (with its GeneralPurposeBit, name and date) until
// finalisation, when it writes one central directory record per entry: about 0.7 KB of live heap per file, which
// made 200,000 files cost ~140 MB. Here, as soon as an entry is written, its record is made by the engine's own
// `_writeCentralFileHeader` (every field it needs is final by then: sizes, CRC, offset) and kept as ~110 bytes in
// a shared arena; the engine's list keeps a small integer in the entry's place, and at finalisation the record's
// bytes are written where the engine would have made them. The engine's bookkeeping (the entry count, ZIP64 and
// the central directory's offset and length) is untouched, and so are the bytes. If the engine is not as expected,
// nothing is changed.

const ARENA_CHUNK_BYTES = 1024 * 1024;

interface ZipEngine {
  write(chunk: unknown, callback?: unknown): boolean;
  _afterAppend(entry: unknown): void;
  _writeCentralFileHeader(entry: unknown): void;
  _entries: unknown[];
  _archive: { finished: boolean };
}

function engineOf(archive: object): ZipEngine | undefined {
  const engine = (archive as { _module?: { engine?: Partial<ZipEngine> } })._module?.engine;
  if (
    !engine ||
    typeof engine.write !== 'function' ||
    typeof engine._afterAppend !== 'function' ||
    typeof engine._writeCentralFileHeader !== 'function' ||
    !Array.isArray(engine._entries) ||
    typeof engine._archive?.finished !== 'boolean'
  ) {
    return undefined;
  }
  return engine as ZipEngine;
}

/** Central directory records, back to back in 1 MiB chunks (a record never spans two). */
class RecordArena {
  readonly #chunks: Buffer[] = [];
  #used = ARENA_CHUNK_BYTES;
  /** Where each record starts (chunk * ARENA_CHUNK_BYTES + offset) and how long it is. */
  readonly #starts: number[] = [];
  readonly #lengths: number[] = [];

  /** Stores the record made of `parts`; returns its number. */
  add(parts: readonly Buffer[], length: number): number {
    if (this.#used + length > ARENA_CHUNK_BYTES) {
      this.#chunks.push(Buffer.allocUnsafeSlow(Math.max(ARENA_CHUNK_BYTES, length)));
      this.#used = 0;
    }
    const chunkIndex = this.#chunks.length - 1;
    const chunk = this.#chunks[chunkIndex] as Buffer;
    const start = this.#used;
    for (const part of parts) this.#used += part.copy(chunk, this.#used);
    this.#starts.push(chunkIndex * ARENA_CHUNK_BYTES + start);
    this.#lengths.push(length);
    return this.#starts.length - 1;
  }

  /** Record `index`'s bytes (a view into the arena). */
  get(index: number): Buffer | undefined {
    const start = this.#starts[index];
    const length = this.#lengths[index];
    if (start === undefined || length === undefined) return undefined;
    const chunk = this.#chunks[Math.floor(start / ARENA_CHUNK_BYTES)];
    const offset = start % ARENA_CHUNK_BYTES;
    return chunk?.subarray(offset, offset + length);
  }
}

/** Installs the compact central directory on one archiver ZipArchive; returns whether it could. */
export function compactCentralDirectory(archive: object): boolean {
  const engine = engineOf(archive);
  if (!engine) return false;
  const afterAppend = engine._afterAppend;
  const writeCentralFileHeader = engine._writeCentralFileHeader;
  const arena = new RecordArena();

  /** The bytes the engine would write for `entry`'s central directory record, written nowhere. */
  const render = (entry: unknown): { parts: Buffer[]; length: number } => {
    const parts: Buffer[] = [];
    let length = 0;
    const write = engine.write;
    engine.write = (chunk: unknown): boolean => {
      const bytes = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
      parts.push(bytes);
      length += bytes.length;
      return true;
    };
    try {
      writeCentralFileHeader.call(engine, entry);
    } finally {
      engine.write = write;
    }
    return { parts, length };
  };

  engine._afterAppend = (entry: unknown): void => {
    afterAppend.call(engine, entry);
    const index = engine._entries.length - 1;
    // Finalisation may already have run inside afterAppend (finalize() during the last entry): then it is too late.
    if (engine._archive.finished || engine._entries[index] !== entry) return;
    const { parts, length } = render(entry);
    engine._entries[index] = arena.add(parts, length);
  };

  engine._writeCentralFileHeader = (entry: unknown): void => {
    if (typeof entry !== 'number') {
      writeCentralFileHeader.call(engine, entry);
      return;
    }
    const record = arena.get(entry);
    if (!record) throw new Error(`central directory record ${entry} is missing`);
    engine.write(record);
  };
  return true;
}
