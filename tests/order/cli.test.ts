// The order commands through yargs, in process: verdict output, exactly one JSON document, custody records.
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { ACCOUNTS, approve, baseOrder, makeFixture, runOrderCommand, writeOrder } from './fixtures.js';

const fx = makeFixture();
afterAll(() => fx.cleanup());
afterEach(() => vi.restoreAllMocks());

// A config on disk, as the CLI loads it; the orders are dated around the real clock.
const root = fx.dir;
copyFileSync(path.join(import.meta.dirname, '../../config/legal-process.json'), path.join(root, 'legal-process.json'));
writeFileSync(
  path.join(root, 'config.json'),
  JSON.stringify({
    schema: 'scopex.config/v1',
    organization: 'Test',
    legalProcess: 'legal-process.json',
    stores: 'stores',
    keys: { masterKey: 'master.key', dataKeys: 'data-keys.json' },
    reviewerCa: ['ca.cert.pem'],
    signer: { certificate: 'signer.cert.pem', key: 'signer.key.pem' },
    custodyLog: 'custody.jsonl',
  }),
);
mkdirSync(path.join(root, 'stores'), { recursive: true });
// An account named by a GUID without dashes, and identifiers of 32 hex digits: what a key pasted there would look like.
const GUID = '0123456789abcdef0123456789abcdef';
const HEX_EMAIL = 'd41d8cd98f00b204e9800998ecf8427e@contoso.example';
const HEX_HANDLE = 'live:.cid.5c7e0d9b3a1f2e4d6c8b0a9f1e3d5c7b';
const hexAccount = { id: GUID, tenant: 'consumer', tenantType: 'consumer', identifiers: [{ type: 'email', value: HEX_EMAIL }, { type: 'im-handle', value: HEX_HANDLE }] };
writeFileSync(path.join(root, 'stores', 'directory.json'), JSON.stringify({ schema: 'scopex.directory/v1', accounts: [...ACCOUNTS, hexAccount] }));
writeFileSync(path.join(root, 'reviewer.key.pem'), fx.pki.reviewer.keyPem, { mode: 0o600 });
writeFileSync(path.join(root, 'reviewer.cert.pem'), fx.pki.reviewer.certificatePem);

const now = Date.now();
const current = { issuedAt: new Date(now - 86_400_000).toISOString(), expiresAt: new Date(now + 86_400_000).toISOString() };
const approvedAt = new Date(now - 3_600_000);

const run = (argv: string[]) => runOrderCommand(argv, path.join(root, 'config.json'));

