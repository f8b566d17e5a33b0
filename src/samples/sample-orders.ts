// The sample world's orders: approved ones that export, and one file per reason an order must be refused.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { keyFromPem, signOrder, type ApprovalSigner } from '../order/approval-sign.js';
import type { Category, Order } from '../order/schema.js';
import { CATEGORIES } from '../order/schema.js';
import { ORDER_RANGE, type AccountPerson } from './account-content.js';
import type { SamplePki } from './pki.js';

/** What `scopex order check` should say of a sample order. */
export interface SampleOrderInfo {
  file: string;
  id: string;
  /** 0 accepted, 2 malformed, 3 refused. */
  expectedExitCode: 0 | 2 | 3;
  /** The error code of the (first) refusal, null when accepted. */
  expectedCode: string | null;
  description: string;
}

export interface SampleOrderAccounts {
  /** Two consumer accounts: the warrant names one by email and one by IM handle. */
  warrant: [AccountPerson, AccountPerson];
  /** A consumer account with a phone identifier, for the subpoena and the court order. */
  consumer: AccountPerson;
  enterprise: AccountPerson;
  customerKey: AccountPerson;
}

export interface SampleOrdersOptions {
  folder: string;
  pki: SamplePki;
  /** A PKI the world's config does not trust: its reviewer signs untrusted-reviewer.json. */
  untrustedPki: SamplePki;
  accounts: SampleOrderAccounts;
  /** Issue and expiry dates are relative to this, so the approved orders stay valid for a year. */
  now: Date;
}

const DAY = 24 * 3600 * 1000;
const REVIEWER = 'Jordan Avery, Legal Compliance Reviewer (sample world)';

