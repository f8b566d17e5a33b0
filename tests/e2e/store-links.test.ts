// A store holds its folders and blobs as files of its own. A symbolic link inside it (to a key file, or to another
// account's data), a FIFO or a file that is not a scopex item where a blob should be is store tampering: exit 4, one
// line naming the item, nothing delivered, and never the linked file's bytes in an archive. Customer-key blobs are
// handed over as stored, so for them these checks are all there is (their ciphertext cannot be read here).
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, readdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateCliWorld, runCli, type CliWorld } from './export-helpers.js';

/** Header (magic, version, nonce) and tag around an item's bytes. */
const BLOB_OVERHEAD = 33;

let base: CliWorld;
let copies = 0;

beforeAll(async () => {
  base = await generateCliWorld('store-links');
}, 120_000);

afterAll(() => {
  if (base) rmSync(base.root, { recursive: true, force: true });
});

/** A fresh copy of the sample world, changed by `tamper`. */
function tamperedWorld(tamper: (world: string) => void): string {
  copies += 1;
  const world = path.join(base.root, `w-${copies}`);
  cpSync(base.world, world, { recursive: true });
  tamper(world);
  return world;
}

/** Sets the index's byte count of `itemId` to what a blob of `blobBytes` bytes holds. */
function setIndexBytes(indexFile: string, itemId: string, blobBytes: number): void {
  const lines = readFileSync(indexFile, 'utf8').trimEnd().split('\n');
  const edited = lines.map((line) => {
    const entry = JSON.parse(line) as { id: string; bytes: number };
    return entry.id === itemId ? JSON.stringify({ ...entry, bytes: blobBytes - BLOB_OVERHEAD }) : line;
  });
  writeFileSync(indexFile, `${edited.join('\n')}\n`);
}

/** Exports `order` of `world`: exit 4, one line matching `message`, and no archive, partial or not. */
async function expectRefused(world: string, order: string, message: RegExp): Promise<void> {
  const out = path.join(world, 'out');
  const run = await runCli(['export', path.join(world, 'orders', order), '--out', out, '--config', path.join(world, 'config.json')]);
  expect(run.code, run.stderr).toBe(4);
  const lines = run.stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(message);
  const left = existsSync(out) ? readdirSync(out) : [];
  expect(left).toEqual([]);
}

describe('links and non-files in a store', () => {
  it("a customer-key blob linked to the master key file (its index size to match) is refused, and the key is not delivered", async () => {
    const world = tamperedWorld((w) => {
      const master = path.join(w, 'keys', 'master.key');
      const blob = path.join(w, 'stores', 'storage', 'acct-0005', 'blobs', 'f-000002');
      rmSync(blob);
      symlinkSync(path.relative(path.dirname(blob), master), blob);
      setIndexBytes(path.join(w, 'stores', 'storage', 'acct-0005', 'index.jsonl'), 'f-000002', statSync(master).size);
    });
    await expectRefused(world, 'approved-customer-key.json', /^scopex: the blob of storage item f-000002 of account acct-0005 .* is not a file of its own: it is a symbolic link/);
  });

  it('a customer-key blob that is a copy of a private key (not a scopex item) is refused by its header', async () => {
    const world = tamperedWorld((w) => {
      const pem = path.join(w, 'pki', 'signer.key.pem');
      const blob = path.join(w, 'stores', 'storage', 'acct-0005', 'blobs', 'f-000002');
      cpSync(pem, blob);
      setIndexBytes(path.join(w, 'stores', 'storage', 'acct-0005', 'index.jsonl'), 'f-000002', statSync(pem).size);
    });
    await expectRefused(world, 'approved-customer-key.json', /^scopex: storage item f-000002 of account acct-0005 .*is not a scopex v1 encrypted item \(bad header\)/);
  });

  it("a subscriber record linked to another file is refused", async () => {
    const world = tamperedWorld((w) => {
      const record = path.join(w, 'stores', 'subscriber', 'acct-0001.json');
      rmSync(record);
      symlinkSync('../../keys/data-keys.json', record);
    });
    await expectRefused(world, 'approved-warrant.json', /^scopex: the subscriber record of account acct-0001 \(.*acct-0001\.json\) is a symbolic link/);
  });

  it("an account's blobs folder that is a link to another account's is refused", async () => {
    const world = tamperedWorld((w) => {
      const blobs = path.join(w, 'stores', 'mail', 'acct-0001', 'blobs');
      renameSync(blobs, `${blobs}-moved`);
      symlinkSync('blobs-moved', blobs);
    });
    await expectRefused(world, 'approved-warrant.json', /^scopex: the mail blobs folder of account acct-0001 \(.*\) is a symbolic link/);
  });

  it('a FIFO where a blob should be fails at once instead of waiting for a writer for ever', async () => {
    const world = tamperedWorld((w) => {
      const blob = path.join(w, 'stores', 'mail', 'acct-0001', 'blobs', 'm-000002');
      rmSync(blob);
      execFileSync('mkfifo', [blob]);
    });
    await expectRefused(world, 'approved-warrant.json', /^scopex: the blob of mail item m-000002 of account acct-0001 .* is not a file of its own: it is not a regular file/);
  }, 30_000);
});
