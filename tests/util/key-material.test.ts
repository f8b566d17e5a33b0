// What may be key material is never shown back: PEM blocks, long hex runs, long base64 runs; paths and hashes of
// ordinary text are left alone.
import { createHash, generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { looksLikeKeyMaterial, NOT_SHOWN, redactKeyMaterial } from '../../src/util/key-material.js';

/** Fixed bytes that look random, so the cases are the same on every run. */
const bytes = (n: number, seed: string) => createHash('sha512').update(seed).digest().subarray(0, n);
const pem = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();

describe('redactKeyMaterial', () => {
  it.each([
    ['a PEM private key', pem],
    ['a PEM key on one line', pem.replace(/\n/g, '\\n')],
    ['a 32-byte key as hex', bytes(32, 'a').toString('hex')],
    ['16 bytes as hex', bytes(16, 'b').toString('hex').toUpperCase()],
    ['a 32-byte key as base64url', bytes(32, 'c').toString('base64url')],
    ['a 48-byte wrapped key as base64', bytes(48, 'd').toString('base64')],
    ['the canary master key as base64 (slashes in it)', 'XKGrHsD/7gDRXqXt/u36zQ3boRyv66ML2tDeXKGrHuA='],
  ])('hides %s inside a message, and says so', (_, secret) => {
    const message = `cannot read the master key file ${secret}: no such file`;
    const shown = redactKeyMaterial(message);
    expect(shown).toContain(NOT_SHOWN);
    expect(shown).not.toContain(secret.slice(8, 40));
    expect(shown.startsWith('cannot read the master key file ')).toBe(true);
    expect(looksLikeKeyMaterial(secret)).toBe(true);
  });

  it.each([
    '/tmp/scopex-J7PbuA/w/stores/mail/acct-0001/blobs/m-000002',
    '/tmp/scopex-canary-X9kQ2m/world/stores/storage/acct-0004/blobs/f-000017',
    'data/acct-0001/storage.content/Archive/Quarterly-Report-2026-Q1-FINAL-v2',
    'config /srv/scopex/keys/data-keys.json: field keys.masterKey: a file path',
    'order LE-2026-000101 expired at 2026-12-31T23:59:59Z (now 2027-01-01T00:00:00.000Z)',
    'target email alice@contoso.example resolves to no account',
    'Contoso Cloud Compliance Reviewer',
  ])('leaves %j alone', (text) => {
    expect(redactKeyMaterial(text)).toBe(text);
    expect(looksLikeKeyMaterial(text)).toBe(false);
  });
});
