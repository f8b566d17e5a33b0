// The contract every SourceAdapter passes (STYLE.md #4): a real service's adapter would run the same suite.
//
//   testSourceAdapter({ name: 'mail', create: (fx) => createMailAdapter({ root: path.join(fx.storesRoot, 'mail') }) });
//
// The suite builds its own fixture world (tests/helpers/store-fixture.ts), checks listing against the items the
// fixture wrote, and corrupts blobs and indexes in the sample-world layout (restoring them after each test).
import { copyFileSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, truncateSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IntegrityError, KeyError, SourceError, type ScopexError } from '../../src/errors.js';
import { HEADER_BYTES } from '../../src/keys/item-crypto.js';
import type { KeyService } from '../../src/keys/key-service.js';
import { createLocalKeyService } from '../../src/keys/local-key-service.js';
import type { SourceAdapter, SourceItem, TimeRange } from '../../src/sources/source-adapter.js';
import { buildStoreFixture, HOSTILE_NAMES, type FixtureItem, type StoreFixture } from '../helpers/store-fixture.js';

export interface AdapterContractContext {
  fixture: StoreFixture;
  adapter: SourceAdapter;
  keyService: KeyService;
  /** The adapter's store folder in the sample-world layout (W/stores/<service>). */
  root: string;
}

export interface SourceAdapterContract {
  name: string;
  /** Builds the adapter under test over the fixture's stores. */
  create: (fixture: StoreFixture) => SourceAdapter;
  /**
   * Whether items are dated events filtered by the range and listed from a per-account index (default true).
   * Subscriber records are neither: one record per account, listed whatever the range.
   */
  timeBound?: boolean;
  /** Adapter-specific tests, run inside the suite with the same context. */
  extra?: (ctx: () => AdapterContractContext) => void;
}

export async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}

/** Asserts a promise rejects with a ScopexError of this class and code, and returns the error. */
export async function rejectsWithCode<E extends ScopexError>(
  promise: Promise<unknown>,
  type: abstract new (...args: never[]) => E,
  code: E['code'],
): Promise<E> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, `expected ${type.name} ${code}, but it resolved`).toBeDefined();
  expect(error).toBeInstanceOf(type);
  expect((error as E).code).toBe(code);
  return error as E;
}

