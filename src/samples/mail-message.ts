// Builds RFC 5322 / MIME messages (CRLF line ends) for the sample mail store, including user-encrypted ones.
import type { SeededRandom } from './seeded-random.js';

const CRLF = '\r\n';

export interface MailAddress {
  name: string;
  address: string;
}

export interface MailAttachment {
  filename: string;
  contentType: string;
  data: Buffer;
}

export interface MailSpec {
  messageId: string;
  date: Date;
  from: MailAddress;
  to: MailAddress[];
  cc: MailAddress[];
  subject: string;
  inReplyTo?: string;
  references: string[];
  text: string;
  attachments: MailAttachment[];
  /** Mail the user encrypted end to end: the body becomes an S/MIME or PGP/MIME envelope the provider cannot read. */
  userEncryption: 'smime' | 'pgp' | null;
}

/** RFC 5322 date-time, always in UTC: "Thu, 01 Jan 2026 00:00:00 +0000". */
export function rfc5322Date(date: Date): string {
  const days = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const two = (n: number) => String(n).padStart(2, '0');
  return (
    `${days[date.getUTCDay()]}, ${two(date.getUTCDate())} ${months[date.getUTCMonth()]} ${date.getUTCFullYear()} ` +
    `${two(date.getUTCHours())}:${two(date.getUTCMinutes())}:${two(date.getUTCSeconds())} +0000`
  );
}

/** An RFC 2047 encoded word when the text is not plain ASCII. */
function headerText(text: string): string {
  return /^[\x20-\x7e]*$/.test(text) ? text : `=?UTF-8?B?${Buffer.from(text, 'utf8').toString('base64')}?=`;
}

export function formatAddress(address: MailAddress): string {
  return address.name ? `${headerText(address.name)} <${address.address}>` : `<${address.address}>`;
}

/** Base64 in lines of 76 characters (RFC 2045). */
export function base64Lines(data: Buffer): string {
  const text = data.toString('base64');
  const lines: string[] = [];
  for (let i = 0; i < text.length; i += 76) lines.push(text.slice(i, i + 76));
  return lines.join(CRLF);
}

function boundary(random: SeededRandom): string {
  return `----=_Part_${random.bytes(12).toString('hex')}`;
}

function envelopeHeaders(spec: MailSpec): string[] {
  const headers = [
    `Date: ${rfc5322Date(spec.date)}`,
    `From: ${formatAddress(spec.from)}`,
    `To: ${spec.to.map(formatAddress).join(', ')}`,
  ];
  if (spec.cc.length > 0) headers.push(`Cc: ${spec.cc.map(formatAddress).join(', ')}`);
  headers.push(`Subject: ${headerText(spec.subject)}`, `Message-ID: ${spec.messageId}`);
  if (spec.inReplyTo) headers.push(`In-Reply-To: ${spec.inReplyTo}`);
  if (spec.references.length > 0) headers.push(`References: ${spec.references.join(' ')}`);
  headers.push('MIME-Version: 1.0');
  return headers;
}

/** Wraps lines at 76 characters between words (RFC 5322 allows at most 998 per line; mail clients use ~76). */
export function wrapText(text: string, width = 76): string {
  const out: string[] = [];
  for (const line of text.split(/\r?\n/)) {
    let current = '';
    for (const word of line.split(' ')) {
      if (current !== '' && current.length + 1 + word.length > width) {
        out.push(current);
        current = word;
      } else {
        current = current === '' ? word : `${current} ${word}`;
      }
    }
    out.push(current);
  }
  return out.join(CRLF);
}

function plainPart(text: string): string {
  return ['Content-Type: text/plain; charset=utf-8', 'Content-Transfer-Encoding: 8bit', '', wrapText(text)].join(CRLF);
}

function attachmentPart(attachment: MailAttachment): string {
  return [
    `Content-Type: ${attachment.contentType}; name="${attachment.filename}"`,
    'Content-Transfer-Encoding: base64',
    `Content-Disposition: attachment; filename="${attachment.filename}"`,
    '',
    base64Lines(attachment.data),
  ].join(CRLF);
}

function multipart(subtype: string, parts: string[], random: SeededRandom, extra = ''): string[] {
  const mark = boundary(random);
  const lines = [`Content-Type: multipart/${subtype};${extra} boundary="${mark}"`, '', 'This is a multi-part message in MIME format.'];
  for (const part of parts) lines.push(`--${mark}`, part);
  lines.push(`--${mark}--`, '');
  return lines;
}

/** The message the user wrote, before any end-to-end encryption. */
function innerBody(spec: MailSpec, random: SeededRandom): string[] {
  if (spec.attachments.length === 0) return [plainPart(spec.text), ''];
  return multipart('mixed', [plainPart(spec.text), ...spec.attachments.map(attachmentPart)], random);
}

/** Looks like an enveloped CMS / OpenPGP packet: its content is opaque to the provider by design. */
function opaqueCiphertext(random: SeededRandom, plaintextBytes: number, kind: 'smime' | 'pgp'): Buffer {
  const body = random.bytes(plaintextBytes + 64 + random.below(64));
  if (kind === 'smime') {
    body[0] = 0x30;
    body[1] = 0x82;
  } else {
    body[0] = 0x85; // an old-format public-key encrypted session key packet tag
  }
  return body;
}

export function buildMessage(spec: MailSpec, random: SeededRandom): Buffer {
  const headers = envelopeHeaders(spec);
  let body: string[];
  switch (spec.userEncryption) {
    case null:
      body = innerBody(spec, random);
      break;
    case 'smime': {
      const inner = Buffer.from(innerBody(spec, random).join(CRLF), 'utf8');
      body = [
        'Content-Type: application/pkcs7-mime; smime-type=enveloped-data; name="smime.p7m"',
        'Content-Transfer-Encoding: base64',
        'Content-Disposition: attachment; filename="smime.p7m"',
        '',
        base64Lines(opaqueCiphertext(random, inner.length, 'smime')),
        '',
      ];
      break;
    }
    case 'pgp': {
      const inner = Buffer.from(innerBody(spec, random).join(CRLF), 'utf8');
      const armored = [
        '-----BEGIN PGP MESSAGE-----',
        '',
        base64Lines(opaqueCiphertext(random, inner.length, 'pgp')),
        `=${random.bytes(3).toString('base64')}`,
        '-----END PGP MESSAGE-----',
      ].join(CRLF);
      body = multipart(
        'encrypted',
        [
          ['Content-Type: application/pgp-encrypted', 'Content-Description: PGP/MIME version identification', '', 'Version: 1', ''].join(CRLF),
          [
            'Content-Type: application/octet-stream; name="encrypted.asc"',
            'Content-Description: OpenPGP encrypted message',
            'Content-Disposition: inline; filename="encrypted.asc"',
            '',
            armored,
          ].join(CRLF),
        ],
        random,
        ' protocol="application/pgp-encrypted";',
      );
      break;
    }
    default: {
      const unreachable: never = spec.userEncryption;
      throw new Error(`unknown user encryption ${String(unreachable)}`);
    }
  }
  return Buffer.from([...headers, ...body].join(CRLF), 'utf8');
}
