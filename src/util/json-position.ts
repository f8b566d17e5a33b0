// Where a JSON text is malformed, said without quoting it. JSON.parse's own message quotes the start of the text
// (a key file given by mistake would be echoed into the error) and can span several lines, so scopex never passes
// it on: only the position it names, turned into a line and a column.

/**
 * V8 ends a message that knows where it stopped with "in JSON at position N" (Node 22 adds "(line L column C)").
 * Anchored at the end: a message without a position quotes the text, and the text may itself say "at position".
 */
const POSITION = /in JSON at position (\d+)(?: \(line \d+ column \d+\))?$/;

/** The character offset JSON.parse stopped at in `text`, or null when its error names none. */
export function jsonErrorOffset(error: unknown, text: string): number | null {
  if (!(error instanceof SyntaxError)) return null;
  const match = POSITION.exec(error.message);
  if (!match) return null;
  const offset = Number(match[1]);
  return Number.isSafeInteger(offset) && offset <= text.length ? offset : null;
}

/** The 1-based line and column of a character offset in `text` (a line ends at "\n"). */
export function lineAndColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = text.indexOf('\n'); i !== -1 && i < offset; i = text.indexOf('\n', i + 1)) {
    line += 1;
    lineStart = i + 1;
  }
  return { line, column: offset - lineStart + 1 };
}

/**
 * "is not valid JSON (at line L, column C)", or "is not valid JSON" when the parser named no position. `within` names
 * what the text is part of when it is not the whole file ("of the record").
 */
export function notValidJson(error: unknown, text: string, within?: string): string {
  const offset = jsonErrorOffset(error, text);
  if (offset === null) return 'is not valid JSON';
  const { line, column } = lineAndColumn(text, offset);
  return `is not valid JSON (at line ${line}, column ${column}${within ? ` ${within}` : ''})`;
}
