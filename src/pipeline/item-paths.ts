// Where each delivered item goes inside the bag's data/ folder: stable, safe and unique, whatever the store calls it.
import type { Category } from '../order/schema.js';
import { createNameAllocator, safeSegment, type NameAllocator } from '../seal/safe-names.js';
import type { SourceItem } from '../sources/source-adapter.js';

/** Suffix of items delivered as the stored ciphertext (customer-key accounts): the at-rest "SCXB" format. */
export const STORED_CIPHERTEXT_SUFFIX = '.scxb';

/** An account's subscriber record in its subscriber folder (with STORED_CIPHERTEXT_SUFFIX for a customer-key account). */
export const SUBSCRIBER_FILE = 'subscriber.json';

export type PayloadCategory = Exclude<Category, `${string}.metadata`>;

/** Allocates the payload paths of one account, one folder per category. Paths are relative to data/. */
export interface AccountPaths {
  item(category: PayloadCategory, item: SourceItem, storedCiphertext: boolean): string;
  metadata(service: 'mail' | 'storage' | 'im'): string;
}

export function createAccountPaths(accountId: string): AccountPaths {
  const account = safeSegment(accountId);
  if (account !== accountId) throw new Error(`account id ${JSON.stringify(accountId)} cannot name a folder as it is`);
  const allocators = new Map<PayloadCategory, NameAllocator>();
  /** IM: each conversation's folder, by its exact id, and the folder names given out (one allocator per category). */
  const conversations = new Map<PayloadCategory, { byId: Map<string, string>; names: NameAllocator }>();

  /**
   * The folder of one conversation: its id made safe, and a `~n` twin name when another conversation's id made safe
   * gives the same folder (`Chat` and `chat` on a file system that folds case, `..` and `conversation`, an OHM SIGN and
   * an omega), so that a folder never holds two conversations. Folders elsewhere are merged that way (a store's `Docs`
   * and `docs`), but a conversation id names one conversation exactly.
   */
  function conversationFolder(category: PayloadCategory, conversationId: string): string {
    let known = conversations.get(category);
    if (!known) {
      known = { byId: new Map(), names: createNameAllocator() };
      conversations.set(category, known);
    }
    let folder = known.byId.get(conversationId);
    if (folder === undefined) {
      folder = known.names.allocate(safeSegment(conversationId) || 'conversation');
      known.byId.set(conversationId, folder);
    }
    return folder;
  }

  function allocate(category: PayloadCategory, name: string, folders: boolean, suffix: string): string {
    let allocator = allocators.get(category);
    if (!allocator) {
      allocator = createNameAllocator();
      allocators.set(category, allocator);
    }
    return `${account}/${category}/${allocator.allocate(name, { folders, suffix })}`;
  }

  return {
    item(category, item, storedCiphertext) {
      // The suffix goes on after the name is made safe: a ciphertext is named as its plaintext would be, plus `.scxb`.
      const suffix = storedCiphertext ? STORED_CIPHERTEXT_SUFFIX : '';
      switch (item.kind) {
        case 'mail':
          return allocate(category, `${item.id}.eml`, false, suffix);
        case 'file':
          // The store's own folder path, made safe segment by segment (a hostile `..` or leading `/` disappears).
          return allocate(category, item.name, true, suffix);
        case 'im':
          // One folder per conversation, one JSON file per message.
          return allocate(category, `${conversationFolder(category, item.conversationId)}/${item.id}.json`, true, suffix);
        case 'subscriber':
          return allocate(category, SUBSCRIBER_FILE, false, suffix);
        default: {
          const unknown: never = item;
          throw new Error(`unknown item kind ${String((unknown as SourceItem).kind)}`);
        }
      }
    },
    metadata(service) {
      return `${account}/${service}.metadata/metadata.jsonl`;
    },
  };
}
