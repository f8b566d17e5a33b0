// One sample account's data: mail, storage files, IM messages and its subscriber record, written through a store writer.
import { Readable } from 'node:stream';
import type { AccountWriter } from '../sources/store-writer.js';
import type { Account } from '../sources/account-directory.js';
import { buildMessage, type MailAddress, type MailAttachment, type MailSpec } from './mail-message.js';
import { FILE_KINDS, fileContent, fileKind } from './sample-files.js';
import { capitalize, chatLine, ipAddress, letter, prose, subject } from './sample-text.js';
import type { SeededRandom } from './seeded-random.js';

/** Every item of the world is dated inside this span (both ends included). */
export const SPAN = { from: Date.parse('2025-10-01T00:00:00Z'), to: Date.parse('2026-10-31T23:59:59Z') } as const;

/** The date range of the sample orders: items sit exactly on both ends and one second outside each. */
export const ORDER_RANGE = { from: '2026-01-01T00:00:00Z', to: '2026-06-30T23:59:59Z' } as const;
const EDGE_TIMES = {
  justBefore: Date.parse('2025-12-31T23:59:59Z'),
  first: Date.parse(ORDER_RANGE.from),
  last: Date.parse(ORDER_RANGE.to),
  justAfter: Date.parse('2026-07-01T00:00:00Z'),
} as const;

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const KIB = 1024;
const MIB = 1024 * KIB;

/** Storage files up to this size are built in memory; larger ones are streamed. */
const IN_MEMORY_FILE_LIMIT = MIB;

export interface AccountPerson {
  account: Account;
  name: string;
  email: string;
  imHandle: string;
}

export interface AccountPlan {
  person: AccountPerson;
  /** Plaintext bytes to aim for per service, on top of the fixed realism items every account gets. */
  mailBytes: number;
  imBytes: number;
  storageBytes: number;
  /** Sizes of large storage files, streamed (never held in memory). */
  largeFiles: number[];
  /** small-items profile: mail of 2–6 KiB without attachments. */
  smallMail: boolean;
}

export interface AccountContentOptions {
  plan: AccountPlan;
  writer: AccountWriter;
  random: SeededRandom;
  /** Other people this account writes to and chats with (other accounts and outsiders). */
  contacts: AccountPerson[];
  /** Called after each item with its plaintext size. */
  onItem: (service: 'mail' | 'storage' | 'im' | 'subscriber', bytes: number) => void;
}