const custody = () =>
  readFileSync(path.join(root, 'custody.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as { event: string; orderId: string; details: Record<string, unknown> });

describe('scopex order check', () => {
  it('approved: exit 0, one JSON document, an order.checked record', async () => {
    const file = writeOrder(root, approve(baseOrder(current), fx.pki.reviewer, approvedAt));
    const { stdout, exit } = await run(['order', 'check', file, '--json']);
    expect(exit).toBe(0);
    const result = JSON.parse(stdout);
    expect(result).toMatchObject({ ok: true, orderId: 'LE-2026-000123', verdict: 'APPROVED', reasons: [] });
    expect(result.accounts.map((a: { id: string }) => a.id)).toEqual(['acc-alice']);
    expect(custody().at(-1)).toMatchObject({ event: 'order.checked', orderId: 'LE-2026-000123', details: { accounts: ['acc-alice'] } });
  });

  it('refused: exit 3, every reason in one JSON document, an order.refused record', async () => {
    const file = writeOrder(root, baseOrder({ ...current, process: 'subpoena' }));
    const { stdout, exit } = await run(['order', 'check', file, '--json']);
    expect(exit).toBe(3);
    const result = JSON.parse(stdout);
    expect(result.verdict).toBe('REFUSED');
    expect(result.reasons.map((r: { code: string }) => r.code).sort()).toEqual(['CATEGORY_NOT_PERMITTED', 'CATEGORY_NOT_PERMITTED', 'UNAPPROVED']);
    expect(custody().at(-1)).toMatchObject({ event: 'order.refused', details: { process: 'subpoena' } });
  });

  it('malformed: exit 2, verdict MALFORMED, logged under the document hash', async () => {
    const file = writeOrder(root, '{"schema":"scopex.order/v1","schema":"x"}');
    const { stdout, exit } = await run(['order', 'check', file, '--json']);
    expect(exit).toBe(2);
    expect(JSON.parse(stdout)).toMatchObject({ ok: false, orderId: null, verdict: 'MALFORMED' });
    expect(custody().at(-1)!.orderId).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(custody().at(-1)!.details).toMatchObject({ process: null, reasons: ['JSON_MALFORMED'] });
  });

  // Round 7 custody C1: a letter with a typo was logged with process null and counted in the exact figures.
  it('malformed: the process it declares is logged, and a file naming a national-security letter anywhere is one', async () => {
    const cases: [unknown, string | null][] = [
      [{ ...baseOrder(current), process: 'national-security-letter', categories: ['bogus'] }, 'national-security-letter'],
      [{ ...baseOrder(current), process: 'subpoena', categories: ['bogus'] }, 'subpoena'],
      [{ ...baseOrder(current), process: 'subpoena', note: 'national-security-letter' }, 'national-security-letter'],
      [{ ...baseOrder(current), process: 'grand-jury', categories: ['bogus'] }, null],
      ['{"process":"national-security-letter",', 'national-security-letter'],
      // Round 11 custody D1: the same letter saved by an editor as UTF-16, or its process written another way.
      [Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(JSON.stringify({ ...baseOrder(current), process: 'national-security-letter' }), 'utf16le')]), 'national-security-letter'],
      [Buffer.from(JSON.stringify({ ...baseOrder(current), process: 'national-security-letter' }), 'utf16le'), 'national-security-letter'],
      [{ ...baseOrder(current), process: 'National-Security-Letter' }, 'national-security-letter'],
      [{ ...baseOrder(current), process: 'national security letter' }, 'national-security-letter'],
      ['{"process":"national\\u002dsecurity_letter",', 'national-security-letter'],
    ];
    for (const [content, process] of cases) {
      const { exit } = await run(['order', 'check', writeOrder(root, content)]);
      expect(exit).toBe(2);
      expect(custody().at(-1)).toMatchObject({ event: 'order.refused', orderId: expect.stringMatching(/^sha256:/), details: { process } });
    }
  });

  it('human output names the verdict and each reason code', async () => {
    const file = writeOrder(root, baseOrder(current));
    const { stdout, exit } = await run(['order', 'check', file]);
    expect(exit).toBe(3);
    expect(stdout).toContain('REFUSED');
    expect(stdout).toContain('UNAPPROVED');
  });
});

describe('scopex order check shows who approved', () => {
  it('approved: the signed reviewer name beside the certificate it came with, and when (text and --json)', async () => {
    const file = writeOrder(root, approve(baseOrder(current), fx.pki.reviewer, approvedAt, 'Someone Else'));
    const text = await run(['order', 'check', file]);
    expect(text.exit).toBe(0);
    const at = approvedAt.toISOString().replace(/\.\d{3}Z$/, 'Z');
    expect(text.stdout).toContain(`approved by Someone Else (certificate "Contoso Cloud Compliance Reviewer") at ${at}`);
    const json = JSON.parse((await run(['order', 'check', file, '--json'])).stdout);
    expect(json.approval).toEqual({ reviewer: 'Someone Else', certificate: 'Contoso Cloud Compliance Reviewer', approvedAt: at, valid: true });
  });

  it('changed after approval: the approval is shown as not standing', async () => {
    const signed = approve(baseOrder(current), fx.pki.reviewer, approvedAt);
    const file = writeOrder(root, { ...signed, categories: ['subscriber'] });
    const text = await run(['order', 'check', file]);
    expect(text.exit).toBe(3);
    expect(text.stdout).toMatch(/approval claimed by Test Reviewer .* it does not stand/);
    expect(text.stdout).not.toContain('  approved by');
    expect(JSON.parse((await run(['order', 'check', file, '--json'])).stdout).approval).toMatchObject({ reviewer: 'Test Reviewer', valid: false });
  });

  it('unapproved or malformed: approval null', async () => {
    expect(JSON.parse((await run(['order', 'check', writeOrder(root, baseOrder(current)), '--json'])).stdout).approval).toBeNull();
    expect(JSON.parse((await run(['order', 'check', writeOrder(root, '{}'), '--json'])).stdout).approval).toBeNull();
  });
});

