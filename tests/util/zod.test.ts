// The schemas use zod's mini API, which leaves every message at "Invalid input" unless English is configured: the
// messages users see must still say what was expected, as the classic API's did.
import { describe, expect, it } from 'vitest';
import { configSchema, describeZodError } from '../../src/config.js';
import { orderSchema } from '../../src/order/schema.js';
import { productionRecordSchema } from '../../src/verify/record-checks.js';

function firstMessage(schema: { safeParse(value: unknown): { success: boolean; error?: unknown } }, value: unknown): string {
  const parsed = schema.safeParse(value);
  expect(parsed.success).toBe(false);
  return describeZodError(parsed.error as Parameters<typeof describeZodError>[0]);
}

describe('schema messages', () => {
  it('name the field and what was expected, in English', () => {
    expect(firstMessage(configSchema, { schema: 'scopex.config/v1', organization: 7 })).toBe(
      'field organization: Invalid input: expected string, received number',
    );
    expect(firstMessage(orderSchema, { schema: 'scopex.order/v2' })).toBe('field schema: Invalid input: expected "scopex.order/v1"');
    expect(firstMessage(productionRecordSchema, { path: '' })).toBe('field path: Too small: expected string to have >=1 characters');
  });

  it('keep the messages scopex gives its own checks', () => {
    const order = { schema: 'scopex.order/v1', id: '-bad' };
    expect(firstMessage(orderSchema, order)).toBe('field id: an id of letters, digits, ".", "_" or "-" (at most 64)');
  });

  it('refuse an organization that would not be one line of bag-info.txt for bagit.py, naming the field', () => {
    // bagit.py splits tag files at every splitlines boundary: VT, FF, U+001E, U+0085 and U+2028 broke bag-info.txt.
    const bad = ['Contoso Cloud\u2028Legal', 'Contoso\u0085Legal', 'Contoso\vLegal', 'Contoso\fLegal', 'Contoso\u001eLegal', 'Contoso\u2029Legal', 'Contoso\u0000Legal', 'Contoso\tLegal', 'Contoso\nLegal', '  Contoso', 'Contoso  ', '\tContoso', 'Contoso\u00a0', ' '];
    for (const organization of bad) {
      expect(firstMessage(configSchema, { schema: 'scopex.config/v1', organization })).toMatch(/^field organization: one line for bag-info\.txt/);
    }
    for (const organization of ['Contoso Cloud', 'Contoso  Cloud, Legal (EU)', 'Société Générale', '東京クラウド']) {
      expect(configSchema.shape.organization.safeParse(organization).success).toBe(true);
    }
  });
});