export function isoSeconds(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function randomTime(random: SeededRandom, from: number = SPAN.from, to: number = SPAN.to): number {
  return from + random.below(Math.floor((to - from) / SECOND) + 1) * SECOND;
}

function counter(prefix: string): () => string {
  let next = 0;
  return () => {
    next += 1;
    return `${prefix}-${String(next).padStart(6, '0')}`;
  };
}

function address(person: AccountPerson): MailAddress {
  return { name: person.name, address: person.email };
}

/** Writes all of one account's items; returns how many items each service got. */
export async function writeAccountContent(options: AccountContentOptions): Promise<Record<'mail' | 'storage' | 'im', number>> {
  const counts = { mail: 0, storage: 0, im: 0 };
  await writeMail(options, counts);
  await writeStorage(options, counts);
  await writeIm(options, counts);
  await writeSubscriberRecord(options);
  return counts;
}

// ---------------------------------------------------------------- mail

interface Thread {
  subject: string;
  references: string[];
  lastTime: number;
  people: AccountPerson[];
}

async function writeMail(options: AccountContentOptions, counts: { mail: number }): Promise<void> {
  const { plan, writer, contacts, onItem } = options;
  const random = options.random.fork('mail');
  const me = plan.person;
  const nextId = counter('m');
  const threads: Thread[] = [];
  let spent = 0;

  const write = async (
    time: number,
    shape: { encryption?: 'smime' | 'pgp' | null; attachments?: number; textBytes?: number; thread?: Thread | undefined } = {},
  ) => {
    const id = nextId();
    const thread = shape.thread;
    const people = thread?.people ?? [random.pick(contacts), ...(random.chance(0.3) ? [random.pick(contacts)] : [])];
    const sent = random.chance(0.4);
    const other = people[0]!;
    const from = sent ? address(me) : address(other);
    const to = sent ? [address(other)] : [address(me)];
    const cc = people.slice(1).map(address);
    const messageId = `<${id}.${me.account.id}.${random.bytes(4).toString('hex')}@mail.contoso.example>`;
    const subjectLine = thread ? (thread.subject.startsWith('Re: ') ? thread.subject : `Re: ${thread.subject}`) : subject(random);
    const attachmentCount = shape.attachments ?? (plan.smallMail ? 0 : random.chance(0.3) ? random.between(1, 2) : 0);
    const attachments: MailAttachment[] = [];
    for (let i = 0; i < attachmentCount; i += 1) {
      const kind = random.pick(FILE_KINDS);
      // small-items keeps even the fixed attachments small, so that almost every message stays within 2-6 KiB.
      const [low, cap] = plan.smallMail ? [256, KIB] : [2 * KIB, Math.max(4 * KIB, Math.min(2 * MIB, Math.floor((plan.mailBytes - spent) / 2)))];
      attachments.push({
        filename: `${random.pick(['report', 'scan', 'photo', 'figures', 'notes', 'agreement', 'slides'])}-${random.between(1, 999)}.${kind.extension}`,
        contentType: kind.contentType,
        data: fileContent(random, kind, random.logBetween(low, cap)),
      });
    }
    const spec: MailSpec = {
      messageId,
      date: new Date(time),
      from,
      to,
      cc,
      subject: subjectLine,
      references: thread ? [...thread.references] : [],
      text: letter(random, (sent ? other.name : me.name).split(' ')[0]!, from.name.split(' ')[0]!, shape.textBytes ?? random.logBetween(200, 6 * KIB), '\n'),
      attachments,
      userEncryption: shape.encryption ?? null,
    };
    if (thread) spec.inReplyTo = thread.references[thread.references.length - 1];
    const message = buildMessage(spec, random);
    await writer.writeItem(
      'mail',
      {
        id,
        timestamp: isoSeconds(time),
        name: `${id}.eml`,
        userEncryption: spec.userEncryption,
        messageId,
        from: from.address,
        to: to.map((a) => a.address),
        cc: cc.map((a) => a.address),
      },
      message,
    );
    if (thread) {
      thread.references.push(messageId);
      thread.lastTime = time;
    } else {
      threads.push({ subject: subjectLine, references: [messageId], lastTime: time, people });
    }
    spent += message.length;
    counts.mail += 1;
    onItem('mail', message.length);
  };

  // Fixed realism: a thread with attachments, both kinds of user encryption, the span ends and the order-range edges.
  const start = randomTime(random, Date.parse('2026-02-01T00:00:00Z'), Date.parse('2026-05-31T00:00:00Z'));
  await write(start, { attachments: 1 });
  const first = threads[0];
  await write(start + 3 * HOUR, { thread: first });
  await write(start + 26 * HOUR, { thread: first, attachments: 1 });
  await write(randomTime(random, EDGE_TIMES.first, EDGE_TIMES.last), { encryption: 'smime', attachments: 1 });
  await write(randomTime(random, EDGE_TIMES.first, EDGE_TIMES.last), { encryption: 'pgp' });
  await write(SPAN.from);
  for (const edge of [EDGE_TIMES.justBefore, EDGE_TIMES.first, EDGE_TIMES.last, EDGE_TIMES.justAfter]) await write(edge);
  await write(SPAN.to);

  while (spent < plan.mailBytes) {
    const thread = random.chance(0.35) ? random.pick(threads.slice(-20)) : undefined;
    const time = thread ? Math.min(SPAN.to, thread.lastTime + random.between(5 * 60, 3 * 24 * 3600) * SECOND) : randomTime(random);
    const encryption = random.chance(0.04) ? random.pick(['smime', 'pgp'] as const) : null;
    const textBytes = plan.smallMail ? random.between(2 * KIB, 6 * KIB) - 900 : undefined;
    await write(time, { encryption, thread, ...(textBytes === undefined ? {} : { textBytes }) });
  }
}

// ---------------------------------------------------------------- storage

const FOLDERS = [
  'Documents',
  'Documents/Taxes/2025',
  'Documents/Receipts',
  'Projects/2026',
  'Projects/2026/Q1',
  'Projects/2026/Q2/specs',
  'Photos/2025/Holiday',
  'Photos/2026/03',
  'Shared/Team',
  'Desktop',
] as const;
const BASENAMES = ['plan', 'budget', 'notes', 'minutes', 'invoice', 'contract', 'draft', 'summary', 'IMG', 'scan', 'todo', 'roadmap'];

/** Names a careless exporter would turn into path traversal, absolute paths, collisions or terminal tricks. */
export const HOSTILE_NAMES: readonly string[] = [
  '../../etc/passwd',
  '..',
  'Projects/../../../escape.docx',
  '/etc/shadow-copy.txt',
  'Shared\\Windows\\budget.xlsx',
  'Notes/bell\u0007tab\tnew\nline\u0000nul.txt',
  'Notes/caf\u00e9.txt',
  'Notes/cafe\u0301.txt',
  `Archive/${'a-very-long-file-name-'.repeat(14).slice(0, 296)}.txt`,
  'Downloads/invoice\u202efdp.exe',
  '  leading and trailing spaces.txt  ',
  'Documents//double//slash.txt',
];

async function writeStorage(options: AccountContentOptions, counts: { storage: number }): Promise<void> {
  const { plan, writer, onItem } = options;
  const random = options.random.fork('storage');
  const nextId = counter('f');
  let spent = 0;

  const write = async (name: string, bytes: number, modified: number, extension?: string) => {
    const id = nextId();
    const created = Math.max(Date.parse('2024-06-01T00:00:00Z'), modified - random.logBetween(0, 120) * DAY - random.below(DAY / SECOND) * SECOND);
    const entry = {
      id,
      timestamp: isoSeconds(modified),
      name,
      created: isoSeconds(Math.min(created, modified)),
      modified: isoSeconds(modified),
    };
    const kind = fileKind(extension ?? name.slice(name.lastIndexOf('.') + 1));
    if (bytes <= IN_MEMORY_FILE_LIMIT) {
      await writer.writeItem('storage', entry, fileContent(random, kind, bytes));
    } else {
      const bulk = options.random.fork(`large/${id}`);
      const magic = kind.magic ?? Buffer.alloc(0);
      await writer.writeItem(
        'storage',
        entry,
        // At most a couple of 1 MiB chunks wait in the stream (Readable.from would queue 16 by default).
        () =>
          Readable.from(
            (function* () {
              yield magic;
              yield* bulk.chunks(bytes - magic.length);
            })(),
            { highWaterMark: 2 },
          ),
        bytes,
      );
    }
    spent += bytes;
    counts.storage += 1;
    onItem('storage', bytes);
  };

  // Fixed realism: order-range edges, empty files, hostile names.
  await write('Documents/year-end-notes.txt', random.logBetween(300, 4 * KIB), EDGE_TIMES.justBefore);
  await write('Documents/new-year-resolutions.txt', random.logBetween(300, 4 * KIB), EDGE_TIMES.first);
  await write('Projects/2026/h1-report.docx', random.logBetween(8 * KIB, 64 * KIB), EDGE_TIMES.last);
  await write('Projects/2026/h2-kickoff.docx', random.logBetween(8 * KIB, 64 * KIB), EDGE_TIMES.justAfter);
  await write('Documents/empty.txt', 0, randomTime(random, EDGE_TIMES.first, EDGE_TIMES.last));
  await write('Desktop/New Text Document.txt', 0, randomTime(random));
  for (const name of HOSTILE_NAMES) {
    await write(name, random.logBetween(20, 2 * KIB), randomTime(random, EDGE_TIMES.first, EDGE_TIMES.last), 'txt');
  }

  let serial = 0;
  for (const bytes of plan.largeFiles) {
    serial += 1;
    const [folder, base, extension] = random.pick([
      ['Videos/2026', 'dashcam', 'mp4'],
      ['Backups', 'laptop-backup', 'zip'],
      ['Photos/2026/raw', 'DSC', 'jpg'],
      ['Projects/2026/data', 'export', 'png'],
    ] as const);
    await write(`${folder}/${base}-${String(serial).padStart(4, '0')}.${extension}`, bytes, randomTime(random), extension);
  }

  const target = plan.storageBytes + plan.largeFiles.reduce((sum, bytes) => sum + bytes, 0);
  while (spent < target) {
    serial += 1;
    const kind = random.pick(FILE_KINDS);
    const folder = random.pick(FOLDERS);
    const base = random.pick(BASENAMES);
    const bytes = Math.min(IN_MEMORY_FILE_LIMIT, random.logBetween(200, 512 * KIB), Math.max(200, target - spent));
    await write(`${folder}/${base}-${String(serial).padStart(4, '0')}.${kind.extension}`, bytes, randomTime(random));
  }
}

// ---------------------------------------------------------------- instant messages

async function writeIm(options: AccountContentOptions, counts: { im: number }): Promise<void> {
  const { plan, writer, contacts, onItem } = options;
  const random = options.random.fork('im');
  const me = plan.person;
  const nextId = counter('i');
  let spent = 0;

  const conversation = () => {
    const others = [random.pick(contacts)];
    if (random.chance(0.25)) others.push(random.pick(contacts), random.pick(contacts));
    const participants = [...new Set([me.imHandle, ...others.map((p) => p.imHandle)])];
    return { conversationId: `c-${random.bytes(6).toString('hex')}`, participants };
  };

  const write = async (chat: { conversationId: string; participants: string[] }, time: number, text: string) => {
    const id = nextId();
    const sentAt = isoSeconds(time);
    const message = { conversationId: chat.conversationId, participants: chat.participants, from: random.pick(chat.participants), sentAt, text };
    const body = Buffer.from(`${JSON.stringify(message, null, 2)}\n`, 'utf8');
    await writer.writeItem(
      'im',
      {
        id,
        timestamp: sentAt,
        name: `${chat.conversationId}/${sentAt.replace(/[-:]/g, '')}.json`,
        conversationId: chat.conversationId,
        participants: chat.participants,
      },
      body,
    );
    spent += body.length;
    counts.im += 1;
    onItem('im', body.length);
  };

  // Fixed realism: conversations across the order-range edges.
  const newYear = conversation();
  await write(newYear, EDGE_TIMES.justBefore - 40 * SECOND, 'almost midnight, where are you?');
  await write(newYear, EDGE_TIMES.justBefore, 'one second to go!');
  await write(newYear, EDGE_TIMES.first, 'Happy new year!!');
  await write(newYear, EDGE_TIMES.first + 7 * SECOND, 'happy 2026 :)');
  const midYear = conversation();
  await write(midYear, EDGE_TIMES.last, 'half-year report is in, finally');
  await write(midYear, EDGE_TIMES.justAfter, 'great, talk in H2');

  // Conversations over many days: sessions of quick messages, days apart. The first one always spans a week or more.
  let guaranteedDays = 6;
  while (spent < plan.imBytes || guaranteedDays > 0) {
    const chat = conversation();
    let time = randomTime(random, SPAN.from, SPAN.to - 90 * DAY);
    const sessions = Math.max(guaranteedDays, random.between(2, 12));
    for (let s = 0; s < sessions && (spent < plan.imBytes || guaranteedDays > 0) && time <= SPAN.to; s += 1) {
      guaranteedDays -= 1;
      const messages = random.between(2, 15);
      for (let m = 0; m < messages && time <= SPAN.to; m += 1) {
        await write(chat, time, chatLine(random));
        time += random.between(5, 600) * SECOND;
      }
      time += random.between(1, 10) * DAY + random.below(12 * 3600) * SECOND;
    }
  }
}

// ---------------------------------------------------------------- subscriber record

async function writeSubscriberRecord(options: AccountContentOptions): Promise<void> {
  const { plan, writer, onItem } = options;
  const random = options.random.fork('subscriber');
  const { account } = plan.person;
  const signUp = randomTime(random, Date.parse('2018-01-01T00:00:00Z'), Date.parse('2025-09-01T00:00:00Z'));
  const logins: { time: string; ip: string }[] = [];
  const homeIps = [ipAddress(random), ipAddress(random)];
  let time = SPAN.from + random.below(20 * 24 * 3600) * SECOND;
  while (time <= SPAN.to) {
    logins.push({ time: isoSeconds(time), ip: random.chance(0.8) ? random.pick(homeIps) : ipAddress(random) });
    time += random.logBetween(1, 21) * DAY + random.below(24 * 3600) * SECOND;
  }
  const [first, last] = plan.person.name.split(' ');
  const record = {
    accountId: account.id,
    name: plan.person.name,
    tenant: account.tenant,
    tenantType: account.tenantType,
    identifiers: account.identifiers,
    plan: account.tenantType === 'consumer' ? random.pick(['free', 'premium', 'family']) : 'business',
    status: 'active',
    signUp: { date: isoSeconds(signUp), ip: ipAddress(random), country: random.pick(['US', 'CA', 'GB', 'DE', 'FR', 'IN', 'JP']) },
    recovery: {
      email: `${(first ?? 'user').toLowerCase()}.${(last ?? 'x').toLowerCase()}${random.between(1, 99)}@example.net`,
      phone: `+1425555${String(random.between(0, 9999)).padStart(4, '0')}`,
    },
    loginHistory: logins,
    notes: capitalize(prose(random, 60)),
  };
  await writer.writeSubscriber(record);
  onItem('subscriber', Buffer.byteLength(`${JSON.stringify(record, null, 2)}\n`));
}
