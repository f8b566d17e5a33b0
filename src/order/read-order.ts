// Reading an order strictly: exact bytes kept for the archive, then strict JSON, then the strict zod schema.
import { open } from 'node:fs/promises';
import type * as z from '../util/zod.js';
import { describeFsError, InputError } from '../errors.js';
import { INPUT_OPEN_FLAGS } from '../util/read-input-file.js';
import { orderSchemaFor, type KnownIdentifier, type Order } from './schema.js';
import { decodeStrictUtf8, describeStrictJsonError, parseStrictJson, StrictJsonError } from './strict-json.js';

/** An order is a short document; anything bigger is not an order (and is not read into memory). */
export const MAX_ORDER_BYTES = 1024 * 1024;

export interface ReadOrder {
  /** The bytes exactly as received: the archive stores them unchanged. */
  raw: Buffer;
  order: Order;
}

export async function readOrderFile(file: string, known?: KnownIdentifier): Promise<ReadOrder> {
  const raw = await readOrderBytes(file);
  return { raw, order: parseOrderBytes(raw, file, known) };
}

/**
 * Parses order bytes (strict UTF-8, strict JSON, strict schema); `source` names them in errors. `known` (the account
 * directory's identifiers) takes target values that look like key material but name an account.
 */
export function parseOrderBytes(raw: Uint8Array, source: string, known?: KnownIdentifier): Order {
  const parsed = parseOrderJson(raw, source);
  const result = orderSchemaFor(known).safeParse(parsed);
  if (!result.success) {
    throw new InputError('SCHEMA_VIOLATION', `order ${source}: ${describeIssues(result.error)}`);
  }
  return result.data;
}

/** The order's JSON value exactly as written (no schema applied): what the approval signature covers. */
export function parseOrderJson(raw: Uint8Array, source: string): Record<string, unknown> {
  let value: unknown;
  let text = '';
  try {
    text = decodeStrictUtf8(raw);
    value = parseStrictJson(text);
  } catch (error) {
    if (error instanceof StrictJsonError) {
      throw new InputError('JSON_MALFORMED', `order ${source}: ${describeStrictJsonError(error, text)}`, { cause: error });
    }
    throw error;
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new InputError('SCHEMA_VIOLATION', `order ${source}: expected a JSON object at the top level, found ${describeJsonType(value)}`);
  }
  return value as Record<string, unknown>;
}

/** The file's bytes, at most MAX_ORDER_BYTES of them; FILE_UNREADABLE otherwise. */
export async function readOrderBytes(file: string): Promise<Buffer> {
  let handle;
  try {
    // Not 'r': a FIFO would hold the open until something writes to it (util/read-input-file.ts).
    handle = await open(file, INPUT_OPEN_FLAGS);
  } catch (error) {
    throw new InputError('FILE_UNREADABLE', `cannot read order ${file}: ${describeFsError(error)}`, { cause: error });
  }
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) throw new InputError('FILE_UNREADABLE', `cannot read order ${file}: it is not a regular file`);
    if (stat.size > MAX_ORDER_BYTES) {
      throw new InputError('FILE_UNREADABLE', `order ${file} is ${stat.size} bytes; an order is at most ${MAX_ORDER_BYTES} bytes`);
    }
    // One byte more than stat promised: if it fills, the file changed while it was read.
    const buffer = Buffer.alloc(stat.size + 1);
    let length = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, null);
      if (bytesRead === 0) break;
      length += bytesRead;
      if (length === buffer.length) {
        throw new InputError('FILE_UNREADABLE', `cannot read order ${file}: it changed while it was read`);
      }
    }
    return Buffer.from(buffer.subarray(0, length));
  } catch (error) {
    if (error instanceof InputError) throw error;
    throw new InputError('FILE_UNREADABLE', `cannot read order ${file}: ${describeFsError(error)}`, { cause: error });
  } finally {
    await handle.close();
  }
}

/** Every schema issue (up to a few), each as "field a.b: what was expected". */
export function describeIssues(error: z.core.$ZodError): string {
  const shown = error.issues.slice(0, 5).map((issue) => {
    const field = issue.path.length > 0 ? issue.path.map(String).join('.') : '(top level)';
    return `field ${field}: ${issue.message}`;
  });
  const more = error.issues.length - shown.length;
  return `${shown.join('; ')}${more > 0 ? `; and ${more} more` : ''}`;
}

function describeJsonType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value}`;
}
