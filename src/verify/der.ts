// A minimal DER reader that keeps byte offsets, so signed attributes can be re-tagged and verified byte-exact.

export class DerError extends Error {}

export interface DerNode {
  /** The identifier octet (single-byte tags only: CMS and X.509 need no others). */
  tag: number;
  start: number;
  contentStart: number;
  end: number;
}

export const TAG = {
  boolean: 0x01,
  integer: 0x02,
  bitString: 0x03,
  octetString: 0x04,
  null: 0x05,
  oid: 0x06,
  utcTime: 0x17,
  generalizedTime: 0x18,
  sequence: 0x30,
  set: 0x31,
  context0: 0xa0,
  context1: 0xa1,
  context2: 0xa2,
  context0Primitive: 0x80,
} as const;

/** Reads the element at `offset`; it must end at or before `limit`. Indefinite lengths (BER) are refused. */
export function readNode(buf: Buffer, offset: number, limit: number = buf.length): DerNode {
  if (offset + 2 > limit) throw new DerError(`DER element at byte ${offset} is cut short`);
  const tag = buf[offset] as number;
  if ((tag & 0x1f) === 0x1f) throw new DerError(`DER element at byte ${offset} uses a multi-byte tag`);
  const first = buf[offset + 1] as number;
  let length: number;
  let contentStart: number;
  if (first < 0x80) {
    length = first;
    contentStart = offset + 2;
  } else if (first === 0x80) {
    throw new DerError(`DER element at byte ${offset} has an indefinite (BER) length`);
  } else {
    const count = first & 0x7f;
    if (count > 4) throw new DerError(`DER element at byte ${offset} has a ${count}-byte length`);
    if (offset + 2 + count > limit) throw new DerError(`DER length at byte ${offset} is cut short`);
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + (buf[offset + 2 + i] as number);
    if (length < 0x80 || (buf[offset + 2] as number) === 0) {
      throw new DerError(`DER element at byte ${offset} has a non-minimal length`);
    }
    contentStart = offset + 2 + count;
  }
  const end = contentStart + length;
  if (end > limit) throw new DerError(`DER element at byte ${offset} runs past its container`);
  return { tag, start: offset, contentStart, end };
}

/** The one top-level element of `buf`; trailing bytes are an error. */
export function readRoot(buf: Buffer): DerNode {
  const root = readNode(buf, 0);
  if (root.end !== buf.length) throw new DerError(`${buf.length - root.end} stray bytes after the DER structure`);
  return root;
}

export function childrenOf(buf: Buffer, node: DerNode): DerNode[] {
  if ((node.tag & 0x20) === 0) throw new DerError(`DER element at byte ${node.start} is not constructed`);
  const children: DerNode[] = [];
  let offset = node.contentStart;
  while (offset < node.end) {
    const child = readNode(buf, offset, node.end);
    children.push(child);
    offset = child.end;
  }
  return children;
}

export function expectTag(node: DerNode | undefined, tag: number, what: string): DerNode {
  if (!node) throw new DerError(`${what} is missing`);
  if (node.tag !== tag) {
    throw new DerError(`${what}: expected tag 0x${tag.toString(16)}, found 0x${node.tag.toString(16)}`);
  }
  return node;
}

export function contentOf(buf: Buffer, node: DerNode): Buffer {
  return buf.subarray(node.contentStart, node.end);
}

export function bytesOf(buf: Buffer, node: DerNode): Buffer {
  return buf.subarray(node.start, node.end);
}

export function decodeOid(buf: Buffer, node: DerNode): string {
  const content = contentOf(buf, expectTag(node, TAG.oid, 'object identifier'));
  if (content.length === 0) throw new DerError('empty object identifier');
  const arcs: number[] = [];
  let value = 0;
  for (const byte of content) {
    value = value * 128 + (byte & 0x7f);
    if ((byte & 0x80) === 0) {
      if (arcs.length === 0) {
        const head = value < 80 ? Math.floor(value / 40) : 2;
        arcs.push(head, value - head * 40);
      } else {
        arcs.push(value);
      }
      value = 0;
    }
  }
  return arcs.join('.');
}

/** UTCTime or GeneralizedTime, Z only (DER requires it). */
export function decodeTime(buf: Buffer, node: DerNode): Date {
  const text = contentOf(buf, node).toString('latin1');
  let match: RegExpMatchArray | null;
  let year: number;
  if (node.tag === TAG.utcTime) {
    match = /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text);
    if (!match) throw new DerError(`malformed UTCTime "${text}"`);
    const yy = Number(match[1]);
    year = yy >= 50 ? 1900 + yy : 2000 + yy;
  } else if (node.tag === TAG.generalizedTime) {
    match = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(?:\.\d+)?Z$/.exec(text);
    if (!match) throw new DerError(`malformed GeneralizedTime "${text}"`);
    year = Number(match[1]);
  } else {
    throw new DerError(`expected a time, found tag 0x${node.tag.toString(16)}`);
  }
  const [, , month, day, hour, minute, second] = match.map(Number) as number[];
  return new Date(Date.UTC(year, (month as number) - 1, day, hour, minute, second));
}
