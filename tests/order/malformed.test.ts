// Malformed orders are input errors (exit 2) that name the field or position, never refusals or crashes.
import { afterAll, describe, expect, it } from 'vitest';
import { exitCodeFor, InputError } from '../../src/errors.js';
import { readOrderFile } from '../../src/order/read-order.js';
import { baseOrder, makeFixture, writeOrder } from './fixtures.js';
import { generateSamplePki } from '../../src/samples/pki.js';

// Malformed input never reaches the approval, so a throwaway PKI is enough; generate it once.
const fx = makeFixture(generateSamplePki());
afterAll(() => fx.cleanup());

const json = (value: unknown) => JSON.stringify(value, null, 2);
const text = json(baseOrder());
const withField = (patch: (o: Record<string, any>) => void) => {
  const o = JSON.parse(text) as Record<string, any>;
  patch(o);
  return json(o);
};

const cases: { name: string; content: string | Buffer; code: string; mentions?: string }[] = [
  { name: 'unknown top-level field', content: withField((o) => (o['scope'] = 'everything')), code: 'SCHEMA_VIOLATION', mentions: 'scope' },
  { name: 'unknown nested field', content: withField((o) => (o['authority'].judge = 'x')), code: 'SCHEMA_VIOLATION', mentions: 'judge' },
  { name: '__proto__ key', content: text.replace('"id":', '"__proto__": {"admin": true},\n  "id":'), code: 'JSON_MALFORMED', mentions: '__proto__' },
  { name: 'nested __proto__ key', content: text.replace('"name":', '"__proto__": 1, "name":'), code: 'JSON_MALFORMED', mentions: 'authority' },
  { name: 'constructor key', content: text.replace('"id":', '"constructor": {"prototype": {}},\n  "id":'), code: 'JSON_MALFORMED', mentions: 'constructor' },
  { name: 'prototype key in a target', content: text.replace('"type": "email"', '"prototype": 1, "type": "email"'), code: 'JSON_MALFORMED', mentions: 'targets.0' },
  { name: 'UTF-8 BOM', content: Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text)]), code: 'JSON_MALFORMED' },
  { name: 'UTF-16 BOM', content: Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]), code: 'JSON_MALFORMED' },
  { name: 'invalid UTF-8', content: Buffer.concat([Buffer.from(text.slice(0, 20)), Buffer.from([0xc3, 0x28]), Buffer.from(text.slice(20))]), code: 'JSON_MALFORMED' },
  { name: 'trailing garbage', content: `${text}\n{"id":"other"}`, code: 'JSON_MALFORMED' },
  { name: 'trailing comma garbage', content: `${text},`, code: 'JSON_MALFORMED' },
  { name: 'duplicate top-level key', content: text.replace('"categories":', '"categories": ["subscriber"],\n  "categories":'), code: 'JSON_MALFORMED', mentions: 'categories' },
  { name: 'duplicate nested key', content: text.replace('"from":', '"to": "2030-01-01T00:00:00Z", "from":'), code: 'JSON_MALFORMED', mentions: 'dateRange.to' },
  { name: 'duplicate key with escaped spelling', content: text.replace('"id":', '"\\u0069d": "X-1",\n  "id":'), code: 'JSON_MALFORMED', mentions: 'id' },
  { name: 'lone surrogate', content: text.replace('26-cr-0042', '26-cr-\\ud800'), code: 'JSON_MALFORMED' },
  { name: 'zone-less time', content: withField((o) => (o['issuedAt'] = '2026-10-01T00:00:00')), code: 'SCHEMA_VIOLATION', mentions: 'issuedAt' },
  { name: 'non-ISO time', content: withField((o) => (o['expiresAt'] = 'Dec 31, 2026')), code: 'SCHEMA_VIOLATION', mentions: 'expiresAt' },
  { name: 'impossible date', content: withField((o) => (o['dateRange'].from = '2026-02-30T00:00:00Z')), code: 'SCHEMA_VIOLATION', mentions: 'dateRange.from' },
  { name: 'reversed date range', content: withField((o) => (o['dateRange'] = { from: '2026-06-30T00:00:00Z', to: '2026-01-01T00:00:00Z' })), code: 'SCHEMA_VIOLATION', mentions: 'dateRange' },
  { name: 'expiry before issue', content: withField((o) => (o['expiresAt'] = '2026-09-01T00:00:00Z')), code: 'SCHEMA_VIOLATION', mentions: 'expiresAt' },
  { name: 'issued in year 0000', content: withField((o) => (o['issuedAt'] = '0000-01-01T00:00:00Z')), code: 'SCHEMA_VIOLATION', mentions: 'issuedAt must not be before 1970' },
  { name: 'non-disclosure ending before issue', content: withField((o) => (o['nondisclosure'] = { until: '2001-01-01T00:00:00Z' })), code: 'SCHEMA_VIOLATION', mentions: 'nondisclosure.until must not be before issuedAt' },
  { name: 'date range wholly after expiry', content: withField((o) => (o['dateRange'] = { from: '2040-01-01T00:00:00Z', to: '2041-01-01T00:00:00Z' })), code: 'SCHEMA_VIOLATION', mentions: 'dateRange.from must not be after expiresAt' },
  { name: 'empty categories', content: withField((o) => (o['categories'] = [])), code: 'SCHEMA_VIOLATION', mentions: 'categories' },
  { name: 'unknown category', content: withField((o) => (o['categories'] = ['mail.*'])), code: 'SCHEMA_VIOLATION', mentions: 'categories' },
  { name: 'repeated category', content: withField((o) => (o['categories'] = ['subscriber', 'subscriber'])), code: 'SCHEMA_VIOLATION', mentions: 'categories' },
  { name: 'bad process', content: withField((o) => (o['process'] = 'letter')), code: 'SCHEMA_VIOLATION', mentions: 'process' },
  { name: 'unknown target type', content: withField((o) => (o['targets'] = [{ type: 'ip', value: '10.0.0.1' }])), code: 'SCHEMA_VIOLATION', mentions: 'targets.0.type' },
  { name: 'target with blanks around it', content: withField((o) => (o['targets'] = [{ type: 'email', value: ' alice@contoso.example' }])), code: 'SCHEMA_VIOLATION', mentions: 'targets.0.value' },
  { name: 'repeated target', content: withField((o) => o['targets'].push(o['targets'][0])), code: 'SCHEMA_VIOLATION', mentions: 'targets.2' },
  { name: 'wrong schema', content: withField((o) => (o['schema'] = 'scopex.order/v2')), code: 'SCHEMA_VIOLATION', mentions: 'schema' },
  { name: 'missing field', content: withField((o) => delete o['enterpriseRedirect']), code: 'SCHEMA_VIOLATION', mentions: 'enterpriseRedirect' },
  { name: 'a raw key as the id (64 hex digits fit the id pattern)', content: withField((o) => (o['id'] = '5ca1ab1ec0ffee00d15ea5edfeedface0ddba11cafebabe0badc0de5ca1ab1e0')), code: 'SCHEMA_VIOLATION', mentions: 'field id' },
  { name: 'a base64url key as the id', content: withField((o) => (o['id'] = 'Xq3_9zLmP0aB7cD-eF1gH2iJ3kL4mN5oP6qR7sT8uV9')), code: 'SCHEMA_VIOLATION', mentions: 'field id' },
  ...[
    ['a right-to-left override', 'alice\u202etanaka@contoso.example'],
    ['a left-to-right isolate', 'alice\u2066@contoso.example'],
    ['a C1 control (CSI)', 'bob\u009b31m@contoso.example'],
    ['a line separator', 'alice\u2028@contoso.example'],
    ['a paragraph separator', 'alice\u2029@contoso.example'],
    ['a zero-width space', 'sanjay\u200b.okafor@contoso.example'],
    ['a zero-width joiner', 'ali\u200dce@contoso.example'],
    ['a right-to-left mark', 'alice\u200f@contoso.example'],
    ['a word joiner', 'ali\u2060ce@contoso.example'],
    ['a zero-width no-break space', 'ali\ufeffce@contoso.example'],
    ['a soft hyphen', 'ali\u00adce@contoso.example'],
    // Default-ignorable too, and a blank that is no space: an order named an address that looked like a real one.
    ['a variation selector at its end', 'sanjay.okafor@contoso.example\ufe0f'],
    ['a tag space at its end', 'sanjay.okafor@contoso.example\u{e0020}'],
    ['a Hangul filler at its end', 'sanjay.okafor@contoso.example\u3164'],
    ['a halfwidth Hangul filler', 'ali\uffa0ce@contoso.example'],
    ['a combining grapheme joiner', 'ali\u034fce@contoso.example'],
    ['a blank Braille pattern at its end', 'sanjay.okafor@contoso.example\u2800'],
  ].map(([what, value]) => ({
    name: `a target identifier with ${what}`,
    content: withField((o) => (o['targets'] = [{ type: 'email', value }])),
    code: 'SCHEMA_VIOLATION',
    mentions: 'targets.0.value',
  })),
  { name: 'hostile id', content: withField((o) => (o['id'] = '../../etc/passwd')), code: 'SCHEMA_VIOLATION', mentions: 'id' },
  // The id names the archive: export refused these after order check and approval had passed them.
  ...['con', 'COM1.2026-001', 'LE-TRAIL.'].map((id) => ({ name: `an id that names no file on Windows (${id})`, content: withField((o) => (o['id'] = id)), code: 'SCHEMA_VIOLATION', mentions: 'field id: an id that names a file on every system' })),
  { name: 'blank authority name', content: withField((o) => (o['authority'].name = '   ')), code: 'SCHEMA_VIOLATION', mentions: 'authority.name' },
  { name: 'top-level array', content: '[]', code: 'SCHEMA_VIOLATION' },
  { name: 'empty file', content: '', code: 'JSON_MALFORMED' },
  { name: 'deep nesting', content: `{"schema":${'['.repeat(5000)}${']'.repeat(5000)}}`, code: 'JSON_MALFORMED' },
  { name: 'approval without signature', content: withField((o) => (o['approval'] = { reviewer: 'r', approvedAt: '2026-10-02T00:00:00Z', certificate: 'x' })), code: 'SCHEMA_VIOLATION', mentions: 'approval.signature' },
];

