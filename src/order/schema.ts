// The scopex.order/v1 document (DESIGN.md, "The order"): strict, every field named in its error.
import { safeSegment } from '../seal/safe-names.js';
import { looksLikeKeyMaterial } from '../util/key-material.js';
import * as z from '../util/zod.js';
import { pastTheMillisecond } from '../util/in-range.js';

export const PROCESSES = [
  'subpoena',
  'court-order',
  'search-warrant',
  'national-security-letter',
  'emergency-request',
] as const;
export type LegalProcess = (typeof PROCESSES)[number];

export const CATEGORIES = [
  'subscriber',
  'mail.metadata',
  'mail.content',
  'storage.metadata',
  'storage.content',
  'im.metadata',
  'im.content',
] as const;
export type Category = (typeof CATEGORIES)[number];

/** Identifier types that name exactly one account. */
export const TARGET_TYPES = ['email', 'im-handle', 'account-id', 'phone'] as const;
export type TargetType = (typeof TARGET_TYPES)[number];

/**
 * Target types that name many accounts at once. They parse, so that an order asking for a whole domain or tenant is
 * refused as an order (exit 3, BLANKET_TARGET: "no blanket access") rather than reported as a typo (exit 2).
 */
export const BLANKET_TARGET_TYPES = ['domain', 'tenant'] as const;
export type BlanketTargetType = (typeof BLANKET_TARGET_TYPES)[number];

/** Bounds that keep a hostile order small: no field of a legal order needs more. */
export const ORDER_LIMITS = { text: 4096, certificate: 16384, targets: 1000 } as const;

/** An ISO 8601 instant with an explicit zone (Z or ±hh:mm); zone-less local times are ambiguous in court. */
export const instant = z.iso.datetime({ offset: true });

/**
 * An end of a date range: an instant to the millisecond at most (digits past it must be zeros). Items are compared
 * with it exactly (util/in-range.ts), and a finer end was cut to its millisecond, which let an item stamped half a
 * millisecond before the range start out.
 */
const rangeEnd = instant.check(z.refine((text) => !pastTheMillisecond(text), 'an instant to the millisecond at most (scopex compares times to the millisecond)'));

/**
 * The pattern of `instant` (zod's ISO datetime with an offset), for hand-written checks of many values (index lines,
 * production records), where a schema parse per value costs more than the rest of the check; a test keeps the two the
 * same.
 */
export const INSTANT_PATTERN =
  /^(?:(?:\d\d[2468][048]|\d\d[13579][26]|\d\d0[48]|[02468][048]00|[13579][26]00)-02-29|\d{4}-(?:(?:0[13578]|1[02])-(?:0[1-9]|[12]\d|3[01])|(?:0[469]|11)-(?:0[1-9]|[12]\d|30)|(?:02)-(?:0[1-9]|1\d|2[0-8])))T(?:(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d+)?(?:Z|([+-](?:[01]\d|2[0-3]):[0-5]\d)))$/;

/** What `instant` accepts, as a test. */
export function isInstant(value: unknown): value is string {
  return typeof value === 'string' && INSTANT_PATTERN.test(value);
}

/**
 * Characters that change how the text around them is shown: C0 and C1 controls (a C1 CSI starts a terminal escape as
 * ESC [ does), line and paragraph separators (a fake line), and bidi embeddings, overrides and isolates (text shown in
 * another order than it is stored).
 */
// eslint-disable-next-line no-control-regex
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

/**
 * Characters that show as nothing: every default-ignorable code point of Unicode (soft hyphen, Arabic letter mark,
 * Mongolian vowel separator, zero-width space and joiners, left-to-right and right-to-left marks, word joiner and
 * invisible operators, zero-width no-break space, variation selectors, tag characters, Hangul fillers), and the
 * blank Braille pattern, which shows as a space without being one. Names may need joiners (some scripts write with
 * them); an identifier never does, and one holding them looks like another identifier on the screen.
 */
const INVISIBLE_CHARACTERS = /[\p{Default_Ignorable_Code_Point}\u2800]/u;

/**
 * A name shown to people (the reviewer, the authority): non-blank, kept exactly as written (no trimming: the signed
 * bytes and the parsed order must agree), and without control characters, so that printing it cannot move the cursor,
 * colour the terminal or start a fake line. Bidi overrides are refused for the same reason.
 */
