// The one composition point: the account directory, one adapter per store and the key service, built from the config.
import path from 'node:path';
import type { ScopexConfig } from '../config.js';
import type { KeyService, StoreService } from '../keys/key-service.js';
import { createLocalKeyService } from '../keys/local-key-service.js';
import type { AccountDirectory } from './account-directory.js';
import { createFileDirectory } from './file-directory.js';
import { createImAdapter } from './im-adapter.js';
import { createMailAdapter } from './mail-adapter.js';
import type { SourceAdapter } from './source-adapter.js';
import { createStorageAdapter } from './storage-adapter.js';
import { createSubscriberAdapter } from './subscriber-adapter.js';

export const STORE_SERVICES = ['mail', 'storage', 'im', 'subscriber'] as const satisfies readonly StoreService[];

export interface Sources {
  directory: AccountDirectory;
  adapters: Record<StoreService, SourceAdapter>;
  keyService: KeyService;
}

export type SourcesConfig = Pick<ScopexConfig, 'storesRoot' | 'masterKeyFile' | 'dataKeysFile'>;

export function createAdapter(service: StoreService, storesRoot: string): SourceAdapter {
  const root = path.join(storesRoot, service);
  switch (service) {
    case 'mail':
      return createMailAdapter({ root });
    case 'storage':
      return createStorageAdapter({ root });
    case 'im':
      return createImAdapter({ root });
    case 'subscriber':
      return createSubscriberAdapter({ root });
    default: {
      const unknown: never = service;
      throw new Error(`no adapter for store ${String(unknown)}`);
    }
  }
}

export interface CreateSourcesOptions {
  /** Let the key service read small items on a thread of its own (default true). */
  readerThread?: boolean;
}

export function createSources(config: SourcesConfig, options: CreateSourcesOptions = {}): Sources {
  const adapters = Object.fromEntries(STORE_SERVICES.map((service) => [service, createAdapter(service, config.storesRoot)])) as Record<
    StoreService,
    SourceAdapter
  >;
  return {
    directory: createFileDirectory({ file: path.join(config.storesRoot, 'directory.json') }),
    adapters,
    keyService: createLocalKeyService({
      masterKeyFile: config.masterKeyFile,
      dataKeysFile: config.dataKeysFile,
      ...(options.readerThread === false ? { readerThread: false } : {}),
    }),
  };
}
