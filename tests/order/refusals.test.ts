// Table-driven refusals: each order is well formed but must not be executed (exit 3, with its reason code).
import { afterAll, describe, expect, it } from 'vitest';
import { exitCodeFor, OrderError, type OrderErrorCode } from '../../src/errors.js';
import { checkOrder, evaluateOrder } from '../../src/order/check-order.js';
import type { Order } from '../../src/order/schema.js';
import { approve, baseOrder, makeFixture, writeOrder } from './fixtures.js';

const fx = makeFixture();
afterAll(() => fx.cleanup());

async function refusal(order: Order): Promise<OrderError> {
  const error = await checkOrder(writeOrder(fx.dir, order), fx.ctx).then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(OrderError);
  return error as OrderError;
}

const signed = (overrides: Partial<Order>) => approve(baseOrder(overrides), fx.pki.reviewer);

const cases: { name: string; order: () => Order; code: OrderErrorCode }[] = [
  { name: 'no approval', order: () => baseOrder(), code: 'UNAPPROVED' },
  { name: 'expired', order: () => signed({ expiresAt: '2026-10-31T00:00:00Z' }), code: 'EXPIRED' },
  {
    name: 'not yet valid',
    order: () => signed({ issuedAt: '2026-11-02T00:00:00Z', expiresAt: '2026-12-31T00:00:00Z' }),
    code: 'NOT_YET_VALID',
  },
  { name: 'subpoena asks mail content', order: () => signed({ process: 'subpoena', categories: ['subscriber', 'mail.content'] }), code: 'CATEGORY_NOT_PERMITTED' },
  { name: 'court order asks storage content', order: () => signed({ process: 'court-order', categories: ['storage.content'] }), code: 'CATEGORY_NOT_PERMITTED' },
  { name: 'NSL asks im content', order: () => signed({ process: 'national-security-letter', categories: ['im.content'] }), code: 'CATEGORY_NOT_PERMITTED' },
  { name: 'wildcard email', order: () => signed({ targets: [{ type: 'email', value: '*@contoso.example' }] }), code: 'BLANKET_TARGET' },
  { name: 'domain as email', order: () => signed({ targets: [{ type: 'email', value: '@contoso.example' }] }), code: 'BLANKET_TARGET' },
  { name: 'bare domain as email', order: () => signed({ targets: [{ type: 'email', value: 'contoso.example' }] }), code: 'BLANKET_TARGET' },
  { name: 'domain target', order: () => signed({ targets: [{ type: 'domain', value: 'contoso.example' }] }), code: 'BLANKET_TARGET' },
  { name: 'tenant target', order: () => signed({ targets: [{ type: 'tenant', value: 'fabrikam' }] }), code: 'BLANKET_TARGET' },
  { name: 'regex handle', order: () => signed({ targets: [{ type: 'im-handle', value: 'live:.*' }] }), code: 'BLANKET_TARGET' },
  { name: 'empty target list (there is no blanket access)', order: () => signed({ targets: [] }), code: 'BLANKET_TARGET' },
  { name: 'SQL LIKE phone', order: () => signed({ targets: [{ type: 'phone', value: '+1555%' }] }), code: 'BLANKET_TARGET' },
  { name: 'unknown identifier', order: () => signed({ targets: [{ type: 'email', value: 'nobody@contoso.example' }] }), code: 'TARGET_UNRESOLVED' },
  { name: 'ambiguous identifier', order: () => signed({ targets: [{ type: 'phone', value: '+15550000009' }] }), code: 'TARGET_UNRESOLVED' },
  { name: 'identifier of the wrong type', order: () => signed({ targets: [{ type: 'phone', value: 'alice@contoso.example' }] }), code: 'TARGET_UNRESOLVED' },
  { name: 'enterprise without redirect', order: () => signed({ targets: [{ type: 'email', value: 'bob@fabrikam.example' }] }), code: 'ENTERPRISE_REDIRECT' },
  { name: 'approved in the future', order: () => approve(baseOrder(), fx.pki.reviewer, new Date('2026-11-05T00:00:00Z')), code: 'APPROVAL_INVALID' },
  { name: 'signed by the archive signer', order: () => approve(baseOrder(), fx.pki.signer), code: 'APPROVAL_UNTRUSTED' },
];

