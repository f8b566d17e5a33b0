import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createAccountPaths } from '../../src/pipeline/item-paths.js';
import { createMailHeaderCollector, mailHeaderFields } from '../../src/pipeline/mail-headers.js';
import { filterSubscriberRecord, inexactNumber } from '../../src/pipeline/subscriber-record.js';
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
      headerBytesReplaced: false,
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

  it('never reads a body as headers: lone CR line ends, an LF CR LF blank line, a body with no blank line before it', () => {
    // Bare CR line ends: each line is its own field; the body after the empty line is not read.
    const bareCr = mailHeaderFields(Buffer.from('Date: Wed, 15 Apr 2026 08:10:03 +0000\rFrom: a@b\rSubject: secret\r\rBody: the whole text\rCc: x@y\r'));
    expect(bareCr).toMatchObject({ date: 'Wed, 15 Apr 2026 08:10:03 +0000', from: 'a@b', cc: null });
    // LF headers, then LF CR LF: an empty line, whatever follows it.
    const lfCrLf = mailHeaderFields(Buffer.from('From: a@b\nTo: c@d\n\r\nHi, the password is hunter2.\nCc: informant@example.org\n  (wire 50k)\n'));
    expect(lfCrLf).toMatchObject({ from: 'a@b', to: 'c@d', cc: null });
    // No empty line at all: the first line that is no field ends the section.
    const noBlank = mailHeaderFields(Buffer.from('From: a@b\nDate: Mon, 1 Jun 2026 10:00:00 +0000\nDear Bob,\nCc: hidden@x\n'));
    expect(noBlank).toMatchObject({ from: 'a@b', date: 'Mon, 1 Jun 2026 10:00:00 +0000', cc: null });
    // A value never runs past its line.
    expect(mailHeaderFields(Buffer.from('Date: today\rSubject: s\r\rbody')).date).toBe('today');
  });

  // Round 8 (scope D0): a message whose lines end in NEL or U+2028 has no CR or LF; read as one line, its Date held
  // every later header, Subject, and the body, under a court order (metadata only).
  it('ends lines at Unicode line breaks too, and takes no line over 998 characters for a header', () => {
    for (const lineBreak of ['\u0085', '\u2028', '\u2029']) {
      const text = ['Date: Sun, 24 May 2026 19:39:28 +0000', 'From: Bob <b@x>', 'Subject: Re: minutes', '', 'Hi, the password is hunter2.', 'Cc: in@body'].join(lineBreak);
      const fields = mailHeaderFields(Buffer.from(text));
      expect(fields).toEqual({ from: 'Bob <b@x>', to: null, cc: null, date: 'Sun, 24 May 2026 19:39:28 +0000', messageId: null, headerTruncated: false, headerBytesReplaced: false });
      // The same through the collector, a byte at a time (a break's bytes arrive apart), and with a raw Latin-1 byte.
      const collector = createMailHeaderCollector();
      for (const byte of Buffer.from(text)) collector.push(Buffer.from([byte]));
      expect(collector.fields()).toEqual(fields);
      const withRawByte = Buffer.concat([Buffer.from(text), Buffer.from([0xf6])]);
      expect(mailHeaderFields(withRawByte)).toMatchObject({ date: fields.date, from: fields.from, cc: null });
    }
    // A break whose bytes no header holds in any other way: the longest value is its own line.
    const long = (n: number) => `Date: d\r\nTo: ${'t'.repeat(n)}\r\nFrom: f@x\r\n\r\nbody`;
    expect(mailHeaderFields(Buffer.from(long(998 - 4)))).toMatchObject({ date: 'd', to: 't'.repeat(994), from: 'f@x' });
    expect(mailHeaderFields(Buffer.from(long(998 - 3)))).toMatchObject({ date: 'd', to: null, from: null });
    // A continuation over the limit drops the field it would continue: none is given cut short.
    expect(mailHeaderFields(Buffer.from(`To: a@x,\r\n ${'b'.repeat(1000)}\r\nFrom: f@x\r\n\r\n`))).toMatchObject({ to: null, from: null });
    // A line of breaks no mail reader knows (VT here), over 998 characters: no value at all.
    expect(mailHeaderFields(Buffer.from(`Date: d\u000bSubject: s\u000b${'body '.repeat(300)}`))).toMatchObject({ date: null, from: null });
  });

  // Round 8 (scope D4): a byte order mark before the first header emptied every field while headersRead said true.
  it('reads the headers after a byte order mark', () => {
    const message = Buffer.from('\ufeffFrom: a@b\r\nTo: c@d\r\nDate: d\r\n\r\nbody');
    expect(mailHeaderFields(message)).toMatchObject({ from: 'a@b', to: 'c@d', date: 'd' });
    expect(mailHeaderFields(Buffer.from('From: a@b\r\n\ufeffTo: c@d\r\n\r\n'))).toMatchObject({ from: 'a@b', to: null });
  });

  // Round 8 (scope D4): CR CR LF line ends (a CR LF converted twice) kept only the first header, with headersRead true.
  it('reads CR CR LF as one line break, through the collector too (a chunk may end between its bytes)', () => {
    const message = Buffer.from('From: a@b\r\r\nTo: c@d\r\r\nDate: d\r\r\n\r\r\nTo: body@x\r\r\n');
    const fields = mailHeaderFields(message);
    expect(fields).toEqual({ from: 'a@b', to: 'c@d', cc: null, date: 'd', messageId: null, headerTruncated: false, headerBytesReplaced: false });
    for (const size of [1, 2, 3, 5]) {
      const collector = createMailHeaderCollector();
      for (let at = 0; at < message.length; at += size) collector.push(message.subarray(at, at + size));
      expect(collector.fields()).toEqual(fields);
    }
    // CR CR not followed by LF is still a lone CR and an empty line: what follows is body.
    expect(mailHeaderFields(Buffer.from('From: a@b\r\rTo: body@x\r\n'))).toMatchObject({ from: 'a@b', to: null });
    expect(mailHeaderFields(Buffer.from('From: a@b\r\r\r\nTo: body@x\r\n'))).toMatchObject({ from: 'a@b', to: null });
  });

  it('finds nothing in a message without headers', () => {
    expect(mailHeaderFields(Buffer.from('\r\nFrom: x@y\r\n')).from).toBeNull();
  });

  it('keeps control characters as the message states them (the metadata line is JSON: it escapes them)', () => {
    const fields = mailHeaderFields(Buffer.from('From: ctrl\x00\x07\x1b[31m@x.example\r\nTo: a\x7fb@c\r\n\r\nbody'));
    expect(fields).toMatchObject({ from: 'ctrl\u0000\u0007\u001b[31m@x.example', to: 'a\u007fb@c', headerBytesReplaced: false });
    expect(JSON.stringify(fields.from)).toBe('"ctrl\\u0000\\u0007\\u001b[31m@x.example"');
  });

  it('says when a value had bytes that are not UTF-8 (given as U+FFFD), and only then', () => {
    const message = (from: Buffer, rest = '') => Buffer.concat([Buffer.from('Date: d\r\nFrom: '), from, Buffer.from(`\r\nTo: t@x${rest}\r\n\r\nbody \xff`)]);
    const latin1 = mailHeaderFields(message(Buffer.from('J\xf6rg <latin1@x.example>', 'latin1')));
    expect(latin1).toMatchObject({ from: 'J\ufffdrg <latin1@x.example>', to: 't@x', date: 'd', headerBytesReplaced: true });
    // The same through the collector, a byte at a time.
    const collector = createMailHeaderCollector();
    for (const byte of message(Buffer.from('J\xf6rg <latin1@x.example>', 'latin1'))) collector.push(Buffer.from([byte]));
    expect(collector.fields()).toEqual(latin1);
    // A U+FFFD the message wrote itself (EF BF BD) is its own, even beside a Subject with a raw byte; a body's bytes are not read.
    expect(mailHeaderFields(message(Buffer.from('J\ufffdrg <own@x.example>')))).toMatchObject({ from: 'J\ufffdrg <own@x.example>', headerBytesReplaced: false });
    const besideSubject = Buffer.concat([Buffer.from('From: J\ufffdrg <own@x>\r\nSubject: '), Buffer.from([0xf6]), Buffer.from('\r\n\r\nbody')]);
    expect(mailHeaderFields(besideSubject)).toMatchObject({ from: 'J\ufffdrg <own@x>', headerBytesReplaced: false });
    // A raw byte in a folded line of a wanted field counts; one in a second From (not given) does not.
    const folded = Buffer.concat([Buffer.from('To: a@x,\r\n '), Buffer.from([0xe9]), Buffer.from('@x\r\nFrom: f@x\r\nFrom: '), Buffer.from([0xe9]), Buffer.from('\r\n\r\n')]);
    expect(mailHeaderFields(folded)).toMatchObject({ to: 'a@x, \ufffd@x', from: 'f@x', headerBytesReplaced: true });
    const second = Buffer.concat([Buffer.from('From: f@x\r\nFrom: '), Buffer.from([0xe9]), Buffer.from('\r\n\r\n')]);
    expect(mailHeaderFields(second)).toMatchObject({ from: 'f@x', headerBytesReplaced: false });
  });
});

