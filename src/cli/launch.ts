#!/usr/bin/env node
// The scopex executable (bundled as dist/bin/main.js): loads the CLI (./main.ts, which runs as it loads) and imports
// nothing else first. The CLI is a few bundled files that Node opens as it loads them; with few file descriptors
// (`ulimit -n` of 20 to 26) one of them failed to open before any scopex code ran, and Node printed its own stack
// trace. Loaded from here, that failure is caught, and told in one sentence.
try {
  await import('./main.js');
} catch (error) {
  const code = (error as { code?: unknown } | null)?.code;
  if (code !== 'EMFILE' && code !== 'ENFILE') throw error;
  // Nothing of scopex is loaded to say it with (src/errors.ts's openFilesSentence says the same once it is).
  process.stderr.write(
    code === 'EMFILE'
      ? 'scopex: too many open files to load scopex itself: raise the limit on open files (ulimit -n) and run again\n'
      : 'scopex: the system has too many open files to load scopex itself: close some or raise its limit (fs.file-max) and run again\n',
  );
  process.exitCode = 1;
}
