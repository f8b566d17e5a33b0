import { createHash, createPrivateKey } from 'node:crypto';
import { chmodSync, closeSync, constants, existsSync, mkdirSync, openSync, readFileSync, readdirSync, readlinkSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { crc32 } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { AbortedError, exitCodeFor, InputError, IntegrityError, KeyError } from '../../src/errors.js';
import type { SealerOptions } from '../../src/seal/sealer.js';
import { createBagSealer } from '../../src/seal/sealer.js';
import { writeFailure } from '../../src/seal/bag-sealer.js';
import { SealError } from '../../src/seal/seal-error.js';
import { pythonCheckBag, run, tempDir, writePki, type PkiFiles } from './helpers.js';

const NOW = new Date('2026-10-02T10:00:00Z');
let workspace: { dir: string; cleanup(): void };
let pki: PkiFiles;
let counter = 0;

beforeAll(() => {
  workspace = tempDir();
  pki = writePki(workspace.dir);
});
afterAll(() => workspace.cleanup());

function options(overrides: Partial<SealerOptions> = {}): SealerOptions {
  counter += 1;
  return {
    outDir: path.join(workspace.dir, `out-${counter}`),
    orderId: 'LE-2026-000123',
    organization: 'Contoso Cloud',
    signerCertificateFile: pki.signerCertificateFile,
    signerKeyFile: pki.signerKeyFile,
    now: NOW,
    ...overrides,
  };
}

function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Everything in the output folder, including hidden temp folders. */
function outputListing(outDir: string): string[] {
  return existsSync(outDir) ? readdirSync(outDir).sort() : [];
}

function chunkedStream(parts: Buffer[]): Readable {
  return Readable.from(parts, { objectMode: false });
}

function failingStream(goodBytes: number, error: Error): Readable {
  let sent = false;
  return new Readable({
    read() {
      if (!sent) {
        sent = true;
        this.push(Buffer.alloc(goodBytes, 7));
      } else {
        this.destroy(error);
      }
    },
  });
}

describe('a sealed bag', () => {
  const payload = new Map<string, Buffer>([
    ['acct-1/mail.content/m-1.eml', Buffer.from('From: a@example\r\nSubject: hi\r\n\r\nbody\r\n')],
    ['acct-1/storage.content/docs/report 100 pct.txt', Buffer.from('spaced')],
    ['acct-1/storage.content/caf\u00e9/empty.bin', Buffer.alloc(0)],
    ['acct-1/storage.content/big.bin', Buffer.alloc(3 * 1024 * 1024 + 17, 0xab)],
  ]);
  let outDir: string;
  let archive: string;
  let extracted: string;
  let result: Awaited<ReturnType<Awaited<ReturnType<typeof createBagSealer>>['seal']>>;

  beforeAll(async () => {
    const opts = options();
    outDir = opts.outDir;
    const sealer = await createBagSealer(opts);
    for (const [rel, body] of payload) {
      // Big ones as streams in uneven chunks, small ones as Buffers, and mail as bytes hashed (and CRC'd) by their
      // reader: every path of the sealer.
      const source =
        body.length > 1024
          ? chunkedStream([body.subarray(0, 1000), body.subarray(1000)])
          : rel.endsWith('.eml')
            ? { bytes: body, sha256: sha256(body), crc32: crc32(body) }
            : body;
      const added = await sealer.addPayload(rel, source);
      expect(added).toEqual({ path: `data/${rel}`, sha256: sha256(body), bytes: body.length });
    }
    await sealer.addTagFile('order.json', Buffer.from('{"id":"LE-2026-000123"}\n'));
    await sealer.addTagFile('production.json', chunkedStream([Buffer.from('{"items":'), Buffer.from('[]}\n')]));
    result = await sealer.seal();
    archive = result.archive;
    extracted = path.join(workspace.dir, `x-${counter}`);
    expect(run('unzip', ['-q', archive, '-d', extracted]).status).toBe(0);
  });

  test('lands at <outDir>/<orderId>.zip with nothing else left behind', () => {
    expect(archive).toBe(path.join(outDir, 'LE-2026-000123.zip'));
    expect(outputListing(outDir)).toEqual(['LE-2026-000123.zip']);
    const bytes = readFileSync(archive);
    expect(result.sha256).toBe(sha256(bytes));
    expect(result.bytes).toBe(bytes.length);
    expect(result.payloadFiles).toBe(payload.size);
    expect(result.payloadBytes).toBe([...payload.values()].reduce((sum, b) => sum + b.length, 0));
  });

  test('writes the CRC-32 a reader took of its bytes, and takes it itself otherwise', async () => {
    // The CRC given with the bytes is the one the entry carries: a wrong one (never given by scopex's reader, which
    // takes it of the very bytes it hashed) would show in unzip -t. So the given value is really the one used.
    const body = Buffer.from('From: b@example\r\n\r\nsecond\r\n');
    const sealed = async (crc: number | undefined): Promise<number | null> => {
      const sealer = await createBagSealer(options());
      await sealer.addPayload('acct-1/mail.content/m-2.eml', crc === undefined ? { bytes: body, sha256: sha256(body) } : { bytes: body, sha256: sha256(body), crc32: crc });
      await sealer.addTagFile('order.json', Buffer.from('{}\n'));
      await sealer.addTagFile('production.json', Buffer.from('[]\n'));
      return run('unzip', ['-tqq', (await sealer.seal()).archive]).status;
    };
    expect(await sealed(crc32(body))).toBe(0);
    expect(await sealed(undefined)).toBe(0);
    expect(await sealed((crc32(body) + 1) >>> 0)).not.toBe(0);
  });

  test('writes a stream given its CRC-32 as a whole entry (CRC-32 and sizes before its data, no descriptor), and refuses to seal one whose bytes then differ', async () => {
    const body = Buffer.alloc(2 * 1024 * 1024 + 5, 0x5a);
    body.write('PK\u0007\u0008', 1000, 'latin1');
    const sealed = async (crc: number) => {
      const sealer = await createBagSealer(options());
      try {
        await sealer.addPayload('acct-1/storage.content/big.bin', chunkedStream([body.subarray(0, 700_000), body.subarray(700_000)]), body.length, crc);
        await sealer.addTagFile('order.json', Buffer.from('{}\n'));
        await sealer.addTagFile('production.json', Buffer.from('[]\n'));
        return { archive: (await sealer.seal()).archive };
      } catch (error) {
        await sealer.abort();
        return { error };
      }
    };
    const { archive: whole } = await sealed(crc32(body) >>> 0);
    const zip = readFileSync(whole!);
    const name = 'LE-2026-000123/data/acct-1/storage.content/big.bin';
    // Its local header: the first place the name is written.
    const at = zip.indexOf(name) - 30;
    expect(zip.readUInt32LE(at)).toBe(0x04034b50);
    expect(zip.readUInt16LE(at + 4)).toBe(10);
    expect(zip.readUInt16LE(at + 6) & 0x08).toBe(0);
    expect(zip.readUInt32LE(at + 14)).toBe(crc32(body) >>> 0);
    expect(zip.readUInt32LE(at + 18)).toBe(body.length);
    expect(zip.readUInt32LE(at + 22)).toBe(body.length);
    // No descriptor: the next local header follows the data at once.
    expect(zip.readUInt32LE(at + 30 + name.length + zip.readUInt16LE(at + 28) + body.length)).toBe(0x04034b50);
    expect(run('unzip', ['-tqq', whole!]).status).toBe(0);
    const { error, archive } = await sealed((crc32(body) + 1) >>> 0);
    expect(archive).toBeUndefined();
    expect(error).toBeInstanceOf(IntegrityError);
    expect(exitCodeFor(error)).toBe(4);
    expect((error as Error).message).toContain('data/acct-1/storage.content/big.bin changed while it was exported');
  });

  test('passes unzip -t and has one top folder with the expected tag files', () => {
    const tested = run('unzip', ['-t', archive]);
    expect(tested.status).toBe(0);
    const top = readdirSync(extracted);
    expect(top).toEqual(['LE-2026-000123']);
    const root = readdirSync(path.join(extracted, 'LE-2026-000123')).sort();
    expect(root).toEqual([
      'bag-info.txt',
      'bagit.txt',
      'data',
      'manifest-sha256.txt',
      'order.json',
      'production.json',
      'signature.p7s',
      'tagmanifest-sha256.txt',
    ]);
  });

  test('bagit.txt, bag-info.txt and both manifests are exactly right', () => {
    const bag = path.join(extracted, 'LE-2026-000123');
    expect(readFileSync(path.join(bag, 'bagit.txt'), 'utf8')).toBe(
      'BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n',
    );
    const oxum = `${result.payloadBytes}.${payload.size}`;
    expect(readFileSync(path.join(bag, 'bag-info.txt'), 'utf8')).toBe(
      `Source-Organization: Contoso Cloud\nBagging-Date: 2026-10-02\nExternal-Identifier: LE-2026-000123\nPayload-Oxum: ${oxum}\n`,
    );
    const manifest = readFileSync(path.join(bag, 'manifest-sha256.txt'), 'utf8');
    const expected = [...payload].map(
      ([rel, body]) => `${sha256(body)}  data/${rel.replace(/%/g, '%25')}\n`,
    );
    expect(manifest).toBe(expected.join(''));
    // Recompute every payload line from the extracted files.
    for (const line of manifest.trimEnd().split('\n')) {
      const [digest, encoded] = line.split('  ') as [string, string];
      const rel = encoded.replace(/%25/g, '%');
      expect(sha256(readFileSync(path.join(bag, rel)))).toBe(digest);
    }
    const tagLines = readFileSync(path.join(bag, 'tagmanifest-sha256.txt'), 'utf8').trimEnd().split('\n');
    const tagged = tagLines.map((line) => line.split('  ')[1]);
    expect(tagged.sort()).toEqual(['bag-info.txt', 'bagit.txt', 'manifest-sha256.txt', 'order.json', 'production.json']);
    for (const line of tagLines) {
      const [digest, rel] = line.split('  ') as [string, string];
      expect(sha256(readFileSync(path.join(bag, rel)))).toBe(digest);
    }
  });

  test('the signature verifies with openssl against the CA, and not against another CA', () => {
    const bag = path.join(extracted, 'LE-2026-000123');
    const verify = (caFile: string): number | null =>
      run('openssl', [
        'cms',
        '-verify',
        '-binary',
        '-inform',
        'DER',
        '-in',
        path.join(bag, 'signature.p7s'),
        '-content',
        path.join(bag, 'tagmanifest-sha256.txt'),
        '-CAfile',
        caFile,
        '-purpose',
        'any',
        '-out',
        '/dev/null',
      ]).status;
    expect(verify(pki.caFile)).toBe(0);
    expect(verify(pki.otherCaFile)).not.toBe(0);
    const printed = run('openssl', ['cms', '-cmsout', '-print', '-inform', 'DER', '-in', path.join(bag, 'signature.p7s')]);
    expect(printed.stdout).toContain('signingTime');
    expect(printed.stdout).toContain('messageDigest');
    expect(printed.stdout).toContain('contentType');
    expect(printed.stdout).toContain('sha256');
    // Detached: the signed content is not inside the signature.
    expect(printed.stdout).toMatch(/eContent: <ABSENT>/);
  });

  test('an independent Python (zipfile + hashlib) checker accepts the bag', () => {
    const verdict = pythonCheckBag(archive, 'LE-2026-000123');
    expect(verdict.problems).toEqual([]);
    expect(verdict.ok).toBe(true);
    expect(verdict.payload).toBe(payload.size);
  });

  test('entries carry the bagging date, no directories and no links', () => {
    const listing = run('python3', [
      '-c',
      'import sys,zipfile,json;z=zipfile.ZipFile(sys.argv[1]);print(json.dumps([[i.filename,i.date_time[:3],i.external_attr>>16,i.compress_type] for i in z.infolist()]))',
      archive,
    ]);
    const entries = JSON.parse(listing.stdout) as [string, number[], number, number][];
    for (const [name, date, mode, method] of entries) {
      expect(name.endsWith('/')).toBe(false);
      expect(date).toEqual([2026, 10, 2]);
      expect(mode & 0o170000).not.toBe(0o120000);
      expect(method).toBe(0);
    }
  });

  test('no trace of the signer key is in the archive', () => {
    const bytes = readFileSync(archive);
    const keyPem = pki.pki.signer.keyPem;
    const body = keyPem.split('\n').filter((line) => line && !line.startsWith('-----'));
    expect(bytes.includes(Buffer.from('PRIVATE KEY'))).toBe(false);
    for (const line of body) expect(bytes.includes(Buffer.from(line))).toBe(false);
    // The private parts of the key (the modulus is public and is in the certificate), raw and encoded.
    const jwk = createPrivateKey(keyPem).export({ format: 'jwk' });
    for (const part of [jwk.d, jwk.p, jwk.q, jwk.dp, jwk.dq, jwk.qi]) {
      const raw = Buffer.from(part ?? '', 'base64url');
      expect(raw.length).toBeGreaterThan(64);
      for (const encoded of [raw, Buffer.from(raw.toString('hex')), Buffer.from(raw.toString('base64').slice(0, 40))]) {
        expect(bytes.includes(encoded.subarray(0, 32))).toBe(false);
      }
    }
  });
});

describe('writing the archive past the page cache (direct I/O)', () => {
  const big = Buffer.alloc(5 * 1024 * 1024 + 4097);
  for (let at = 0; at < big.length; at += 1) big[at] = (at * 31 + (at >>> 12)) & 0xff;

  /** Seals one bag with `overrides`; `during` runs while the archive is open, before seal(). */
  async function seal(overrides: Partial<SealerOptions>, during?: (partial: string) => void): Promise<{ bytes: Buffer; sha256: string }> {
    const opts = options(overrides);
    const sealer = await createBagSealer(opts);
    await sealer.addPayload('acct-1/storage.content/big.bin', chunkedStream([big.subarray(0, 4000), big.subarray(4000)]));
    for (let index = 0; index < 300; index += 1) await sealer.addPayload(`acct-1/mail.content/m-${index}.eml`, Buffer.from(`Subject: ${index}\r\n\r\n${'x'.repeat(index)}\r\n`));
    await sealer.addTagFile('order.json', Buffer.from('{}\n'));
    await sealer.addTagFile('production.json', Buffer.from('[]\n'));
    during?.(path.join(opts.outDir, `${opts.orderId}.zip.partial`));
    const result = await sealer.seal();
    return { bytes: readFileSync(result.archive), sha256: result.sha256 };
  }

  test('gives the same archive, byte for byte, as through the page cache, with the hash thread or without', async () => {
    const archives = [
      await seal({}),
      await seal({ directIo: false }),
      await seal({ hashThread: false }),
      await seal({ directIo: false, hashThread: false }),
    ];
    const first = archives[0]!;
    expect(first.bytes.length).toBeGreaterThan(big.length);
    for (const archive of archives) {
      expect(archive.bytes.equals(first.bytes)).toBe(true);
      expect(archive.sha256).toBe(sha256(archive.bytes));
    }
  });

  test.runIf(process.platform === 'linux')('holds the archive open with O_DIRECT where the file system takes it, and not when told not to', async () => {
    /** The open flags (octal, from /proc/self/fdinfo) of every descriptor of this process on `file`. */
    const flagsOf = (file: string): number[] =>
      readdirSync('/proc/self/fd').flatMap((fd) => {
        try {
          if (readlinkSync(`/proc/self/fd/${fd}`) !== file) return [];
          return [Number.parseInt(/^flags:\s+([0-7]+)/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))?.[1] ?? '0', 8)];
        } catch {
          return [];
        }
      });
    let direct: number[] = [];
    let buffered: number[] = [];
    await seal({}, (partial) => (direct = flagsOf(partial)));
    await seal({ directIo: false }, (partial) => (buffered = flagsOf(partial)));
    // O_DIRECT is 0o40000 on x86-64 and arm64 Linux alike (fs.constants says which).
    const O_DIRECT = constants.O_DIRECT;
    const probe = path.join(workspace.dir, 'probe');
    writeFileSync(probe, '');
    let takesDirect = true;
    try {
      closeSync(openSync(probe, constants.O_RDONLY | O_DIRECT));
    } catch {
      takesDirect = false;
    }
    expect(direct.length).toBe(takesDirect ? 2 : 1);
    expect(direct.filter((flags) => (flags & O_DIRECT) !== 0).length).toBe(takesDirect ? 1 : 0);
    expect(buffered.length).toBe(1);
    expect(buffered.filter((flags) => (flags & O_DIRECT) !== 0)).toEqual([]);
  });
});

