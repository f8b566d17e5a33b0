// Signed orders for the store fixture, and small readers of what an export produced (custody log, archive listing).
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { keyFromPem, signOrder } from '../../src/order/approval-sign.js';
import type { Category, Order } from '../../src/order/schema.js';
import { FIXTURE_RANGE_ISO, type StoreFixture } from '../helpers/store-fixture.js';
import type { ProductionRecord } from '../../src/pipeline/production-record.js';
export type { ProductionRecord };

const DAY = 86_400_000;
let serial = 0;

export type OrderOverrides = Partial<Omit<Order, 'approval'>>;

/** Writes an order approved by the fixture's reviewer into fx.root/orders and returns its file and id. */
export function writeSignedOrder(fx: StoreFixture, overrides: OrderOverrides = {}, options: { approve?: boolean } = {}): { file: string; id: string } {
  serial += 1;
  const now = Date.now();
  const iso = (ms: number) => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(/\.000Z$/, 'Z');
  const order: Order = {
    schema: 'scopex.order/v1',
    id: `LE-TEST-${process.pid}-${serial}`,
    process: 'search-warrant',
    authority: { name: 'Test Court', jurisdiction: 'US', caseNumber: `T-${serial}` },
    issuedAt: iso(now - 7 * DAY),
    expiresAt: iso(now + 365 * DAY),
    targets: [{ type: 'email', value: 'alice@contoso.example' }],
    categories: ['subscriber', 'mail.metadata', 'mail.content', 'storage.metadata', 'storage.content', 'im.metadata', 'im.content'],
    dateRange: { from: FIXTURE_RANGE_ISO.from, to: FIXTURE_RANGE_ISO.to },
    nondisclosure: null,
    enterpriseRedirect: 'not-applicable',
    ...overrides,
  };
  const pki = fx.pki!;
  const body =
    options.approve === false
      ? order
      : signOrder(order, { reviewer: 'Test Reviewer', certificatePem: pki.reviewer.certificatePem, key: keyFromPem(Buffer.from(pki.reviewer.keyPem)) }, new Date(now - DAY));
  const dir = path.join(fx.root, 'orders');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${order.id}.json`);
  writeFileSync(file, `${JSON.stringify(body, null, 2)}\n`);
  return { file, id: order.id };
}

export const ALL_CATEGORIES: Category[] = ['subscriber', 'mail.metadata', 'mail.content', 'storage.metadata', 'storage.content', 'im.metadata', 'im.content'];

export interface CustodyLine {
  seq: number;
  event: string;
  orderId: string;
  details: Record<string, unknown>;
}

export function readCustody(file: string): CustodyLine[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as CustodyLine);
}

/** Unzips an archive with the `unzip` CLI into a fresh folder and returns it. */
export function unzipTo(archive: string, folder: string): string {
  mkdirSync(folder, { recursive: true });
  execFileSync('unzip', ['-q', '-o', archive, '-d', folder]);
  return folder;
}

