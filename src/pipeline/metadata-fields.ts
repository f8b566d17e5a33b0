// The fields of a `<service>.metadata/metadata.jsonl` line, in the order export writes them (metadata.ts), and that
// verify holds each delivered line to: a field beyond these (a subject, a body) is content the category does not cover.

export const METADATA_FIELDS = {
  'mail.metadata': ['sourceId', 'timestamp', 'from', 'to', 'cc', 'date', 'messageId', 'size', 'encryption', 'headersRead', 'headersFrom', 'headerTruncated', 'headerBytesReplaced'],
  'storage.metadata': ['sourceId', 'timestamp', 'path', 'size', 'created', 'modified'],
  'im.metadata': ['sourceId', 'timestamp', 'conversationId', 'participants', 'time', 'size'],
} as const satisfies Record<string, readonly string[]>;

export type MetadataCategory = keyof typeof METADATA_FIELDS;

/** What export writes in each field: a text, a text or null, a count of bytes, true or false, a list of texts. */
export type MetadataFieldType = 'text' | 'text-or-null' | 'count' | 'flag' | 'texts';

/** The type of each field (metadata.ts writes these): verify holds every line to them. */
export const METADATA_FIELD_TYPES: { readonly [C in MetadataCategory]: Readonly<Record<(typeof METADATA_FIELDS)[C][number], MetadataFieldType>> } = {
  'mail.metadata': {
    sourceId: 'text',
    timestamp: 'text',
    from: 'text-or-null',
    to: 'text-or-null',
    cc: 'text-or-null',
    date: 'text-or-null',
    messageId: 'text-or-null',
    size: 'count',
    encryption: 'text',
    headersRead: 'flag',
    headersFrom: 'text-or-null',
    headerTruncated: 'flag',
    headerBytesReplaced: 'flag',
  },
  'storage.metadata': { sourceId: 'text', timestamp: 'text', path: 'text', size: 'count', created: 'text', modified: 'text' },
  'im.metadata': { sourceId: 'text', timestamp: 'text', conversationId: 'text', participants: 'texts', time: 'text', size: 'count' },
};

/** Whether `value` is of `type`. */
export function isMetadataFieldValue(value: unknown, type: MetadataFieldType): boolean {
  switch (type) {
    case 'text':
      return typeof value === 'string';
    case 'text-or-null':
      return value === null || typeof value === 'string';
    case 'count':
      return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
    case 'flag':
      return typeof value === 'boolean';
    case 'texts':
      return Array.isArray(value) && value.every((entry) => typeof entry === 'string');
  }
}

/**
 * The fields of lines written by earlier versions, which verify still takes as they were: mail lines before
 * `headerBytesReplaced`.
 */
export const EARLIER_METADATA_FIELDS: Readonly<Record<MetadataCategory, readonly (readonly string[])[]>> = {
  'mail.metadata': [METADATA_FIELDS['mail.metadata'].slice(0, -1)],
  'storage.metadata': [],
  'im.metadata': [],
};

/** The one file of a metadata category folder. */
export const METADATA_FILE = 'metadata.jsonl';

export function isMetadataCategory(category: string): category is MetadataCategory {
  return Object.hasOwn(METADATA_FIELDS, category);
}