describe('a stream hashed where it was made', () => {
  const body = Buffer.alloc(2 * 1024 * 1024 + 99, 0x5a);

  /** `digest` is made as the payload is added, as a reader's is when it opens the stream. */
  async function sealWith(stream: Readable, digest: () => Promise<{ sha256: string; bytes: number }>): Promise<{ added: unknown; archive?: string; outDir: string }> {
    const opts = options();
    const sealer = await createBagSealer(opts);
    try {
      const added = await sealer.addPayload('acct-1/storage.content/big.bin', { stream, digest: digest() });
      await sealer.addTagFile('order.json', Buffer.from('{}\n'));
      await sealer.addTagFile('production.json', Buffer.from('[]\n'));
      return { added, archive: (await sealer.seal()).archive, outDir: opts.outDir };
    } catch (error) {
      await sealer.abort(error);
      return { added: error, outDir: opts.outDir };
    }
  }

  test('is written as it comes, and its given digest is the one recorded (it is not hashed again)', async () => {
    // A digest that is not the bytes' own shows which one the manifest took; a real reader gives the true one.
    const given = sha256(Buffer.from('not these bytes'));
    const { added, archive } = await sealWith(chunkedStream([body.subarray(0, 5000), body.subarray(5000)]), () => Promise.resolve({ sha256: given, bytes: body.length }));
    expect(added).toEqual({ path: 'data/acct-1/storage.content/big.bin', sha256: given, bytes: body.length });
    const extracted = path.join(workspace.dir, `x-${counter}`);
    expect(run('unzip', ['-q', archive!, '-d', extracted]).status).toBe(0);
    expect(readFileSync(path.join(extracted, 'LE-2026-000123/data/acct-1/storage.content/big.bin')).equals(body)).toBe(true);
    expect(readFileSync(path.join(extracted, 'LE-2026-000123/manifest-sha256.txt'), 'utf8')).toContain(`${given}  data/acct-1/storage.content/big.bin`);
  });

  test("fails with the source's own error and leaves nothing behind", async () => {
    const broken = new IntegrityError('ITEM_AUTH_FAILED', 'item s-1 failed authentication');
    const failed = await sealWith(failingStream(70_000, broken), () => new Promise(() => undefined));
    expect(failed.added).toBe(broken);
    expect(outputListing(failed.outDir)).toEqual([]);
  });

  test("fails with the digest's failure, or a digest that is not one, and leaves nothing behind", async () => {
    const broken = new IntegrityError('ITEM_AUTH_FAILED', 'item s-1 failed authentication');
    const rejected = await sealWith(chunkedStream([body]), () => Promise.reject(broken));
    expect(rejected.added).toBe(broken);
    expect(outputListing(rejected.outDir)).toEqual([]);
    const malformed = await sealWith(chunkedStream([body]), () => Promise.resolve({ sha256: 'ABC', bytes: body.length }));
    expect(malformed.added).toMatchObject({ code: 'BAD_DIGEST' });
    expect(outputListing(malformed.outDir)).toEqual([]);
  });
});

