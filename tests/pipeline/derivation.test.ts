import { describe, expect, it } from 'vitest';
import { createAccountPaths } from '../../src/pipeline/item-paths.js';
import { createMailHeaderCollector, mailHeaderFields } from '../../src/pipeline/mail-headers.js';
import { filterSubscriberRecord } from '../../src/pipeline/subscriber-record.js';
import { isSafeArchivePath } from '../../src/seal/safe-names.js';
import type { SourceItem } from '../../src/sources/source-adapter.js';

const message = [
  'Received: from mx.example',
  'From: Alice <alice@contoso.example>',
  'To: bob@contoso.example,',
  '\tcarol@contoso.example',
  'Cc: dave@contoso.example',
  'Subject: SECRET-SUBJECT plans',
  'Date: Mon, 2 Mar 2026 10:00:00 +0000',
  'Message-ID: <abc@contoso.example>',
  '',
  'SECRET-BODY text',
  'From: not-a-header@example',
  '',
].join('\r\n');

describe('mail header fields', () => {
  it('keeps from, to (unfolded), cc, date and message-id, never the subject or the body', () => {
    const fields = mailHeaderFields(Buffer.from(message));
    expect(fields).toEqual({
      from: 'Alice <alice@contoso.example>',
      to: 'bob@contoso.example, carol@contoso.example',
      cc: 'dave@contoso.example',
      date: 'Mon, 2 Mar 2026 10:00:00 +0000',
      messageId: '<abc@contoso.example>',
      headerTruncated: false,
    });
    expect(JSON.stringify(fields)).not.toMatch(/SECRET/);
  });

  it('gives the same fields when the message arrives in one-byte chunks', () => {
    const collector = createMailHeaderCollector();
    for (const byte of Buffer.from(message)) collector.push(Buffer.from([byte]));
    expect(collector.fields()).toEqual(mailHeaderFields(Buffer.from(message)));
  });

  it('caps the header section it holds', () => {
    const huge = Buffer.from(`From: a@b\r\nX-Pad: ${'x'.repeat(200_000)}\r\n\r\nbody`);
    const fields = mailHeaderFields(huge, 1024);
    expect(fields.headerTruncated).toBe(true);
    expect(fields.from).toBe('a@b');
  });

  it('ends the header section at the first blank line, whichever line ending it uses', () => {
    // LF LF before a later CRLF CRLF: what follows the LF LF is body, even if it looks like a header.
    expect(mailHeaderFields(Buffer.from('From: a@b\n\nTo: body@x\r\n\r\nmore')).to).toBeNull();
    expect(mailHeaderFields(Buffer.from('From: a@b\r\n\r\nTo: body@x\n\nmore')).to).toBeNull();
    expect(mailHeaderFields(Buffer.from('From: a@b\r\nTo: c@d\r\n\r\nbody\n\nmore')).to).toBe('c@d');
    // An LF LF straddling the CRLF CRLF's start (\n\r\n\r\n): the CRLF CRLF search ends the section there.
    expect(mailHeaderFields(Buffer.from('From: a@b\nTo: c@d\n\r\n\r\nX')).to).toBe('c@d');
  });

  it('finds nothing in a message without headers, and strips control characters', () => {
    expect(mailHeaderFields(Buffer.from('\r\nFrom: x@y\r\n')).from).toBeNull();
    expect(mailHeaderFields(Buffer.from('From: a\u0007b@c\n\nbody')).from).toBe('ab@c');
  });
});

describe('subscriber record filtering', () => {
  const range = { from: new Date('2026-01-01T00:00:00Z'), to: new Date('2026-06-30T23:59:59Z') };
  it('cuts dated history to the range (edges included) and keeps standing facts', () => {
    const record = {
      name: 'Alice',
      signup: { at: '2020-05-01T10:00:00Z', ip: '198.51.100.7' },
      logins: [
        { at: '2025-12-31T23:59:59Z', ip: '1.1.1.1' },
        { at: '2026-01-01T00:00:00Z', ip: '2.2.2.2' },
        { time: '2026-06-30T23:59:59Z', ip: '3.3.3.3' },
        { at: '2026-07-01T00:00:00Z', ip: '4.4.4.4' },
      ],
      aliases: ['a', 'b'],
      devices: [{ model: 'x' }],
    };
    const { record: out, eventsLeftOut } = filterSubscriberRecord(record, range);
    expect(eventsLeftOut).toBe(2);
    expect(out).toEqual({ ...record, logins: [record.logins[1], record.logins[2]] });
  });

  it('keeps a list whose elements are not all dated', () => {
    const record = { history: [{ at: '2020-01-01T00:00:00Z' }, { note: 'undated' }] };
    expect(filterSubscriberRecord(record, range).record).toEqual(record);
  });
});

describe('archive paths', () => {
  const ref = { service: 'storage' as const, accountId: 'acct-a', itemId: 'x', blobFile: '/b' };
  const file = (id: string, name: string): SourceItem => ({
    kind: 'file',
    accountId: 'acct-a',
    id,
    timestamp: '2026-03-01T00:00:00Z',
    bytes: 1,
    name,
    created: '2026-03-01T00:00:00Z',
    modified: '2026-03-01T00:00:00Z',
    ref: { ...ref, itemId: id },
  });

  it('turns hostile names into safe unique paths inside the account and category folder', () => {
    const paths = createAccountPaths('acct-a');
    const names = ['..', '../../etc/passwd', '/etc/shadow', 'dir\\sub\\f.txt', 'a\u0007b\n.txt', 'caf\u00e9.txt', 'cafe\u0301.txt', `${'L'.repeat(300)}.txt`, 'ok.txt', 'ok.txt'];
    const out = names.map((name, i) => paths.item('storage.content', file(`s${i}`, name), false));
    expect(new Set(out.map((p) => p.normalize('NFC').toLowerCase())).size).toBe(out.length);
    for (const p of out) {
      expect(p.startsWith('acct-a/storage.content/')).toBe(true);
      expect(isSafeArchivePath(p)).toBe(true);
      expect(p.split('/')).not.toContain('..');
    }
  });

  it('marks stored ciphertext with .scxb and places IM messages by conversation', () => {
    const paths = createAccountPaths('acct-a');
    expect(paths.item('storage.content', file('s1', 'a/b.txt'), true)).toBe('acct-a/storage.content/a/b.txt.scxb');
    const im: SourceItem = {
      kind: 'im',
      accountId: 'acct-a',
      id: 'i1',
      timestamp: '2026-03-01T00:00:00Z',
      bytes: 1,
      name: 'i1.json',
      conversationId: '../conv/1',
      participants: [],
      ref: { service: 'im', accountId: 'acct-a', itemId: 'i1', blobFile: '/b' },
    };
    const p = paths.item('im.content', im, false);
    expect(isSafeArchivePath(p)).toBe(true);
    expect(p.startsWith('acct-a/im.content/')).toBe(true);
    expect(p.endsWith('/i1.json')).toBe(true);
    expect(paths.metadata('mail')).toBe('acct-a/mail.metadata/metadata.jsonl');
  });
});
