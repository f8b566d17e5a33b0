// CRC-32s of stream chunks, taken where the chunks were made (the key service's reader thread takes them as it
// decrypts), kept by the very chunk object for the ZIP writer to use instead of going over the bytes again. A value
// only counts for the same chunk and the same running CRC before it, so a chunk reached in another order, or a copy
// of it, is simply computed again.
const running = new WeakMap<Uint8Array, { seed: number; crc: number }>();

/** `crc` is the CRC-32 (unsigned) of everything up to and including `chunk`, when the CRC before it was `seed`. */
export function noteRunningCrc32(chunk: Uint8Array, seed: number, crc: number): void {
  if (!Number.isInteger(seed) || !Number.isInteger(crc) || seed < 0 || crc < 0 || seed > 0xffffffff || crc > 0xffffffff) return;
  running.set(chunk, { seed, crc });
}

/** The CRC-32 noted for `chunk` after `seed` (unsigned), once; undefined when none was noted for that seed. */
export function takeRunningCrc32(chunk: Uint8Array, seed: number): number | undefined {
  const noted = running.get(chunk);
  if (noted === undefined || noted.seed !== seed) return undefined;
  running.delete(chunk);
  return noted.crc;
}
