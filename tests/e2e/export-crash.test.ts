// Crash safety: an export killed with SIGKILL at random points never leaves a part of an archive at its final name
// (only the whole archive, if the kill came after the rename), and the next run cleans up what the killed one left
// and seals a good archive.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildStoreFixture, type StoreFixture } from '../helpers/store-fixture.js';
import { writeSignedOrder } from '../pipeline/export-fixture.js';
import { buildCli, CLI, runCli, unzip } from './export-helpers.js';

let fx: StoreFixture;

beforeAll(async () => {
  buildCli();
  // A few tens of MB, most of it one streamed item, so that a kill lands in the middle of writing.
  fx = await buildStoreFixture({ largeItemBytes: 40 * 2 ** 20 });
});

afterAll(() => fx?.cleanup());

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Starts an export and SIGKILLs it `delayMs` after its .partial file appears (or after `delayMs` if `early`). */
async function killDuringExport(args: string[], partial: string, delayMs: number, early: boolean): Promise<'killed' | 'finished'> {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: 'ignore' });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  let done = false;
  void exited.then(() => (done = true));
  if (!early) {
    const waitUntil = Date.now() + 30_000;
    while (!done && !existsSync(partial) && Date.now() < waitUntil) await sleep(5);
  }
  await sleep(delayMs);
  if (done) return 'finished';
  child.kill('SIGKILL');
  await exited;
  return 'killed';
}


describe('scopex export under SIGKILL', () => {
  it('never leaves a file at the final name; a later run cleans up and succeeds', async () => {
    const order = writeSignedOrder(fx, { categories: ['subscriber', 'mail.content', 'storage.content', 'storage.metadata', 'im.content'] });
    const out = path.join(fx.root, 'out');
    const archive = path.join(out, `${order.id}.zip`);
    const args = ['export', order.file, '--out', out, '--config', fx.configFile];
    // Early kills (while the order is checked), and kills at random points while the archive is being written.
    const plans: [number, boolean][] = [
      [Math.floor(Math.random() * 300), true],
      ...Array.from({ length: 5 }, (): [number, boolean] => [Math.floor(Math.random() * 400), false]),
    ];
    let killedUnpublished = 0;
    for (const [delay, early] of plans) {
      const outcome = await killDuringExport(args, `${archive}.partial`, delay, early);
      if (outcome === 'killed') {
        if (existsSync(archive)) {
          // The kill came after the archive was renamed into place, while the process was still exiting: what is at
          // the final name must then be the whole, sealed archive (unzip fails on a cut-off one), never a part.
          execFileSync('unzip', ['-tqq', archive]);
          rmSync(archive);
        } else {
          killedUnpublished += 1;
        }
      } else {
        // It finished before the kill: then the final file is a whole archive. Start over for the next kill.
        unzip(archive, path.join(fx.root, 'check'));
        await runCli(['export', order.file, '--out', out, '--config', fx.configFile, '--force']);
        rmSync(archive);
      }
    }
    expect(killedUnpublished).toBeGreaterThan(0);

    const after = await runCli(args);
    expect(after.code, after.stderr).toBe(0);
    expect(existsSync(archive)).toBe(true);
    // Nothing the killed runs left remains: no .partial and no temp folder of this order.
    expect(readdirSync(out).filter((name) => name !== `${order.id}.zip` && !name.includes('.seal-'))).toEqual([]);
  });

  it('stops at a large item altered after it was indexed: exit 4, one line naming it, nothing left behind', async () => {
    // The built CLI streams large items from the key service's reader thread; the tag is checked at the end, after
    // 40 MB of the item are already in the archive being written: nothing of it may stay.
    const large = fx.items.find((item) => item.id === 's-large')!;
    const original = readFileSync(large.blobFile);
    const altered = Buffer.from(original);
    const middle = Math.floor(altered.length / 2);
    altered[middle] = altered[middle]! ^ 0x01;
    writeFileSync(large.blobFile, altered);
    try {
      const order = writeSignedOrder(fx, { categories: ['storage.content'] });
      const out = path.join(fx.root, 'out-altered');
      const run = await runCli(['export', order.file, '--out', out, '--config', fx.configFile]);
      expect(run.code, run.stderr).toBe(4);
      const lines = run.stderr.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toContain('s-large');
      expect(lines[0]).toContain('failed authentication');
      expect(existsSync(out) ? readdirSync(out) : []).toEqual([]);
    } finally {
      writeFileSync(large.blobFile, original);
    }
  });

  it('stops cleanly on Ctrl-C (SIGINT): exit 130, no archive, no partial file', async () => {
    const order = writeSignedOrder(fx, { categories: ['storage.content'] });
    const out = path.join(fx.root, 'out-sigint');
    const archive = path.join(out, `${order.id}.zip`);
    // 40 MB take far longer to seal than the 5 ms poll, so the signal nearly always lands while the archive is being
    // written. On a loaded machine the export may seal first: then it exits 0 with a whole archive, and is run again.
    let interrupted = 0;
    for (let attempt = 0; attempt < 5 && interrupted === 0; attempt += 1) {
      rmSync(out, { recursive: true, force: true });
      const child = spawn(process.execPath, [CLI, 'export', order.file, '--out', out, '--config', fx.configFile], { stdio: 'ignore' });
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      let done = false;
      void exited.then(() => (done = true));
      const waitUntil = Date.now() + 30_000;
      while (!done && !existsSync(`${archive}.partial`) && Date.now() < waitUntil) await sleep(5);
      child.kill('SIGINT');
      const code = await exited;
      const left = existsSync(out) ? readdirSync(out).filter((name) => !name.includes('.seal-')) : [];
      if (code === 130) {
        interrupted += 1;
        expect(left).toEqual([]);
      } else {
        expect(code).toBe(0);
        expect(left).toEqual([`${order.id}.zip`]);
        execFileSync('unzip', ['-tq', archive], { stdio: 'ignore' });
      }
    }
    expect(interrupted).toBeGreaterThan(0);
  });
});
