import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InputError } from '../../src/errors.js';
import { createFileDirectory } from '../../src/sources/file-directory.js';
import { buildStoreFixture, type StoreFixture } from '../helpers/store-fixture.js';

describe('createFileDirectory over the fixture directory', () => {
  let fx: StoreFixture;
  beforeAll(async () => {
    fx = await buildStoreFixture({ pki: false });
  });
  afterAll(() => fx.cleanup());
  const directory = () => createFileDirectory({ file: path.join(fx.storesRoot, 'directory.json') });

  it('resolves an email case-insensitively and ignoring surrounding blanks', () => {
    for (const value of ['alice@contoso.example', 'ALICE@CONTOSO.EXAMPLE', '  Alice@Contoso.example\t']) {
      expect(directory().resolve({ type: 'email', value }).map((a) => a.id)).toEqual([fx.accounts.consumer.id]);
    }
  });

  it('resolves other identifiers exactly', () => {
    const d = directory();
    expect(d.resolve({ type: 'im-handle', value: 'live:alice' }).map((a) => a.id)).toEqual([fx.accounts.consumer.id]);
    expect(d.resolve({ type: 'im-handle', value: 'LIVE:alice' })).toEqual([]);
    expect(d.resolve({ type: 'im-handle', value: ' live:alice' })).toEqual([]);
    expect(d.resolve({ type: 'phone', value: '+1-555-0100' }).map((a) => a.id)).toEqual([fx.accounts.consumer.id]);
    expect(d.resolve({ type: 'account-id', value: 'acct-carol' }).map((a) => a.id)).toEqual(['acct-carol']);
  });

  it('matches type and value together, never partially', () => {
    const d = directory();
    expect(d.resolve({ type: 'im-handle', value: 'alice@contoso.example' })).toEqual([]);
    expect(d.resolve({ type: 'email', value: 'alice@contoso' })).toEqual([]);
    expect(d.resolve({ type: 'email', value: '*@contoso.example' })).toEqual([]);
    expect(d.resolve({ type: 'email', value: 'contoso.example' })).toEqual([]);
    expect(d.resolve({ type: 'email', value: '' })).toEqual([]);
  });

  it('gets accounts by id with their tenant type', () => {
    const d = directory();
    expect(d.get('acct-dave')?.tenantType).toBe('customer-key');
    expect(d.get('acct-carol')?.tenantType).toBe('enterprise');
    expect(d.get('acct-nobody')).toBeUndefined();
    expect(d.get('__proto__')).toBeUndefined();
    expect(d.get('constructor')).toBeUndefined();
  });
});

