import { describe, expect, it } from 'vitest';
import { jsonErrorOffset, lineAndColumn, notValidJson } from '../../src/util/json-position.js';

function parseError(text: string): unknown {
  try {
    JSON.parse(text);
  } catch (error) {
    return error;
  }
  throw new Error('the text parsed');
}

describe('json-position', () => {
  it('turns the position JSON.parse names into a line and a column', () => {
    const text = '{\n  "a": 1,\n  "b": 2,\n}';
    expect(jsonErrorOffset(parseError(text), text)).toBe(text.length - 1);
    expect(notValidJson(parseError(text), text)).toBe('is not valid JSON (at line 4, column 1)');
    expect(notValidJson(parseError('[1 2]'), '[1 2]')).toBe('is not valid JSON (at line 1, column 4)');
  });

  it('counts columns from 1 on every line, with CRLF line ends too', () => {
    expect(lineAndColumn('abc', 0)).toEqual({ line: 1, column: 1 });
    expect(lineAndColumn('a\r\nbc', 4)).toEqual({ line: 2, column: 2 });
    expect(lineAndColumn('a\n', 2)).toEqual({ line: 2, column: 1 });
  });

  it('says only "is not valid JSON" when the parser names no position', () => {
    const text = 'fef2b25e637eaed3';
    expect(notValidJson(parseError(text), text)).toBe('is not valid JSON');
    expect(notValidJson(parseError(''), '')).toBe('is not valid JSON');
    expect(notValidJson(new Error('in JSON at position 3'), 'abcdef')).toBe('is not valid JSON');
  });

  it('is not fooled by a position quoted from the text itself', () => {
    // Without a position of its own, V8 quotes the text (or its start), which may read like a positioned message.
    const quoted = new SyntaxError('Unexpected token \'x\', "x in JSON at position 2" is not valid JSON');
    expect(jsonErrorOffset(quoted, 'x in JSON at position 2')).toBeNull();
  });

  it('ignores a position beyond the text', () => {
    expect(jsonErrorOffset(new SyntaxError('Unexpected number in JSON at position 99'), 'short')).toBeNull();
  });
});