/**
 * The rules read plainly, for the fast reading to match: the window, less a byte order mark at its start, split into
 * lines at CR CR LF (a CR LF converted twice), CR LF, LF, a lone CR or a Unicode line break (NEL, U+2028, U+2029); the header section is the lines before
 * the first empty one, and ends early at a line that is neither a field (printable name, maybe blanks, colon) nor a
 * continuation (a leading space or tab) of one. (Lines over 998 characters, which end it too, are tested apart.)
 */
function referenceFields(message: Buffer, maxBytes = 64 * 1024): ReturnType<typeof mailHeaderFields> {
  const lines = message.subarray(0, maxBytes).toString('utf8').replace(/^\ufeff/, '').split(/\r\r\n|\r\n|\r|\n|\u0085|\u2028|\u2029/);
  // The last element is what follows the last line break: an empty line only when something follows it.
  const blank = lines.slice(0, -1).indexOf('');
  // What follows the last line break is no line when it is empty (a window that ends with a break, or is empty).
  const section = blank >= 0 ? lines.slice(0, blank) : lines.at(-1) === '' ? lines.slice(0, -1) : lines;
  const fields: string[] = [];
  /** Whether the section ended at a line that is no field (so it was not cut short by the cap). */
  let ended = false;
  for (const line of section) {
    if (line.startsWith(' ') || line.startsWith('\t')) {
      if (fields.length === 0) {
        ended = true;
        break;
      }
      fields[fields.length - 1] += ` ${line.trimStart()}`;
    } else if (/^[\x21-\x39\x3b-\x7e]+[ \t]*:/.test(line)) {
      fields.push(line);
    } else {
      ended = true;
      break;
    }
  }
  const found: Record<string, string | null> = { from: null, to: null, cc: null, date: null, messageId: null };
  const wanted: Record<string, string> = { from: 'from', to: 'to', cc: 'cc', date: 'date', 'message-id': 'messageId' };
  for (const line of fields) {
    const colon = line.indexOf(':');
    const name = line.slice(0, colon).trim().toLowerCase();
    const field = Object.hasOwn(wanted, name) ? wanted[name] : undefined;
    if (!field) continue;
    const value = line.slice(colon + 1).trim();
    const previous = found[field];
    if (previous === null || previous === undefined) found[field] = value;
    else if (field === 'to' || field === 'cc') found[field] = `${previous}, ${value}`;
  }
  // The pieces hold no U+FFFD of their own: one in a value stands for bytes that are not UTF-8.
  const headerBytesReplaced = Object.values(found).some((value) => value?.includes('\ufffd') === true);
  type Values = Omit<ReturnType<typeof mailHeaderFields>, 'headerTruncated' | 'headerBytesReplaced'>;
  return { ...(found as unknown as Values), headerTruncated: blank < 0 && !ended && message.length >= maxBytes, headerBytesReplaced };
}