function iso(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function email(person: AccountPerson): { type: 'email'; value: string } {
  return { type: 'email', value: person.email };
}

function phoneOf(person: AccountPerson): { type: 'phone'; value: string } {
  const phone = person.account.identifiers.find((identifier) => identifier.type === 'phone');
  return phone ? { type: 'phone', value: phone.value } : { type: 'phone', value: '' };
}

export function writeSampleOrders(options: SampleOrdersOptions): SampleOrderInfo[] {
  const { folder, accounts, now } = options;
  const at = (days: number) => iso(now.getTime() + days * DAY);
  const signer: ApprovalSigner = {
    reviewer: REVIEWER,
    certificatePem: options.pki.reviewer.certificatePem,
    key: keyFromPem(Buffer.from(options.pki.reviewer.keyPem, 'utf8')),
  };
  const approvedAt = new Date(now.getTime() - 6 * DAY);
  const sign = (order: Order, by: ApprovalSigner = signer, when: Date = approvedAt) => signOrder(order, by, new Date(Math.floor(when.getTime() / 1000) * 1000));

  let serial = 100;
  const base = (overrides: Partial<Order>): Order => {
    serial += 1;
    return {
      schema: 'scopex.order/v1',
      id: `LE-2026-${String(serial).padStart(6, '0')}`,
      process: 'search-warrant',
      authority: { name: 'Superior Court of King County', jurisdiction: 'US-WA', caseNumber: `26-1-${String(serial * 37).padStart(5, '0')}-5 SEA` },
      issuedAt: at(-7),
      expiresAt: at(365),
      targets: [email(accounts.warrant[0])],
      categories: [...CATEGORIES],
      dateRange: { from: ORDER_RANGE.from, to: ORDER_RANGE.to },
      nondisclosure: null,
      enterpriseRedirect: 'not-applicable',
      ...overrides,
    };
  };
  const metadata: Category[] = ['subscriber', 'mail.metadata', 'storage.metadata', 'im.metadata'];
  const content: Category[] = ['mail.content', 'storage.content', 'im.content'];

  const orders: { file: string; body: unknown; expectedExitCode: 0 | 2 | 3; expectedCode: string | null; description: string }[] = [];
  const add = (file: string, body: Order | Record<string, unknown>, expectedExitCode: 0 | 2 | 3, expectedCode: string | null, description: string) =>
    orders.push({ file, body, expectedExitCode, expectedCode, description });

  add(
    'approved-warrant.json',
    sign(
      base({
        targets: [email(accounts.warrant[0]), { type: 'im-handle', value: accounts.warrant[1].imHandle }],
        nondisclosure: { until: at(180) },
      }),
    ),
    0,
    null,
    'search warrant for two consumer accounts (one by email, one by IM handle), every category, first half of 2026; nondisclosure until a future date (no notice yet)',
  );
  add(
    'approved-subpoena.json',
    sign(
      base({
        process: 'subpoena',
        authority: { name: 'Grand Jury, Western District of Washington', jurisdiction: 'US', caseNumber: 'GJ-2026-0415' },
        targets: [email(accounts.consumer)],
        categories: ['subscriber'],
        // Issued before its nondisclosure ended, as any order is.
        issuedAt: at(-60),
        nondisclosure: { until: at(-30) },
      }),
    ),
    0,
    null,
    'subpoena for the subscriber record of one consumer account; its nondisclosure ended 30 days ago (notice is due)',
  );
  add(
    'approved-court-order.json',
    sign(base({ process: 'court-order', targets: [phoneOf(accounts.consumer)], categories: metadata })),
    0,
    null,
    'court order for subscriber record and mail/storage/IM metadata of one consumer account, named by phone number',
  );
  add(
    'approved-customer-key.json',
    sign(base({ targets: [email(accounts.customerKey)], categories: content, enterpriseRedirect: 'customer-unreachable' })),
    0,
    null,
    'search warrant for content of an account whose tenant holds its own keys: delivered as stored ciphertext',
  );
  add(
    'approved-enterprise-consented.json',
    sign(base({ targets: [email(accounts.enterprise)], enterpriseRedirect: 'customer-consented' })),
    0,
    null,
    'search warrant for an enterprise account; the enterprise customer consented to the provider answering',
  );
  add('unapproved.json', base({}), 3, 'UNAPPROVED', 'a valid order with no approval block');
  const tampered = sign(base({}));
  add(
    'tampered.json',
    { ...tampered, dateRange: { from: tampered.dateRange.from, to: '2026-12-31T23:59:59Z' } },
    3,
    'APPROVAL_INVALID',
    'approved, then its date range was widened: the signature no longer matches',
  );
  add(
    'expired.json',
    sign(base({ issuedAt: at(-400), expiresAt: at(-35) }), signer, new Date(now.getTime() - 399 * DAY)),
    3,
    'EXPIRED',
    'properly signed, but expired 35 days ago',
  );
  add(
    'not-yet-valid.json',
    sign(base({ issuedAt: at(30), expiresAt: at(395) }), signer, new Date(now.getTime() - DAY)),
    3,
    'NOT_YET_VALID',
    'properly signed, but issued 30 days from now',
  );
  add(
    'subpoena-asks-content.json',
    sign(base({ process: 'subpoena', targets: [email(accounts.consumer)], categories: ['subscriber', 'mail.content'] })),
    3,
    'CATEGORY_NOT_PERMITTED',
    'a signed subpoena asking for mail content, which a subpoena cannot compel',
  );
  add(
    'wildcard-target.json',
    sign(base({ targets: [{ type: 'email', value: '*@contoso.example' }] })),
    3,
    'BLANKET_TARGET',
    'a signed warrant naming every address of a domain with a wildcard: no blanket access',
  );
  add(
    'domain-target.json',
    sign(base({ targets: [{ type: 'email', value: 'contoso.example' }] })),
    3,
    'BLANKET_TARGET',
    'a signed warrant naming a whole domain: no blanket access',
  );
  add(
    'unknown-target.json',
    sign(base({ targets: [{ type: 'email', value: 'no.such.user@contoso.example' }] })),
    3,
    'TARGET_UNRESOLVED',
    'a signed warrant naming an address that is in no account',
  );
  add(
    'enterprise-no-redirect.json',
    sign(base({ targets: [email(accounts.enterprise)], enterpriseRedirect: 'not-applicable' })),
    3,
    'ENTERPRISE_REDIRECT',
    'a signed warrant for an enterprise account that was not redirected to the customer first',
  );
  const outsider = options.untrustedPki;
  add(
    'untrusted-reviewer.json',
    sign(base({}), {
      reviewer: 'Someone Else (not a trusted reviewer)',
      certificatePem: outsider.reviewer.certificatePem,
      key: keyFromPem(Buffer.from(outsider.reviewer.keyPem, 'utf8')),
    }),
    3,
    'APPROVAL_UNTRUSTED',
    'correctly signed by a reviewer whose certificate chains to a different, untrusted CA',
  );
  const malformed: Record<string, unknown> = { ...base({}) };
  delete malformed['id'];
  add('malformed.json', malformed, 2, 'SCHEMA_VIOLATION', 'schema violation: the order has no id');

  const infos: SampleOrderInfo[] = [];
  for (const order of orders) {
    writeFileSync(path.join(folder, order.file), `${JSON.stringify(order.body, null, 2)}\n`);
    const id = (order.body as { id?: unknown }).id;
    infos.push({
      file: order.file,
      id: typeof id === 'string' ? id : '',
      expectedExitCode: order.expectedExitCode,
      expectedCode: order.expectedCode,
      description: order.description,
    });
  }
  writeFileSync(path.join(folder, 'README.txt'), ordersReadme(infos));
  return infos;
}

function ordersReadme(infos: SampleOrderInfo[]): string {
  const width = Math.max(...infos.map((info) => info.file.length));
  const lines = [
    'Sample orders of this sample world (scopex.order/v1). Check any of them with:',
    '  scopex order check W/orders/<file> --config W/config.json',
    '',
    'Expected exit codes: 0 accepted, 2 malformed, 3 refused. Issue and expiry dates are relative to the time',
    'the world was generated (issued 7 days before, expiring 365 days after), so the approved ones stay valid a year.',
    '',
    `${'file'.padEnd(width)}  exit  code                    what it is`,
  ];
  for (const info of infos) {
    lines.push(`${info.file.padEnd(width)}  ${String(info.expectedExitCode).padEnd(4)}  ${(info.expectedCode ?? 'ok').padEnd(22)}  ${info.description}`);
  }
  return `${lines.join('\n')}\n`;
}
