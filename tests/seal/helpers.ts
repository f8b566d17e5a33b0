// Fixtures for the sealer tests: a sample PKI on disk, a temp folder, and an independent bag checker.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'vitest';
import { generateSamplePki, type SamplePki } from '../../src/samples/pki.js';
import { lendChunk } from '../../src/util/lent-chunks.js';

export interface PkiFiles {
  pki: SamplePki;
  caFile: string;
  signerCertificateFile: string;
  signerKeyFile: string;
  otherCaFile: string;
}

let cachedPki: { pki: SamplePki; other: SamplePki } | undefined;

/** One sample PKI (and an unrelated CA) per test file, written into `dir`. RSA key generation is slow. */
export function writePki(dir: string): PkiFiles {
  cachedPki ??= { pki: generateSamplePki(), other: generateSamplePki({ organization: 'Fabrikam' }) };
  const { pki, other } = cachedPki;
  const caFile = path.join(dir, 'ca.cert.pem');
  const signerCertificateFile = path.join(dir, 'signer.cert.pem');
  const signerKeyFile = path.join(dir, 'signer.key.pem');
  const otherCaFile = path.join(dir, 'other-ca.cert.pem');
  writeFileSync(caFile, pki.ca.certificatePem);
  writeFileSync(signerCertificateFile, pki.signer.certificatePem);
  writeFileSync(signerKeyFile, pki.signer.keyPem, { mode: 0o600 });
  writeFileSync(otherCaFile, other.ca.certificatePem);
  return { pki, caFile, signerCertificateFile, signerKeyFile, otherCaFile };
}

/** The file holds exactly `chunks`, in order, and the writer reported its size and SHA-256. */
export function expectFileHolds(file: string, chunks: Buffer[], writer: { bytes: number }, digest: string): void {
  const expected = Buffer.concat(chunks);
  const written = readFileSync(file);
  expect(written.length).toBe(expected.length);
  expect(written.equals(expected)).toBe(true);
  expect(writer.bytes).toBe(expected.length);
  expect(digest).toBe(createHash('sha256').update(expected).digest('hex'));
}

export function tempDir(): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'scopex-seal-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function run(command: string, args: string[], cwd?: string): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(command, args, { cwd, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/**
 * A bag checker written with Python's standard library only (bagit.py is not installable here): reads the ZIP
 * with zipfile, tests every CRC, and walks both manifests, Payload-Oxum and bagit.txt. Prints a JSON verdict.
 */
const PYTHON_BAG_CHECKER = String.raw`
import hashlib, json, sys, zipfile
from urllib.parse import unquote

def decode(p):
    return p.replace('%0A', '\n').replace('%0D', '\r').replace('%25', '%')

archive, top = sys.argv[1], sys.argv[2]
problems = []
with zipfile.ZipFile(archive) as z:
    bad = z.testzip()
    if bad is not None:
        problems.append('bad CRC: ' + bad)
    names = [i.filename for i in z.infolist()]
    if len(names) != len(set(names)):
        problems.append('duplicate entries')
    for n in names:
        if not n.startswith(top + '/') or '..' in n.split('/') or n.startswith('/'):
            problems.append('unsafe name: ' + n)
    def read(rel):
        return z.read(top + '/' + rel)
    def sha(rel):
        h = hashlib.sha256()
        with z.open(top + '/' + rel) as f:
            while True:
                b = f.read(1 << 20)
                if not b:
                    break
                h.update(b)
        return h.hexdigest()
    if read('bagit.txt') != b'BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n':
        problems.append('bagit.txt')
    def manifest(name):
        out = {}
        for line in read(name).decode('utf-8').splitlines():
            digest, path = line.split(None, 1)
            out[decode(path)] = digest
        return out
    payload = manifest('manifest-sha256.txt')
    tags = manifest('tagmanifest-sha256.txt')
    files = set(n[len(top) + 1:] for n in names)
    data_files = set(f for f in files if f.startswith('data/'))
    if data_files != set(payload):
        problems.append('payload files and manifest differ')
    total = 0
    for rel, digest in list(payload.items()) + list(tags.items()):
        if rel not in files:
            problems.append('missing: ' + rel)
        elif sha(rel) != digest:
            problems.append('hash mismatch: ' + rel)
    for rel in payload:
        if rel in files:
            total += z.getinfo(top + '/' + rel).file_size
    info = dict(l.split(': ', 1) for l in read('bag-info.txt').decode('utf-8').splitlines())
    if info.get('Payload-Oxum') != '%d.%d' % (total, len(payload)):
        problems.append('Payload-Oxum %s != %d.%d' % (info.get('Payload-Oxum'), total, len(payload)))
    print(json.dumps({'ok': not problems, 'problems': problems[:20], 'entries': len(names),
                      'payload': len(payload), 'tags': sorted(tags), 'info': info}))
`;

export interface PythonVerdict {
  ok: boolean;
  problems: string[];
  entries: number;
  payload: number;
  tags: string[];
  info: Record<string, string>;
}

export function pythonCheckBag(archive: string, top: string): PythonVerdict {
  const out = execFileSync('python3', ['-c', PYTHON_BAG_CHECKER, archive, top], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  return JSON.parse(out) as PythonVerdict;
}

/**
 * Copies of `chunks`, each lent (util/lent-chunks.ts) by a lender that writes over it the moment it is given back, as
 * the reader thread's ring does with its next chunk: a writer that gives a chunk back before it is done with it
 * writes those bytes instead. `givenBack()` counts the chunks given back.
 */
export function lentCopies(chunks: Buffer[]): { lent: Buffer[]; givenBack(): number } {
  let count = 0;
  const lent = chunks.map((chunk) => {
    const copy = Buffer.from(chunk);
    lendChunk(copy, () => {
      copy.fill(0xee);
      count += 1;
    });
    return copy;
  });
  return { lent, givenBack: () => count };
}
