// The fields of a `<service>.metadata/metadata.jsonl` line, in the order export writes them (metadata.ts), and that
// verify holds each delivered line to: a field beyond these (a subject, a body) is content the category does not cover.

export const METADATA_FIELDS = {
  'mail.metadata': ['sourceId', 'timestamp', 'from', 'to', 'cc', 'date', 'messageId', 'size', 'encryption', 'headersRead', 'headersFrom', 'headerTruncated', 'headerBytesReplaced'],
  'storage.metadata': ['sourceId', 'timestamp', 'path', 'size', 'created', 'modified'],
  'im.metadata': ['sourceId', 'timestamp', 'conversationId', 'participants', 'time', 'size'],
} as const satisfies Record<string, readonly string[]>;

export type MetadataCategory = keyof typeof METADATA_FIELDS;

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
