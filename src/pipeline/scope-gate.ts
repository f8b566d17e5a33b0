// The scope gate: checks every item a source hands over against the order itself, trusting nothing the adapter
// did (its range filter, its account folder, its byte count). Any violation stops the export.
import type { LegalProcessRules } from '../config.js';
import { ScopeError } from '../errors.js';
import type { StoreService } from '../keys/key-service.js';
import type { ScopeIncidentDetails } from '../custody/custody-log.js';
import { categoryParts, type Category, type Order } from '../order/schema.js';
import type { ItemKind, SourceItem } from '../sources/source-adapter.js';
import { instantInRange } from '../util/in-range.js';

/** A ScopeError that also says which source, account and item broke the order, for the custody incident. */
export class ScopeViolation extends ScopeError {
  readonly incident: ScopeIncidentDetails;

  constructor(incident: ScopeIncidentDetails) {
    super(
      'OUT_OF_SCOPE',
      `the ${incident.source} source handed over item ${JSON.stringify(incident.item)} of account ${incident.account} ` +
        `outside the order: ${incident.reason}; the export was stopped and nothing was delivered`,
    );
    this.incident = incident;
  }
}

export interface ScopeGateOptions {
  order: Pick<Order, 'process' | 'categories' | 'dateRange'>;
  /** The accounts the order's targets resolved to; nothing else may be exported. */
  accountIds: readonly string[];
  legalProcess: LegalProcessRules;
}

/** Where the pipeline asked for an item: which account it listed, and for which ordered category. */
export interface GateRequest {
  accountId: string;
  category: Category;
}

export interface ScopeGate {
  /** Throws ScopeViolation unless the item belongs in the archive; called before a byte of it is read. */
  admit(item: SourceItem, request: GateRequest): void;
  /** Throws ScopeViolation when the bytes actually read differ from the size the index declared. */
  checkBytes(item: SourceItem, request: GateRequest, actual: number): void;
  /** Throws ScopeViolation when the time an item gives itself (an IM message's `sentAt`) is outside the order's range. */
  checkOwnTime(item: SourceItem, request: GateRequest, instant: string): void;
}

export function kindOfService(service: StoreService): ItemKind {
  switch (service) {
    case 'mail':
      return 'mail';
    case 'storage':
      return 'file';
    case 'im':
      return 'im';
    case 'subscriber':
      return 'subscriber';
    default: {
      const unknown: never = service;
      throw new Error(`unknown store ${String(unknown)}`);
    }
  }
}

export function createScopeGate(options: ScopeGateOptions): ScopeGate {
  const accounts = new Set(options.accountIds);
  const ordered = new Set<Category>(options.order.categories);
  const permitted = new Set<Category>(options.legalProcess.permits[options.order.process]);
  const from = Date.parse(options.order.dateRange.from);
  const to = Date.parse(options.order.dateRange.to);
  if (Number.isNaN(from) || Number.isNaN(to)) throw new Error('the scope gate needs an order with a valid date range');

  function refuse(item: Pick<SourceItem, 'id'>, request: GateRequest, reason: string): never {
    throw new ScopeViolation({ source: categoryParts(request.category).service, account: request.accountId, item: String(item.id), reason });
  }

  return {
    admit(item, request) {
      const { service } = categoryParts(request.category);
      if (!accounts.has(request.accountId)) {
        refuse(item, request, `account ${request.accountId} is not among the accounts the order names`);
      }
      if (item.accountId !== request.accountId) {
        refuse(item, request, `it belongs to account ${JSON.stringify(item.accountId)}, not to ${request.accountId}, the account listed`);
      }
      const ref = item.ref as Partial<SourceItem['ref']> | undefined;
      if (!ref || ref.accountId !== request.accountId || ref.service !== service || ref.itemId !== item.id) {
        refuse(item, request, `its stored blob is recorded as ${describeRef(ref)}, not as ${service} item ${String(item.id)} of account ${request.accountId}`);
      }
      const expectedKind = kindOfService(service);
      if (item.kind !== expectedKind) {
        refuse(item, request, `it is a ${String(item.kind)} item, but the ${service} store holds ${expectedKind} items`);
      }
      if (!ordered.has(request.category)) {
        refuse(item, request, `category ${request.category} is not in the order`);
      }
      if (!permitted.has(request.category)) {
        refuse(item, request, `a ${options.order.process} cannot compel category ${request.category}`);
      }
      if (!Number.isSafeInteger(item.bytes) || item.bytes < 0) {
        refuse(item, request, `its declared size ${String(item.bytes)} is not a byte count`);
      }
      // Subscriber records describe the account rather than an event, so they are not time-bound (DESIGN decision);
      // their time-bound history is cut to the date range when the record is written.
      if (service === 'subscriber') return;
      const at = typeof item.timestamp === 'string' ? Date.parse(item.timestamp) : Number.NaN;
      if (Number.isNaN(at)) {
        refuse(item, request, `its timestamp ${JSON.stringify(item.timestamp)} is not a valid instant`);
      }
      if (!instantInRange(item.timestamp as string, at, from, to)) {
        refuse(item, request, `its timestamp ${item.timestamp} is outside the order's date range ${options.order.dateRange.from} .. ${options.order.dateRange.to}`);
      }
    },

    checkBytes(item, request, actual) {
      if (actual !== item.bytes) {
        refuse(item, request, `${actual} bytes were read where its index declares ${item.bytes}`);
      }
    },

    checkOwnTime(item, request, instant) {
      if (!instantInRange(instant, Date.parse(instant), from, to)) {
        refuse(item, request, `the item itself is dated ${instant}, outside the order's date range ${options.order.dateRange.from} .. ${options.order.dateRange.to} (its index line says ${String(item.timestamp)})`);
      }
    },
  };
}

function describeRef(ref: Partial<SourceItem['ref']> | undefined): string {
  if (!ref) return 'nothing';
  return `${String(ref.service)} item ${String(ref.itemId)} of account ${String(ref.accountId)}`;
}