/** Reads a stream to its end (the key service checks the tag there). */
export async function drain(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

const IN_RANGE = new Set(['at-from', 'inside', 'at-to', 'timeless']);

export function testSourceAdapter(contract: SourceAdapterContract): void {
  const timeBound = contract.timeBound ?? true;

  describe(`SourceAdapter contract: ${contract.name}`, () => {
    let context: AdapterContractContext | undefined;
    const ctx = (): AdapterContractContext => {
      if (!context) throw new Error('the contract fixture is not built');
      return context;
    };

    beforeAll(async () => {
      const fixture = await buildStoreFixture({ pki: false });
      const adapter = contract.create(fixture);
      context = {
        fixture,
        adapter,
        keyService: createLocalKeyService({ masterKeyFile: fixture.masterKeyFile, dataKeysFile: fixture.dataKeysFile }),
        root: path.join(fixture.storesRoot, adapter.service),
      };
    });
    afterAll(() => context?.fixture.cleanup());

    const itemsOf = (accountId: string) => ctx().fixture.itemsOf(ctx().adapter.service, accountId);
    const list = (accountId: string, range: TimeRange = ctx().fixture.range, signal?: AbortSignal) =>
      collect(ctx().adapter.list(accountId, range, signal));
    const wide: TimeRange = { from: new Date('1970-01-01T00:00:00Z'), to: new Date('2100-01-01T00:00:00Z') };
    const ids = (items: { id: string }[]) => items.map((item) => item.id);
    const byPosition = (accountId: string, position: FixtureItem['position']) =>
      itemsOf(accountId).filter((item) => item.position === position);

    it('lists exactly each account’s in-range items, in index order', async () => {
      const { accounts } = ctx().fixture;
      for (const account of [accounts.consumer, accounts.neighbour, accounts.enterprise, accounts.customerKey]) {
        const expected = itemsOf(account.id).filter((item) => IN_RANGE.has(item.position));
        expect(expected.length).toBeGreaterThan(0);
        expect(ids(await list(account.id))).toEqual(ids(expected));
      }
    });

    it('gives every item its kind, account, id, timestamp, bytes, name and a ref to its blob', async () => {
      const { adapter, fixture } = ctx();
      const kind = { mail: 'mail', storage: 'file', im: 'im', subscriber: 'subscriber' }[adapter.service];
      const listed = await list(fixture.accounts.consumer.id, wide);
      const expected = itemsOf(fixture.accounts.consumer.id);
      expect(listed).toHaveLength(expected.length);
      listed.forEach((item: SourceItem, index) => {
        const want = expected[index]!;
        expect(item.kind).toBe(kind);
        expect(item.accountId).toBe(want.accountId);
        expect(item.id).toBe(want.id);
        expect(item.bytes).toBe(want.bytes);
        expect(Date.parse(item.timestamp)).toBe(Date.parse(want.timestamp));
        expect(item.ref).toEqual({ service: adapter.service, accountId: want.accountId, itemId: want.id, blobFile: want.blobFile });
        if (timeBound) expect(item.name).toBe(want.name);
      });
    });

    it('opens every listed item of a provider-key account to its exact plaintext', async () => {
      const { fixture, keyService } = ctx();
      for (const account of [fixture.accounts.consumer, fixture.accounts.neighbour, fixture.accounts.enterprise]) {
        const expected = new Map(itemsOf(account.id).map((item) => [item.id, item]));
        for (const item of await list(account.id, wide)) {
          const plaintext = await drain(keyService.openItem(item.ref));
          expect(plaintext.equals(expected.get(item.id)!.plaintext!)).toBe(true);
        }
      }
    });

    it('hands customer-key items over only as stored: openItem refuses, openStored gives the exact blob', async () => {
      const { fixture, keyService } = ctx();
      const listed = await list(fixture.accounts.customerKey.id, wide);
      expect(listed.length).toBeGreaterThan(0);
      for (const item of listed) {
        expect(keyService.encryptionState(item.accountId)).toBe('customer-key');
        await rejectsWithCode(Promise.resolve().then(() => drain(keyService.openItem(item.ref))), KeyError, 'CUSTOMER_HELD_KEY');
        expect((await drain(keyService.openStored(item.ref))).equals(readFileSync(item.ref.blobFile))).toBe(true);
      }
    });

    if (timeBound) {
      it('includes items exactly at `from` and exactly at `to` (both ends inclusive)', async () => {
        const consumer = ctx().fixture.accounts.consumer.id;
        const edges = [...byPosition(consumer, 'at-from'), ...byPosition(consumer, 'at-to')];
        expect(edges).toHaveLength(2);
        const listed = ids(await list(consumer));
        for (const edge of edges) expect(listed).toContain(edge.id);
      });

      it('excludes items just outside the range (one millisecond or one second before `from`, after `to`)', async () => {
        const consumer = ctx().fixture.accounts.consumer.id;
        const outside = [...byPosition(consumer, 'before-from'), ...byPosition(consumer, 'after-to')];
        expect(outside).toHaveLength(2);
        const listed = ids(await list(consumer));
        for (const item of outside) expect(listed).not.toContain(item.id);
        // ...and they are there when the range moves to cover them.
        expect(ids(await list(consumer, wide))).toEqual(expect.arrayContaining(ids(outside)));
      });

      it('a one-instant range lists exactly the item at that instant', async () => {
        const consumer = ctx().fixture.accounts.consumer.id;
        for (const position of ['at-from', 'at-to'] as const) {
          const [edge] = byPosition(consumer, position);
          const at = new Date(Date.parse(edge!.timestamp));
          expect(ids(await list(consumer, { from: at, to: at }))).toEqual([edge!.id]);
        }
      });

      it('a range that covers no item lists nothing', async () => {
        const range = { from: new Date('2030-01-01T00:00:00Z'), to: new Date('2030-12-31T23:59:59Z') };
        expect(await list(ctx().fixture.accounts.consumer.id, range)).toEqual([]);
      });

      it('an account folder with an empty index lists nothing', async () => {
        const empty = ctx().fixture.accounts.empty.id;
        expect(readFileSync(path.join(ctx().root, empty, 'index.jsonl'), 'utf8')).toBe('');
        expect(await list(empty, wide)).toEqual([]);
      });
    } else {
      it('lists the one record whatever the range', async () => {
        const consumer = ctx().fixture.accounts.consumer.id;
        const range = { from: new Date('2030-01-01T00:00:00Z'), to: new Date('2030-01-01T00:00:00Z') };
        expect(ids(await list(consumer, range))).toEqual(ids(itemsOf(consumer)));
        expect(itemsOf(consumer)).toHaveLength(1);
      });

      it('an account without any items still has its record', async () => {
        expect(await list(ctx().fixture.accounts.empty.id)).toHaveLength(1);
      });
    }

    it('a store whose folder is missing is STORE_UNREADABLE, not an unknown account', async () => {
      const { fixture } = ctx();
      const adapter = contract.create({ ...fixture, storesRoot: path.join(fixture.root, 'no-such-stores') });
      await rejectsWithCode(collect(adapter.list(fixture.accounts.consumer.id, wide)), SourceError, 'STORE_UNREADABLE');
    });

    it('an unknown account, or an id that is not a plain folder name, is UNKNOWN_ACCOUNT', async () => {
      const { consumer, neighbour } = ctx().fixture.accounts;
      for (const id of ['acct-nobody', '', '.', '..', `../${consumer.id}`, `${neighbour.id}/../${consumer.id}`, `${consumer.id}\0`, `/${consumer.id}`]) {
        await rejectsWithCode(list(id), SourceError, 'UNKNOWN_ACCOUNT');
      }
    });

    describe('a corrupt blob fails to open with ITEM_AUTH_FAILED naming the item', () => {
      const victim = () => {
        const item = itemsOf(ctx().fixture.accounts.consumer.id).find((i) => i.bytes > 0 && i.position !== 'before-from');
        if (!item) throw new Error('the fixture has no item to corrupt');
        return item;
      };

      async function expectAuthFailure(item: FixtureItem, damage: () => void): Promise<void> {
        const backup = readFileSync(item.blobFile);
        const { atime, mtime } = statSync(item.blobFile);
        try {
          damage();
          const [listed] = (await list(item.accountId, wide)).filter((i) => i.id === item.id);
          expect(listed).toBeDefined();
          const streamed = await rejectsWithCode(drain(ctx().keyService.openItem(listed!.ref)), IntegrityError, 'ITEM_AUTH_FAILED');
          expect(streamed.message).toContain(item.id);
          expect(streamed.message).toContain(item.accountId);
          await rejectsWithCode(ctx().keyService.readItem(listed!.ref, 1 << 20), IntegrityError, 'ITEM_AUTH_FAILED');
        } finally {
          writeFileSync(item.blobFile, backup);
          utimesSync(item.blobFile, atime, mtime); // subscriber records are dated by their file's mtime
        }
        // Restored, it opens again: the failure came from the damage.
        const ref = { service: item.service, accountId: item.accountId, itemId: item.id, blobFile: item.blobFile };
        expect((await drain(ctx().keyService.openItem(ref))).equals(item.plaintext!)).toBe(true);
      }

      it('a flipped byte in the body', async () => {
        const item = victim();
        await expectAuthFailure(item, () => {
          const blob = readFileSync(item.blobFile);
          blob[HEADER_BYTES] = blob[HEADER_BYTES]! ^ 0x01;
          writeFileSync(item.blobFile, blob);
        });
      });

      it('a truncated blob', async () => {
        const item = victim();
        await expectAuthFailure(item, () => truncateSync(item.blobFile, readFileSync(item.blobFile).length - 3));
      });

      it('a blob swapped with another item’s', async () => {
        const item = victim();
        const { accounts } = ctx().fixture;
        // Item stores: another item of the same account. Subscriber records: another account's record.
        const other = timeBound
          ? itemsOf(accounts.consumer.id).find((i) => i.id !== item.id && i.bytes > 0)
          : itemsOf(accounts.neighbour.id)[0];
        expect(other).toBeDefined();
        await expectAuthFailure(item, () => copyFileSync(other!.blobFile, item.blobFile));
      });
    });

    if (timeBound) {
      describe('a corrupt index line is INDEX_CORRUPT naming the file and the line', () => {
        const badLines = {
          'not JSON': '{"id": "x", ',
          'a missing field': '{"id":"x","timestamp":"2026-03-01T00:00:00Z","name":"x"}',
          'a zone-less timestamp': '{"id":"x","timestamp":"2026-03-01T00:00:00","bytes":1,"name":"x"}',
          'an id that is a path': '{"id":"../../acct-bob/blobs/m-1","timestamp":"2026-03-01T00:00:00Z","bytes":1,"name":"x"}',
          'negative bytes': '{"id":"x","timestamp":"2026-03-01T00:00:00Z","bytes":-1,"name":"x"}',
          // Delivered twice under two names and counted twice, were it let through.
          'an item listed again': (lines: string[]) => lines[0]!,
        };
        for (const [what, bad] of Object.entries(badLines)) {
          it(what, async () => {
            const { root, fixture } = ctx();
            const accountId = `acct-corrupt-${Object.keys(badLines).indexOf(what)}`;
            const folder = path.join(root, accountId);
            mkdirSync(folder, { recursive: true });
            try {
              const lines = readFileSync(path.join(root, fixture.accounts.consumer.id, 'index.jsonl'), 'utf8').split('\n');
              lines.splice(2, 1, typeof bad === 'string' ? bad : bad(lines));
              const file = path.join(folder, 'index.jsonl');
              writeFileSync(file, lines.join('\n'));
              const error = await rejectsWithCode(list(accountId, wide), SourceError, 'INDEX_CORRUPT');
              expect(error.message).toContain(file);
              expect(error.message).toMatch(/\bline 3\b/);
            } finally {
              rmSync(folder, { recursive: true, force: true });
            }
          });
        }
      });

      it('an account folder without an index is STORE_UNREADABLE, not an empty account', async () => {
        const folder = path.join(ctx().root, 'acct-no-index');
        mkdirSync(folder);
        try {
          await rejectsWithCode(list('acct-no-index'), SourceError, 'STORE_UNREADABLE');
        } finally {
          rmSync(folder, { recursive: true, force: true });
        }
      });

      it('an index that cannot be read (a folder in its place) is STORE_UNREADABLE', async () => {
        const folder = path.join(ctx().root, 'acct-index-folder');
        mkdirSync(path.join(folder, 'index.jsonl'), { recursive: true });
        try {
          await rejectsWithCode(list('acct-index-folder'), SourceError, 'STORE_UNREADABLE');
        } finally {
          rmSync(folder, { recursive: true, force: true });
        }
      });

      it('returns hostile names exactly as stored (.., /, \\, control characters, NFC/NFD twins, 300 characters)', async () => {
        const consumer = ctx().fixture.accounts.consumer.id;
        const hostile = new Set<string>(Object.values(HOSTILE_NAMES));
        const expected = itemsOf(consumer).filter((item) => hostile.has(item.name));
        expect(expected.length).toBeGreaterThan(0);
        const listed = new Map((await list(consumer, wide)).map((item) => [item.id, item.name]));
        for (const item of expected) expect(listed.get(item.id)).toBe(item.name);
        const names = [...listed.values()];
        if (names.includes(HOSTILE_NAMES.nfc)) expect(names).toContain(HOSTILE_NAMES.nfd);
      });
    }

    it('listing one account reads nothing of the others (another account’s broken data does not matter)', async () => {
      const { root, fixture } = ctx();
      const neighbour = fixture.accounts.neighbour.id;
      const target = timeBound ? path.join(root, neighbour) : path.join(root, `${neighbour}.json`);
      const aside = `${target}.aside`;
      renameSync(target, aside);
      try {
        if (timeBound) {
          mkdirSync(target);
          writeFileSync(path.join(target, 'index.jsonl'), 'this is not an index\n\u0000\u0001garbage\n');
        } else {
          mkdirSync(target); // a folder where a record file should be
        }
        const consumer = fixture.accounts.consumer.id;
        expect(ids(await list(consumer))).toEqual(ids(itemsOf(consumer).filter((item) => IN_RANGE.has(item.position))));
        // ...and the neighbour really is broken.
        await expect(list(neighbour)).rejects.toBeInstanceOf(SourceError);
      } finally {
        rmSync(target, { recursive: true, force: true });
        renameSync(aside, target);
      }
    });

    describe('honours the abort signal', () => {
      it('an already aborted signal lists nothing and rejects', async () => {
        const controller = new AbortController();
        controller.abort();
        await expect(list(ctx().fixture.accounts.consumer.id, wide, controller.signal)).rejects.toThrow();
      });

      it('a signal aborted with an error rejects with that error', async () => {
        const controller = new AbortController();
        const reason = new SourceError('STORE_UNREADABLE', 'stop');
        controller.abort(reason);
        await expect(list(ctx().fixture.accounts.consumer.id, wide, controller.signal)).rejects.toBe(reason);
      });

      if (timeBound) {
        it('aborting while listing stops before the next item', async () => {
          const controller = new AbortController();
          const seen: string[] = [];
          const consumer = ctx().fixture.accounts.consumer.id;
          await expect(
            (async () => {
              for await (const item of ctx().adapter.list(consumer, wide, controller.signal)) {
                seen.push(item.id);
                controller.abort();
              }
            })(),
          ).rejects.toThrow();
          expect(seen).toHaveLength(1);
          expect(itemsOf(consumer).length).toBeGreaterThan(1);
        });
      }
    });

    contract.extra?.(ctx);
  });
}
