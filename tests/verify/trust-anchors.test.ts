// The trust file: PEM certificates only, and an error about one that holds none says what was expected.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadTrustAnchors } from '../../src/verify/trust-anchors.js';
import { redactKeyMaterial } from '../../src/util/key-material.js';

const dir = mkdtempSync(path.join(tmpdir(), 'scopex-trust-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('loadTrustAnchors', () => {
  // Round 8 (keys K7): the hint quoted the PEM header, which the key-material redaction took for a key and hid.
  it('names what a trust file without a certificate lacks, in words every error path shows', () => {
    const file = path.join(dir, 'empty.pem');
    writeFileSync(file, 'no certificate here\n');
    let message = '';
    try {
      loadTrustAnchors(file);
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toBe(`the trust file ${file} holds no PEM certificate (a BEGIN CERTIFICATE block)`);
    expect(redactKeyMaterial(message)).toBe(message);
  });
});