describe('malformed orders (exit 2)', () => {
  it.each(cases)('$name', async ({ content, code, mentions }) => {
    const file = writeOrder(fx.dir, content);
    const error = await readOrderFile(file).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(InputError);
    expect(exitCodeFor(error)).toBe(2);
    expect((error as InputError).code).toBe(code);
    expect((error as InputError).message).toContain(file);
    if (mentions) expect((error as InputError).message).toContain(mentions);
  });

  it('never quotes a refused identifier, also when it is repeated', async () => {
    const value = 'alice\u202etanaka@contoso.example';
    const file = writeOrder(fx.dir, withField((o) => (o['targets'] = [{ type: 'email', value }, { type: 'email', value }])));
    const error = (await readOrderFile(file).catch((e: unknown) => e)) as InputError;
    expect(error.message).toContain('targets.1');
    expect(error.message).not.toContain('\u202e');
    expect(error.message).not.toContain('tanaka');
  });

  it('takes a target value that looks like key material only when told it names an account (the directory, or verify)', async () => {
    const guid = '0123456789abcdef0123456789abcdef';
    const file = writeOrder(fx.dir, withField((o) => (o['targets'] = [{ type: 'account-id', value: guid }, { type: 'domain', value: guid }])));
    const asked: string[] = [];
    const onlyAccounts = (target: { type: string; value: string }) => {
      asked.push(target.type);
      return target.type === 'account-id' && target.value === guid;
    };
    for (const known of [undefined, () => false]) {
      const error = (await readOrderFile(file, known).catch((e: unknown) => e)) as InputError;
      expect(error.message).toMatch(/field targets\.0\.value: an identifier that is not key material, or one the account directory holds that is no key scopex holds \(the value is not shown\)/);
      expect(error.message).not.toContain(guid);
    }
    // A blanket target is never an account's identifier, and is not asked about.
    const blanket = (await readOrderFile(file, onlyAccounts).catch((e: unknown) => e)) as InputError;
    expect(blanket.message).toMatch(/^order .*: field targets\.1\.value: an identifier that is not key material/);
    expect(asked).toEqual(['account-id']);
    const one = writeOrder(fx.dir, withField((o) => (o['targets'] = [{ type: 'account-id', value: guid }])));
    expect((await readOrderFile(one, onlyAccounts)).order.targets).toEqual([{ type: 'account-id', value: guid }]);
  });

  it('an unreadable file is exit 2', async () => {
    const error = await readOrderFile(`${fx.dir}/missing.json`).catch((e: unknown) => e);
    expect(exitCodeFor(error)).toBe(2);
    expect((error as InputError).code).toBe('FILE_UNREADABLE');
  });

  it('a folder is exit 2', async () => {
    const error = await readOrderFile(fx.dir).catch((e: unknown) => e);
    expect((error as InputError).code).toBe('FILE_UNREADABLE');
  });

  it('keeps the bytes exactly as received', async () => {
    const content = `${text.replace(/\n/g, '\r\n')}\r\n`;
    const { raw, order } = await readOrderFile(writeOrder(fx.dir, content));
    expect(raw.equals(Buffer.from(content))).toBe(true);
    expect(order.id).toBe('LE-2026-000123');
  });

  it('accepts explicit offsets and fractional seconds', async () => {
    const { order } = await readOrderFile(writeOrder(fx.dir, withField((o) => (o['issuedAt'] = '2026-10-01T02:00:00.250+02:00'))));
    expect(Date.parse(order.issuedAt)).toBe(Date.parse('2026-10-01T00:00:00.250Z'));
  });

  it('does not pollute prototypes even when refused', async () => {
    await readOrderFile(writeOrder(fx.dir, '{"__proto__": {"polluted": true}}')).catch(() => undefined);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });
});
