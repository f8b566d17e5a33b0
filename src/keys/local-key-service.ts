// The key service over a master key file and a wrapped data-keys file (the sample world's key store).
import type { KeyObject } from 'node:crypto';
import { closeSync, createReadStream, openSync, readSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { PassThrough, pipeline, type Readable } from 'node:stream';
import { describeFsError, describeZodError, readJsonFile } from '../config.js';
import { InputError, IntegrityError, KeyError, SourceError } from '../errors.js';
import { unwrapDataKey, dataKeysSchema, type DataKeysFile } from './data-keys.js';
import {
  createItemDecryptor,
  decryptItemBuffer,
  describeItem,
  HEADER_BYTES,
  itemAad,
  parseHeader,
  TAG_BYTES,
} from './item-crypto.js';
import type { EncryptionState, ItemRef, KeyService } from './key-service.js';
import { loadMasterKey } from './master-key.js';

export interface LocalKeyServiceOptions {
  masterKeyFile: string;
  dataKeysFile: string;
}

/** The largest read buffer kept between small items (a little over the export's 1 MiB small-item bound). */
const SCRATCH_KEEP_BYTES = 2 << 20;

export function createLocalKeyService(options: LocalKeyServiceOptions): KeyService {
  if (!options.masterKeyFile) throw new InputError('CONFIG_INVALID', 'the key service needs a master key file');
  if (!options.dataKeysFile) throw new InputError('CONFIG_INVALID', 'the key service needs a data-keys file');

  const raw = readJsonFile(options.dataKeysFile, 'data-keys file');
  const parsed = dataKeysSchema.safeParse(raw);
  if (!parsed.success) {
    throw new InputError('CONFIG_INVALID', `data-keys file ${options.dataKeysFile}: ${describeZodError(parsed.error)}`);
  }
  const accounts: DataKeysFile['accounts'] = parsed.data.accounts;
  let master: KeyObject | undefined;
  const dataKeys = new Map<string, KeyObject>();

  function entry(accountId: string) {
    const found = Object.hasOwn(accounts, accountId) ? accounts[accountId] : undefined;
    if (!found) throw new KeyError('DATA_KEY_UNAVAILABLE', `no data key is on record for account ${accountId}`);
    return found;
  }

  function dataKey(ref: ItemRef): KeyObject {
    const cached = dataKeys.get(ref.accountId);
    if (cached) return cached;
    const found = entry(ref.accountId);
    if (found.state === 'customer-key') {
      throw new KeyError(
        'CUSTOMER_HELD_KEY',
        `account ${ref.accountId} belongs to a customer-key tenant: the provider cannot decrypt ${describeItem(ref)}`,
      );
    }
    master ??= loadMasterKey(options.masterKeyFile);
    const key = unwrapDataKey(master, ref.accountId, found.wrapped);
    dataKeys.set(ref.accountId, key);
    return key;
  }

  /**
   * One read buffer for every small blob (reads are synchronous, so it is never shared): a fresh one per item was
   * most of an export's garbage. Buffers above SCRATCH_KEEP_BYTES are not kept.
   */
  let scratchBuffer: Buffer | undefined;
  function scratch(bytes: number): Buffer {
    if (scratchBuffer && scratchBuffer.length >= bytes) return scratchBuffer;
    const fresh = Buffer.allocUnsafeSlow(Math.max(bytes, 64 * 1024));
    if (bytes <= SCRATCH_KEEP_BYTES) scratchBuffer = fresh;
    return fresh;
  }

  return {
    encryptionState(accountId: string): EncryptionState {
      return entry(accountId).state;
    },

    openItem(ref: ItemRef): Readable {
      const key = dataKey(ref);
      const what = describeItem(ref);
      const out = new PassThrough();
      void (async () => {
        const handle = await open(ref.blobFile, 'r').catch((error: unknown) => {
          throw missingBlob(ref, error);
        });
        let nonce: Buffer;
        let tag: Buffer;
        let size: number;
        try {
          size = (await handle.stat()).size;
          const header = Buffer.alloc(HEADER_BYTES);
          await handle.read(header, 0, HEADER_BYTES, 0);
          nonce = parseHeader(header, size, what);
          tag = Buffer.alloc(TAG_BYTES);
          await handle.read(tag, 0, TAG_BYTES, size - TAG_BYTES);
        } finally {
          await handle.close();
        }
        const decryptor = createItemDecryptor(key, nonce, itemAad(ref.service, ref.accountId, ref.itemId), tag, what);
        if (size === HEADER_BYTES + TAG_BYTES) {
          decryptor.end();
          pipeline(decryptor, out, () => undefined);
          return;
        }
        const body = createReadStream(ref.blobFile, { start: HEADER_BYTES, end: size - TAG_BYTES - 1, highWaterMark: 1 << 20 });
        pipeline(body, decryptor, out, (error) => {
          if (error && !out.destroyed) out.destroy(error);
        });
      })().catch((error: unknown) => out.destroy(error as Error));
      return out;
    },

    async readItem(ref: ItemRef, maxBytes: number): Promise<Buffer> {
      const key = dataKey(ref);
      const what = describeItem(ref);
      // Synchronous on purpose: a small blob is one open, one read and one close of a cached file (~10 us), where
      // the promise API costs ~50 us of main-thread CPU per item in thread-pool hand-offs; that, not the disk, is
      // what bounds an export of many small items.
      let fd: number;
      try {
        fd = openSync(ref.blobFile, 'r');
      } catch (error) {
        throw missingBlob(ref, error);
      }
      let blob: Buffer;
      try {
        // One read of at most the expected size plus one byte (no stat): a larger blob is refused, never buffered.
        const capacity = maxBytes + HEADER_BYTES + TAG_BYTES + 1;
        blob = scratch(capacity);
        let filled = 0;
        for (;;) {
          const bytesRead = readSync(fd, blob, filled, capacity - filled, filled);
          if (bytesRead === 0) break;
          filled += bytesRead;
          if (filled === capacity) {
            throw new IntegrityError('ITEM_FORMAT', `${what} is larger than the ${maxBytes} bytes expected`);
          }
        }
        blob = blob.subarray(0, filled);
      } finally {
        closeSync(fd);
      }
      // The plaintext is a new buffer: the blob's bytes (in the reused scratch buffer) do not outlive this call.
      return decryptItemBuffer(key, blob, itemAad(ref.service, ref.accountId, ref.itemId), what);
    },

    openStored(ref: ItemRef): Readable {
      const stream = createReadStream(ref.blobFile, { highWaterMark: 1 << 20 });
      const out = new PassThrough();
      // Translate the read error before pipeline sees it, so consumers get a SourceError naming the item.
      stream.once('error', (error) => out.destroy(missingBlob(ref, error)));
      stream.pipe(out);
      return out;
    },
  };
}

function missingBlob(ref: ItemRef, error: unknown): SourceError {
  return new SourceError('ITEM_MISSING', `cannot read the blob of ${describeItem(ref)} (${ref.blobFile}): ${describeFsError(error)}`, {
    cause: error,
  });
}
