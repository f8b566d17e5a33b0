// File contents that look like what their extension says (text, CSV, or a binary with the right magic bytes).
import { capitalize, prose } from './sample-text.js';
import type { SeededRandom } from './seeded-random.js';

export interface FileKind {
  extension: string;
  contentType: string;
  text: boolean;
  magic?: Buffer;
}

export const FILE_KINDS: readonly FileKind[] = [
  { extension: 'txt', contentType: 'text/plain', text: true },
  { extension: 'md', contentType: 'text/markdown', text: true },
  { extension: 'csv', contentType: 'text/csv', text: true },
  { extension: 'pdf', contentType: 'application/pdf', text: false, magic: Buffer.from('%PDF-1.7\n%\xe2\xe3\xcf\xd3\n', 'latin1') },
  {
    extension: 'docx',
    contentType: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
    text: false,
    magic: Buffer.from([0x50, 0x4b, 0x03, 0x04, 0x14, 0x00, 0x06, 0x00]),
  },
  {
    extension: 'xlsx',
    contentType: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
    text: false,
    magic: Buffer.from([0x50, 0x4b, 0x03, 0x04, 0x14, 0x00, 0x06, 0x00]),
  },
  { extension: 'jpg', contentType: 'image/jpeg', text: false, magic: Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46]) },
  { extension: 'png', contentType: 'image/png', text: false, magic: Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]) },
];

export function fileKind(extension: string): FileKind {
  return FILE_KINDS.find((kind) => kind.extension === extension) ?? FILE_KINDS[0]!;
}

function csv(random: SeededRandom, bytes: number): string {
  const rows = ['date,description,amount,currency'];
  let length = rows[0]!.length;
  while (length < bytes) {
    const row = `2026-${String(random.between(1, 12)).padStart(2, '0')}-${String(random.between(1, 28)).padStart(2, '0')},${capitalize(
      random.pick(['rent', 'groceries', 'travel', 'software', 'consulting', 'hardware', 'utilities']),
    )},${random.between(1, 99999) / 100},${random.pick(['USD', 'EUR', 'GBP'])}`;
    rows.push(row);
    length += row.length + 1;
  }
  return `${rows.join('\n')}\n`;
}

/** A whole small file (held in memory: callers keep these under a few MiB). Exactly `bytes` long. */
export function fileContent(random: SeededRandom, kind: FileKind, bytes: number): Buffer {
  if (bytes === 0) return Buffer.alloc(0);
  let content: Buffer;
  if (kind.text) {
    const text = kind.extension === 'csv' ? csv(random, bytes) : prose(random, bytes);
    content = Buffer.from(text, 'utf8');
  } else {
    const magic = kind.magic ?? Buffer.alloc(0);
    content = Buffer.concat([magic, random.bytes(Math.max(0, bytes - magic.length))]);
  }
  if (content.length > bytes) return content.subarray(0, bytes);
  if (content.length < bytes) return Buffer.concat([content, Buffer.alloc(bytes - content.length, 0x20)]);
  return content;
}
