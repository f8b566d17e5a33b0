// Small async-iterable stages the export pipeline is built from, and a temp-file writer that honours backpressure.
import { createWriteStream, type WriteStream } from 'node:fs';
import { AbortedError } from '../errors.js';
import { Utf8Stage } from '../util/utf8-stage.js';
import { stringifyWellFormed } from '../util/well-formed.js';

/** How far readAhead may run ahead of its consumer. */
export interface ReadAheadLimits<R> {
  /** At most this many items prepared and not yet handed on. */
  items: number;
  /** And at most this much weight (bytes being read ahead), though always at least one item. */
  weight?: number;
  weigh?: (item: R) => number;
}

/**
 * Prepares items ahead of the consumer, so that work each item started when it was prepared (reading and decrypting
 * a small item) overlaps with the consumer writing the ones before. The source comes in batches, and the items go on
 * in batches of half of those prepared (at most half the limit): the consumer has one batch while the rest are being
 * read, and there is one await per batch, not per item. Order is kept. The limits bound the items prepared and not yet
 * done with, the batch the consumer holds included. Closing the consumer early closes the source.
 */
export async function* readAhead<T, R>(
  source: AsyncIterable<readonly T[]>,
  prepare: (item: T) => R,
  limits: ReadAheadLimits<R>,
  signal?: AbortSignal,
): AsyncGenerator<R[]> {
  const iterator = source[Symbol.asyncIterator]();
  const maxWeight = limits.weight ?? Number.POSITIVE_INFINITY;
  const handOn = Math.max(1, Math.floor(limits.items / 2));
  let queue: { item: R; weight: number }[] = [];
  let queuedWeight = 0;
  let pending: readonly T[] = [];
  let next = 0;
  let ended = false;
  try {
    for (;;) {
      while (queue.length < limits.items && (queue.length === 0 || queuedWeight < maxWeight)) {
        if (next === pending.length) {
          if (ended) break;
          throwIfAborted(signal);
          const pulled = await iterator.next();
          if (pulled.done) {
            ended = true;
            break;
          }
          pending = pulled.value;
          next = 0;
          continue;
        }
        const item = prepare(pending[next++] as T);
        const weight = limits.weigh?.(item) ?? 0;
        queue.push({ item, weight });
        queuedWeight += weight;
      }
      if (queue.length === 0) return;
      // Half of what is queued (up to half the limit) goes on, and the rest goes on being read meanwhile; once the
      // source is used up, nothing more is to be read ahead.
      const count = Math.min(handOn, ended ? queue.length : Math.ceil(queue.length / 2));
      const batch: R[] = [];
      for (let index = 0; index < count; index++) {
        const entry = queue[index] as { item: R; weight: number };
        batch.push(entry.item);
        queuedWeight -= entry.weight;
      }
      queue = queue.slice(count);
      // Nothing more is prepared until the consumer is done with the batch and asks for the next.
      yield batch;
    }
  } finally {
    await iterator.return?.();
  }
}

/** A listing that has no batches of its own, one item per batch. */
export async function* oneByOne<T>(source: AsyncIterable<T>): AsyncGenerator<T[]> {
  for await (const item of source) yield [item];
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

/** What a write that needs no waiting returns: one settled promise for all of them. */
const DONE: Promise<void> = Promise.resolve();

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

  async function writeThrough(text: string): Promise<void> {
    await flush();
    // Longer than a whole chunk: written on its own.
    if (!pending.tryAppend(text)) await writeChunk(Buffer.from(text, 'utf8'));
  }

  return {
    file,
    // Not async: most lines only join the chunk being gathered, and are done without a promise of their own.
    write(text) {
      if (failure) return Promise.reject(failure);
      if (pending.tryAppend(text)) return DONE;
      return writeThrough(text);
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

/**
 * A JSON array streamed to a file one element at a time (production.json), never held in memory as a whole. Its
 * strings are well-formed Unicode (a store name's lone surrogate is given as U+FFFD: src/util/well-formed.ts).
 */
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
    push(value) {
      const text = `${count === 0 ? '[\n  ' : ',\n  '}${stringifyWellFormed(value)}`;
      count += 1;
      return sink.write(text);
    },
    async close() {
      await sink.write(count === 0 ? '[]\n' : '\n]\n');
      await sink.close();
    },
    destroy: () => sink.destroy(),
  };
}
