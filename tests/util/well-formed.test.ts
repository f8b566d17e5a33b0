import { describe, expect, it } from 'vitest';
import { stringifyWellFormed, wellFormed } from '../../src/util/well-formed.js';

describe('well-formed text', () => {
  it('replaces lone surrogates with U+FFFD and keeps pairs', () => {
    expect(wellFormed('lone-\ud800.txt')).toBe('lone-\ufffd.txt');
    expect(wellFormed('\udc00a\ud83d\ude00b\ud83d')).toBe('\ufffda\ud83d\ude00b\ufffd');
    expect(wellFormed('\ude00\ud83d')).toBe('\ufffd\ufffd');
    expect(wellFormed('plain')).toBe('plain');
  });

  it('writes JSON without a lone-surrogate escape, and as JSON.stringify does otherwise', () => {
    const value = { originalName: 'lone-\ud800.txt', list: ['x\udfff', '\ud83d\ude00'], n: 1, back: 'a\\ud800' };
    const text = stringifyWellFormed(value);
    // No \udXXX escape of a surrogate (an escaped backslash before "ud800" is text, not an escape).
    expect(text).not.toMatch(/(?<!\\)\\ud[89a-f]/i);
    expect(JSON.parse(text)).toEqual({ originalName: 'lone-\ufffd.txt', list: ['x\ufffd', '\ud83d\ude00'], n: 1, back: 'a\\ud800' });
    const plain = { path: 'data/a/b.txt', names: ['caf\u00e9', '\u0007'], back: 'a\\ud800' };
    expect(stringifyWellFormed(plain)).toBe(JSON.stringify(plain));
  });
});
