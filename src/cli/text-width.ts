// What the bundle gives yargs, cliui and wrap-ansi in place of `string-width`. Each copy of `string-width` builds an
// Intl.Segmenter as it loads, and yargs' copy (8.x) a Unicode-sets emoji expression too: together about 50 ms of
// every command's start-up, spent before any argument is read, to measure help text that is printable ASCII. Such
// text is measured here, as every copy measures it (one column per character); anything else goes to the copy the
// importer asked for, loaded the first time it is needed (see esbuild.config.mjs).

export type StringWidth = (input: string, options?: object) => number;

/** Space to tilde: no control characters, no escape sequences, nothing wide or zero-width. */
const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

/** `load` gives the real `string-width`; it is called at most once, and only for text that is not printable ASCII. */
export function lazyStringWidth(load: () => StringWidth): StringWidth {
  let real: StringWidth | undefined;
  return (input, options) => {
    if (typeof input === 'string' && PRINTABLE_ASCII.test(input)) return input.length;
    real ??= load();
    return real(input, options);
  };
}
