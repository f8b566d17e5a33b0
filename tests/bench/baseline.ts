// What an engineer would do by hand, on the same plaintext bytes scopex exported:
// a sha256sum manifest, a detached CMS signature of it, and `zip -0 -r` of the lot; and, for verification,
// `sha256sum -c` and `openssl dgst -sha256` over the same files.
import { readdirSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import yauzl from 'yauzl';
import { runChecked, runTimed } from './process-timer.js';

export interface Payload {
  /** Files under the bag's data/ folder (the items both tools handle). */
  files: number;
  bytes: number;
}

export interface BaselineRun {
  seconds: number;
  steps: { manifest: number; sign: number; zip: number };
}

export interface SignerFiles {
  certificate: string;
  key: string;
}

/** Unzips an archive with Info-ZIP and returns the bag folder (the archive's single top folder). */
export async function extractArchive(archive: string, destination: string): Promise<string> {
  rmSync(destination, { recursive: true, force: true });
  await runChecked('unzip', ['-q', archive, '-d', destination]);
  const tops = readdirSync(destination);
  if (tops.length !== 1 || !tops[0]) throw new Error(`${archive}: expected one top folder, found ${tops.length}`);
  return path.join(destination, tops[0]);
}

/** Counts and sizes the payload files under a folder. */
export function payloadOnDisk(dataDir: string): Payload {
  let files = 0;
  let bytes = 0;
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.isFile()) {
        files++;
        bytes += statSync(full).size;
      }
    }
  };
  walk(dataDir);
  return { files, bytes };
}

/** Counts and sizes the payload entries of an archive from its central directory, without extracting it. */
export function payloadInArchive(archive: string): Promise<Payload> {
  return new Promise((resolve, reject) => {
    yauzl.open(archive, { lazyEntries: true, autoClose: true }, (openError, zip) => {
      if (openError || !zip) {
        reject(openError ?? new Error(`${archive}: could not open`));
        return;
      }
      let files = 0;
      let bytes = 0;
      zip.on('entry', (entry: yauzl.Entry) => {
        const parts = entry.fileName.split('/');
        if (parts[1] === 'data' && !entry.fileName.endsWith('/')) {
          files++;
          bytes += entry.uncompressedSize;
        }
        zip.readEntry();
      });
      zip.on('end', () => resolve({ files, bytes }));
      zip.on('error', reject);
      zip.readEntry();
    });
  });
}

/**
 * One run of the shell baseline in `bagDir` (which holds data/): manifest, then signature, then a stored zip
 * of data/, the manifest and the signature into `outZip`. The time is the sum of the three steps.
 */
export async function runShellBaseline(bagDir: string, signer: SignerFiles, outZip: string): Promise<BaselineRun> {
  rmSync(outZip, { force: true });
  const signature = path.join(bagDir, 'manifest.p7s');
  rmSync(signature, { force: true });
  const manifest = await runChecked('find data -type f -print0 | xargs -0 sha256sum > manifest', [], { cwd: bagDir, shell: true });
  const sign = await runChecked('openssl', [
    'cms', '-sign', '-binary', '-outform', 'DER', '-md', 'sha256',
    '-in', 'manifest', '-signer', signer.certificate, '-inkey', signer.key, '-out', 'manifest.p7s',
  ], { cwd: bagDir });
  const zip = await runChecked('zip', ['-0', '-r', '-q', outZip, 'data', 'manifest', 'manifest.p7s'], { cwd: bagDir });
  rmSync(outZip, { force: true });
  return {
    seconds: manifest.seconds + sign.seconds + zip.seconds,
    steps: { manifest: manifest.seconds, sign: sign.seconds, zip: zip.seconds },
  };
}

/** `sha256sum -c` of the baseline's manifest (so run runShellBaseline first). */
export async function runSha256sumCheck(bagDir: string): Promise<number> {
  const run = await runTimed('sha256sum', ['-c', '--quiet', 'manifest'], { cwd: bagDir });
  if (run.exitCode !== 0) throw new Error(`sha256sum -c failed in ${bagDir}: ${run.stdout.slice(0, 300)}${run.stderr.slice(0, 300)}`);
  return run.seconds;
}

/** `openssl dgst -sha256` over every payload file. */
export async function runOpensslDigest(bagDir: string): Promise<number> {
  const run = await runChecked('find data -type f -print0 | xargs -0 openssl dgst -sha256 > /dev/null', [], { cwd: bagDir, shell: true });
  return run.seconds;
}
