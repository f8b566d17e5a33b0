// A stand-in exporter for batch tests: each order file says how its export should end.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { ScopexConfig } from '../../src/config.js';
import { AbortedError, InputError, OrderError, ScopeError, SourceError } from '../../src/errors.js';
import { generateSamplePki, type SamplePki } from '../../src/samples/pki.js';
import type { ExportOptions, ExportResult } from '../../src/pipeline/export.js';

/**
 * 'raced-exists' and 'raced-busy' stand for another run that sealed the order just before this export got to it: the
 * archive appears, and the export fails as the real one then does (its archive name taken, or its lock held).
 */
/** 'crash' is for worker threads only (worker-mode.test.ts): the worker dies mid-export. */
export type FakeBehaviour = 'seal' | 'refuse' | 'fail' | 'scope' | 'hang' | 'raced-exists' | 'raced-busy' | 'crash';

export function writeFakeOrder(dir: string, name: string, id: string, behaviour: FakeBehaviour): string {
  const file = path.join(dir, name);
  writeFileSync(file, JSON.stringify({ schema: 'scopex.order/v1', id, fake: behaviour }));
  return file;
}

let pki: SamplePki | undefined;

/** The PKI of fakeConfig: one CA for reviewers and the archive signer, as in sample worlds. */
export function fakePki(): SamplePki {
  pki ??= generateSamplePki({ organization: 'Scopex Batch Test' });
  return pki;
}

/** A config in `dir`; when `dir` exists, its CA and signer certificates are written there (a re-run reads them). */
export function fakeConfig(dir: string): ScopexConfig {
  if (existsSync(dir)) {
    writeFileSync(path.join(dir, 'ca.cert.pem'), fakePki().ca.certificatePem);
    writeFileSync(path.join(dir, 'signer.cert.pem'), fakePki().signer.certificatePem);
    // A batch checks an order it turns away (to log it as export does), and that reads the directory.
    if (!existsSync(path.join(dir, 'stores', 'directory.json'))) {
      mkdirSync(path.join(dir, 'stores'), { recursive: true });
      writeFileSync(path.join(dir, 'stores', 'directory.json'), JSON.stringify({ schema: 'scopex.directory/v1', accounts: [] }));
    }
  }
  return {
    file: path.join(dir, 'config.json'),
    organization: 'Test',
    legalProcess: { schema: 'scopex.legal-process/v1', permits: {} } as unknown as ScopexConfig['legalProcess'],
    legalProcessFile: path.join(dir, 'legal-process.json'),
    storesRoot: path.join(dir, 'stores'),
    masterKeyFile: path.join(dir, 'master.key'),
    dataKeysFile: path.join(dir, 'data-keys.json'),
    reviewerCaFiles: [path.join(dir, 'ca.cert.pem')],
    signerCertificateFile: path.join(dir, 'signer.cert.pem'),
    signerKeyFile: path.join(dir, 'signer.key.pem'),
    custodyLogFile: path.join(dir, 'custody', 'custody.jsonl'),
  };
}

export interface FakeExporter {
  exportOrder: (options: ExportOptions) => Promise<ExportResult>;
  calls: string[];
  maxRunning: () => number;
  /** Resolves once `count` exports are running at the same time. */
  running: (count: number) => Promise<void>;
}

export function createFakeExporter(delayMs = 20): FakeExporter {
  const calls: string[] = [];
  let current = 0;
  let max = 0;
  const waiters: { count: number; resolve: () => void }[] = [];
  const wake = () => {
    for (const waiter of [...waiters]) {
      if (current >= waiter.count) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve();
      }
    }
  };
  const exportOrder = async (options: ExportOptions): Promise<ExportResult> => {
    calls.push(path.basename(options.orderFile));
    current += 1;
    max = Math.max(max, current);
    wake();
    try {
      let order: { id: string; fake: FakeBehaviour };
      try {
        order = JSON.parse(readFileSync(options.orderFile, 'utf8')) as { id: string; fake: FakeBehaviour };
      } catch {
        throw new InputError('JSON_MALFORMED', `order ${options.orderFile} is not valid JSON`);
      }
      options.onProgress?.({ items: 1, bytes: 10, totalItems: 2 });
      await sleep(delayMs, order.fake === 'hang' ? undefined : options.signal);
      switch (order.fake) {
        case 'seal': {
          const archive = path.join(options.outDir, `${order.id}.zip`);
          writeFileSync(archive, `sealed:${order.id}`);
          return {
            orderId: order.id,
            archive,
            sha256: 'f'.repeat(64),
            bytes: `sealed:${order.id}`.length,
            items: { subscriber: 1, 'mail.content': 2 },
            accounts: ['a1'],
            durationMs: delayMs,
            payloadBytes: 10,
            refusedItems: 0,
          };
        }
        case 'raced-exists':
        case 'raced-busy': {
          const archive = path.join(options.outDir, `${order.id}.zip`);
          writeFileSync(archive, `sealed:${order.id}`);
          throw order.fake === 'raced-exists'
            ? new InputError('OUTPUT_EXISTS', `archive ${archive} already exists; use --force to replace it.`)
            : new InputError('OUTPUT_BUSY', `an export of order ${order.id} into ${options.outDir} is already running (pid 1); nothing was changed.`);
        }
        case 'refuse':
          throw new OrderError([
            { code: 'EXPIRED', message: 'order expired' },
            { code: 'UNAPPROVED', message: 'order unapproved' },
          ]);
        case 'fail':
          throw new SourceError('STORE_UNREADABLE', 'store unreadable');
        case 'scope':
          throw new ScopeError('OUT_OF_SCOPE', 'item out of scope');
        case 'hang':
          await new Promise<void>((_, reject) => {
            if (options.signal?.aborted) reject(new AbortedError('ABORTED', 'aborted'));
            options.signal?.addEventListener('abort', () => reject(new AbortedError('ABORTED', 'aborted')), { once: true });
          });
          throw new Error('unreachable');
        case 'crash':
          throw new Error('a worker that dies is a worker thread\'s; in process, the fake cannot crash');
      }
    } finally {
      current -= 1;
    }
  };
  return {
    exportOrder,
    calls,
    maxRunning: () => max,
    running: (count) =>
      new Promise<void>((resolve) => {
        waiters.push({ count, resolve });
        wake();
      }),
  };
}

/** The fake verifier: an archive is good when it holds exactly what the fake exporter wrote. */
export async function fakeVerify(options: { archive: string }): Promise<{ ok: boolean }> {
  const id = path.basename(options.archive, '.zip');
  return { ok: readFileSync(options.archive, 'utf8') === `sealed:${id}` };
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        reject(new AbortedError('ABORTED', 'aborted'));
      },
      { once: true },
    );
  });
}
