// Round 10 robust D1: a disk that fills up while archiver's finalize() is still pending (writes of the last slots
// queued behind a slow disk, then ENOSPC). The sink's failure then rejected a promise nobody listened to yet: Node
// ended the process with a stack trace (exit 1), the seal never settled, and the partial archive, temp folders and
// lock stayed, with no custody record of how the export ended. Run in a process of its own (the built sealer, with
// FileHandle's writes replaced), because what is checked is that process's fate.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { buildCli, ROOT } from '../e2e/export-helpers.js';
import { tempDir, writePki, type PkiFiles } from './helpers.js';

let workspace: { dir: string; cleanup(): void };
let pki: PkiFiles;

beforeAll(() => {
  buildCli();
  workspace = tempDir();
  pki = writePki(workspace.dir);
});
afterAll(() => workspace?.cleanup());

/** Seals four 2 MiB payload files on a disk where each archive write takes 15 ms, and every one after finalize() fails. */
const SCRIPT = `
import { open } from 'node:fs/promises';
import { Readable } from 'node:stream';
const [sealerModule, archiverModule, outDir, cert, key] = process.argv.slice(2);
const { createBagSealer } = await import(sealerModule);
const { ZipArchive } = await import(archiverModule);
const probe = await open(outDir + '.probe', 'w');
const FileHandle = Object.getPrototypeOf(probe);
await probe.close();
let finalizing = false;
const finalize = ZipArchive.prototype.finalize;
ZipArchive.prototype.finalize = function () {
  finalizing = true;
  return finalize.call(this);
};
let refused = 0;
const onFullDisk = (original) => function (...args) {
  const archiveWrite = args[0] instanceof Uint8Array || Array.isArray(args[0]);
  return new Promise((resolve) => setTimeout(resolve, archiveWrite ? 15 : 0)).then(() => {
    if (!archiveWrite || !finalizing) return original.apply(this, args);
    refused += 1;
    return Promise.reject(Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', syscall: 'write' }));
  });
};
FileHandle.write = onFullDisk(FileHandle.write);
FileHandle.writev = onFullDisk(FileHandle.writev);
const sealer = await createBagSealer({ outDir, orderId: 'LE-2026-000123', organization: 'Contoso Cloud', signerCertificateFile: cert, signerKeyFile: key });
for (let i = 0; i < 4; i++) await sealer.addPayload('acct-1/files.content/' + i + '.bin', Readable.from([Buffer.alloc(2 << 20, i)]));
await sealer.addTagFile('order.json', Buffer.from('{}\\n'));
const outcome = await sealer.seal().then(() => 'sealed', (error) => 'refused: ' + error.message);
console.log(JSON.stringify({ outcome, refused }));
`;

describe('a disk that fills up while the archive is finalized', () => {
  test('fails the seal with the write error, in one sentence, and leaves nothing behind', () => {
    const script = path.join(workspace.dir, 'full-at-finalize.mjs');
    writeFileSync(script, SCRIPT);
    const outDir = path.join(workspace.dir, 'out');
    const run = spawnSync(
      process.execPath,
      [
        script,
        path.join(ROOT, 'dist/src/seal/sealer.js'),
        path.join(ROOT, 'node_modules/archiver/index.js'),
        outDir,
        pki.signerCertificateFile,
        pki.signerKeyFile,
      ],
      { encoding: 'utf8', timeout: 60_000 },
    );
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const result = JSON.parse(run.stdout) as { outcome: string; refused: number };
    expect(result.outcome).toMatch(/^refused: writing archive .*LE-2026-000123\.zip\.partial failed: ENOSPC: no space left on device, write$/);
    expect(result.refused).toBeGreaterThan(0);
    expect(existsSync(outDir) ? readdirSync(outDir) : []).toEqual([]);
  }, 90_000);
});
