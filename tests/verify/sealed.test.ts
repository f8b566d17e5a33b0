// The verifier against an archive made by scopex's own sealer: the two must agree on the contract (DESIGN.md).
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBagSealer } from '../../src/seal/sealer.js';
import { verifyArchive } from '../../src/verify/verify.js';
import { createPki, ORDER_ID, sampleBag, sampleOrder, tempDir, type Pki } from './fixtures.js';

let dir: string;
let pki: Pki;

beforeAll(() => {
  dir = tempDir();
  pki = createPki(dir);
});

afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

async function seal(outDir: string): Promise<string> {
  const { model } = sampleBag();
  const sealer = await createBagSealer({
    outDir,
    orderId: ORDER_ID,
    organization: 'Contoso Cloud',
    accounts: ['acc-0001', 'acc-0002'],
    signerCertificateFile: pki.signer.certFile,
    signerKeyFile: pki.signer.keyFile,
  });
  for (const [name, data] of model.files) {
    if (!name.startsWith('data/')) continue;
    // Streams for large items, Buffers for small ones, as the pipeline does.
    await sealer.addPayload(name.slice('data/'.length), data.length > 1000 ? Readable.from([data.subarray(0, 1000), data.subarray(1000)]) : data);
  }
  await sealer.addTagFile('order.json', model.files.get('order.json') as Buffer);
  await sealer.addTagFile('production.json', model.files.get('production.json') as Buffer);
  const result = await sealer.seal();
  return result.archive;
}

describe('an archive sealed by createBagSealer', () => {
  it('verifies, with and without --order', async () => {
    const out = path.join(dir, 'out');
    fs.mkdirSync(out);
    const archive = await seal(out);
    const orderFile = path.join(dir, 'order.json');
    fs.writeFileSync(orderFile, sampleBag().model.files.get('order.json') as Buffer);
    const report = await verifyArchive({ archive, trustFile: pki.caFile, orderFile });
    expect(report.failures).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.counts.payloadFiles).toBe(8);
    expect(report.signer?.subject).toContain('Legal Production Signer');
  });

  it('verifies a bag with no payload, whose empty data/ folder is an entry of its own', async () => {
    const out = path.join(dir, 'out-empty');
    fs.mkdirSync(out);
    // An order of content only: its two accounts had nothing in the date range.
    const order = Buffer.from(`${JSON.stringify(sampleOrder({ categories: ['mail.content', 'storage.content'] }), null, 2)}\n`);
    const sealer = await createBagSealer({ outDir: out, orderId: ORDER_ID, organization: 'Contoso Cloud', accounts: ['acc-0001', 'acc-0002'], signerCertificateFile: pki.signer.certFile, signerKeyFile: pki.signer.keyFile });
    await sealer.addTagFile('order.json', order);
    await sealer.addTagFile('production.json', Buffer.from('[]\n'));
    const { archive } = await sealer.seal();
    expect(fs.readFileSync(archive).includes(Buffer.from(`${ORDER_ID}/data/`))).toBe(true);
    const report = await verifyArchive({ archive, trustFile: pki.caFile });
    expect(report.failures).toEqual([]);
    expect(report.counts.payloadFiles).toBe(0);
  });

  it('fails once one payload byte is changed in the sealed file', async () => {
    const out = path.join(dir, 'out2');
    fs.mkdirSync(out);
    const archive = await seal(out);
    const bytes = fs.readFileSync(archive);
    const at = bytes.indexOf(Buffer.from('first edge'));
    expect(at).toBeGreaterThan(0);
    bytes[at] = 0x46;
    fs.writeFileSync(archive, bytes);
    const report = await verifyArchive({ archive, trustFile: pki.caFile });
    expect(report.ok).toBe(false);
    expect(report.failures.map((failure) => failure.check)).toContain('payload-manifest');
  });
});
