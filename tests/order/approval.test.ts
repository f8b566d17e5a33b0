// Approval signatures: any change to a signed field, a flipped signature bit or an untrusted key is a refusal.
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { exitCodeFor, KeyError, OrderError, type InputError, type OrderErrorCode } from '../../src/errors.js';
import { approveOrder } from '../../src/order/approve-order.js';
import { checkOrder } from '../../src/order/check-order.js';
import type { Order } from '../../src/order/schema.js';
import type { PemPair } from '../../src/samples/pki.js';
import { APPROVED_AT, approve, baseOrder, issueCertificate, makeFixture, writeOrder } from './fixtures.js';

const fx = makeFixture();
// An outside CA with the trusted CA's exact name (its key: the archive signer's, which is no CA), and a reviewer
// under it with a key of its own: a valid signature by a key outside the trust.
const outsiderKeyPem = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const outsiderCa = issueCertificate({
  commonName: 'Contoso Cloud Compliance Root CA',
  subjectKeyPem: fx.pki.signer.keyPem,
  issuerKeyPem: fx.pki.signer.keyPem,
  ca: true,
});
const outsider: { reviewer: PemPair } = {
  reviewer: {
    keyPem: outsiderKeyPem,
    certificatePem: issueCertificate({
      commonName: 'Contoso Cloud Compliance Reviewer',
      subjectKeyPem: outsiderKeyPem,
      issuerKeyPem: fx.pki.signer.keyPem,
      issuerCertificatePem: outsiderCa,
      ca: false,
    }),
  },
};
/** The trusted reviewer's key in another certificate from the trusted CA, as `extra` makes it. */
function trustedReviewerWith(extra: Partial<Parameters<typeof issueCertificate>[0]>): PemPair {
  return {
    keyPem: fx.pki.reviewer.keyPem,
    certificatePem: issueCertificate({
      commonName: 'Contoso Cloud Compliance Reviewer',
      subjectKeyPem: fx.pki.reviewer.keyPem,
      issuerKeyPem: fx.pki.ca.keyPem,
      issuerCertificatePem: fx.pki.ca.certificatePem,
      ca: false,
      ...extra,
    }),
  };
}
// A certificate that expired before the approval.
const shortLived: { reviewer: PemPair } = {
  reviewer: trustedReviewerWith({ notBefore: new Date('2025-01-01T00:00:00Z'), notAfter: new Date('2026-06-01T00:00:00Z') }),
};
afterAll(() => fx.cleanup());

async function codesFor(content: unknown): Promise<OrderErrorCode[]> {
  const error = await checkOrder(writeOrder(fx.dir, content), fx.ctx).then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(OrderError);
  expect(exitCodeFor(error)).toBe(3);
  return (error as OrderError).reasons.map((r) => r.code);
}

const approved = approve(baseOrder(), fx.pki.reviewer);

const tampers: { name: string; change: (o: Order) => void }[] = [
  { name: 'id', change: (o) => (o.id = 'LE-2026-000124') },
  { name: 'process', change: (o) => (o.process = 'emergency-request') },
  { name: 'authority.caseNumber', change: (o) => (o.authority.caseNumber = '26-cr-0043') },
  { name: 'issuedAt', change: (o) => (o.issuedAt = '2026-09-30T00:00:00Z') },
  { name: 'expiresAt', change: (o) => (o.expiresAt = '2026-12-31T23:59:58Z') },
  { name: 'targets (added)', change: (o) => o.targets.push({ type: 'email', value: 'carol@woodgrove.example' }) },
  { name: 'targets (replaced)', change: (o) => (o.targets[0]!.value = 'carol@woodgrove.example') },
  { name: 'categories (added)', change: (o) => o.categories.push('im.content') },
  { name: 'categories (reordered)', change: (o) => o.categories.reverse() },
  { name: 'dateRange.from', change: (o) => (o.dateRange.from = '2025-01-01T00:00:00Z') },
  { name: 'dateRange.to (same instant, other spelling)', change: (o) => (o.dateRange.to = '2026-07-01T01:59:59+02:00') },
  { name: 'nondisclosure removed', change: (o) => delete o.nondisclosure },
  { name: 'enterpriseRedirect', change: (o) => (o.enterpriseRedirect = 'customer-consented') },
  { name: 'approval.reviewer', change: (o) => (o.approval!.reviewer = 'Someone Else') },
  { name: 'approval.approvedAt', change: (o) => (o.approval!.approvedAt = '2026-10-02T09:00:01Z') },
  {
    name: 'approval.certificate (another trusted-looking cert)',
    change: (o) => (o.approval!.certificate = outsider.reviewer.certificatePem),
  },
  {
    name: 'approval.certificate (same cert, reformatted PEM)',
    change: (o) => (o.approval!.certificate = o.approval!.certificate.replace(/\n/g, '\r\n')),
  },
];