export const displayText = z.string().check(
  z.maxLength(ORDER_LIMITS.text),
  z.refine((text) => text.trim().length > 0, 'a non-blank string'),
  z.refine((text) => !CONTROL_CHARACTERS.test(text), 'text without control characters'),
  z.refine((text) => !looksLikeKeyMaterial(text), 'text that is not key material (the value is not shown)'),
);

/**
 * An exact identifier: no surrounding blanks, no control characters and nothing invisible, so that what is resolved
 * is what was signed, and what is printed (a refusal quotes it) is what a person reads.
 */
const identifierValue = z.string().check(
  z.minLength(1),
  z.maxLength(ORDER_LIMITS.text),
  z.refine((text) => text.trim() === text, 'an identifier without leading or trailing blanks'),
  z.refine(
    (text) => !CONTROL_CHARACTERS.test(text) && !INVISIBLE_CHARACTERS.test(text),
    'an identifier without control, bidi or invisible characters (the value is not shown)',
  ),
);

/**
 * Says whether a target that looks like key material (a GUID written without dashes, a hashed alias: 32 hex digits
 * or more) is an identifier after all: one the account directory holds. Without it such a value is refused.
 */
export type KnownIdentifier = (target: { type: TargetType; value: string }) => boolean;

const IDENTIFIER_IS_KEY_MATERIAL = 'an identifier that is not key material, or one the account directory holds that is no key scopex holds (the value is not shown)';

/**
 * A target. Its value must not look like key material, unless `known` says it names an account: a key pasted there
 * would otherwise reach refusals, --json output and the custody log, but an account's own identifier is no secret.
 */
function targetSchemaFor(known: KnownIdentifier | undefined) {
  return z
    .strictObject({ type: z.enum([...TARGET_TYPES, ...BLANKET_TARGET_TYPES]), value: identifierValue })
    .check(
      z.refine(
        (target) => !looksLikeKeyMaterial(target.value) || (known !== undefined && isTargetType(target.type) && known({ type: target.type, value: target.value })),
        { message: IDENTIFIER_IS_KEY_MATERIAL, path: ['value'] },
      ),
    );
}

export const targetSchema = targetSchemaFor(undefined);

function isTargetType(type: string): type is TargetType {
  return (TARGET_TYPES as readonly string[]).includes(type);
}

export const approvalSchema = z.strictObject({
  reviewer: displayText,
  approvedAt: instant,
  certificate: z.string().check(z.minLength(1), z.maxLength(ORDER_LIMITS.certificate)),
  signature: z.string().check(z.minLength(1), z.maxLength(ORDER_LIMITS.text)),
});

/**
 * The order schema; `known` lets a target value that looks like key material through when it names an account (see
 * KnownIdentifier). The same checks otherwise, field for field.
 */
export function orderSchemaFor(known: KnownIdentifier | undefined): typeof orderSchema {
  return known === undefined ? orderSchema : buildOrderSchema(targetSchemaFor(known));
}

export const orderSchema = buildOrderSchema(targetSchema);

