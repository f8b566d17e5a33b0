// Chunks lent by whoever made them: the key service's reader thread lends a streamed item's chunks out of a ring of
// shared memory instead of moving a new buffer over for each (a moved 1 MiB buffer is external memory that the main
// thread's collector must find and free: ~45 full collections in a 1 GB export). A lent chunk's bytes stay valid only
// until it is given back, and then the same memory takes another chunk.
//
// So the last reader of a chunk gives it back, and only the last: the archive's file writers, once they have copied or
// written its bytes (every earlier stage of the archive, the ZIP writer's CRC-32 included, has read them by then).
// A chunk that is never given back is simply not reused: its lender then moves new buffers over, as before, so a
// consumer that keeps its chunks (or copies or slices them) is always safe.
const lenders = new WeakMap<Uint8Array, () => void>();

/** Marks `chunk` as lent: `giveBack` is called once, when its last reader gives it back. */
export function lendChunk(chunk: Uint8Array, giveBack: () => void): void {
  lenders.set(chunk, giveBack);
}

/** Gives `chunk` back to its lender if it was lent (this very object); a chunk that was not lent is left alone. */
export function giveBackChunk(chunk: Uint8Array): void {
  const giveBack = lenders.get(chunk);
  if (giveBack === undefined) return;
  lenders.delete(chunk);
  giveBack();
}

/** Whether `chunk` is lent and not yet given back (tests). */
export function isLent(chunk: Uint8Array): boolean {
  return lenders.has(chunk);
}