describe('a failed write', () => {
  test('names what was being written and the system code, once', () => {
    const full = Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    expect(writeFailure('archive out/LE-1.zip.partial', full).message).toBe(
      'writing archive out/LE-1.zip.partial failed: ENOSPC: no space left on device, write',
    );
    const bare = Object.assign(new Error('i/o error'), { code: 'EIO' });
    expect(writeFailure('archive a.zip.partial', bare).message).toBe('writing archive a.zip.partial failed: EIO: i/o error');
    expect(writeFailure('archive a.zip.partial', 'stopped').message).toBe('writing archive a.zip.partial failed: stopped');
    expect(writeFailure('archive a.zip.partial', full)).toBeInstanceOf(SealError);
  });
});

describe('a bag with no payload (an order that found nothing)', () => {
  test('still unzips into a bag with a data/ folder, an empty manifest and Payload-Oxum 0.0', async () => {
    const opts = options();
    const sealer = await createBagSealer(opts);
    await sealer.addTagFile('order.json', Buffer.from('{}\n'));
    const sealed = await sealer.seal();
    expect(sealed.payloadFiles).toBe(0);
    const into = path.join(workspace.dir, `unzipped-empty-${counter}`);
    expect(run('unzip', ['-q', sealed.archive, '-d', into]).status).toBe(0);
    const bag = path.join(into, opts.orderId);
    expect(readdirSync(path.join(bag, 'data'))).toEqual([]);
    expect(readFileSync(path.join(bag, 'manifest-sha256.txt'), 'utf8')).toBe('');
    expect(readFileSync(path.join(bag, 'bag-info.txt'), 'utf8')).toContain('Payload-Oxum: 0.0');
  });
});

