// The disk's sequential write speed, measured the same way in every run: dd from /dev/zero with O_DIRECT,
// falling back to dd with conv=fdatasync where the file system refuses O_DIRECT (tmpfs, some overlays).
import { rmSync } from 'node:fs';
import path from 'node:path';
import { runTimed } from './process-timer.js';

export interface DiskSpeed {
  bytesPerSecond: number;
  bytes: number;
  seconds: number;
  method: string;
}

/** Parses GNU dd's summary line ("N bytes (...) copied, S s, R MB/s") into bytes and seconds. */
export function parseDdSummary(stderr: string): { bytes: number; seconds: number } {
  const match = /^(\d+) bytes .*copied, ([\d.,e+-]+) s,/m.exec(stderr);
  if (!match?.[1] || !match[2]) throw new Error(`dd printed no summary line; expected "N bytes ... copied, S s, ...", found: ${stderr.trim().slice(-200)}`);
  return { bytes: Number(match[1]), seconds: Number(match[2].replace(',', '.')) };
}

export async function measureDiskWrite(folder: string, mebibytes: number): Promise<DiskSpeed> {
  const file = path.join(folder, 'disk-speed.bin');
  const env = { ...process.env, LC_ALL: 'C' };
  const attempts: Array<{ flag: string; method: string }> = [
    { flag: 'oflag=direct', method: `dd bs=1M count=${mebibytes} oflag=direct` },
    { flag: 'conv=fdatasync', method: `dd bs=1M count=${mebibytes} conv=fdatasync` },
  ];
  let lastError = '';
  try {
    for (const attempt of attempts) {
      const run = await runTimed('dd', ['if=/dev/zero', `of=${file}`, 'bs=1M', `count=${mebibytes}`, attempt.flag], { env });
      if (run.exitCode !== 0) {
        lastError = run.stderr.trim();
        continue;
      }
      const { bytes, seconds } = parseDdSummary(run.stderr);
      return { bytesPerSecond: bytes / seconds, bytes, seconds, method: attempt.method };
    }
  } finally {
    rmSync(file, { force: true });
  }
  throw new Error(`dd could not measure the disk's write speed in ${folder}: ${lastError}`);
}