function buildOrderSchema(target: ReturnType<typeof targetSchemaFor>) {
  return z
  .strictObject({
    schema: z.literal('scopex.order/v1'),
    id: z.string().check(
      z.regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'an id of letters, digits, ".", "_" or "-" (at most 64)'),
      // The id is shown and logged wherever the order goes (verdict, archive name, custody log): a key pasted there
      // (64 hex digits fit the pattern) would go with it. Such an order is malformed, and its id is never repeated.
      z.refine((id) => !looksLikeKeyMaterial(id), 'an id that is not key material (the value is not shown; a UUID is taken with its dashes)'),
      // The id names the archive and its top folder: one that is no file name everywhere passed `order check` and
      // approval, and export then refused it.
      z.refine((id) => safeSegment(id) === id, 'an id that names a file on every system (no device name such as "con", no final dot)'),
    ),
    process: z.enum(PROCESSES),
    authority: z.strictObject({
      name: displayText,
      jurisdiction: displayText,
      caseNumber: displayText,
    }),
    issuedAt: instant,
    expiresAt: instant,
    // An empty list parses: it asks for no one in particular, which is blanket access, refused as an order (exit 3,
    // BLANKET_TARGET) as a domain target is (targets.ts), not reported as a typo.
    targets: z.array(target).check(z.maxLength(ORDER_LIMITS.targets)),
    categories: z.array(z.enum(CATEGORIES)).check(z.minLength(1, 'at least one category')),
    dateRange: z.strictObject({ from: rangeEnd, to: rangeEnd }),
    nondisclosure: z.optional(z.nullable(z.strictObject({ until: instant }))),
    enterpriseRedirect: z.enum(['not-applicable', 'customer-unreachable', 'customer-consented']),
    approval: z.optional(approvalSchema),
  })
  .check(
    z.superRefine((order, ctx) => {
      if (Date.parse(order.dateRange.from) > Date.parse(order.dateRange.to)) {
        ctx.addIssue({ code: 'custom', path: ['dateRange'], message: 'dateRange.from must not be after dateRange.to' });
      }
      if (Date.parse(order.issuedAt) > Date.parse(order.expiresAt)) {
        ctx.addIssue({ code: 'custom', path: ['expiresAt'], message: 'expiresAt must not be before issuedAt' });
      }
      // Times no legal order can have: a typo, not a demand (an issue date before 1970 would make an order valid for
      // decades; a gag that ends before the order was issued, or a date range wholly after the order expired, asks for
      // nothing its execution could deliver).
      if (Date.parse(order.issuedAt) < 0) {
        ctx.addIssue({ code: 'custom', path: ['issuedAt'], message: 'issuedAt must not be before 1970' });
      }
      if (order.nondisclosure && Date.parse(order.nondisclosure.until) < Date.parse(order.issuedAt)) {
        ctx.addIssue({ code: 'custom', path: ['nondisclosure', 'until'], message: 'nondisclosure.until must not be before issuedAt' });
      }
      if (Date.parse(order.dateRange.from) > Date.parse(order.expiresAt)) {
        ctx.addIssue({ code: 'custom', path: ['dateRange', 'from'], message: 'dateRange.from must not be after expiresAt (no item can be dated after the order expires)' });
      }
      if (new Set(order.categories).size !== order.categories.length) {
        ctx.addIssue({ code: 'custom', path: ['categories'], message: 'categories must not repeat' });
      }
      // Named by position, not by value: this check runs even when a value was refused for what it holds.
      const firstIndex = new Map<string, number>();
      for (const [index, target] of order.targets.entries()) {
        const key = `${target.type}\n${target.value}`;
        const first = firstIndex.get(key);
        if (first !== undefined) {
          ctx.addIssue({ code: 'custom', path: ['targets', index], message: `the same type and value as targets.${first}; list each target once` });
        } else {
          firstIndex.set(key, index);
        }
      }
    }),
  );
}

export type Order = z.infer<typeof orderSchema>;
export type Approval = z.infer<typeof approvalSchema>;
/** A target as the order lists it: an exact identifier, or a blanket one that is always refused. */
export type OrderTarget = Order['targets'][number];
/** An exact identifier target: the only kind that resolves to an account. */
export interface Target {
  type: TargetType;
  value: string;
}

export function isExactTargetType(type: OrderTarget['type']): type is TargetType {
  return (TARGET_TYPES as readonly string[]).includes(type);
}

/** A category's service and whether it is content or metadata. */
export function categoryParts(category: Category): { service: 'mail' | 'storage' | 'im' | 'subscriber'; part: 'content' | 'metadata' | 'record' } {
  switch (category) {
    case 'subscriber':
      return { service: 'subscriber', part: 'record' };
    case 'mail.metadata':
      return { service: 'mail', part: 'metadata' };
    case 'mail.content':
      return { service: 'mail', part: 'content' };
    case 'storage.metadata':
      return { service: 'storage', part: 'metadata' };
    case 'storage.content':
      return { service: 'storage', part: 'content' };
    case 'im.metadata':
      return { service: 'im', part: 'metadata' };
    case 'im.content':
      return { service: 'im', part: 'content' };
    default: {
      const unreachable: never = category;
      throw new Error(`unknown category ${String(unreachable)}`);
    }
  }
}