describe('order refusals (exit 3)', () => {
  it.each(cases)('$name → $code', async ({ order, code }) => {
    const error = await refusal(order());
    expect(exitCodeFor(error)).toBe(3);
    expect(error.reasons.map((r) => r.code)).toContain(code);
  });

  it('an approved, in-scope order passes and resolves each account once', async () => {
    const checked = await checkOrder(writeOrder(fx.dir, signed({})), fx.ctx);
    expect(checked.accounts).toHaveLength(1);
    expect(checked.accounts[0]!.account.id).toBe('acc-alice');
    expect(checked.accounts[0]!.targets).toHaveLength(2);
  });

  it('names the category and the process', async () => {
    const error = await refusal(signed({ process: 'subpoena', categories: ['subscriber', 'mail.content'] }));
    const reason = error.reasons.find((r) => r.code === 'CATEGORY_NOT_PERMITTED')!;
    expect(reason.message).toContain('mail.content');
    expect(reason.message).toContain('subpoena');
    expect(error.reasons.filter((r) => r.code === 'CATEGORY_NOT_PERMITTED')).toHaveLength(1);
  });

  it('tells the reviewer to redirect enterprise demands to the customer', async () => {
    const error = await refusal(signed({ targets: [{ type: 'email', value: 'bob@fabrikam.example' }] }));
    expect(error.reasons[0]!.message).toContain('redirect the demand to the customer');
  });

  it.each(['customer-unreachable', 'customer-consented'] as const)('enterprise accounts pass with %s', async (enterpriseRedirect) => {
    const checked = await checkOrder(
      writeOrder(fx.dir, signed({ enterpriseRedirect, targets: [{ type: 'email', value: 'bob@fabrikam.example' }] })),
      fx.ctx,
    );
    expect(checked.accounts.map((a) => a.account.id)).toEqual(['acc-bob']);
  });

  it('customer-key tenants are organisations: refused without the redirect, allowed with it (delivered as ciphertext)', async () => {
    const target = { type: 'email' as const, value: 'carol@woodgrove.example' };
    const error = await refusal(signed({ targets: [target] }));
    expect(error.reasons).toEqual([expect.objectContaining({ code: 'ENTERPRISE_REDIRECT', message: expect.stringMatching(/customer-key \(enterprise\) tenant woodgrove/) as unknown })]);
    for (const enterpriseRedirect of ['customer-unreachable', 'customer-consented'] as const) {
      const checked = await checkOrder(writeOrder(fx.dir, signed({ targets: [target], enterpriseRedirect })), fx.ctx);
      expect(checked.accounts.map((a) => a.account.tenantType)).toEqual(['customer-key']);
    }
  });

  it('account-id targets resolve through the directory', async () => {
    const checked = await checkOrder(writeOrder(fx.dir, signed({ targets: [{ type: 'account-id', value: 'acc-dan' }] })), fx.ctx);
    expect(checked.accounts.map((a) => a.account.id)).toEqual(['acc-dan']);
  });

  it('collects every reason, not only the first', async () => {
    const error = await refusal(
      baseOrder({
        process: 'subpoena',
        expiresAt: '2026-10-15T00:00:00Z',
        categories: ['subscriber', 'mail.content', 'im.content'],
        targets: [
          { type: 'email', value: '*@contoso.example' },
          { type: 'email', value: 'nobody@contoso.example' },
          { type: 'email', value: 'bob@fabrikam.example' },
        ],
      }),
    );
    expect(error.reasons.map((r) => r.code).sort()).toEqual(
      [
        'UNAPPROVED',
        'EXPIRED',
        'CATEGORY_NOT_PERMITTED',
        'CATEGORY_NOT_PERMITTED',
        'BLANKET_TARGET',
        'TARGET_UNRESOLVED',
        'ENTERPRISE_REDIRECT',
      ].sort(),
    );
  });

  it('an order object that is not the one parsed from the bytes given is refused', () => {
    const approved = signed({});
    const raw = Buffer.from(JSON.stringify(approved));
    const widened: Order = { ...approved, categories: [...approved.categories, 'im.content'] };
    expect(evaluateOrder(approved, raw, fx.ctx).reasons).toEqual([]);
    expect(evaluateOrder(widened, raw, fx.ctx).reasons.map((r) => r.code)).toEqual(['APPROVAL_INVALID']);
  });

  it('reports the resolved accounts even when refused', () => {
    const order = baseOrder({ targets: [{ type: 'email', value: 'bob@fabrikam.example' }, { type: 'email', value: 'alice@contoso.example' }] });
    const evaluation = evaluateOrder(order, Buffer.from(JSON.stringify(order)), fx.ctx);
    expect(evaluation.accounts.map((a) => a.account.id)).toEqual(['acc-bob', 'acc-alice']);
  });
});
