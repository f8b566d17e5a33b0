// Text that every JSON reader takes. A store's JSON index can hold a lone UTF-16 surrogate ("lone-\ud800.txt"), which
// JSON.stringify writes as the escape \ud800: Node and Python read that back, but RFC 8259 (8.2) says it may not
// interoperate, and jq 1.6 refuses the whole file. String.prototype.toWellFormed is past this project's lib (ES2024).

/** A high surrogate without its low one after it, or a low one without its high one before it. */
export const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** The text with every lone surrogate replaced by U+FFFD, as UTF-8 would give it. */
export function wellFormed(text: string): string {
  return text.replace(LONE_SURROGATE, '\ufffd');
}

/**
 * JSON.stringify(value), with every string in it (not the keys) made well-formed first. JSON.stringify writes a lone
 * surrogate as an escape from \ud800 to \udfff and writes paired ones as they are, so a text without such an escape
 * (nearly all) is taken as it is; one with it (or with a backslash written before "ud8".."udf") is written again.
 */
export function stringifyWellFormed(value: unknown): string {
  const text = JSON.stringify(value);
  if (!text.includes('\\ud') || !/\\ud[89a-f]/.test(text)) return text;
  return JSON.stringify(value, (_key, field: unknown) => (typeof field === 'string' ? wellFormed(field) : field));
}
