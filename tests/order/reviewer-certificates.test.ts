// Reviewer certificates scopex refuses are refused for what they are, in words that say so.
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { InputError } from '../../src/errors.js';
import { loadReviewerCas, verifyApproval } from '../../src/order/approval-verify.js';
import { generateSamplePki } from '../../src/samples/pki.js';

const pki = generateSamplePki();
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'scopex-reviewer-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function write(name: string, text: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, text, { mode: 0o600 });
  return file;
}

const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] }).toString('utf8');

describe('reviewer certificates', () => {
  it('refuses an EC reviewer certificate for its key, without a false word about its extensions', () => {
    write('ca.pem', pki.ca.certificatePem);
    write('ca.key', pki.ca.keyPem);
    openssl('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'ec.key');
    openssl('req', '-new', '-key', 'ec.key', '-subj', '/CN=EC Reviewer', '-out', 'ec.csr');
    write('ext.cnf', 'keyUsage=critical,digitalSignature,nonRepudiation\nbasicConstraints=CA:FALSE\n');
    openssl('x509', '-req', '-in', 'ec.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '30', '-sha256', '-extfile', 'ext.cnf', '-out', 'ec.pem');
    const approval = { reviewer: 'EC Reviewer', approvedAt: new Date(Date.now() - 60_000).toISOString(), certificate: fs.readFileSync(path.join(dir, 'ec.pem'), 'utf8'), signature: 'AAAA' };
    const reasons = verifyApproval({ approval }, approval, [new X509Certificate(pki.ca.certificatePem)], new Date());
    const messages = reasons.map((reason) => reason.message);
    expect(messages.some((message) => message.includes('expected an RSA key, found ec'))).toBe(true);
    expect(messages.join('\n')).not.toContain('cannot be read');
  });

  // Round 7 orders 1: a web server's certificate from the reviewer CA, and one with a critical extension no one knows,
  // approved orders.
  it.each([
    ['a web server\'s certificate (extendedKeyUsage serverAuth)', 'extendedKeyUsage=serverAuth\n', "is for other purposes (extended key usage 1.3.6.1.5.5.7.3.1); a reviewer's certificate has none, or document signing (1.3.6.1.5.5.7.3.36)"],
    ['an unknown critical extension', '1.2.3.4.5.6.7=critical,ASN1:NULL\n', 'has a critical extension scopex does not recognise (1.2.3.4.5.6.7)'],
    ['extendedKeyUsage document signing (RFC 9336)', 'extendedKeyUsage=1.3.6.1.5.5.7.3.36\n', null],
    ['a critical subjectAltName', 'subjectAltName=critical,email:reviewer@contoso.example\n', null],
  ])('a reviewer certificate with %s', (_, extension, refusal) => {
    write('ca.pem', pki.ca.certificatePem);
    write('ca.key', pki.ca.keyPem);
    write('rsa.key', pki.reviewer.keyPem);
    openssl('req', '-new', '-key', 'rsa.key', '-subj', '/CN=Purpose Reviewer', '-out', 'purpose.csr');
    write('purpose.cnf', `keyUsage=critical,digitalSignature,nonRepudiation\nbasicConstraints=CA:FALSE\n${extension}`);
    openssl('x509', '-req', '-in', 'purpose.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '30', '-sha256', '-extfile', 'purpose.cnf', '-out', 'purpose.pem');
    // openssl makes the certificate valid from now on.
    const approval = { reviewer: 'Purpose Reviewer', approvedAt: new Date(Date.now() + 1_000).toISOString(), certificate: fs.readFileSync(path.join(dir, 'purpose.pem'), 'utf8'), signature: 'AAAA' };
    const untrusted = verifyApproval({ approval }, approval, [new X509Certificate(pki.ca.certificatePem)], new Date(Date.now() + 2_000))
      .filter((reason) => reason.code === 'APPROVAL_UNTRUSTED')
      .map((reason) => reason.message);
    expect(untrusted).toEqual(refusal === null ? [] : [`field approval.certificate: "Purpose Reviewer" ${refusal}`]);
  });

  // Round 7 orders 7: JSON.stringify left a bidi override, a C1 control and U+2028 of an attacker's name raw.
  it('shows a hostile certificate name escaped in the reasons', () => {
    write('self.key', pki.reviewer.keyPem);
    openssl('req', '-new', '-x509', '-utf8', '-key', 'self.key', '-subj', '/CN=Jordan\u202e trusted \u009b31m X\u2028line', '-days', '30', '-out', 'self.pem');
    const approval = { reviewer: 'Jordan', approvedAt: new Date(Date.now() + 1_000).toISOString(), certificate: fs.readFileSync(path.join(dir, 'self.pem'), 'utf8'), signature: 'AAAA' };
    const text = verifyApproval({ approval }, approval, [new X509Certificate(pki.ca.certificatePem)], new Date(Date.now() + 2_000))
      .map((reason) => reason.message)
      .join('\n');
    expect(text).toContain('"Jordan\\u202e trusted \\u009b31m X\\u2028line" is not issued by a reviewer CA');
    expect(text).not.toMatch(/[\u202e\u009b\u2028]/);
  });

  it('says what a reviewer CA with basicConstraints CA:TRUE but no keyCertSign lacks', () => {
    write('nocertsign.key', pki.ca.keyPem);
    openssl('req', '-new', '-x509', '-key', 'nocertsign.key', '-subj', '/CN=No CertSign CA', '-days', '30', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,digitalSignature', '-out', 'nocertsign.pem');
    const file = path.join(dir, 'nocertsign.pem');
    expect(() => loadReviewerCas([file])).toThrow(InputError);
    expect(() => loadReviewerCas([file])).toThrow(/keyUsage keyCertSign/);
    expect(() => loadReviewerCas([file])).not.toThrow(/end-entity/);
  });
});
