// Small helpers shared by the key-service tests.
import { readFileSync } from 'node:fs';
import type { Readable } from 'node:stream';
import type { ItemRef } from '../../src/keys/key-service.js';
import type { FixtureItem } from '../helpers/store-fixture.js';

export function refOf(item: FixtureItem, blobFile: string = item.blobFile): ItemRef {
  return { service: item.service, accountId: item.accountId, itemId: item.id, blobFile };
}

export async function drain(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Runs a call that may throw synchronously or reject, and returns what it failed with (undefined if it worked). */
export async function failureOf(run: () => unknown): Promise<unknown> {
  try {
    await run();
    return undefined;
  } catch (error) {
    return error;
  }
}

export function blobOf(item: FixtureItem): Buffer {
  return readFileSync(item.blobFile);
}