describe('mail header fields against the reference reading', () => {
  const pieces = [
    'From', 'from', 'FROM', 'To', 'tO', 'Cc', 'Date', 'Message-ID', 'message-id', 'References', 'Subject', 'Received', 'X-Long-Name-Here',
    ':', ': ', ' ', '\t', '\r', '\n', '\r\n', '\n\n', '\r\n\r\n', '\r\r\n', '\r\n ', '\n\t', 'a@b', '<id@x>', 'İ', 'K', '\u00a0', '\u2028', '\u2029', '\u0085', '\ufeff',
    '\u0007', '\u007f', '\u0000', '\u001b', 'é', '😀', ',', 'x',
  ].map((piece) => Buffer.from(piece));
  // Bytes that are not UTF-8: a Latin-1 letter, a lead byte alone, a cut sequence, an encoded surrogate, 0xFF.
  const raw = [[0xf6], [0xc3], [0xe2, 0x82], [0xed, 0xa0, 0x80], [0xff]].map((bytes) => Buffer.from(bytes));
  const message = fc.array(fc.constantFrom(...pieces, ...raw), { maxLength: 60 }).map((parts) => Buffer.concat(parts));

  it('reads every message exactly as the reference does', () => {
    fc.assert(
      fc.property(message, (bytes) => {
        expect(mailHeaderFields(bytes)).toEqual(referenceFields(bytes));
        const collector = createMailHeaderCollector();
        collector.push(bytes);
        expect(collector.fields()).toEqual(referenceFields(bytes));
      }),
      { numRuns: 3000 },
    );
  });

  it('and with a header cap that cuts the section', () => {
    fc.assert(
      fc.property(message, fc.integer({ min: 1, max: 64 }), (bytes, cap) => {
        expect(mailHeaderFields(bytes, cap)).toEqual(referenceFields(bytes, cap));
      }),
      { numRuns: 1000 },
    );
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

  it('cuts a history list with undated or date-only entries too, keeping the undated ones (fail closed)', () => {
    const record = {
      paymentHistory: [
        { time: '2024-03-01T10:00:00Z', card: 'OLD' },
        { time: '2026-02-01T10:00:00Z', card: 'IN' },
        { time: null, card: 'PENDING' },
        { note: 'no time at all' },
      ],
      ipHistory: [
        { time: '2024-03-01T10:00:00Z', ip: 'old' },
        { time: '2026-02-01', ip: 'day-inside' },
        { time: '2024-02-01', ip: 'day-outside' },
        // On the range's first and last day: part of the day lies outside the range in some zone.
        { time: '2026-01-01', ip: 'first-day' },
        { time: '2026-06-30', ip: 'last-day' },
        // Not a day: it cannot be placed in time, so it goes (fail closed).
        { time: '2026-02-30', ip: 'no-such-day' },
      ],
    };
    const { record: out, eventsLeftOut } = filterSubscriberRecord(record, range);
    expect(out).toEqual({
      paymentHistory: [record.paymentHistory[1], record.paymentHistory[2], record.paymentHistory[3]],
      ipHistory: [record.ipHistory[1]],
    });
    expect(eventsLeftOut).toBe(6);
  });

  it('reads RFC 3339 in lower case and with a blank, and leaves out events whose time it cannot read (they went out uncut)', () => {
    const logins = [
      { time: '2026-03-01T10:00:00Z', ip: 'in' },
      { time: '2024-01-05t10:00:00z', ip: 'lower-case, before' },
      { time: '2026-03-05t10:00:00z', ip: 'lower-case, inside' },
      { time: '2024-01-05 10:00:00Z', ip: 'blank, before' },
      { time: '2026-03-05 10:00:00+01:00', ip: 'blank, inside' },
      { time: 1704448800, ip: 'epoch seconds' },
      { time: '20240105T100000Z', ip: 'ISO 8601 basic' },
      { time: 'Fri, 05 Jan 2024 10:00:00 +0000', ip: 'RFC 2822' },
      { time: 'yesterday', ip: 'free text' },
      { time: null, ip: 'undated' },
    ];
    const { record: out, eventsLeftOut } = filterSubscriberRecord({ loginHistory: logins }, range);
    expect((out as { loginHistory: { ip: string }[] }).loginHistory.map((login) => login.ip)).toEqual(['in', 'lower-case, inside', 'blank, inside', 'undated']);
    expect(eventsLeftOut).toBe(6);
  });

  // Fidelity 1 and 2 of round 5: a list stamped throughout in a form not read went out uncut (no element was read as
  // timed, so it was taken for standing facts), and a day that does not exist, with a time, was read as early March.
  it('leaves out what it cannot read in a list with no readable time at all, and days that do not exist with a time', () => {
    for (const stamps of [[1704448800, 1704535200], ['Fri, 05 Jan 2024 10:00:00 +0000', 'Sat, 06 Jan 2024 10:00:00 +0000']]) {
      const record = { loginHistory: stamps.map((time, i) => ({ time, ip: `10.0.0.${i}` })), name: 'kept' };
      expect(filterSubscriberRecord(record, range)).toEqual({ record: { loginHistory: [], name: 'kept' }, eventsLeftOut: 2 });
    }
    const days = { h: ['2026-02-29T10:00:00Z', '2026-02-30T10:00:00Z', '2026-02-31T10:00:00+01:00', '2026-04-31T10:00:00', '2026-03-01T10:00:00Z'].map((at) => ({ at })) };
    expect(filterSubscriberRecord(days, { from: new Date('2026-03-01T00:00:00Z'), to: new Date('2026-06-30T23:59:59.999Z') })).toEqual({ record: { h: [days.h[4]] }, eventsLeftOut: 4 });
  });

  it('judges a date-only entry as the whole day read in any zone (UTC-12 to UTC+14)', () => {
    const list = (day: string) => ({ h: [{ at: '2026-03-02T12:00:00Z' }, { at: day }] });
    const cut = (from: string, to: string, day: string) =>
      (filterSubscriberRecord(list(day), { from: new Date(from), to: new Date(to) }).record as { h: unknown[] }).h.length;
    // 2026-03-02 spans 2026-03-01T10:00Z (UTC+14) to 2026-03-03T12:00Z (UTC-12).
    expect(cut('2026-03-01T00:00:00Z', '2026-03-03T12:00:00Z', '2026-03-02')).toBe(2);
    expect(cut('2026-03-01T10:00:00Z', '2026-03-03T12:00:00Z', '2026-03-02')).toBe(2);
    expect(cut('2026-03-01T00:00:00Z', '2026-03-03T11:59:59.999Z', '2026-03-02')).toBe(1);
    expect(cut('2026-03-01T10:00:00.001Z', '2026-03-04T00:00:00Z', '2026-03-02')).toBe(1);
  });

  it('reads a time without a zone in every zone, not in the zone of the machine', () => {
    const record = { h: [{ at: '2026-03-01T12:00:00Z' }, { at: '2026-01-01T10:00:00' }, { at: '2026-01-01T14:00:00' }, { at: '2026-06-30T11:59:59' }, { at: '2026-06-30T11:59:59.001' }] };
    expect((filterSubscriberRecord(record, range).record as { h: unknown[] }).h).toEqual([record.h[0], record.h[2], record.h[3]]);
    // A list dated by zone-less times alone is still history.
    const local = { h: [{ at: '2020-01-01T00:00:00' }, { at: '2026-03-01T00:00:00' }] };
    expect(filterSubscriberRecord(local, range).record).toEqual({ h: [local.h[1]] });
  });

  it('keeps a list with no time of day in it (standing facts dated by day) and lists of undated elements', () => {
    const record = { addresses: [{ date: '2019-05-01', street: 'x' }, { date: '2026-02-01', street: 'y' }], history: [{ note: 'undated' }, { at: null }] };
    expect(filterSubscriberRecord(record, range)).toEqual({ record, eventsLeftOut: 0 });
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

  // Round 9 interop I3: conversation folders were merged as a store's folders are (by case, Unicode form, or all to
  // `conversation`), so one folder held two conversations with nothing in the path to tell them apart.
  it('gives each IM conversation a folder of its own, however alike two ids look once made safe', () => {
    const paths = createAccountPaths('acct-a');
    const im = (id: string, conversationId: string): SourceItem =>
      ({ kind: 'im', accountId: 'acct-a', id, timestamp: '2026-03-01T00:00:00Z', bytes: 1, name: `${id}.json`, conversationId, participants: [], ref: { ...ref, service: 'im', itemId: id } }) as SourceItem;
    const ids = ['Chat', 'chat', 'CHAT', '..', 'conversation', '\u2126hm', '\u03a9hm', '19:x', '19_x', 'Chat'];
    const folders = ids.map((conversation, i) => paths.item('im.content', im(`i-${i}`, conversation), false).split('/').slice(0, -1).join('/'));
    expect(folders).toEqual([
      'acct-a/im.content/Chat',
      'acct-a/im.content/chat~2',
      'acct-a/im.content/CHAT~3',
      'acct-a/im.content/conversation',
      'acct-a/im.content/conversation~2',
      // Made safe, the OHM SIGN is its NFC form, the omega.
      'acct-a/im.content/\u03a9hm',
      'acct-a/im.content/\u03a9hm~2',
      'acct-a/im.content/19_x',
      'acct-a/im.content/19_x~2',
      // The same conversation again: its own folder.
      'acct-a/im.content/Chat',
    ]);
  });

  it('names a stored ciphertext as its plaintext would be named, plus .scxb', () => {
    const names = [
      '..',
      '  spaces around.txt  ',
      'Notes/caf\u00e9.txt',
      'Notes/cafe\u0301.txt',
      `Archive/${'n'.repeat(200)}.txt`,
      `Archive/${'m'.repeat(150)}`,
      `Archive/${'m'.repeat(150)}`,
      'trailing.',
    ];
    const plain = createAccountPaths('acct-a');
    const cipher = createAccountPaths('acct-a');
    const plainPaths = names.map((name, i) => plain.item('storage.content', file(`s${i}`, name), false));
    const cipherPaths = names.map((name, i) => cipher.item('storage.content', file(`s${i}`, name), true));
    expect(plainPaths.slice(0, 4)).toEqual([
      'acct-a/storage.content/unnamed',
      'acct-a/storage.content/spaces around.txt',
      'acct-a/storage.content/Notes/caf\u00e9.txt',
      'acct-a/storage.content/Notes/caf\u00e9~2.txt',
    ]);
    names.forEach((name, i) => {
      const cipherPath = cipherPaths[i]!;
      expect(isSafeArchivePath(cipherPath), name).toBe(true);
      if (name.length >= 150) return;
      expect(cipherPath, name).toBe(`${plainPaths[i]!}.scxb`);
    });
    // A long name keeps its extension and the hash of its whole name, cut 5 bytes shorter to leave room for the suffix.
    const hashed = /~([0-9a-f]{8})\.txt(\.scxb)?$/;
    expect(hashed.exec(cipherPaths[4]!)?.[1]).toBe(hashed.exec(plainPaths[4]!)?.[1]);
    expect(cipherPaths[4]!.endsWith('.txt.scxb')).toBe(true);
    // Names at the length limit are cut to leave room for the suffix, and twins still differ.
    const [m1, m2] = cipherPaths.slice(5, 7) as [string, string];
    expect(m1).not.toBe(m2);
    expect(m1.endsWith('.scxb') && m2.endsWith('.scxb')).toBe(true);
    expect(new Set(cipherPaths).size).toBe(cipherPaths.length);
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

describe('a subscriber record that JSON.parse cannot carry exactly', () => {
  it('names the first number written back as another, and passes numbers that are only written differently', () => {
    expect(inexactNumber('{"paymentAccountId":12345678901234567890,"plan":"free"}')).toBe('12345678901234567890');
    expect(inexactNumber('{"quota":1e400}')).toBe('1e400');
    expect(inexactNumber('{"tiny":-1e-400}')).toBe('-1e-400');
    // The same values, however written: 1.10 goes out as 1.1, 1E2 as 100, 1e20 as 100000000000000000000.
    expect(inexactNumber('{"a":1.10,"b":1E2,"c":1e20,"d":-0.5,"e":9007199254740991,"f":0.1,"g":[1,2.50,3e-7]}')).toBeNull();
    // Digits inside strings are the record's text, not numbers.
    expect(inexactNumber('{"card":"12345678901234567890","note":"1e400 \\" 99999999999999999999"}')).toBeNull();
  });
});
