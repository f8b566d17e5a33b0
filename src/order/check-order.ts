// The order gate: every reason an order may not be executed, collected in one pass (DESIGN.md, "The order").
import type { ScopexConfig } from '../config.js';
import { OrderError } from '../errors.js';
import { isOrganisationTenant, type AccountDirectory } from '../sources/account-directory.js';
import { loadArchiveSigner, loadReviewerCas, verifyApproval, type OrderReason } from './approval-verify.js';
import { canonicalJson } from './canonical.js';
import { earlierResolutionReason } from './earlier-resolution.js';
import { parseOrderJson, readOrderFile } from './read-order.js';
import type { Order } from './schema.js';
import { directoryIdentifiers, resolveTargets, type ResolvedAccount } from './targets.js';

export type { OrderReason } from './approval-verify.js';
export type { ResolvedAccount } from './targets.js';

export interface OrderContext {
  config: ScopexConfig;
  directory: AccountDirectory;
  now: Date;
}

export interface OrderEvaluation {
  /** Every reason for refusal; empty when the order may be executed. */
  reasons: OrderReason[];
  /** One entry per distinct account the order's exact targets resolve to (also when refused, for reporting). */
  accounts: ResolvedAccount[];
}

export interface CheckedOrder {
  order: Order;
  /** The order's bytes exactly as received. */
  raw: Buffer;
  accounts: ResolvedAccount[];
}

const REDIRECT_ALLOWED: ReadonlySet<Order['enterpriseRedirect']> = new Set(['customer-unreachable', 'customer-consented']);

/** Reads and evaluates an order; throws OrderError with every reason when it may not be executed. */
export async function checkOrder(file: string, ctx: OrderContext): Promise<CheckedOrder> {
  const { raw, order } = await readOrderFile(file, directoryIdentifiers(ctx.directory, ctx.config));
  const evaluation = await evaluateOrderOnRecord(order, raw, ctx);
  if (evaluation.reasons.length > 0) throw new OrderError(evaluation.reasons);
  return { order, raw, accounts: evaluation.accounts };
}

/** Reasons about the targets themselves: with one of them the accounts resolved are not all the order names. */
const TARGET_CODES: ReadonlySet<OrderReason['code']> = new Set(['BLANKET_TARGET', 'TARGET_UNRESOLVED']);

/**
 * Every reason of evaluateOrder, and TARGETS_MOVED when this very order file was checked before (the custody log of
 * `ctx.config`) and its targets now name another set of accounts than they did then, which is what the reviewer was
 * shown. `order check` and `export` both check an order with this.
 */
export async function evaluateOrderOnRecord(order: Order, raw: Buffer, ctx: OrderContext): Promise<OrderEvaluation> {
  const evaluation = evaluateOrder(order, raw, ctx);
  if (evaluation.reasons.some((reason) => TARGET_CODES.has(reason.code))) return evaluation;
  const moved = await earlierResolutionReason(order, raw, evaluation.accounts, ctx.config.custodyLogFile);
  return moved ? { ...evaluation, reasons: [...evaluation.reasons, moved] } : evaluation;
}

/**
 * Every reason `order` (parsed from `raw`) is refused at `ctx.now`: approval, validity, legal process, targets and
 * enterprise redirect. `raw` is what the approval signature is checked over.
 */
export function evaluateOrder(order: Order, raw: Buffer, ctx: OrderContext): OrderEvaluation {
  const signed = parseOrderJson(raw, `(${raw.length} bytes)`);
  const reasons: OrderReason[] = [];
  if (!sameDocument(signed, order)) {
    reasons.push({ code: 'APPROVAL_INVALID', message: 'the order given does not match the bytes received; expected the order parsed from them' });
  }
  reasons.push(...approvalReasons(order, signed, ctx));
  const rules = evaluateOrderRules(order, ctx);
  return { reasons: [...reasons, ...rules.reasons], accounts: rules.accounts };
}

/** The schema-checked order is the document received (a caller could pass an order parsed from other bytes). */
function sameDocument(signed: Record<string, unknown>, order: Order): boolean {
  try {
    return canonicalJson(signed) === canonicalJson(order);
  } catch {
    return false;
  }
}

function approvalReasons(order: Order, signed: Record<string, unknown>, ctx: OrderContext): OrderReason[] {
  if (!order.approval) {
    return [{ code: 'UNAPPROVED', message: `order ${order.id} has no approval; a compliance reviewer must approve it (scopex order approve)` }];
  }
  const { config } = ctx;
  return verifyApproval(signed, order.approval, loadReviewerCas(config.reviewerCaFiles), ctx.now, loadArchiveSigner(config.signerCertificateFile));
}

/** Everything but the approval: what a reviewer must see pass before signing. */
export function evaluateOrderRules(order: Order, ctx: OrderContext): OrderEvaluation {
  const reasons: OrderReason[] = [...validityReasons(order, ctx.now), ...categoryReasons(order, ctx.config)];
  const targets = resolveTargets(order.targets, ctx.directory);
  reasons.push(...targets.reasons);
  reasons.push(...enterpriseReasons(order, targets.accounts));
  return { reasons, accounts: targets.accounts };
}

function validityReasons(order: Order, now: Date): OrderReason[] {
  const reasons: OrderReason[] = [];
  if (now.getTime() > Date.parse(order.expiresAt)) {
    reasons.push({ code: 'EXPIRED', message: `field expiresAt: order ${order.id} expired at ${order.expiresAt} (now ${now.toISOString()})` });
  }
  if (now.getTime() < Date.parse(order.issuedAt)) {
    reasons.push({ code: 'NOT_YET_VALID', message: `field issuedAt: order ${order.id} is valid only from ${order.issuedAt} (now ${now.toISOString()})` });
  }
  return reasons;
}

function categoryReasons(order: Order, config: ScopexConfig): OrderReason[] {
  const permitted = new Set(config.legalProcess.permits[order.process]);
  return order.categories
    .filter((category) => !permitted.has(category))
    .map((category) => ({
      code: 'CATEGORY_NOT_PERMITTED' as const,
      message: `field categories: a ${order.process} cannot compel ${category} (it may compel: ${[...permitted].join(', ') || 'nothing'})`,
    }));
}

function enterpriseReasons(order: Order, accounts: readonly ResolvedAccount[]): OrderReason[] {
  if (REDIRECT_ALLOWED.has(order.enterpriseRedirect)) return [];
  return accounts
    .filter(({ account }) => isOrganisationTenant(account.tenantType))
    .map(({ account }) => ({
      code: 'ENTERPRISE_REDIRECT' as const,
      message: `account ${account.id} belongs to ${account.tenantType === 'enterprise' ? 'enterprise' : 'customer-key (enterprise)'} tenant ${account.tenant}: redirect the demand to the customer (enterpriseRedirect is ${order.enterpriseRedirect}; expected customer-unreachable or customer-consented)`,
    }));
}
