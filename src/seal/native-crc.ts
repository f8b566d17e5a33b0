// Gives archiver's ZIP writer Node's native CRC-32 (zlib.crc32, ~2.6 GB/s) instead of the pure-JS `crc-32`
// package, which is the largest cost of a stored ZIP (~5x slower than SHA-256 here).
//
// archiver 8 offers no hook for the checksum: compress-commons (buffers) and crc32-stream (streams) both call
// `crc32.buf(bytes, seed)` on the module object of `crc-32`. We find that exact module through archiver's own
// dependency chain and replace its `buf` with a function of the same contract (signed 32-bit result, seed may be
// a number or, on a stream's first chunk, a zeroed Buffer), after checking it gives the same answers. If the
// chain is not what we expect, nothing is changed and archiver keeps its pure-JS CRC: slower, equally correct.
import { createRequire } from 'node:module';
import zlib from 'node:zlib';

type CrcBuf = (bytes: Uint8Array, seed?: unknown) => number;
interface CrcModule {
  buf: CrcBuf;
}

const nativeCrc32 = (zlib as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;

function seedOf(seed: unknown): number {
  return typeof seed === 'number' ? seed >>> 0 : 0;
}

function crcModules(): CrcModule[] {
  const fromHere = createRequire(import.meta.url);
  const archiverFile = fromHere.resolve('archiver');
  const zipStreamFile = createRequire(archiverFile).resolve('zip-stream');
  const compressCommonsFile = createRequire(zipStreamFile).resolve('compress-commons');
  const fromCompressCommons = createRequire(compressCommonsFile);
  const crc32StreamFile = fromCompressCommons.resolve('crc32-stream');
  const files = new Set([fromCompressCommons.resolve('crc-32'), createRequire(crc32StreamFile).resolve('crc-32')]);
  return [...files].map((file) => fromHere(file) as CrcModule);
}

let installed: boolean | undefined;

/**
 * CRC-32s already taken of Buffers about to be appended (by the thread that decrypted them), by the very Buffer
 * object: compress-commons asks for a stored Buffer entry's CRC with `crc32.buf(source)` on the Buffer it was
 * given. Each is used once. A Buffer not here, or asked for with a seed (a stream's chunks), is computed as before.
 */
const known = new WeakMap<Uint8Array, number>();

/**
 * Tells the ZIP writer the CRC-32 of `bytes`, to use when it appends them as they are. Only while the native CRC is
 * installed (otherwise archiver computes every CRC itself); a value that is not a 32-bit unsigned integer is ignored.
 */
export function rememberCrc32(bytes: Uint8Array, crc: number): void {
  if (installed !== true || !Number.isInteger(crc) || crc < 0 || crc > 0xffffffff) return;
  known.set(bytes, crc);
}

/** Installs the native CRC once per process; returns whether archiver now uses it. */
export function useNativeCrc32(): boolean {
  if (installed !== undefined) return installed;
  installed = false;
  const native = nativeCrc32;
  if (typeof native !== 'function') return installed;
  let modules: CrcModule[];
  try {
    modules = crcModules();
  } catch {
    return installed;
  }
  const probe = Buffer.from('scopex native crc-32 probe: 0123456789abcdefghijklmnopqrstuvwxyz');
  for (const crcModule of modules) {
    const original = crcModule.buf;
    if (typeof original !== 'function') return installed;
    const replacement: CrcBuf = (bytes, seed) => {
      if (seed === undefined) {
        const crc = known.get(bytes);
        if (crc !== undefined) {
          known.delete(bytes);
          return crc | 0;
        }
      }
      return native(bytes, seedOf(seed)) | 0;
    };
    const seeded = original(probe.subarray(20), original(probe.subarray(0, 20)) >>> 0);
    const same =
      replacement(probe) === original(probe) &&
      replacement(probe, Buffer.alloc(4)) === original(probe, Buffer.alloc(4)) &&
      replacement(probe.subarray(20), replacement(probe.subarray(0, 20)) >>> 0) === seeded &&
      seeded === original(probe);
    if (!same) return installed;
    crcModule.buf = replacement;
  }
  installed = modules.length > 0;
  return installed;
}
