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
}
