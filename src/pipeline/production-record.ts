// One record of production.json (DESIGN.md, "The sealed archive"): what was delivered, from where, and how.
import type { Category } from '../order/schema.js';
import type { DeliveredEncryption } from './metadata.js';

export interface ProductionRecord {
  /** Path relative to the bag root, e.g. data/acct-0001/mail.content/m-000001.eml. */
  path: string;
  sha256: string;
  bytes: number;
  account: string;
  category: Category;
  /** The store's item id; null for a metadata file, which holds many items. */
  sourceId: string | null;
  /** The name the store gave the item, however hostile; null for a metadata file. */
  originalName: string | null;
  /** The item's time; null for metadata files and subscriber records, which are not time-bound. */
  timestamp: string | null;
  encryption: DeliveredEncryption;
  /** Metadata files only: how many items (lines) they describe. */
  items?: number;
}