describe('key material as the order path or the order id (DESIGN: no key on the terminal or in a log)', () => {
  const key = '5ca1ab1ec0ffee00d15ea5edfeedface0ddba11cafebabe0badc0de5ca1ab1e0';

  it('an id that is a raw key: malformed (exit 2), not shown on stdout, in --json or in the custody log', async () => {
    const file = writeOrder(root, approve(baseOrder({ ...current, id: key }), fx.pki.reviewer, approvedAt));
    for (const flags of [[], ['--json']]) {
      const { stdout, exit } = await run(['order', 'check', file, ...flags]);
      expect(exit).toBe(2);
      expect(stdout).not.toContain(key);
      expect(stdout).toContain('MALFORMED');
    }
    const logged = readFileSync(path.join(root, 'custody.jsonl'), 'utf8');
    expect(logged).not.toContain(key);
    expect(custody().at(-1)).toMatchObject({ event: 'order.refused', orderId: expect.stringMatching(/^sha256:/) });
  });

  it('a key given as the ORDER argument is not repeated in the verdict line', async () => {
    const { stdout, exit } = await run(['order', 'check', path.join(root, key)]);
    expect(exit).toBe(2);
    expect(stdout).not.toContain(key);
    expect(stdout.split('\n')[0]).toBe(`${root}/[not shown: it may be key material]: MALFORMED (1 reason)`);
  });

  it('a key given as approve --out is not repeated in the result', async () => {
    const out = path.join(root, key);
    const args = ['order', 'approve', writeOrder(root, baseOrder(current)), '--key', path.join(root, 'reviewer.key.pem'), '--cert', path.join(root, 'reviewer.cert.pem'), '--out', out];
    const text = await run(args);
    expect(text.exit).toBe(0);
    expect(text.stdout).not.toContain(key);
    rmSync(out);
    const json = await run([...args, '--json']);
    expect(json.exit).toBe(0);
    expect(json.stdout).not.toContain(key);
  });
});

