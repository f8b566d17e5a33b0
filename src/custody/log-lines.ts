// The custody log's lines exactly as they are on disk: split on LF alone, so that a CR scopex never writes stays in
// its line (readline would take CR LF, and a lone CR, for line ends, and an edited log would read as written).
import { createReadStream } from 'node:fs';

const LF = 0x0a;

/**
 * The lines of the first `end` bytes of `file`, each decoded as UTF-8 without its LF. A last line without an LF is
 * yielded too; nothing is yielded for an empty file. Only the line being split is held, never the file.
 */
export async function* logLines(file: string, end: number): AsyncGenerator<string> {
  if (end <= 0) return;
  let pending: Buffer[] = [];
  for await (const chunk of createReadStream(file, { start: 0, end: end - 1 }) as AsyncIterable<Buffer>) {
    let from = 0;
    for (let at = chunk.indexOf(LF, from); at !== -1; at = chunk.indexOf(LF, from)) {
      const piece = chunk.subarray(from, at);
      yield (pending.length === 0 ? piece : Buffer.concat([...pending, piece])).toString('utf8');
      pending = [];
      from = at + 1;
    }
    if (from < chunk.length) pending.push(chunk.subarray(from));
  }
  if (pending.length > 0) yield Buffer.concat(pending).toString('utf8');
}
