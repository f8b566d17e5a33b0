// Writes stores in the sample-world layout: per-account index.jsonl lines and AES-256-GCM blobs, plus the
// directory and the wrapped data keys. Used by the sample-world generator and by test fixtures; scopex never writes stores.
import type { KeyObject } from 'node:crypto';
import { createSecretKey } from 'node:crypto';
import { once } from 'node:events';
import { createWriteStream, writeFileSync, type WriteStream } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { finished, pipeline } from 'node:stream/promises';
import { wrapDataKey, type DataKeysFile } from '../keys/data-keys.js';
import { createItemEncryptor, encryptItemBuffer, itemAad, NONCE_BYTES } from '../keys/item-crypto.js';
import type { StoreService } from '../keys/key-service.js';
import type { Account } from './account-directory.js';
import { ensureDirSync } from '../util/ensure-dir.js';

export interface StoreWriterOptions {
  /** The stores folder (W/stores). */
  storesRoot: string;
  /** Where data-keys.json goes (W/keys/data-keys.json). */
  dataKeysFile: string;
  masterKey: KeyObject;
  /** Source of data keys and nonces: crypto.randomBytes in production, a seeded generator in sample worlds only. */
  random: (bytes: number) => Buffer;
}

/** One index line: the plaintext metadata every store keeps (more fields allowed per service). */
export interface IndexEntry {
  id: string;
  timestamp: string;
  name: string;
  [field: string]: unknown;
}

export interface AccountWriter {
  /** Encrypts the item into blobs/<id> and appends its index line (with `bytes` = plaintext size). */
  writeItem(service: Exclude<StoreService, 'subscriber'>, entry: IndexEntry, body: Buffer | (() => Readable), bytes?: number): Promise<void>;
  writeSubscriber(record: unknown): Promise<void>;
  close(): Promise<void>;
}

export interface StoreWriter {
  openAccount(account: Account, state: 'provider-key' | 'customer-key'): AccountWriter;
  /** Writes directory.json and data-keys.json. */
  finish(): Promise<void>;
}

const SERVICES = ['mail', 'storage', 'im'] as const;

export function createStoreWriter(options: StoreWriterOptions): StoreWriter {
  if (!options.storesRoot) throw new Error('createStoreWriter needs storesRoot');
  if (!options.dataKeysFile) throw new Error('createStoreWriter needs dataKeysFile');
  const accounts: Account[] = [];
  const dataKeys: DataKeysFile = { schema: 'scopex.data-keys/v1', wrapping: 'aes-256-gcm', accounts: {} };
  ensureDirSync(path.join(options.storesRoot, 'subscriber'));

  return {
    openAccount(account, state) {
      accounts.push(account);
      const raw = options.random(32);
      const key = createSecretKey(raw);
      dataKeys.accounts[account.id] =
        state === 'provider-key'
          ? { state, wrapped: wrapDataKey(options.masterKey, account.id, raw, options.random(NONCE_BYTES)) }
          : { state };
      raw.fill(0);
      const indexes = new Map<string, WriteStream>();
      // An index that cannot be written (a full disk) fails the next item or close(), instead of an unhandled 'error'.
      let indexFailure: Error | undefined;
      for (const service of SERVICES) {
        const dir = path.join(options.storesRoot, service, account.id, 'blobs');
        ensureDirSync(dir);
        const index = createWriteStream(path.join(options.storesRoot, service, account.id, 'index.jsonl'));
        index.on('error', (error) => {
          indexFailure ??= error;
        });
        indexes.set(service, index);
      }
      return {
        async writeItem(service, entry, body, bytes) {
          const blobFile = path.join(options.storesRoot, service, account.id, 'blobs', entry.id);
          const nonce = options.random(NONCE_BYTES);
          const aad = itemAad(service, account.id, entry.id);
          let size: number;
          if (Buffer.isBuffer(body)) {
            await writeFile(blobFile, encryptItemBuffer(key, nonce, aad, body));
            size = body.length;
          } else {
            if (bytes === undefined) throw new Error(`item ${entry.id}: a streamed body needs its byte count`);
            let counted = 0;
            const source = body();
            source.on('data', (chunk: Buffer) => {
              counted += chunk.length;
            });
            await pipeline(source, createItemEncryptor(key, nonce, aad), createWriteStream(blobFile));
            if (counted !== bytes) throw new Error(`item ${entry.id}: ${counted} bytes written, ${bytes} declared`);
            size = bytes;
          }
          const { id, timestamp, name, ...rest } = entry;
          const line = `${JSON.stringify({ id, timestamp, bytes: size, name, ...rest })}\n`;
          const index = indexes.get(service)!;
          if (indexFailure) throw indexFailure;
          if (!index.write(line)) await once(index, 'drain');
        },
        async writeSubscriber(record) {
          const body = Buffer.from(`${JSON.stringify(record, null, 2)}\n`, 'utf8');
          const blob = encryptItemBuffer(key, options.random(NONCE_BYTES), itemAad('subscriber', account.id, 'subscriber'), body);
          await writeFile(path.join(options.storesRoot, 'subscriber', `${account.id}.json`), blob);
        },
        async close() {
          await Promise.all(
            [...indexes.values()].map((stream) => {
              stream.end();
              return finished(stream);
            }),
          );
          if (indexFailure) throw indexFailure;
        },
      };
    },

    async finish() {
      writeFileSync(
        path.join(options.storesRoot, 'directory.json'),
        `${JSON.stringify({ schema: 'scopex.directory/v1', accounts }, null, 2)}\n`,
      );
      ensureDirSync(path.dirname(options.dataKeysFile));
      writeFileSync(options.dataKeysFile, `${JSON.stringify(dataKeys, null, 2)}\n`, { mode: 0o600 });
    },
  };
}

/** Turns a Buffer producer into the lazily created Readable writeItem expects for large items. */
export function lazyReadable(make: () => Iterable<Buffer> | AsyncIterable<Buffer>): () => Readable {
  return () => Readable.from(make());
}