describe('createFileDirectory on bad files', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'scopex-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const account = (id: string, identifiers = [{ type: 'email', value: `${id}@x.example` }]) => ({
    id,
    tenant: 't',
    tenantType: 'consumer',
    identifiers,
  });
  function write(name: string, content: unknown): string {
    const file = path.join(dir, name);
    writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
    return file;
  }
  function inputError(file: string): InputError {
    try {
      createFileDirectory({ file });
    } catch (error) {
      expect(error).toBeInstanceOf(InputError);
      return error as InputError;
    }
    throw new Error('expected an InputError');
  }

  it('a missing file is FILE_UNREADABLE naming it', () => {
    const file = path.join(dir, 'missing.json');
    const error = inputError(file);
    expect(error.code).toBe('FILE_UNREADABLE');
    expect(error.message).toContain(file);
  });

  it('a folder instead of a file is FILE_UNREADABLE', () => {
    expect(inputError(dir).code).toBe('FILE_UNREADABLE');
  });

  it('an unreadable file is FILE_UNREADABLE (skipped when running as root)', () => {
    if (process.getuid?.() === 0) return;
    const file = write('locked.json', { schema: 'scopex.directory/v1', accounts: [] });
    chmodSync(file, 0o000);
    expect(inputError(file).code).toBe('FILE_UNREADABLE');
  });

  it('malformed JSON is JSON_MALFORMED naming the file', () => {
    const file = write('bad.json', '{"schema": "scopex.directory/v1", ');
    const error = inputError(file);
    expect(error.code).toBe('JSON_MALFORMED');
    expect(error.message).toContain(file);
  });

  const violations: [string, unknown, string][] = [
    ['wrong schema', { schema: 'scopex.directory/v2', accounts: [] }, 'schema'],
    ['accounts missing', { schema: 'scopex.directory/v1' }, 'accounts'],
    ['unknown tenant type', { schema: 'scopex.directory/v1', accounts: [{ ...account('a'), tenantType: 'vip' }] }, 'accounts.0.tenantType'],
    ['unknown identifier type', { schema: 'scopex.directory/v1', accounts: [account('a', [{ type: 'fax', value: '1' }])] }, 'accounts.0.identifiers.0.type'],
    ['an id that is a path', { schema: 'scopex.directory/v1', accounts: [account('ok'), account('../etc')] }, 'accounts.1.id'],
    ['an extra field', { schema: 'scopex.directory/v1', accounts: [{ ...account('a'), admin: true }] }, 'accounts.0'],
    // Each was an exit-1 "internal error" at export: the id is the account's folder in the archive as it is.
    ['a device name as an id', { schema: 'scopex.directory/v1', accounts: [account('a'), account('con')] }, 'accounts.1.id'],
    ['a device name with an extension as an id', { schema: 'scopex.directory/v1', accounts: [account('NUL.x')] }, 'accounts.0.id'],
    ['an id ending in a dot', { schema: 'scopex.directory/v1', accounts: [account('acct.')] }, 'accounts.0.id'],
    ['two ids differing only in case', { schema: 'scopex.directory/v1', accounts: [account('Twin-1'), account('b'), account('twin-1')] }, 'accounts.2.id'],
    ['a duplicate account id', { schema: 'scopex.directory/v1', accounts: [account('a'), account('b'), account('a')] }, 'accounts.2.id'],
    // An order for account-id b would otherwise export a.
    ['an account-id identifier naming another account', { schema: 'scopex.directory/v1', accounts: [account('a', [{ type: 'account-id', value: 'b' }]), account('b')] }, 'accounts.0.identifiers.0'],
  ];
  for (const [what, content, field] of violations) {
    it(`${what} is SCHEMA_VIOLATION naming the file and field ${field}`, () => {
      const file = write(`${what.replace(/\W+/g, '-')}.json`, content);
      const error = inputError(file);
      expect(error.code).toBe('SCHEMA_VIOLATION');
      expect(error.message).toContain(file);
      expect(error.message).toContain(field);
    });
  }

  it('an identifier shared by two accounts resolves to both (the order check refuses ambiguity, not the directory)', () => {
    const shared = { type: 'email', value: 'shared@x.example' };
    const file = write('shared.json', { schema: 'scopex.directory/v1', accounts: [account('a', [shared]), account('b', [shared])] });
    const directory = createFileDirectory({ file });
    expect(directory.resolve({ type: 'email', value: 'SHARED@x.example' }).map((a) => a.id)).toEqual(['a', 'b']);
  });

  it('folds only ASCII letters in emails: a look-alike with the KELVIN SIGN (U+212A) names no account, either way round', () => {
    const file = write('kelvin.json', { schema: 'scopex.directory/v1', accounts: [account('a', [{ type: 'email', value: 'kenji@x.example' }]), account('b', [{ type: 'email', value: '\u212Aai@x.example' }])] });
    const directory = createFileDirectory({ file });
    expect(directory.resolve({ type: 'email', value: 'KENJI@X.example' }).map((a) => a.id)).toEqual(['a']);
    expect(directory.resolve({ type: 'email', value: '\u212Aenji@x.example' })).toEqual([]);
    expect(directory.resolve({ type: 'email', value: 'kai@x.example' })).toEqual([]);
    expect(directory.resolve({ type: 'email', value: '\u212Aai@x.example' }).map((a) => a.id)).toEqual(['b']);
  });

  // Round 8 (scope D2): josé in NFC and in NFD named two accounts, and order check showed both the same.
  it('an identifier held by another account in another Unicode form (NFC, NFD) resolves to both: ambiguous', () => {
    const nfc = 'jos\u00e9@x.example';
    const nfd = 'jose\u0301@x.example';
    const file = write('forms.json', {
      schema: 'scopex.directory/v1',
      accounts: [account('a', [{ type: 'email', value: nfc }]), account('b', [{ type: 'email', value: nfd }]), account('c', [{ type: 'email', value: '\u212Aai@x.example' }, { type: 'im-handle', value: 'live:jos\u00e9' }])],
    });
    const directory = createFileDirectory({ file });
    expect(directory.resolve({ type: 'email', value: nfc }).map((a) => a.id)).toEqual(['a', 'b']);
    expect(directory.resolve({ type: 'email', value: ` ${nfd.toUpperCase()}` }).map((a) => a.id)).toEqual(['b', 'a']);
    // Targets stay exact: a form no account holds as written names none, and the type must match.
    expect(directory.resolve({ type: 'email', value: 'jose\u0301\u0301@x.example' })).toEqual([]);
    expect(directory.resolve({ type: 'im-handle', value: 'live:jose\u0301' })).toEqual([]);
    expect(directory.resolve({ type: 'im-handle', value: 'live:jos\u00e9' }).map((a) => a.id)).toEqual(['c']);
    // The KELVIN SIGN composes to a capital K: an account holding it and one holding kai@ are ambiguous for either.
    const kelvin = write('kelvin-forms.json', {
      schema: 'scopex.directory/v1',
      accounts: [account('k', [{ type: 'email', value: '\u212Aai@x.example' }]), account('a', [{ type: 'email', value: 'kai@x.example' }])],
    });
    expect(createFileDirectory({ file: kelvin }).resolve({ type: 'email', value: 'KAI@x.example' }).map((a) => a.id)).toEqual(['a', 'k']);
  });

  it('refuses to build without a file', () => {
    expect(() => createFileDirectory({ file: '' })).toThrow(InputError);
  });
});
