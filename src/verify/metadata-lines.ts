// The lines of a delivered `*.metadata/metadata.jsonl`, checked as verify reads the file. Each line is one JSON
// object with exactly the fields export writes for its service (metadata-fields.ts), in that order, and names its
// item's time. What the scope check needs is kept, not the lines: their count, the earliest and the latest time, and
// the first line that is not a metadata line scopex writes. Memory is one line at a time (at most MAX_LINE_BYTES).
import {
  EARLIER_METADATA_FIELDS,
  isMetadataFieldValue,
  METADATA_FIELD_TYPES,
  METADATA_FIELDS,
  type MetadataCategory,
  type MetadataFieldType,
} from '../pipeline/metadata-fields.js';
import { pastTheMillisecond, sameInstant } from '../util/in-range.js';
import { keyCount, objectKeyCount } from '../util/json-keys.js';
import { itemFacts, type ItemSet } from './item-set.js';
import type { EntrySink } from './safe-zip.js';

/** A line longer than this is not held to be parsed (scopex's longest lines, of many recipients, are far shorter). */
export const MAX_LINE_BYTES = 16 * 1024 * 1024;

export interface LineTime {
  /** Line number, from 1. */
  line: number;
  text: string;
  /** Date.parse(text). */
  at: number;
}

export interface MetadataSummary {
  lines: number;
  earliest: LineTime | null;
  latest: LineTime | null;
  /** The first line that is not a metadata line scopex writes, and why; null when every line is one. */
  problem: { line: number; message: string } | null;
  /** How many lines are not. */
  problems: number;
}

const FIELD_TYPE_NAMES: Readonly<Record<MetadataFieldType, string>> = {
  text: 'a text',
  'text-or-null': 'a text or null',
  count: 'a count of bytes',
  flag: 'true or false',
  texts: 'a list of texts',
};

export class MetadataLines implements EntrySink {
  private readonly service: string;
  private readonly fields: readonly string[];
  private readonly types: Readonly<Record<string, MetadataFieldType>>;
  private readonly earlierFields: readonly (readonly string[])[];
  private readonly parts: Buffer[] = [];
  private partBytes = 0;
  private skipping = false;
  private readonly summary: MetadataSummary = { lines: 0, earliest: null, latest: null, problem: null, problems: 0 };

  /** `items`, when given, takes the item (sourceId, timestamp, its facts and path) each good line names. */
  constructor(
    category: MetadataCategory,
    private readonly done: (summary: MetadataSummary) => void,
    private readonly items?: ItemSet,
  ) {
    this.service = category.slice(0, category.indexOf('.'));
    this.fields = METADATA_FIELDS[category];
    this.types = METADATA_FIELD_TYPES[category];
    this.earlierFields = EARLIER_METADATA_FIELDS[category];
  }

  update(chunk: Buffer): void {
    let start = 0;
    for (let newline = chunk.indexOf(10, start); newline >= 0; newline = chunk.indexOf(10, start)) {
      if (this.partBytes === 0 && !this.skipping) {
        // The usual line: whole in this chunk, read from it without a copy.
        this.lineOf(newline - start > MAX_LINE_BYTES ? null : chunk.toString('utf8', start, newline));
      } else {
        this.take(chunk.subarray(start, newline));
        this.endLine();
      }
      start = newline + 1;
    }
    if (start < chunk.length) this.take(chunk.subarray(start));
  }

  end(): void {
    // The last line ends with a newline, as every line export writes; bytes after it are a line without one.
    if (this.partBytes > 0 || this.skipping) this.endLine();
    this.done(this.summary);
  }

  private take(bytes: Buffer): void {
    if (this.skipping || bytes.length === 0) return;
    if (this.partBytes + bytes.length > MAX_LINE_BYTES) {
      this.parts.length = 0;
      this.partBytes = 0;
      this.skipping = true;
      return;
    }
    this.parts.push(Buffer.from(bytes));
    this.partBytes += bytes.length;
  }

