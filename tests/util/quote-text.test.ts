// Text from outside shown on a terminal: nothing a terminal acts on or hides goes out raw, and JSON keeps its meaning.
import { describe, expect, it } from 'vitest';
import { escapeJsonForTerminal, quoteText } from '../../src/util/quote-text.js';

const HOSTILE = ['\u202e', '\u2066', '\u2069', '\u009b', '\u0085', '\u2028', '\u2029', '\u200b', '\u200d', '\u200f', '\u2060', '\ufeff', '\u00ad', '\u061c', '\u007f'];

describe('quoteText', () => {
  it.each(HOSTILE)('writes %j as a \\u escape', (character) => {
    const quoted = quoteText(`a${character}b`);
    expect(quoted).not.toContain(character);
    expect(quoted).toBe(`"a\\u${character.charCodeAt(0).toString(16).padStart(4, '0')}b"`);
  });

  it('leaves ordinary text, non-ASCII letters included, as JSON.stringify writes it', () => {
    for (const text of ['Contoso Cloud Compliance Reviewer', 'Zoë Ångström', '山田 太郎', 'a"b\\c', 'line\nbreak']) {
      expect(quoteText(text)).toBe(JSON.stringify(text));
    }
  });
});

describe('escapeJsonForTerminal', () => {
  it('gives a document that parses to the same value, without the raw characters', () => {
    const value = { name: `x${HOSTILE.join('')}y`, list: HOSTILE, plain: 'ok' };
    const printed = escapeJsonForTerminal(JSON.stringify(value, null, 2));
    for (const character of HOSTILE) expect(printed).not.toContain(character);
    expect(JSON.parse(printed)).toEqual(value);
  });
});
