// An account whose id is a GUID written without dashes (32 hex digits, as a 16-byte key looks): an order naming it is
// checked, exported and verified like any other, while a value of that form that names no account is still refused.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InputError } from '../../src/errors.js';
import { exportOrder } from '../../src/pipeline/export.js';
import { verifyArchive } from '../../src/verify/verify.js';
import { buildStoreFixture, type StoreFixture } from '../helpers/store-fixture.js';
import { readCustody, writeSignedOrder } from './export-fixture.js';

const GUID = '3f2a9c1e4b5d6f7a8b9c0d1e2f3a4b5c';

let fx: StoreFixture;
let out: string;

beforeAll(async () => {
  fx = await buildStoreFixture({ emptyAccountId: GUID });
  out = mkdtempSync(path.join(os.tmpdir(), 'scopex-hex-account-'));
});

afterAll(() => {
  fx?.cleanup();
  if (out) rmSync(out, { recursive: true, force: true });
});

describe('an account id of 32 hex digits', () => {
  it('is exported when an order names it, and the archive verifies, with --order and against the directory', async () => {
    const order = writeSignedOrder(fx, { targets: [{ type: 'account-id', value: GUID }], categories: ['subscriber'] });
    const result = await exportOrder({ orderFile: order.file, outDir: out, config: fx.config() });
    expect(result.accounts).toEqual([GUID]);
    expect(result.items).toEqual({ subscriber: 1 });
    const { createFileDirectory } = await import('../../src/sources/file-directory.js');
    const directory = createFileDirectory({ file: path.join(fx.config().storesRoot, 'directory.json') });
    for (const options of [{}, { orderFile: order.file }, { orderFile: order.file, directory }]) {
      const report = await verifyArchive({ archive: result.archive, trustFile: fx.pki!.caCertFile, ...options });
      expect(report.failures).toEqual([]);
      expect(report.ok).toBe(true);
    }
  });

  it('that names no account is refused as malformed, and neither the value nor its account reaches the log', async () => {
    const stranger = GUID.replace('3f2a', '0000');
    const order = writeSignedOrder(fx, { targets: [{ type: 'account-id', value: stranger }], categories: ['subscriber'] });
    const error = await exportOrder({ orderFile: order.file, outDir: out, config: fx.config() }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InputError);
    expect((error as InputError).message).toMatch(/field targets\.0\.value: an identifier that is not key material, or one the account directory holds that is no key scopex holds \(the value is not shown\)$/);
    expect(readFileSync(fx.config().custodyLogFile, 'utf8')).not.toContain(stranger);
    expect(readCustody(fx.config().custodyLogFile).at(-1)).toMatchObject({ event: 'order.refused', details: { reasons: ['SCHEMA_VIOLATION'] } });
  });
});
