// The key service over a master key file and a wrapped data-keys file (the sample world's key store).
import { hash, type KeyObject } from 'node:crypto';
import { open } from 'node:fs/promises';
import { PassThrough, type Readable } from 'node:stream';
import { describeZodError, readJsonFile } from '../config.js';
import { describeFsError, InputError, IntegrityError, KeyError, SourceError } from '../errors.js';
import { unwrapDataKey, dataKeysSchema, type DataKeysFile } from './data-keys.js';
import { BlobPlaintextStream } from './blob-stream.js';
import { describeItem, HEADER_BYTES, itemAad, parseHeader } from './item-crypto.js';
import type { EncryptionState, ItemPlaintext, ItemRef, KeyService, PlaintextCrc, ReadOptions } from './key-service.js';
import { ThreadedBlobReader } from './item-reader.js';
import { refuseKeyFileOpenToOthers } from './key-file-mode.js';
import { loadMasterKey } from './master-key.js';
import { BLOB_OPEN_FLAGS, BlobOpenError, checkRegularBlob, NOT_REGULAR_CODE, SmallBlobReader } from './small-blob.js';
import { mailHeaderFields } from '../pipeline/mail-headers.js';
import { crcOfStream } from '../util/crc-of-stream.js';

export interface LocalKeyServiceOptions {
  masterKeyFile: string;
  dataKeysFile: string;
  /**
   * Small items are read and decrypted on a worker thread when its built script is there (default); false: never;
   * a URL: that script, which must start (tests run the built one).
   */
  readerThread?: boolean | URL;
}

export function createLocalKeyService(options: LocalKeyServiceOptions): KeyService {
  if (!options.masterKeyFile) throw new InputError('CONFIG_INVALID', 'the key service needs a master key file');
  if (!options.dataKeysFile) throw new InputError('CONFIG_INVALID', 'the key service needs a data-keys file');

  // The wrapped data keys are keys all the same ("no key, wrapped or not"): kept as the master key is.
  const raw = readJsonFile(options.dataKeysFile, 'data-keys file', (stats) =>
    refuseKeyFileOpenToOthers(stats, 'the data-keys file', options.dataKeysFile, 'KEY_FILE_NOT_PRIVATE'),
  );
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
    const key = unwrapDataKey(master, ref.accountId, found.wrapped, options);
    dataKeys.set(ref.accountId, key);
    return key;
  }

  const inThread = new SmallBlobReader();
  // Started on the first small read (commands that read no items start no thread). null: no thread, for good (turned
  // off, could not be started, or closed). Not `??=`: that would treat null as "not tried yet" and start one.
  let threaded: ThreadedBlobReader | null | undefined = options.readerThread === false ? null : undefined;
  function readerThread(): ThreadedBlobReader | null {
    if (threaded === undefined) {
      const script = options.readerThread;
      threaded = script instanceof URL ? ThreadedBlobReader.startScript(script) : (ThreadedBlobReader.start() ?? null);
    }
    return threaded;
  }

  return {
    prepare(): void {
      try {
        readerThread();
      } catch {
        // Nothing was started: the first read tries again and reports why.
      }
    },

    encryptionState(accountId: string): EncryptionState {
      return entry(accountId).state;
    },

    openItem(ref: ItemRef): Readable {
      const key = dataKey(ref);
      let thread: ThreadedBlobReader | null = null;
      try {
        thread = readerThread();
      } catch {
        // No thread could be started: this thread reads the item itself.
      }
      if (thread) return thread.openStream(ref, key, (error) => missingBlob(ref, error));
      return new BlobPlaintextStream({
        file: ref.blobFile,
        key,
        aad: itemAad(ref.service, ref.accountId, ref.itemId),
        what: describeItem(ref),
        openFailure: (error) => missingBlob(ref, error),
      });
    },

    async readItem(ref: ItemRef, maxBytes: number, readOptions?: ReadOptions): Promise<ItemPlaintext> {
      const key = dataKey(ref);
      const mailHeaders = readOptions?.mailHeaders === true;
      try {
        const thread = readerThread();
        if (thread) return await thread.read(ref, key, maxBytes, mailHeaders);
        const bytes = inThread.read(ref.blobFile, maxBytes, key, itemAad(ref.service, ref.accountId, ref.itemId), describeItem(ref));
        const plaintext: ItemPlaintext = { bytes, sha256: hash('sha256', bytes, 'hex') };
        if (mailHeaders) plaintext.mailHeaders = mailHeaderFields(bytes);
        return plaintext;
      } catch (error) {
        throw error instanceof BlobOpenError ? missingBlob(ref, error) : error;
      }
    },

    async plaintextCrc(ref: ItemRef, signal?: AbortSignal): Promise<PlaintextCrc> {
      const key = dataKey(ref);
      let thread: ThreadedBlobReader | null = null;
      try {
        thread = readerThread();
      } catch {
        // No thread could be started: this thread reads the item itself.
      }
      if (thread) return thread.crcOf(ref, key, (error) => missingBlob(ref, error), signal);
      return crcOfStream(this.openItem(ref), signal);
    },

    openStored(ref: ItemRef): Readable {
      const out = new PassThrough();
      openStoredBlob(ref).then(
        (stream) => {
          // Translate the read error before pipeline sees it, so consumers get an error naming the item.
          stream.once('error', (error) => out.destroy(missingBlob(ref, error)));
          stream.pipe(out);
        },
        (error: unknown) => out.destroy(error instanceof Error ? error : new Error(String(error))),
      );
      return out;
    },

    async close(): Promise<void> {
      const thread = threaded;
      threaded = null;
      await thread?.release();
    },
  };
}

/**
 * A blob handed over as stored (customer-key): opened as the others are (a regular file, not through a link), and
 * its header must be a scopex item's, so that what goes out as the customer's ciphertext is at least that. Whose
 * ciphertext it is cannot be told without the customer's key: the archive's customer-key files prove no more.
 */
async function openStoredBlob(ref: ItemRef): Promise<Readable> {
  const handle = await open(ref.blobFile, BLOB_OPEN_FLAGS).catch((error: unknown) => {
    throw missingBlob(ref, error);
  });
  try {
    const stats = await handle.stat();
    try {
      checkRegularBlob(stats);
    } catch (error) {
      throw missingBlob(ref, error);
    }
    const header = Buffer.alloc(HEADER_BYTES);
    const { bytesRead } = await handle.read(header, 0, HEADER_BYTES, 0);
    parseHeader(header.subarray(0, bytesRead), stats.size, describeItem(ref));
    return handle.createReadStream({ start: 0, highWaterMark: 1 << 20 });
  } catch (error) {
    await handle.close().catch(() => undefined);
    throw error;
  }
}

/**
 * A blob that cannot be read (SourceError ITEM_MISSING), or one that is a symbolic link or not a regular file, which
 * a store never holds: that is tampering (IntegrityError ITEM_FORMAT, exit 4).
 */
function missingBlob(ref: ItemRef, error: unknown): SourceError | IntegrityError {
  const code = (error as { code?: unknown } | null)?.code;
  if (code === 'ELOOP' || code === NOT_REGULAR_CODE) {
    return new IntegrityError('ITEM_FORMAT', `the blob of ${describeItem(ref)} (${ref.blobFile}) is not a file of its own: ${describeFsError(error)}; a store holds its blobs as regular files`, {
      cause: error,
    });
  }
  return new SourceError('ITEM_MISSING', `cannot read the blob of ${describeItem(ref)} (${ref.blobFile}): ${describeFsError(error)}`, {
    cause: error,
  });
}