  /** The line held in parts (a line over chunks), or the one skipped as too long. */
  private endLine(): void {
    const text = this.skipping ? null : Buffer.concat(this.parts, this.partBytes).toString('utf8');
    this.skipping = false;
    this.parts.length = 0;
    this.partBytes = 0;
    this.lineOf(text);
  }

  /** The next line's text, or null when it is too long to be held. */
  private lineOf(text: string | null): void {
    const line = ++this.summary.lines;
    const problem = text === null ? `it is longer than ${MAX_LINE_BYTES} bytes` : this.check(line, text);
    if (problem) this.problemAt(line, problem);
  }

  /** Why `text` is not a metadata line of this service, or null; a good line's time is kept. */
  private check(line: number, text: string): string | null {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      return 'it is not JSON';
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return 'it is not a JSON object';
    // The fields in order, as export writes them; the slower look only when they are not.
    let index = 0;
    let inOrder = true;
    for (const key in value) {
      if (key !== this.fields[index++]) {
        inOrder = false;
        break;
      }
    }
    const current = inOrder && index === this.fields.length;
    if (!current && !this.earlierFields.some((fields) => fieldsAre(value, fields))) {
      const extra = Object.keys(value).find((key) => !this.fields.includes(key));
      // Named only when it is a plain field name: the key comes from the archive.
      if (extra !== undefined) return `it has a field ${/^[A-Za-z0-9_.-]{1,64}$/.test(extra) ? JSON.stringify(extra) : '(not shown)'} that metadata lines do not have`;
      return `its fields are not ${this.fields.join(', ')}, in that order`;
    }
    // JSON.parse kept the last of a field written twice; a reader that keeps the first would read another line.
    if (objectKeyCount(text) !== (current ? this.fields.length : keyCount(value))) return 'it gives a field twice, and JSON readers differ on which value they take';
    // Each field of the type export writes: no object (whose own keys could repeat) and no number for an address.
    const types = this.types;
    for (const key in value) {
      const type = types[key] as MetadataFieldType;
      if (!isMetadataFieldValue((value as Record<string, unknown>)[key], type)) return `its ${key} is not ${FIELD_TYPE_NAMES[type]}`;
    }
    // An IM line's time is its message's time, as its timestamp is.
    if (this.service === 'im' && (value as Record<string, unknown>)['time'] !== (value as Record<string, unknown>)['timestamp']) return 'its time is not its timestamp';
    // A file's timestamp is its last modification (export stops on an index line that says otherwise).
    if (this.service === 'storage' && !sameTime((value as Record<string, unknown>)['modified'], (value as Record<string, unknown>)['timestamp'])) {
      return 'its modified time is not its timestamp';
    }
    const timestamp = (value as Record<string, unknown>)['timestamp'];
    const at = typeof timestamp === 'string' ? Date.parse(timestamp) : Number.NaN;
    if (typeof timestamp !== 'string' || !Number.isFinite(at)) return 'its timestamp is not a time';
    this.keep({ line, text: timestamp, at });
    const fields = value as Record<string, unknown>;
    this.items?.add(fields['sourceId'], timestamp, itemFacts(this.service, fields['size'], fields['encryption']), fields['path']);
    return null;
  }

  private keep(time: LineTime): void {
    const { earliest, latest } = this.summary;
    if (!earliest || time.at < earliest.at) this.summary.earliest = time;
    // Of two times in the same millisecond the one past it is the later: it is the one a range ending there leaves out.
    if (!latest || time.at > latest.at || (time.at === latest.at && !pastTheMillisecond(latest.text) && pastTheMillisecond(time.text))) {
      this.summary.latest = time;
    }
  }

  private problemAt(line: number, message: string): void {
    this.summary.problems += 1;
    this.summary.problem ??= { line, message };
  }
}

/** Whether `value`'s keys are exactly `fields`, in that order. */
function fieldsAre(value: object, fields: readonly string[]): boolean {
  let index = 0;
  for (const key in value) if (key !== fields[index++]) return false;
  return index === fields.length;
}

function sameTime(a: unknown, b: unknown): boolean {
  return typeof a === 'string' && typeof b === 'string' && sameInstant(a, b);
}
