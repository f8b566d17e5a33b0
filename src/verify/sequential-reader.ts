// Reads one file front to back through two large windows, the next one prefetched while the current one is hashed:
// few system calls and I/O overlapped with hashing, which keeps `scopex verify` close to `sha256sum`.
import type { FileHandle } from 'node:fs/promises';

const WINDOW_BYTES = 4 * 1024 * 1024;

export class SequentialReader {
  private readonly buffers: [Buffer, Buffer];
  private active: 0 | 1 = 0;
  private windowStart = 0;
  private windowEnd = 0;
  private prefetch: { start: number; done: Promise<number> } | null = null;

  constructor(
    private readonly file: FileHandle,
    private readonly fileSize: number,
    windowBytes: number = WINDOW_BYTES,
  ) {
    this.buffers = [Buffer.allocUnsafe(windowBytes), Buffer.allocUnsafe(windowBytes)];
  }

  /**
   * `[position, position + length)` in place when the current window holds all of it (no copy, no wait), else null.
   * The view is only valid until the next call that may move the window.
   */
  view(position: number, length: number): Buffer | null {
    if (position < this.windowStart || position + length > this.windowEnd) return null;
    const from = position - this.windowStart;
    return this.buffers[this.active].subarray(from, from + length);
  }

  /** Where `[position, position + length)` starts in `windowBuffer`, or -1 when the current window lacks any of it. */
  offsetOf(position: number, length: number): number {
    return position >= this.windowStart && position + length <= this.windowEnd ? position - this.windowStart : -1;
  }

  /** The current window's buffer (valid at `offsetOf` positions until the next call that may move the window). */
  get windowBuffer(): Buffer {
    return this.buffers[this.active];
  }

  /** A copy of up to `length` bytes at `position` (shorter only at the end of the file). */
  async bytes(position: number, length: number): Promise<Buffer> {
    const out = Buffer.allocUnsafe(length);
    const delivered = await this.stream(position, length, (chunk, offset) => {
      chunk.copy(out, offset);
    });
    return delivered === length ? out : out.subarray(0, delivered);
  }

  /**
   * Hands `[position, position + length)` to `onChunk` in window-sized views that are only valid during the call
   * (or until the promise it returns settles). Returns how many bytes there were (fewer only at the end of the file).
   */
  async stream(
    position: number,
    length: number,
    onChunk: (chunk: Buffer, offset: number) => void | Promise<void>,
  ): Promise<number> {
    let delivered = 0;
    while (delivered < length) {
      const at = position + delivered;
      if (at >= this.fileSize) break;
      await this.ensureWindow(at);
      const buffer = this.buffers[this.active];
      const from = at - this.windowStart;
      const take = Math.min(length - delivered, this.windowEnd - at);
      const pending = onChunk(buffer.subarray(from, from + take), delivered);
      if (pending) await pending;
      delivered += take;
    }
    return delivered;
  }

  private async ensureWindow(position: number): Promise<void> {
    if (position >= this.windowStart && position < this.windowEnd) return;
    // One turn of the event loop per window, even when the prefetched read is already done: awaiting a settled
    // promise alone would never let other events in (such as a hashing worker's replies).
    await new Promise<void>((resolve) => setImmediate(resolve));
    const inactive = this.active === 0 ? 1 : 0;
    const prefetch = this.prefetch;
    this.prefetch = null;
    if (prefetch && prefetch.start === position) {
      const bytesRead = await prefetch.done;
      this.active = inactive;
      this.windowStart = position;
      this.windowEnd = position + bytesRead;
    } else {
      if (prefetch) await prefetch.done.catch(() => 0); // never reuse a buffer a read is still filling
      const bytesRead = await this.readInto(this.buffers[this.active], position);
      this.windowStart = position;
      this.windowEnd = position + bytesRead;
    }
    if (this.windowEnd === this.windowStart) throw new Error(`unexpected end of file at byte ${position}`);
    if (this.windowEnd < this.fileSize) {
      const target = this.buffers[this.active === 0 ? 1 : 0];
      const start = this.windowEnd;
      const done = this.readInto(target, start);
      done.catch(() => undefined); // surfaced when awaited
      this.prefetch = { start, done };
    }
  }

  private async readInto(buffer: Buffer, position: number): Promise<number> {
    const length = Math.min(buffer.length, this.fileSize - position);
    let total = 0;
    while (total < length) {
      const { bytesRead } = await this.file.read(buffer, total, length - total, position + total);
      if (bytesRead === 0) break;
      total += bytesRead;
    }
    return total;
  }

  /** Waits for any read still in flight, so the file can be closed. */
  async settle(): Promise<void> {
    if (this.prefetch) await this.prefetch.done.catch(() => 0);
    this.prefetch = null;
  }
}
