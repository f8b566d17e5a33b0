// The scopex.order/v1 document (DESIGN.md, "The order"): strict, every field named in its error.
import { z } from 'zod';

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

export const TARGET_TYPES = ['email', 'im-handle', 'account-id', 'phone'] as const;
export type TargetType = (typeof TARGET_TYPES)[number];

/** An ISO 8601 instant with an explicit zone (Z or ±hh:mm); zone-less local times are ambiguous in court. */
export const instant = z.iso.datetime({ offset: true });

const nonEmpty = z.string().trim().min(1);

export const approvalSchema = z.strictObject({
  reviewer: nonEmpty,
  approvedAt: instant,
  certificate: nonEmpty,
  signature: nonEmpty,
});

export const orderSchema = z
  .strictObject({
    schema: z.literal('scopex.order/v1'),
    id: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'an id of letters, digits, ".", "_" or "-" (at most 64)'),
    process: z.enum(PROCESSES),
    authority: z.strictObject({
      name: nonEmpty,
      jurisdiction: nonEmpty,
      caseNumber: nonEmpty,
    }),
    issuedAt: instant,
    expiresAt: instant,
    targets: z
      .array(z.strictObject({ type: z.enum(TARGET_TYPES), value: nonEmpty }))
      .min(1, 'at least one target: there is no blanket access'),
    categories: z.array(z.enum(CATEGORIES)).min(1, 'at least one category'),
    dateRange: z.strictObject({ from: instant, to: instant }),
    nondisclosure: z.strictObject({ until: instant }).nullable().optional(),
    enterpriseRedirect: z.enum(['not-applicable', 'customer-unreachable', 'customer-consented']),
    approval: approvalSchema.optional(),
  })
  .superRefine((order, ctx) => {
    if (Date.parse(order.dateRange.from) > Date.parse(order.dateRange.to)) {
      ctx.addIssue({ code: 'custom', path: ['dateRange'], message: 'dateRange.from must not be after dateRange.to' });
    }
    if (Date.parse(order.issuedAt) > Date.parse(order.expiresAt)) {
      ctx.addIssue({ code: 'custom', path: ['expiresAt'], message: 'expiresAt must not be before issuedAt' });
    }
    if (new Set(order.categories).size !== order.categories.length) {
      ctx.addIssue({ code: 'custom', path: ['categories'], message: 'categories must not repeat' });
    }
  });

export type Order = z.infer<typeof orderSchema>;
export type Approval = z.infer<typeof approvalSchema>;
export type Target = Order['targets'][number];

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
