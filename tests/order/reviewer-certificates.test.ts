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

  it('says what a reviewer CA with basicConstraints CA:TRUE but no keyCertSign lacks', () => {
    write('nocertsign.key', pki.ca.keyPem);
    openssl('req', '-new', '-x509', '-key', 'nocertsign.key', '-subj', '/CN=No CertSign CA', '-days', '30', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,digitalSignature', '-out', 'nocertsign.pem');
    const file = path.join(dir, 'nocertsign.pem');
    expect(() => loadReviewerCas([file])).toThrow(InputError);
    expect(() => loadReviewerCas([file])).toThrow(/keyUsage keyCertSign/);
    expect(() => loadReviewerCas([file])).not.toThrow(/end-entity/);
  });
});
