// Small async-iterable stages the export pipeline is built from, and a temp-file writer that honours backpressure.
import { createWriteStream, type WriteStream } from 'node:fs';
import { AbortedError } from '../errors.js';
import { Utf8Stage } from '../util/utf8-stage.js';

/** Applies fn to each item as it is pulled (fn may start work whose result is awaited later). */
export async function* mapStage<T, R>(source: AsyncIterable<T>, fn: (item: T) => R): AsyncGenerator<R> {
  for await (const item of source) yield fn(item);
}

/** How far readAhead may run ahead of its consumer. */
export interface ReadAheadLimits<T> {
  /** At most this many items queued. */
  items: number;
  /** And at most this much weight (bytes being read ahead), though always at least one item. */
  weight?: number;
  weigh?: (item: T) => number;
}

/**
 * Pulls items ahead of the consumer, so that work each item started when it was mapped (reading and decrypting a
 * small item) overlaps with the consumer writing the previous one. Order is kept; memory is bounded by the limits.
 * Closing the consumer early closes the source.
 */
export async function* readAhead<T>(source: AsyncIterable<T>, limits: ReadAheadLimits<T>, signal?: AbortSignal): AsyncGenerator<T> {
  const iterator = source[Symbol.asyncIterator]();
  const queue: { item: T; weight: number }[] = [];
  const maxWeight = limits.weight ?? Number.POSITIVE_INFINITY;
  let queuedWeight = 0;
  let ended = false;
  try {
    for (;;) {
      // Refilled once half is used, not one at a time, so that the reads its items start go out in batches.
      const refill = queue.length <= limits.items / 2;
      while (refill && !ended && queue.length < limits.items && (queue.length === 0 || queuedWeight < maxWeight)) {
        throwIfAborted(signal);
        const next = await iterator.next();
        if (next.done) {
          ended = true;
        } else {
          const weight = limits.weigh?.(next.value) ?? 0;
          queue.push({ item: next.value, weight });
          queuedWeight += weight;
        }
      }
      const head = queue.shift();
      if (!head) return;
      queuedWeight -= head.weight;
      yield head.item;
    }
  } finally {
    await iterator.return?.();
  }
}

/** Throws the abort reason when it is a scopex error (the caller's own), an AbortedError otherwise. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (!signal?.aborted) return;
  throw abortError(signal);
}

export function abortError(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  if (reason instanceof AbortedError) return reason;
  return new AbortedError('ABORTED', 'the export was interrupted; nothing was delivered', { cause: reason });
}

/** An append-only text file written with backpressure: each write waits for 'drain' when the buffer is full. */
export interface TextSink {
  readonly file: string;
  write(text: string): Promise<void>;
  /** Flushes and closes the file. */
  close(): Promise<void>;
  /** Closes without waiting for the data (on failure). */
  destroy(): void;
}

/** Small writes are gathered into chunks of this size: one write call per line would cost a syscall each. */
const SINK_CHUNK_BYTES = 256 * 1024;

export async function openTextSink(file: string): Promise<TextSink> {
  const stream: WriteStream = createWriteStream(file, { flags: 'wx', mode: 0o600, highWaterMark: 1 << 20 });
  let failure: Error | undefined;
  stream.on('error', (error) => {
    failure ??= error;
  });
  await new Promise<void>((resolve, reject) => {
    stream.once('open', () => resolve());
    stream.once('error', reject);
  });
  const pending = new Utf8Stage(SINK_CHUNK_BYTES);

  async function flush(): Promise<void> {
    if (failure) throw failure;
    if (pending.bytes === 0) return;
    await writeChunk(pending.take());
  }

  async function writeChunk(chunk: Buffer): Promise<void> {
    if (!stream.write(chunk)) {
      await new Promise<void>((resolve, reject) => {
        const onError = (error: Error) => reject(error);
        stream.once('error', onError);
        stream.once('drain', () => {
          stream.off('error', onError);
          resolve();
        });
      });
    }
  }

  return {
    file,
    async write(text) {
      if (failure) throw failure;
      if (pending.tryAppend(text)) return;
      await flush();
      // Longer than a whole chunk: written on its own.
      if (!pending.tryAppend(text)) await writeChunk(Buffer.from(text, 'utf8'));
    },
    async close() {
      await flush();
      return new Promise<void>((resolve, reject) => {
        stream.end((error?: Error | null) => (error ? reject(error) : resolve()));
      });
    },
    destroy() {
      stream.destroy();
    },
  };
}

/** A JSON array streamed to a file one element at a time (production.json), never held in memory as a whole. */
export interface JsonArraySink {
  readonly file: string;
  push(value: unknown): Promise<void>;
  close(): Promise<void>;
  destroy(): void;
}

export async function openJsonArraySink(file: string): Promise<JsonArraySink> {
  const sink = await openTextSink(file);
  let count = 0;
  return {
    file,
    async push(value) {
      await sink.write(`${count === 0 ? '[\n  ' : ',\n  '}${JSON.stringify(value)}`);
      count += 1;
    },
    async close() {
      await sink.write(count === 0 ? '[]\n' : '\n]\n');
      await sink.close();
    },
    destroy: () => sink.destroy(),
  };
}