describe('refusing and cleaning up', () => {
  test('an output folder that cannot be made is OUTPUT_UNWRITABLE at once (not a hang), and nested new folders are made', async () => {
    // Node 20's recursive mkdir never settles under /proc; the sealer makes folders one level at a time.
    if (existsSync('/proc/self')) {
      const refused = createBagSealer({ ...options(), outDir: '/proc/scopex-no-such/out' });
      await expect(refused).rejects.toSatisfy((error) => error instanceof InputError && error.code === 'OUTPUT_UNWRITABLE');
    }
    const opts = options();
    const nested = path.join(opts.outDir, 'a', 'b', 'c');
    const sealer = await createBagSealer({ ...opts, outDir: nested });
    await sealer.addPayload('a.txt', Buffer.from('deep'));
    const sealed = await sealer.seal();
    expect(path.dirname(sealed.archive)).toBe(nested);
    expect(outputListing(nested)).toEqual(['LE-2026-000123.zip']);
  }, 10_000);

  test('an existing archive without force is OUTPUT_EXISTS and stays untouched; force replaces it', async () => {
    const opts = options();
    const first = await createBagSealer(opts);
    await first.addPayload('a.txt', Buffer.from('first'));
    const sealed = await first.seal();
    const before = readFileSync(sealed.archive);

    await expect(createBagSealer(opts)).rejects.toSatisfy(
      (error) => error instanceof InputError && error.code === 'OUTPUT_EXISTS',
    );
    expect(readFileSync(sealed.archive).equals(before)).toBe(true);
    expect(outputListing(opts.outDir)).toEqual(['LE-2026-000123.zip']);

    const forced = await createBagSealer({ ...opts, force: true });
    await forced.addPayload('b.txt', Buffer.from('second'));
    const replaced = await forced.seal();
    expect(readFileSync(replaced.archive).equals(before)).toBe(false);
    expect(outputListing(opts.outDir)).toEqual(['LE-2026-000123.zip']);
  });

  test("a folder under the archive's name is refused before anything is written, with or without force, naming the .zip", async () => {
    for (const force of [false, true]) {
      const opts = { ...options(), force };
      const folder = path.join(opts.outDir, 'LE-2026-000123.zip');
      mkdirSync(folder, { recursive: true });
      // --force replaces an archive, never a folder: this was "already exists; use --force", and with it a failed
      // rename of the .partial once everything had been exported.
      await expect(createBagSealer(opts)).rejects.toSatisfy(
        (error) => error instanceof InputError && error.code === 'OUTPUT_UNWRITABLE' && error.message.includes(`${folder}: it is a folder`),
      );
      expect(outputListing(opts.outDir)).toEqual(['LE-2026-000123.zip']);
    }
  });

  test("a folder that appears under the archive's name while sealing with force is named, not the .partial", async () => {
    const opts = { ...options(), force: true };
    const sealer = await createBagSealer(opts);
    await sealer.addPayload('a.txt', Buffer.from('mine'));
    const folder = path.join(opts.outDir, 'LE-2026-000123.zip');
    mkdirSync(folder);
    await expect(sealer.seal()).rejects.toSatisfy(
      (error) => error instanceof InputError && error.code === 'OUTPUT_UNWRITABLE' && error.message.includes(`${folder}: it is a folder`),
    );
    expect(outputListing(opts.outDir)).toEqual(['LE-2026-000123.zip']);
  });

  test('bytes handed over with a malformed SHA-256 are BAD_DIGEST, and their path stays free', async () => {
    const sealer = await createBagSealer(options());
    const bytes = Buffer.from('mail');
    for (const digest of ['', 'ABC', sha256(bytes).toUpperCase(), `${sha256(bytes)}0`]) {
      await expect(sealer.addPayload('m.eml', { bytes, sha256: digest })).rejects.toSatisfy((error) => error instanceof SealError && error.code === 'BAD_DIGEST');
    }
    expect(await sealer.addPayload('m.eml', { bytes, sha256: sha256(bytes) })).toEqual({ path: 'data/m.eml', sha256: sha256(bytes), bytes: 4 });
    await sealer.abort();
  });

  test('an archive that appears while sealing is not overwritten', async () => {
    const opts = options();
    const sealer = await createBagSealer(opts);
    await sealer.addPayload('a.txt', Buffer.from('mine'));
    const intruder = path.join(opts.outDir, 'LE-2026-000123.zip');
    writeFileSync(intruder, 'somebody else');
    await expect(sealer.seal()).rejects.toSatisfy(
      (error) => error instanceof InputError && error.code === 'OUTPUT_EXISTS',
    );
    expect(readFileSync(intruder, 'utf8')).toBe('somebody else');
    expect(outputListing(opts.outDir)).toEqual(['LE-2026-000123.zip']);
  });

  test('abort leaves no final file, no .partial and no temp folder; it is safe twice', async () => {
    const opts = options();
    const sealer = await createBagSealer(opts);
    await sealer.addPayload('a.txt', Buffer.from('data'));
    expect(outputListing(opts.outDir)).toContain('LE-2026-000123.zip.partial');
    await sealer.abort(new Error('operator changed their mind'));
    await sealer.abort();
    expect(outputListing(opts.outDir)).toEqual([]);
    await expect(sealer.addPayload('b.txt', Buffer.from('x'))).rejects.toThrow('operator changed their mind');
    await expect(sealer.seal()).rejects.toThrow('operator changed their mind');
  });

  test('a stale .partial and manifest folder from an earlier crash are replaced', async () => {
    const opts = options();
    const { mkdirSync } = await import('node:fs');
    mkdirSync(opts.outDir, { recursive: true });
    writeFileSync(path.join(opts.outDir, 'LE-2026-000123.zip.partial'), 'half an archive from a crash');
    mkdirSync(path.join(opts.outDir, '.LE-2026-000123.seal-abc123'));
    writeFileSync(path.join(opts.outDir, '.LE-2026-000123.seal-abc123', 'manifest-sha256.txt'), 'stale');
    const sealer = await createBagSealer(opts);
    await sealer.addPayload('a.txt', Buffer.from('fresh'));
    const sealed = await sealer.seal();
    expect(outputListing(opts.outDir)).toEqual(['LE-2026-000123.zip']);
    expect(pythonCheckBag(sealed.archive, 'LE-2026-000123').ok).toBe(true);
  });

  test('a source that fails mid-entry aborts with its own error and leaves nothing', async () => {
    const opts = options();
    const sealer = await createBagSealer(opts);
    await sealer.addPayload('ok.txt', Buffer.from('fine'));
    const sourceError = new IntegrityError('ITEM_AUTH_FAILED', 'item m-2 of acct-1 failed authentication.');
    await expect(sealer.addPayload('bad.bin', failingStream(200_000, sourceError))).rejects.toBe(sourceError);
    await expect(sealer.seal()).rejects.toBe(sourceError);
    await sealer.abort();
    expect(outputListing(opts.outDir)).toEqual([]);
  });

  test('an abort signal rejects the pending entry with AbortedError and leaves nothing', async () => {
    const controller = new AbortController();
    const opts = options({ signal: controller.signal });
    const sealer = await createBagSealer(opts);
    const endless = new Readable({
      read() {
        setTimeout(() => this.push(Buffer.alloc(1024)), 5);
      },
    });
    const pending = sealer.addPayload('endless.bin', endless);
    setTimeout(() => controller.abort(), 50);
    await expect(pending).rejects.toSatisfy((error) => error instanceof AbortedError && error.code === 'ABORTED');
    await sealer.abort();
    expect(outputListing(opts.outDir)).toEqual([]);
  });

  test('beforePublish runs on the whole archive before it has its name; an abort signal from then on does not undo the seal', async () => {
    const controller = new AbortController();
    const opts = options({ signal: controller.signal });
    const sealer = await createBagSealer(opts);
    await sealer.addPayload('a.txt', Buffer.from('a'));
    const archive = path.join(opts.outDir, `${opts.orderId}.zip`);
    let seen: { sha256: string; named: boolean; partialSha256: string } | undefined;
    const result = await sealer.seal(async (sealed) => {
      seen = { sha256: sealed.sha256, named: existsSync(archive), partialSha256: sha256(readFileSync(`${archive}.partial`)) };
      controller.abort();
      await new Promise((resolve) => setTimeout(resolve, 20));
    });
    expect(seen).toEqual({ sha256: result.sha256, named: false, partialSha256: result.sha256 });
    expect(sha256(readFileSync(archive))).toBe(result.sha256);
    expect(outputListing(opts.outDir)).toEqual([`${opts.orderId}.zip`]);
  });

  test('a beforePublish that throws publishes nothing and leaves nothing', async () => {
    const opts = options();
    const sealer = await createBagSealer(opts);
    await sealer.addPayload('a.txt', Buffer.from('a'));
    const refusal = new IntegrityError('AUDIT_LOG_BROKEN', 'the custody log would not take the record');
    await expect(sealer.seal(() => Promise.reject(refusal))).rejects.toBe(refusal);
    expect(outputListing(opts.outDir)).toEqual([]);
  });

  test('unsafe and duplicate paths are refused without breaking the bag', async () => {
    const opts = options();
    const sealer = await createBagSealer(opts);
    await sealer.addPayload('acct/Folder/a.txt', Buffer.from('a'));
    const refused = async (promise: Promise<unknown>, code: string): Promise<void> => {
      await expect(promise).rejects.toSatisfy((error) => error instanceof SealError && error.code === code);
    };
    // `%` too: a manifest would have to write it as `%25`, which bagit.py does not read back.
    for (const bad of ['../x', '/abs', 'a//b', 'a/./b', 'a\\b', 'bad\nname', 'caf\u0065\u0301', 'con', 'trailing. ', '', 'report 100%.txt']) {
      await refused(sealer.addPayload(bad, Buffer.from('x')), 'UNSAFE_PATH');
    }
    await refused(sealer.addPayload('acct/Folder/a.txt', Buffer.from('again')), 'DUPLICATE_PATH');
    await refused(sealer.addPayload('acct/folder/A.TXT', Buffer.from('case twin')), 'DUPLICATE_PATH');
    await refused(sealer.addPayload('acct/Folder', Buffer.from('file where a folder is')), 'DUPLICATE_PATH');
    await refused(sealer.addPayload('acct/Folder/a.txt/inner', Buffer.from('folder where a file is')), 'DUPLICATE_PATH');
    const refusedBody = chunkedStream([Buffer.from('never read')]);
    await refused(sealer.addPayload('../escape', refusedBody), 'UNSAFE_PATH');
    expect(refusedBody.destroyed).toBe(true);
    await refused(sealer.addTagFile('bagit.txt', Buffer.from('x')), 'UNSAFE_PATH');
    await refused(sealer.addTagFile('tagmanifest-md5.txt', Buffer.from('x')), 'UNSAFE_PATH');
    await refused(sealer.addTagFile('../order.json', Buffer.from('x')), 'UNSAFE_PATH');
    await sealer.addTagFile('order.json', Buffer.from('{}'));
    await refused(sealer.addTagFile('order.json', Buffer.from('{}')), 'DUPLICATE_PATH');
    const sealed = await sealer.seal();
    const verdict = pythonCheckBag(sealed.archive, 'LE-2026-000123');
    expect(verdict.ok).toBe(true);
    expect(verdict.payload).toBe(1);
    await refused(sealer.addPayload('late.txt', Buffer.from('x')), 'SEALER_CLOSED');
  });

  test('bad signer files are input errors that never echo the key', async () => {
    const notAKey = path.join(workspace.dir, 'not-a-key.pem');
    writeFileSync(notAKey, '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n', { mode: 0o600 });
    const error: unknown = await createBagSealer(options({ signerKeyFile: notAKey })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InputError);
    expect((error as InputError).code).toBe('FILE_UNREADABLE');
    expect(String((error as Error).message)).not.toContain('AAAA');

    // The CA's key does not belong to the signer certificate.
    const wrongKey = path.join(workspace.dir, 'wrong.key.pem');
    writeFileSync(wrongKey, pki.pki.ca.keyPem, { mode: 0o600 });
    const mismatch: unknown = await createBagSealer(options({ signerKeyFile: wrongKey })).catch((e: unknown) => e);
    expect(mismatch).toBeInstanceOf(InputError);
    expect((mismatch as InputError).code).toBe('CONFIG_INVALID');

    const missing: unknown = await createBagSealer(options({ signerKeyFile: path.join(workspace.dir, 'nope.pem') })).catch(
      (e: unknown) => e,
    );
    expect((missing as InputError).code).toBe('FILE_UNREADABLE');
  });

  test('a signer key file open to other users (or a link to one) is refused as the master key is, before anything is written', async () => {
    const loose = path.join(workspace.dir, 'loose-signer.key.pem');
    writeFileSync(loose, pki.pki.signer.keyPem);
    const linked = path.join(workspace.dir, 'linked-signer.key.pem');
    symlinkSync(loose, linked);
    for (const [mode, file] of [[0o644, loose], [0o640, loose], [0o606, loose], [0o666, linked]] as const) {
      chmodSync(loose, mode);
      const settings = options({ signerKeyFile: file });
      const error: unknown = await createBagSealer(settings).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(KeyError);
      expect((error as KeyError).code).toBe('KEY_FILE_NOT_PRIVATE');
      expect(exitCodeFor(error)).toBe(2);
      expect((error as Error).message).toBe(
        `the signer key file ${file} is open to other users (mode 0${mode.toString(8)}); it must be readable by its owner only (chmod 600 ${file})`,
      );
      expect(outputListing(settings.outDir)).toEqual([]);
    }
    chmodSync(loose, 0o400);
    await expect(createBagSealer(options({ signerKeyFile: linked })).then(async (sealer) => sealer.abort())).resolves.toBeUndefined();
  });

  test('an organization that would not be one line of bag-info.txt is refused before anything is written', async () => {
    for (const organization of ['Contoso\u2028Legal', 'Contoso\u0085Legal', 'Contoso\vLegal', ' Contoso', 'Contoso ', '']) {
      const settings = options({ organization });
      const error: unknown = await createBagSealer(settings).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InputError);
      expect((error as InputError).code).toBe('CONFIG_INVALID');
      expect(outputListing(settings.outDir)).toEqual([]);
    }
  });

  test('a signer certificate that verify would refuse (expired, not yet valid, a reviewer\'s) is refused before anything is written', async () => {
    const refusal = async (overrides: Partial<SealerOptions>): Promise<string> => {
      const settings = options(overrides);
      const error: unknown = await createBagSealer(settings).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InputError);
      expect((error as InputError).code).toBe('CONFIG_INVALID');
      expect(outputListing(settings.outDir)).toEqual([]);
      return (error as Error).message;
    };
    // The sample PKI is valid from 2024-01-01 to 2034-01-01.
    expect(await refusal({ now: new Date('2034-06-01T00:00:00Z') })).toMatch(
      /^signer certificate .*signer\.cert\.pem cannot sign archives: the signer certificate ".*Legal Production Signer" is valid from 2024-01-01T00:00:00\.000Z to 2034-01-01T00:00:00\.000Z, not now \(2034-06-01T00:00:00\.000Z\); an archive signed with it would fail verify\.$/,
    );
    expect(await refusal({ now: new Date('2023-12-31T23:59:59Z') })).toContain('not now (2023-12-31T23:59:59.000Z)');
    // The reviewer's certificate and key belong together and chain to the same CA, but only approve orders.
    const reviewerCertificate = path.join(workspace.dir, 'reviewer.cert.pem');
    const reviewerKey = path.join(workspace.dir, 'reviewer.key.pem');
    writeFileSync(reviewerCertificate, pki.pki.reviewer.certificatePem);
    writeFileSync(reviewerKey, pki.pki.reviewer.keyPem, { mode: 0o600 });
    const message = await refusal({ signerCertificateFile: reviewerCertificate, signerKeyFile: reviewerKey });
    expect(message).toContain('is not certified to sign archives (its extended key usage lacks emailProtection)');
    expect(message).not.toContain(pki.pki.reviewer.keyPem.split('\n')[1]);
    // On the edges of its validity it still signs.
    await expect(createBagSealer(options({ now: new Date('2034-01-01T00:00:00Z') })).then(async (sealer) => sealer.abort())).resolves.toBeUndefined();
  });

  test('an order id that cannot be a file name is refused', async () => {
    for (const orderId of ['../LE-1', 'LE/1', 'LE:1', '', '..']) {
      await expect(createBagSealer(options({ orderId }))).rejects.toSatisfy(
        (error) => error instanceof InputError && error.code === 'USAGE',
      );
    }
  });
});
