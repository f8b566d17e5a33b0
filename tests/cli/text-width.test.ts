// The bundle measures help text with lazyStringWidth in front of each importer's own `string-width`: it must give
// exactly what that copy gives, and load it only for text that is not printable ASCII.
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { lazyStringWidth, type StringWidth } from '../../src/cli/text-width.js';
import { packageRoot } from '../../src/util/package-root.js';

const ROOT = packageRoot();
/** The packages whose `import stringWidth from 'string-width'` the bundle rewrites (each may have its own copy). */
const IMPORTERS = ['yargs', 'cliui', 'wrap-ansi'];

async function realCopy(importer: string): Promise<{ file: string; width: StringWidth }> {
  const from = createRequire(path.join(ROOT, 'node_modules', importer, 'package.json'));
  const file = from.resolve('string-width');
  const module = (await import(pathToFileURL(file).href)) as { default: StringWidth };
  return { file, width: module.default };
}

const PRINTABLE = Array.from({ length: 0x7f - 0x20 }, (_, i) => String.fromCharCode(0x20 + i));
const ASCII_TEXT = [
  '',
  PRINTABLE.join(''),
  ...PRINTABLE,
  '      --config   config file (default: config/scopex.json)                                  [string]',
  'scopex export W/orders/approved-warrant.json --out exports',
];
const OTHER_TEXT = [
  'na\u00efve',
  '\u65e5\u672c\u8a9e',
  '\ud83d\udc4d\ud83c\udffd ok',
  'e\u0301',
  '\u001b[31mred\u001b[39m',
  'tab\there',
  'line\nbreak',
  '\u0000\u007f',
  '\uff76\uff9e',
  '\u2014 dash',
];

describe('lazyStringWidth', () => {
  it.each(IMPORTERS)('gives what the string-width of %s gives, loading it only for text that is not printable ASCII', async (importer) => {
    const real = await realCopy(importer);
    let loads = 0;
    const lazy = lazyStringWidth(() => {
      loads += 1;
      return real.width;
    });
    for (const text of ASCII_TEXT) expect(lazy(text), JSON.stringify(text)).toBe(real.width(text));
    expect(loads, `${real.file} loaded for printable ASCII`).toBe(0);
    for (const text of OTHER_TEXT) {
      expect(lazy(text), JSON.stringify(text)).toBe(real.width(text));
      expect(lazy(text, { countAnsiEscapeCodes: true }), JSON.stringify(text)).toBe(real.width(text, { countAnsiEscapeCodes: true }));
    }
    expect(loads).toBe(1);
  });

  it('counts printable ASCII as one column per character, as every copy does', async () => {
    for (const importer of IMPORTERS) {
      const { width } = await realCopy(importer);
      for (const character of PRINTABLE) expect(width(character), `${importer}: ${JSON.stringify(character)}`).toBe(1);
    }
  });
});
