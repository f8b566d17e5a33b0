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

/** C0 controls but tab and line feed (a CR rewrites the line), and every character of SHOWN_ESCAPED. */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const TERMINAL_UNSAFE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/g;

/**
 * A line of human output as printed on a terminal: every character a terminal would act on or hide (an ESC that starts
 * a colour, a bidi override, a CR) written as a \u escape. File names come from folder listings, and an order file
 * named with an escape sequence turned the terminal red from batch's table on.
 */
export function terminalSafe(text: string): string {
  return text.replace(TERMINAL_UNSAFE, (character) => `\\u${character.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * One field of a line of human output, from outside (a file name, an order id, an error message naming a file): as
 * terminalSafe, and a line feed escaped too, so that it cannot start a line of its own. An order file named with one
 * printed a forged "sealed" row in batch's table.
 */
export function oneLine(text: string): string {
  return terminalSafe(text).replaceAll('\n', '\\u000a');
}
