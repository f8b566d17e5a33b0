// `npm run bundle`: bundles the compiled CLI (dist/src) and its worker scripts into dist/bin, a few files that load
// faster than every module of dist/src and node_modules one by one. archiver is bundled too (loading it from
// node_modules, 62 modules, took ~65 ms of every export's start); only `crc-32` stays outside, because
// src/seal/native-crc.ts swaps its `buf` for Node's native CRC-32 in place, on the module object in node_modules:
// the bundled ZIP writer must import that same object, not a copy of its own.
//
// One change to what the dependencies import: `string-width`, imported by yargs, cliui and wrap-ansi, becomes
// dist/src/cli/text-width.js in front of the same copy, which is then only loaded (and its Intl.Segmenter and emoji
// expression built) when some text is not printable ASCII. cli-progress `require`s its own CommonJS copy and keeps it.
import { realpathSync, rmSync } from 'node:fs';
import path from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const root = path.dirname(fileURLToPath(import.meta.url));
const outdir = path.join(root, 'dist/bin');
const textWidth = path.join(root, 'dist/src/cli/text-width.js');

/** @type {esbuild.Plugin} */
export const lazyStringWidth = {
  name: 'lazy-string-width',
  setup(build) {
    build.onResolve({ filter: /^string-width$/ }, async (args) => {
      if (args.kind !== 'import-statement' || args.pluginData?.real) return undefined;
      const real = await build.resolve('string-width', { kind: args.kind, resolveDir: args.resolveDir, importer: args.importer, pluginData: { real: true } });
      if (real.errors.length > 0) return { errors: real.errors };
      // Relative to the package, so that the bundle does not carry the path it was built at.
      return { path: path.relative(root, real.path), namespace: 'lazy-string-width' };
    });
    build.onLoad({ filter: /.*/, namespace: 'lazy-string-width' }, (args) => {
      const real = path.join(root, args.path);
      return {
        // A require() of a bundled ES module: esbuild evaluates it on the first call, not when the bundle loads.
        contents: [
          `import { lazyStringWidth } from ${JSON.stringify(textWidth)};`,
          `export default lazyStringWidth(() => require(${JSON.stringify(real)}).default);`,
        ].join('\n'),
        resolveDir: path.dirname(real),
        loader: 'js',
      };
    });
  },
};

/** The options every scopex bundle is built with (tests build small ones with them too). */
export const bundleOptions = {
  absWorkingDir: root,
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  logLevel: 'warning',
  // CommonJS dependencies bundled into ES modules still require() Node's own modules: each chunk gets a real require.
  banner: { js: "import { createRequire as __scopexCreateRequire } from 'node:module'; const require = __scopexCreateRequire(import.meta.url);" },
  plugins: [lazyStringWidth],
};

// Run as `node esbuild.config.mjs`, it builds; imported (by a test), it only lends its options.
if (process.argv[1] && realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url))) {
  rmSync(outdir, { recursive: true, force: true });
  await esbuild.build({
    ...bundleOptions,
    // dist/bin/main.js, what users run, is the launcher (src/cli/launch.ts), which loads the CLI proper, dist/bin/cli.js.
    entryPoints: [
      { in: 'dist/src/cli/launch.js', out: 'main' },
      { in: 'dist/src/cli/main.js', out: 'cli' },
      'dist/src/keys/item-reader-thread.js',
      'dist/src/batch/export-worker.js',
      'dist/src/verify/records-thread.js',
    ],
    splitting: true,
    external: ['crc-32'],
    entryNames: '[name]',
    outdir,
  });
}