describe('tampering with an approved order (exit 3)', () => {
  it('the untouched approved order passes', async () => {
    const checked = await checkOrder(writeOrder(fx.dir, approved), fx.ctx);
    expect(checked.order.approval?.reviewer).toBe('Test Reviewer');
  });

  it.each(tampers)('changing $name → APPROVAL_INVALID', async ({ change }) => {
    const copy = structuredClone(approved);
    change(copy);
    expect(await codesFor(copy)).toContain('APPROVAL_INVALID');
  });

  it('reformatting the JSON (whitespace, key order) keeps the approval valid', async () => {
    const { approval, ...rest } = approved;
    const reordered = Object.fromEntries(Object.entries({ approval, ...rest }).reverse());
    await expect(checkOrder(writeOrder(fx.dir, JSON.stringify(reordered)), fx.ctx)).resolves.toBeDefined();
  });

  it.each([0, 1, 100, 128, 255])('flipping a bit of signature byte %i → APPROVAL_INVALID', async (index) => {
    const copy = structuredClone(approved);
    const signature = Buffer.from(copy.approval!.signature, 'base64');
    expect(signature.length).toBe(256);
    signature[index] = signature[index]! ^ 0x01;
    copy.approval!.signature = signature.toString('base64');
    expect(await codesFor(copy)).toContain('APPROVAL_INVALID');
  });

  it('a signature with characters Buffer.from would skip → APPROVAL_INVALID', async () => {
    const copy = structuredClone(approved);
    copy.approval!.signature = `${copy.approval!.signature.slice(0, 10)}@${copy.approval!.signature.slice(10)}`;
    expect(await codesFor(copy)).toContain('APPROVAL_INVALID');
  });

  it('a truncated signature → APPROVAL_INVALID', async () => {
    const copy = structuredClone(approved);
    copy.approval!.signature = copy.approval!.signature.slice(0, 40);
    expect(await codesFor(copy)).toContain('APPROVAL_INVALID');
  });

  it('a garbage certificate → APPROVAL_INVALID', async () => {
    const copy = structuredClone(approved);
    copy.approval!.certificate = '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n';
    expect(await codesFor(copy)).toContain('APPROVAL_INVALID');
  });

  it('two certificates in the approval → APPROVAL_INVALID', async () => {
    expect(await codesFor(approve(baseOrder(), { ...fx.pki.reviewer, certificatePem: fx.pki.reviewer.certificatePem + fx.pki.ca.certificatePem }))).toContain(
      'APPROVAL_INVALID',
    );
  });

  it('a validly signed approval by an untrusted CA (same names) → APPROVAL_UNTRUSTED', async () => {
    const codes = await codesFor(approve(baseOrder(), outsider.reviewer));
    expect(codes).toEqual(['APPROVAL_UNTRUSTED']);
  });

  it('the CA certificate used as reviewer → APPROVAL_UNTRUSTED', async () => {
    const codes = await codesFor(approve(baseOrder(), fx.pki.ca));
    expect(new Set(codes)).toEqual(new Set(['APPROVAL_UNTRUSTED']));
  });

  it('a reviewer certificate not valid at approvedAt → APPROVAL_UNTRUSTED', async () => {
    const ctx = fx.ctx;
    const file = writeOrder(fx.dir, approve(baseOrder(), shortLived.reviewer, APPROVED_AT));
    const error = (await checkOrder(file, ctx).catch((e: unknown) => e)) as OrderError;
    expect(error).toBeInstanceOf(OrderError);
    expect(new Set(error.reasons.map((r) => r.code))).toEqual(new Set(['APPROVAL_UNTRUSTED']));
    // The same certificate, approving while it was valid, passes while it is still valid...
    const earlier = writeOrder(fx.dir, approve(baseOrder({ issuedAt: '2026-01-01T00:00:00Z' }), shortLived.reviewer, new Date('2026-05-01T00:00:00Z')));
    await expect(checkOrder(earlier, { ...ctx, now: new Date('2026-05-15T00:00:00Z') })).resolves.toBeDefined();
    // ... and not once it has expired: approvedAt is the approver's own claim, so an expired key could date it back.
    const expired = (await checkOrder(earlier, ctx).catch((e: unknown) => e)) as OrderError;
    expect(expired).toBeInstanceOf(OrderError);
    expect(expired.reasons.map((r) => r.code)).toEqual(['APPROVAL_UNTRUSTED']);
    expect(expired.reasons[0]!.message).toMatch(/not now .*have the order approved again/);
  });

  it('an expired key cannot approve a new order by dating the approval and the order back', async () => {
    // Issued and approved (by their own claims) while the certificate was valid, checked after it expired.
    const backdated = approve(baseOrder({ issuedAt: '2026-02-01T00:00:00Z' }), shortLived.reviewer, new Date('2026-03-01T00:00:00Z'));
    expect(await codesFor(backdated)).toEqual(['APPROVAL_UNTRUSTED']);
  });

  it.each([
    ['the archive signer\'s usage (emailProtection)', { extKeyUsage: { emailProtection: true } }, /archive signer's extended key usage/],
    ['a SHA-1 signature', { digest: 'sha1' as const }, /sha1WithRSAEncryption, a broken digest/],
  ])('a reviewer certificate from the trusted CA with %s → APPROVAL_UNTRUSTED', async (_, extra, message) => {
    const reviewer = trustedReviewerWith(extra);
    const error = (await checkOrder(writeOrder(fx.dir, approve(baseOrder(), reviewer)), fx.ctx).catch((e: unknown) => e)) as OrderError;
    expect(error).toBeInstanceOf(OrderError);
    expect(error.reasons.map((r) => r.code)).toEqual(['APPROVAL_UNTRUSTED']);
    expect(error.reasons[0]!.message).toMatch(message);
  });

  it('a configured reviewer CA that is not a CA is a config error (exit 2)', async () => {
    const notCa = path.join(fx.dir, 'not-ca.pem');
    writeFileSync(notCa, fx.pki.reviewer.certificatePem);
    const ctx = { ...fx.ctx, config: { ...fx.ctx.config, reviewerCaFiles: [notCa] } };
    const error = await checkOrder(writeOrder(fx.dir, approved), ctx).catch((e: unknown) => e);
    expect(exitCodeFor(error)).toBe(2);
    expect((error as InputError).code).toBe('CONFIG_INVALID');
  });
});

describe('scopex order approve', () => {
  const keyFile = path.join(fx.dir, 'reviewer.key.pem');
  const certFile = path.join(fx.dir, 'reviewer.cert.pem');
  // A private key: readable by its owner only, or approve refuses it (see below).
  writeFileSync(keyFile, fx.pki.reviewer.keyPem, { mode: 0o600 });
  writeFileSync(certFile, fx.pki.reviewer.certificatePem);

  it('round trip: approve in place, then check passes', async () => {
    const file = writeOrder(fx.dir, baseOrder());
    const result = await approveOrder({ orderFile: file, keyFile, certFile, ctx: fx.ctx });
    expect(result.out).toBe(file);
    const text = readFileSync(file, 'utf8');
    expect(text.endsWith('}\n')).toBe(true);
    expect(text).toContain('\n  "approval": {');
    expect(result.order.approval!.reviewer).toBe('Contoso Cloud Compliance Reviewer');
    expect(result.order.approval!.approvedAt).toBe('2026-11-01T12:00:00Z');
    const checked = await checkOrder(file, fx.ctx);
    expect(checked.accounts.map((a) => a.account.id)).toEqual(['acc-alice']);
    expect(text).not.toContain('PRIVATE KEY');
  });

  it.each(['', '   ', 'x\n\u001b[31mFAKE', 'a\u202eb'])('refuses --reviewer %j (exit 2), writing nothing', async (reviewer) => {
    const file = writeOrder(fx.dir, baseOrder());
    const before = readFileSync(file);
    const error = await approveOrder({ orderFile: file, keyFile, certFile, ctx: fx.ctx, reviewer }).catch((e: unknown) => e);
    expect(exitCodeFor(error)).toBe(2);
    expect((error as Error).message).toMatch(/^--reviewer ".*" cannot name the reviewer/);
    expect((error as Error).message).not.toContain('\u001b');
    // JSON.stringify left a bidi override raw (round 7 orders 7).
    expect((error as Error).message).not.toContain('\u202e');
    expect(readFileSync(file).equals(before)).toBe(true);
  });

  it('order check refuses an approval whose reviewer name holds control characters (exit 2)', async () => {
    const error = await checkOrder(writeOrder(fx.dir, approve(baseOrder(), fx.pki.reviewer, APPROVED_AT, 'x\n\u001b[31mFAKE')), fx.ctx).catch((e: unknown) => e);
    expect(exitCodeFor(error)).toBe(2);
    expect((error as Error).message).toContain('approval.reviewer');
  });

  // Round 7 orders 2: an Ed25519 key takes no digest, and failed inside the signing call (exit 1, "a bug").
  it('refuses an Ed25519 reviewer key and certificate as order check would (exit 3), writing nothing', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'scopex-ed25519-'));
    try {
      const run = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
      writeFileSync(path.join(dir, 'ca.key'), fx.pki.ca.keyPem, { mode: 0o600 });
      writeFileSync(path.join(dir, 'ca.pem'), fx.pki.ca.certificatePem);
      run('genpkey', '-algorithm', 'ed25519', '-out', 'ed.key');
      run('req', '-new', '-key', 'ed.key', '-subj', '/CN=Ed Reviewer', '-out', 'ed.csr');
      run('x509', '-req', '-in', 'ed.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '30', '-out', 'ed.pem');
      const file = writeOrder(fx.dir, baseOrder());
      const before = readFileSync(file);
      const error = await approveOrder({ orderFile: file, keyFile: path.join(dir, 'ed.key'), certFile: path.join(dir, 'ed.pem'), ctx: fx.ctx }).catch((e: unknown) => e);
      expect(exitCodeFor(error)).toBe(3);
      expect((error as OrderError).reasons).toEqual([{ code: 'APPROVAL_UNTRUSTED', message: 'field approval.certificate: approvals are RSA-PSS signatures; expected an RSA key, found ed25519' }]);
      expect(readFileSync(file).equals(before)).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('writes to --out and leaves the input alone', async () => {
    const file = writeOrder(fx.dir, baseOrder());
    const before = readFileSync(file);
    const out = path.join(fx.dir, 'approved-out.json');
    await approveOrder({ orderFile: file, keyFile, certFile, out, ctx: fx.ctx, reviewer: 'J. Doe', now: APPROVED_AT });
    expect(readFileSync(file).equals(before)).toBe(true);
    const checked = await checkOrder(out, fx.ctx);
    expect(checked.order.approval!.reviewer).toBe('J. Doe');
    expect(checked.order.approval!.approvedAt).toBe('2026-10-02T09:00:00Z');
  });

  it('refuses to approve an order already validly approved (exit 2, ALREADY_APPROVED), naming who and when, writing nothing', async () => {
    const file = writeOrder(fx.dir, approved);
    const before = readFileSync(file);
    const out = path.join(fx.dir, 'reapproved.json');
    for (const options of [{}, { out }, { out, replace: true }]) {
      const error = (await approveOrder({ orderFile: file, keyFile, certFile, ctx: fx.ctx, ...options }).catch((e: unknown) => e)) as InputError;
      expect(exitCodeFor(error)).toBe(2);
      expect(error.code).toBe('ALREADY_APPROVED');
      expect(error.message).toContain('"Test Reviewer"');
      expect(error.message).toContain('"Contoso Cloud Compliance Reviewer"');
      expect(error.message).toContain(approved.approval!.approvedAt);
      expect(error.message).toContain('still matches');
      expect(error.message).toContain('by hand');
    }
    expect(readFileSync(file).equals(before)).toBe(true);
    expect(existsSync(out)).toBe(false);
  });

  it('refuses to approve an order changed after approval (exit 3, APPROVAL_INVALID): a new signature would launder the change', async () => {
    const tampered = { ...approved, dateRange: { from: approved.dateRange.from, to: '2026-12-31T23:59:59Z' } };
    const file = writeOrder(fx.dir, tampered);
    const before = readFileSync(file);
    const out = path.join(fx.dir, 'laundered.json');
    const error = (await approveOrder({ orderFile: file, keyFile, certFile, out, ctx: fx.ctx }).catch((e: unknown) => e)) as OrderError;
    expect(error).toBeInstanceOf(OrderError);
    expect(exitCodeFor(error)).toBe(3);
    expect(error.reasons.map((r) => r.code)).toEqual(['APPROVAL_INVALID']);
    expect(error.message).toContain('"Test Reviewer"');
    expect(error.message).toContain('changed after it was signed');
    expect(readFileSync(file).equals(before)).toBe(true);
    expect(existsSync(out)).toBe(false);
  });

  it('approves once the old approval block is removed by hand', async () => {
    const { approval: _removed, ...unapproved } = approved;
    const file = writeOrder(fx.dir, unapproved);
    await approveOrder({ orderFile: file, keyFile, certFile, ctx: fx.ctx });
    await expect(checkOrder(file, fx.ctx)).resolves.toBeDefined();
  });

  it('refuses to sign an order that fails the other checks, with every reason', async () => {
    const file = writeOrder(fx.dir, baseOrder({ process: 'subpoena', targets: [{ type: 'email', value: '*@contoso.example' }] }));
    const before = readFileSync(file);
    const error = (await approveOrder({ orderFile: file, keyFile, certFile, ctx: fx.ctx }).catch((e: unknown) => e)) as OrderError;
    expect(error).toBeInstanceOf(OrderError);
    expect(error.reasons.map((r) => r.code).sort()).toEqual(['BLANKET_TARGET', 'CATEGORY_NOT_PERMITTED', 'CATEGORY_NOT_PERMITTED']);
    expect(readFileSync(file).equals(before)).toBe(true);
  });

  it('refuses a key that does not match the certificate (exit 2, no key in the message)', async () => {
    const otherKey = path.join(fx.dir, 'other.key.pem');
    writeFileSync(otherKey, outsider.reviewer.keyPem, { mode: 0o600 });
    const error = await approveOrder({ orderFile: writeOrder(fx.dir, baseOrder()), keyFile: otherKey, certFile, ctx: fx.ctx }).catch((e: unknown) => e);
    expect(exitCodeFor(error)).toBe(2);
    expect((error as Error).message).not.toContain('PRIVATE');
  });

  it('refuses a key file open to other users (or a link to one) as the master key is, and writes nothing', async () => {
    const loose = path.join(fx.dir, 'loose-reviewer.key.pem');
    writeFileSync(loose, fx.pki.reviewer.keyPem);
    const linked = path.join(fx.dir, 'linked-reviewer.key.pem');
    symlinkSync(loose, linked);
    const file = writeOrder(fx.dir, baseOrder());
    const before = readFileSync(file);
    for (const [mode, key] of [[0o644, loose], [0o660, loose], [0o604, loose], [0o666, linked]] as const) {
      chmodSync(loose, mode);
      const error = await approveOrder({ orderFile: file, keyFile: key, certFile, ctx: fx.ctx }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(KeyError);
      expect((error as KeyError).code).toBe('KEY_FILE_NOT_PRIVATE');
      expect(exitCodeFor(error)).toBe(2);
      expect((error as Error).message).toBe(
        `the reviewer key file ${key} is open to other users (mode 0${mode.toString(8)}); it must be readable by its owner only (chmod 600 ${key})`,
      );
      expect(readFileSync(file).equals(before)).toBe(true);
    }
    chmodSync(loose, 0o400);
    expect((await approveOrder({ orderFile: file, keyFile: linked, certFile, ctx: fx.ctx })).order.approval).toBeDefined();
  });

  it('refuses a key file that is not a key, without echoing it', async () => {
    const badKey = path.join(fx.dir, 'bad.key.pem');
    writeFileSync(badKey, '-----BEGIN PRIVATE KEY-----\nc2VjcmV0LXN0dWZm\n-----END PRIVATE KEY-----\n', { mode: 0o600 });
    const error = await approveOrder({ orderFile: writeOrder(fx.dir, baseOrder()), keyFile: badKey, certFile, ctx: fx.ctx }).catch((e: unknown) => e);
    expect(exitCodeFor(error)).toBe(2);
    expect((error as Error).message).not.toContain('c2VjcmV0');
    expect((error as Error).cause).toBeUndefined();
  });

  it('refuses to approve with a certificate outside the configured trust', async () => {
    const k = path.join(fx.dir, 'outsider.key.pem');
    const c = path.join(fx.dir, 'outsider.cert.pem');
    writeFileSync(k, outsider.reviewer.keyPem, { mode: 0o600 });
    writeFileSync(c, outsider.reviewer.certificatePem);
    const error = (await approveOrder({ orderFile: writeOrder(fx.dir, baseOrder()), keyFile: k, certFile: c, ctx: fx.ctx }).catch((e: unknown) => e)) as OrderError;
    expect(error.reasons.map((r) => r.code)).toEqual(['APPROVAL_UNTRUSTED']);
  });
});
