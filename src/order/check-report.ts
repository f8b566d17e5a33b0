// `scopex order check` as data: the verdict, every reason and the resolved accounts, for people, scripts and the log.
import { createHash } from 'node:crypto';
import { InputError, OrderError, type InputErrorCode, type OrderErrorCode } from '../errors.js';
import type { CustodyEvent, OrderCheckedDetails, OrderRefusedDetails } from '../custody/custody-log.js';
import { approvalCertificateName } from './approval-verify.js';
import { evaluateOrderOnRecord, type OrderContext } from './check-order.js';
import { targetAccountIds } from './earlier-resolution.js';
import { parseOrderBytes, readOrderBytes } from './read-order.js';
import { directoryIdentifiers, type ResolvedAccount } from './targets.js';
import { PROCESSES, type LegalProcess, type Order } from './schema.js';
import { redactKeyMaterial } from '../util/key-material.js';

export type OrderVerdict = 'APPROVED' | 'REFUSED' | 'MALFORMED';

export interface OrderCheckReport {
  ok: boolean;
  /** The order id; null when the file is not a readable order. */
  orderId: string | null;
  verdict: OrderVerdict;
  reasons: { code: OrderErrorCode | InputErrorCode; message: string }[];
  accounts: { id: string; tenant: string; tenantType: string; targets: { type: string; value: string }[] }[];
  /**
   * Who approved, as the order's approval block claims it; null when the order carries none (or is malformed).
   * `certificate` is the common name of the certificate the approval carries (null when it cannot be read), shown
   * beside the signed reviewer name because nothing else ties the two; `valid` is false when any reason is about the
   * approval (a signature that does not match, an untrusted certificate).
   */
  approval: { reviewer: string; certificate: string | null; approvedAt: string; valid: boolean } | null;
}

export interface OrderCheckOutcome {
  report: OrderCheckReport;
  /** The error the command ends with (OrderError: exit 3, InputError: exit 2), or null when approved. */
  error: InputError | OrderError | null;
  /** What the custody log records; null when nothing was received (the file could not be read). */
  custody: CustodyEvent | null;
  order: Order | null;
}

/** Checks an order and describes the outcome; only errors that are not about the order (config, directory) throw. */
export async function reportOrderCheck(file: string, ctx: OrderContext): Promise<OrderCheckOutcome> {
  let raw: Buffer;
  try {
    raw = await readOrderBytes(file);
  } catch (error) {
    if (!(error instanceof InputError)) throw error;
    return malformed(error, null);
  }
  let order: Order;
  try {
    order = parseOrderBytes(raw, file, directoryIdentifiers(ctx.directory, ctx.config));
  } catch (error) {
    if (!(error instanceof InputError)) throw error;
    return malformed(error, raw);
  }
  const evaluation = await evaluateOrderOnRecord(order, raw, ctx);
  const approval = order.approval
    ? {
        reviewer: order.approval.reviewer,
        certificate: shownName(approvalCertificateName(order.approval)),
        approvedAt: order.approval.approvedAt,
        valid: !evaluation.reasons.some((reason) => APPROVAL_CODES.has(reason.code)),
      }
    : null;
  const accounts = evaluation.accounts.map(({ account, targets }) => ({
    id: account.id,
    tenant: account.tenant,
    tenantType: account.tenantType,
    targets: targets.map((t) => ({ type: t.type, value: t.value })),
  }));
  if (evaluation.reasons.length > 0) {
    return {
      report: { ok: false, orderId: order.id, verdict: 'REFUSED', reasons: evaluation.reasons.map(shownReason), accounts, approval },
      error: new OrderError(evaluation.reasons),
      custody: refusedOrderEvent(order, evaluation.reasons, raw),
      order,
    };
  }
  return {
    report: { ok: true, orderId: order.id, verdict: 'APPROVED', reasons: [], accounts, approval },
    error: null,
    custody: checkedOrderEvent(order, evaluation.accounts, raw),
    order,
  };

  function malformed(error: InputError, bytes: Buffer | null): OrderCheckOutcome {
    const report: OrderCheckReport = {
      ok: false,
      orderId: null,
      verdict: 'MALFORMED',
      reasons: [shownReason({ code: error.code, message: error.message })],
      accounts: [],
      approval: null,
    };
    if (!bytes) return { report, error, custody: null, order: null };
    return { report, error, custody: malformedOrderEvent(error, bytes), order: null };
  }
}

