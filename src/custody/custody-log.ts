// The custody log boundary: an append-only, hash-chained record of every order and export.

export type CustodyEventType =
  | 'order.checked'
  | 'order.refused'
  | 'export.started'
  | 'export.sealed'
  | 'export.failed'
  | 'scope.incident'
  | 'archive.verified'
  | 'notification.due';

export interface CustodyEvent {
  event: CustodyEventType;
  orderId: string;
  /** Facts about the event; never key material, never item content. */
  details: Record<string, unknown>;
}

export interface CustodyRecord extends CustodyEvent {
  seq: number;
  time: string;
  prevHash: string;
  hash: string;
}

export interface CustodyLog {
  append(event: CustodyEvent): Promise<CustodyRecord>;
  /**
   * Appends the events as one: their records, chained in this order, are all in the log or none is (export's sealed
   * archive and the notice it makes due: one without the other is a record of a delivery that did not happen).
   */
  appendAll(events: readonly CustodyEvent[]): Promise<CustodyRecord[]>;
}

/**
 * What each event's details hold, so that transparency figures and notices can be computed from the log alone.
 * Writers fill these fields; readers must tolerate extra fields.
 */
export interface OrderCheckedDetails {
  process: string;
  /** Number of target identifiers the order lists. */
  targets: number;
  accounts: string[];
  categories: string[];
}
export interface OrderRefusedDetails {
  process: string | null;
  /** OrderError reason codes (or 'SCHEMA_VIOLATION' etc. for malformed orders). */
  reasons: string[];
  targets: number;
}
export interface ExportSealedDetails {
  process: string;
  accounts: string[];
  /** Item counts per category actually delivered. */
  items: Record<string, number>;
  /** True when any *.content category or a customer-key ciphertext was delivered. */
  contentDisclosed: boolean;
  bytes: number;
  archive: string;
  /** SHA-256 of the sealed ZIP file. */
  sha256: string;
}
export interface NotificationDueDetails {
  accounts: string[];
  /** ISO time from which the account holders may be told; null when there is no non-disclosure order. */
  notifyFrom: string | null;
  /** Enterprise accounts whose demand must be redirected to (or was redirected from) the customer. */
  enterpriseAccounts: string[];
  enterpriseRedirect: string;
}
export interface ScopeIncidentDetails {
  source: string;
  account: string;
  item: string;
  reason: string;
}
