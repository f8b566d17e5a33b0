// Gathers the ZIP writer's small writes into chunks of up to 64 KiB.
//
// compress-commons writes each entry as a few small chunks (its headers, then a small entry's data), and each chunk
// then travels through two Transform streams as its own object: a fixed cost per chunk, and at finalisation, when it
// writes the central directory in one synchronous loop, a queue of objects as long as the archive has entries. Here
// the engine's `write` keeps its exact offset accounting (headers read `this.offset` between writes) but stages small
// chunks and hands them on together when the stage is full, before any large chunk or a write with a callback, and
// before `end()`. Nothing waits for staged bytes to reach the file before `end()`: archiver reports an entry as
// written ('entry') when the engine has taken it, and the sealer waits for those reports, never for the file. The
// bytes and their order are unchanged; only the chunk boundaries differ. If archiver's internals are not as
// expected, nothing is changed.

const STAGE_BYTES = 64 * 1024;

interface ZipEngine {
  offset: number;
  write(chunk: unknown, callback?: unknown): boolean;
  end(...args: unknown[]): unknown;
}

function engineOf(archive: object): ZipEngine | undefined {
  const moduleField = (archive as { _module?: { engine?: unknown } })._module;
  const engine = moduleField?.engine as Partial<ZipEngine> | undefined;
  if (!engine || typeof engine.offset !== 'number' || typeof engine.write !== 'function' || typeof engine.end !== 'function') {
    return undefined;
  }
  return engine as ZipEngine;
}

/** Installs the coalescing writer on one archiver ZipArchive; returns whether it could. */
export function coalesceZipWrites(archive: object): boolean {
  const engine = engineOf(archive);
  if (!engine) return false;
  const write = engine.write.bind(engine);
  const end = engine.end.bind(engine);
  // Small chunks are copied at once into a stage buffer and handed on as views of it: holding the engine's many
  // 2- and 4-byte Buffers until the burst ended (and concatenating them then) let them outlive young-generation
  // collections. A stage is filled front to back and never rewritten: a view handed on stays valid for as long as
  // the stream holds it, and the next stage is a new buffer.
  let stage = Buffer.allocUnsafeSlow(STAGE_BYTES);
  let stageStart = 0;
  let stageEnd = 0;

  const flush = (): boolean => {
    if (stageEnd === stageStart) return true;
    const chunk = stage.subarray(stageStart, stageEnd);
    stageStart = stageEnd;
    // The offset was counted when each piece was staged; the real write counts it again.
    engine.offset -= chunk.length;
    return write(chunk);
  };

  engine.write = (chunk: unknown, callback?: unknown): boolean => {
    if (!Buffer.isBuffer(chunk) || callback !== undefined || chunk.length >= STAGE_BYTES) {
      flush();
      return write(chunk, callback);
    }
    let handedOn = true;
    if (stageEnd + chunk.length > STAGE_BYTES) {
      handedOn = flush();
      stage = Buffer.allocUnsafeSlow(STAGE_BYTES);
      stageStart = 0;
      stageEnd = 0;
    }
    engine.offset += chunk.length;
    stage.set(chunk, stageEnd);
    stageEnd += chunk.length;
    return handedOn;
  };
  engine.end = (...args: unknown[]): unknown => {
    flush();
    return end(...args);
  };
  return true;
}
