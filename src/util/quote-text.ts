// Text from outside (a certificate's name, a hostile entry name) made safe to show: quoted for a terminal line,
// or escaped in --json.

/**
 * What JSON.stringify leaves raw but a terminal acts on or hides: C1 controls (U+009B starts an escape sequence),
 * line and paragraph separators, bidi marks, embeddings, overrides and isolates, and zero-width characters.
 */
const SHOWN_ESCAPED = /[\u007f-\u009f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/g;

/** `text` as a JSON string literal with every character of SHOWN_ESCAPED written as a \u escape. */
export function quoteText(text: string): string {
  return escapeJsonForTerminal(JSON.stringify(text));
}

/**
 * A JSON document as printed: every character of SHOWN_ESCAPED (they occur only inside strings) written as a \u
 * escape, so the document means the same to a parser and shows nothing hidden on a terminal.
 */
export function escapeJsonForTerminal(json: string): string {
  return json.replace(SHOWN_ESCAPED, (character) => `\\u${character.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