describe('a target value that looks like key material', () => {
  const targets = [
    { type: 'account-id', value: GUID },
    { type: 'email', value: HEX_EMAIL.toUpperCase() },
    { type: 'im-handle', value: HEX_HANDLE },
  ] as const;

  for (const target of targets) {
    it(`is taken when the account directory holds it (${target.type}): approved, resolved, approvable`, async () => {
      const order = baseOrder({ ...current, targets: [target] });
      const { stdout, exit } = await run(['order', 'check', writeOrder(root, approve(order, fx.pki.reviewer, approvedAt)), '--json']);
      expect(exit, stdout).toBe(0);
      expect((JSON.parse(stdout) as { accounts: { id: string }[] }).accounts.map((account) => account.id)).toEqual([GUID]);
      expect(custody().at(-1)).toMatchObject({ event: 'order.checked', details: { accounts: [GUID] } });
      const out = path.join(root, `approved-${target.type}.json`);
      const approved = await run(['order', 'approve', writeOrder(root, order), '--key', path.join(root, 'reviewer.key.pem'), '--cert', path.join(root, 'reviewer.cert.pem'), '--out', out]);
      expect(approved.exit, approved.stdout).toBe(0);
      expect((await run(['order', 'check', out])).exit).toBe(0);
    });
  }

  it('is malformed (exit 2) when no account has it, and is not shown on stdout, in --json or in the custody log', async () => {
    const key = '5ca1ab1ec0ffee00d15ea5edfeedface0ddba11cafebabe0badc0de5ca1ab1e0';
    for (const value of [key, GUID.replace('0123', '9999'), `${key}@contoso.example`]) {
      const file = writeOrder(root, approve(baseOrder({ ...current, targets: [{ type: 'email', value }] }), fx.pki.reviewer, approvedAt));
      for (const flags of [[], ['--json']]) {
        const { stdout, exit } = await run(['order', 'check', file, ...flags]);
        expect(exit).toBe(2);
        expect(stdout).toContain('targets.0.value: an identifier that is not key material, or one the account directory holds that is no key scopex holds (the value is not shown)');
        expect(stdout).not.toContain(value.slice(0, 32));
      }
      expect(readFileSync(path.join(root, 'custody.jsonl'), 'utf8')).not.toContain(value.slice(0, 32));
    }
  });
});

describe('an empty target list', () => {
  it('is a refusal (exit 3, BLANKET_TARGET), as a domain target is, not a malformed order', async () => {
    const file = writeOrder(root, approve(baseOrder({ ...current, targets: [] }), fx.pki.reviewer, approvedAt));
    const { stdout, exit } = await run(['order', 'check', file, '--json']);
    expect(exit).toBe(3);
    expect(JSON.parse(stdout)).toMatchObject({ verdict: 'REFUSED', reasons: [{ code: 'BLANKET_TARGET' }] });
    const approving = await run(['order', 'approve', writeOrder(root, baseOrder({ ...current, targets: [] })), '--key', path.join(root, 'reviewer.key.pem'), '--cert', path.join(root, 'reviewer.cert.pem')]);
    expect(approving.exit).toBe(3);
  });
});

describe('scopex order approve', () => {
  it('approves into --out, and the result checks', async () => {
    const file = writeOrder(root, baseOrder(current));
    const out = path.join(root, 'approved.json');
    const approved = await run(['order', 'approve', file, '--key', path.join(root, 'reviewer.key.pem'), '--cert', path.join(root, 'reviewer.cert.pem'), '--out', out, '--json']);
    expect(approved.exit).toBe(0);
    expect(JSON.parse(approved.stdout)).toMatchObject({ ok: true, out });
    expect((await run(['order', 'check', out])).exit).toBe(0);
  });

  it('an order that already carries an approval: exit 2 when it still matches, exit 3 when the order was changed after it', async () => {
    const keyArgs = ['--key', path.join(root, 'reviewer.key.pem'), '--cert', path.join(root, 'reviewer.cert.pem')];
    const signed = approve(baseOrder(current), fx.pki.reviewer, approvedAt);
    const valid = writeOrder(root, signed);
    const tampered = writeOrder(root, { ...signed, categories: ['subscriber'] });
    const before = [readFileSync(valid), readFileSync(tampered)];
    expect((await run(['order', 'approve', valid, ...keyArgs])).exit).toBe(2);
    expect((await run(['order', 'approve', tampered, ...keyArgs])).exit).toBe(3);
    expect((await run(['order', 'approve', tampered, ...keyArgs, '--out', path.join(root, 'laundered.json'), '--force'])).exit).toBe(3);
    expect([readFileSync(valid), readFileSync(tampered)]).toEqual(before);
    expect(existsSync(path.join(root, 'laundered.json'))).toBe(false);
  });

  it('missing --key is a usage error', async () => {
    expect((await run(['order', 'approve', writeOrder(root, baseOrder(current)), '--cert', 'c.pem'])).exit).toBe(2);
  });
});
