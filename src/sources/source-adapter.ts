// The boundary every store sits behind: list an account's items in a time range, and say where each one is.
import type { ItemRef, StoreService } from '../keys/key-service.js';

/** An inclusive time window: an item is in it when from <= timestamp <= to (both ends included). */
export interface TimeRange {
  from: Date;
  to: Date;
}

interface ItemBase {
  accountId: string;
  /** The store's id of the item, unique within the account and service. */
  id: string;
  /**
   * ISO 8601 instant the item is dated by, as the service recorded it: mail, when the service received or sent it (a
   * message's Date: header is its sender's claim, delivered as written and not judged); file, its last modification
   * (the index's `modified`, which must agree); IM, when it was sent (the message's own `sentAt`, which must agree);
   * subscriber, as-of.
   */
  timestamp: string;
  /** Plaintext size in bytes, as the index records it. */
  bytes: number;
  /** The name the store gives the item; may be hostile (.., /, control characters): never a path as it is. */
  name: string;
  /** Where the key service finds the encrypted blob. */
  ref: ItemRef;
}

export interface MailItem extends ItemBase {
  kind: 'mail';
  /** Mail the user encrypted end to end; delivered exactly as stored. */
  userEncryption: 'smime' | 'pgp' | null;
  /**
   * The index line as read (its fields beyond the required ones included): where the envelope the mail system
   * recorded is found (indexEnvelope in mail-adapter.ts), the only source of a customer-key message's envelope, which
   * the provider cannot decrypt. Kept as it is and read only when needed: most messages' envelopes come from their
   * own headers.
   */
  indexLine: Readonly<Record<string, unknown>>;
}

export interface MailEnvelope {
  from: string | null;
  /** Addresses joined with ", ", as they would stand in a header; null when the index lists none. */
  to: string | null;
  cc: string | null;
  messageId: string | null;
}

export interface FileItem extends ItemBase {
  kind: 'file';
  created: string;
  modified: string;
}

export interface ImItem extends ItemBase {
  kind: 'im';
  conversationId: string;
  participants: string[];
}

export interface SubscriberItem extends ItemBase {
  kind: 'subscriber';
}

export type SourceItem = MailItem | FileItem | ImItem | SubscriberItem;
export type ItemKind = SourceItem['kind'];

/**
 * An adapter's items, one by one; a listing that reads its store in batches may also hand them over as such (one
 * await per batch instead of one per item: the export of many small items uses it).
 */
export interface Listing<Item = SourceItem> extends AsyncIterable<Item> {
  batches?(): AsyncIterable<Item[]>;
}

export interface SourceAdapter {
  readonly service: StoreService;
  /**
   * The account's items whose timestamp lies in the range (both ends inclusive), in the store's index order.
   * Reads only that account's index; an unknown account is a SourceError('UNKNOWN_ACCOUNT'); an account with no
   * items yields nothing.
   */
  list(accountId: string, range: TimeRange, signal?: AbortSignal): Listing;
}
