import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { ScopeError } from '../../src/errors.js';
import type { ScopeViolation} from '../../src/pipeline/scope-gate.js';
import { createScopeGate, type GateRequest } from '../../src/pipeline/scope-gate.js';
import type { Category, Order } from '../../src/order/schema.js';
import type { SourceItem } from '../../src/sources/source-adapter.js';

const rules = loadConfig(path.join(import.meta.dirname, '../../config/scopex.json')).legalProcess;
const range = { from: '2026-01-01T00:00:00Z', to: '2026-06-30T23:59:59Z' };

function gateFor(process: Order['process'], categories: Category[], accountIds = ['acct-a', 'acct-b']) {
  return createScopeGate({ order: { process, categories, dateRange: range }, accountIds, legalProcess: rules });
}

function mail(overrides: Partial<SourceItem> = {}): SourceItem {
  return {
    kind: 'mail',
    accountId: 'acct-a',
    id: 'm1',
    timestamp: '2026-03-01T00:00:00Z',
    bytes: 10,
    name: 'm1.eml',
    userEncryption: null,
    ref: { service: 'mail', accountId: 'acct-a', itemId: 'm1', blobFile: '/x/mail/acct-a/blobs/m1' },
    ...overrides,
  } as SourceItem;
}

const content: GateRequest = { accountId: 'acct-a', category: 'mail.content' };

function violation(fn: () => void): ScopeViolation {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ScopeError);
    expect((error as ScopeError).code).toBe('OUT_OF_SCOPE');
    return error as ScopeViolation;
  }
  throw new Error('expected a scope violation');
}

describe('scope gate', () => {
  it('admits an in-scope item, both range edges included', () => {
    const gate = gateFor('search-warrant', ['mail.content']);
    expect(() => gate.admit(mail(), content)).not.toThrow();
    expect(() => gate.admit(mail({ timestamp: range.from }), content)).not.toThrow();
    expect(() => gate.admit(mail({ timestamp: range.to }), content)).not.toThrow();
    // Same instant as `to`, written with an offset: compared as instants.
    expect(() => gate.admit(mail({ timestamp: '2026-07-01T01:59:59+02:00' }), content)).not.toThrow();
  });

  it('refuses an account that is not among the order\'s accounts', () => {
    const gate = gateFor('search-warrant', ['mail.content']);
    const item = mail({ accountId: 'acct-z', ref: { service: 'mail', accountId: 'acct-z', itemId: 'm1', blobFile: '/b' } });
    const error = violation(() => gate.admit(item, { accountId: 'acct-z', category: 'mail.content' }));
    expect(error.incident).toMatchObject({ source: 'mail', account: 'acct-z', item: 'm1' });
  });

  it('refuses an item of another account than the one listed', () => {
    const gate = gateFor('search-warrant', ['mail.content']);
    const error = violation(() =>
      gate.admit(mail({ accountId: 'acct-b', ref: { service: 'mail', accountId: 'acct-b', itemId: 'm1', blobFile: '/b' } }), content),
    );
    expect(error.incident.account).toBe('acct-a');
  });

  it('refuses an item whose blob reference names another account, service or item', () => {
    const gate = gateFor('search-warrant', ['mail.content']);
    violation(() => gate.admit(mail({ ref: { service: 'mail', accountId: 'acct-b', itemId: 'm1', blobFile: '/b' } }), content));
    violation(() => gate.admit(mail({ ref: { service: 'im', accountId: 'acct-a', itemId: 'm1', blobFile: '/b' } }), content));
    violation(() => gate.admit(mail({ ref: { service: 'mail', accountId: 'acct-a', itemId: 'm2', blobFile: '/b' } }), content));
  });

  it('refuses an item of the wrong kind for the store', () => {
    const gate = gateFor('search-warrant', ['mail.content']);
    violation(() => gate.admit(mail({ kind: 'file' } as Partial<SourceItem>), content));
  });

  it('refuses a category that is not in the order', () => {
    const gate = gateFor('search-warrant', ['mail.metadata']);
    violation(() => gate.admit(mail(), content));
  });

  it('refuses a category the legal process cannot compel, even when the order lists it', () => {
    const gate = gateFor('subpoena', ['subscriber', 'mail.content']);
    violation(() => gate.admit(mail(), content));
  });

  it('refuses timestamps outside the range, and ones that are not instants', () => {
    const gate = gateFor('search-warrant', ['mail.content']);
    violation(() => gate.admit(mail({ timestamp: '2025-12-31T23:59:59.999Z' }), content));
    violation(() => gate.admit(mail({ timestamp: '2026-07-01T00:00:00Z' }), content));
    violation(() => gate.admit(mail({ timestamp: 'yesterday' }), content));
  });

  it('does not bind subscriber records to the date range', () => {
    const gate = gateFor('subpoena', ['subscriber']);
    const record = {
      kind: 'subscriber',
      accountId: 'acct-a',
      id: 'subscriber',
      timestamp: '2020-01-01T00:00:00Z',
      bytes: 5,
      name: 'acct-a.json',
      ref: { service: 'subscriber', accountId: 'acct-a', itemId: 'subscriber', blobFile: '/s' },
    } as SourceItem;
    expect(() => gate.admit(record, { accountId: 'acct-a', category: 'subscriber' })).not.toThrow();
  });

  it('refuses a declared size that is not a byte count, and a read size that differs from it', () => {
    const gate = gateFor('search-warrant', ['mail.content']);
    violation(() => gate.admit(mail({ bytes: -1 }), content));
    violation(() => gate.admit(mail({ bytes: 1.5 }), content));
    expect(() => gate.checkBytes(mail(), content, 10)).not.toThrow();
    const error = violation(() => gate.checkBytes(mail(), content, 11));
    expect(error.incident.item).toBe('m1');
  });
});