/**
 * The custody record of an approved order, with the accounts it resolves to and the SHA-256 of its file, which tells
 * two different orders given one id apart. `order check` and `export` both log a check with this. `targetAccounts`
 * is the account each target names, in target order (account ids only, never the identifiers): the first check of a
 * file is what its later checks are held to (earlier-resolution.ts), and with it they name the target that moved.
 */
export function checkedOrderEvent(order: Order, accounts: readonly ResolvedAccount[], raw: Uint8Array): CustodyEvent {
  const accountIds = [...new Set(accounts.map(({ account }) => account.id))];
  const details: OrderCheckedDetails = { process: order.process, targets: order.targets.length, accounts: accountIds, categories: [...order.categories] };
  return { event: 'order.checked', orderId: order.id, details: { ...details, sha256: sha256(raw), targetAccounts: targetAccountIds(order, accounts) } };
}

/**
 * The custody record of an order refused after it passed the schema, logged under its id. `order check` and `export`
 * both log a refusal with this (and `malformedOrderEvent`), so that the log says the same of the same file.
 */
export function refusedOrderEvent(order: Order, reasons: readonly { code: OrderErrorCode }[], raw: Uint8Array): CustodyEvent {
  const details: OrderRefusedDetails = { process: order.process, reasons: reasons.map((r) => r.code), targets: order.targets.length };
  return { event: 'order.refused', orderId: order.id, details: { ...details, sha256: sha256(raw) } };
}

/**
 * The custody record of an order file that was read but fails strict parsing (not UTF-8 or JSON, a BOM, the schema):
 * still a demand received, logged under its SHA-256 and with none of its fields but its process (one of a fixed list),
 * since they are unchecked text that may be anything pasted there (a private key in `id` went into the log once).
 */
export function malformedOrderEvent(error: InputError, bytes: Uint8Array): CustodyEvent {
  const details: OrderRefusedDetails = { process: declaredProcess(bytes), reasons: [error.code], targets: 0 };
  return { event: 'order.refused', orderId: `sha256:${sha256(bytes)}`, details: { ...details, sha256: sha256(bytes) } };
}

const NSL: LegalProcess = 'national-security-letter';

/**
 * The process a malformed order file declares, for the transparency report. A file that names a national-security
 * letter anywhere, in any way a person or an editor might write it (see namesNsl), is taken for one, so that a letter
 * with a typo in a category is counted only in the bands; otherwise the `process` of a file that is at least a JSON
 * object, if it is one of the processes; otherwise null.
 */
function declaredProcess(bytes: Uint8Array): LegalProcess | null {
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
  let declared: unknown = null;
  try {
    const value: unknown = JSON.parse(text.replace(/^\ufeff/, ''));
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) declared = (value as Record<string, unknown>)['process'];
  } catch {
    // Not JSON: only the text itself can say.
  }
  if (declared === NSL || namesNsl(bytes, text)) return NSL;
  return PROCESSES.find((process) => process === declared) ?? null;
}

/**
 * Whether the file names a national-security letter: its words in any case, joined by anything or nothing
 * ("National-Security-Letter", "national security letter", "national_security_letter"), also as JSON escapes and in
 * UTF-16 or UTF-32 (read as Latin-1 with its NUL bytes left out: the text of any ASCII word survives that). When in
 * doubt the file is counted only in the bands, the safe side: only "national-security-letter" in UTF-8 was before,
 * and the same letter saved by an editor as UTF-16 went into the exact figures.
 */
function namesNsl(bytes: Uint8Array, utf8: string): boolean {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const withoutNuls = buffer.includes(0) ? Buffer.from(buffer.filter((byte) => byte !== 0)).toString('latin1') : '';
  return [utf8, withoutNuls].some((text) =>
    text
      .replace(/\\u([0-9a-fA-F]{4})/g, (_escape, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)))
      .normalize('NFKC')
      .toLowerCase()
      .replace(/[^a-z]+/g, '')
      .includes('nationalsecurityletter'),
  );
}

/** Reasons that say the approval itself does not stand (the rest may refuse a validly approved order). */
const APPROVAL_CODES: ReadonlySet<OrderErrorCode> = new Set(['APPROVAL_INVALID', 'APPROVAL_UNTRUSTED']);

/** A certificate's name as reported: it comes from an unverified certificate, so it may be anything pasted there. */
function shownName(name: string | null): string | null {
  return name === null ? null : redactKeyMaterial(name);
}

/** A reason as printed: its text never shows what may be key material (see util/key-material.ts). */
function shownReason<T extends { message: string }>(reason: T): T {
  return { ...reason, message: redactKeyMaterial(reason.message) };
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}
