// What this machine allows, measured in the same run as the figures it bounds: when a target is out of reach,
// the table shows by how much with these, not with an argument.
import { createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { closeSync, constants, fsyncSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { alignedSharedMemory } from '../../src/seal/direct-file-sink.js';
import { MiB, summarize, type Summary } from './stats.js';

export interface CryptoCeiling {
  /** The work done on every payload byte of a large export, in order. */
  steps: string;
  bytes: number;
  /** Fastest of the rounds: the most favourable reading, since this is an upper bound. */
  seconds: number;
  oneCoreBytesPerSecond: number;
  cores: number;
  /** oneCoreBytesPerSecond x cores: as if the work split perfectly over every core with nothing else to do. */
  allCoresBytesPerSecond: number;
}

const CHUNK_BYTES = MiB;

/**
 * The least CPU work an export must do on each payload byte, on one thread in 1 MiB chunks from memory: AES-256-GCM
 * decryption of the stored item, SHA-256 for the manifest, SHA-256 for the archive's own hash (custody record and
 * export result) and CRC-32 for the ZIP entry. No disk, no copies, no JavaScript per chunk beyond the calls.
 */
export function measureCryptoCeiling(mebibytes: number, rounds = 3): CryptoCeiling {
  const chunk = randomBytes(CHUNK_BYTES);
  const key = randomBytes(32);
  const chunks = Math.max(1, mebibytes);
  const zlibCrc32 = (zlib as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;
  if (typeof zlibCrc32 !== 'function') throw new Error('this Node has no zlib.crc32 (Node 20.15 or later is needed)');
  let best = Number.POSITIVE_INFINITY;
  let sink = 0;
  for (let round = 0; round < rounds; round++) {
    const started = process.hrtime.bigint();
    const decipher = createDecipheriv('aes-256-gcm', key, randomBytes(12));
    const manifestHash = createHash('sha256');
    const archiveHash = createHash('sha256');
    let crc = 0;
    for (let index = 0; index < chunks; index++) {
      const plain = decipher.update(chunk);
      manifestHash.update(plain);
      archiveHash.update(plain);
      crc = zlibCrc32(plain, crc);
    }
    // The tag is not checked (the key is random): what is timed is the bulk work, which is the same either way.
    sink += manifestHash.digest()[0]! + archiveHash.digest()[0]! + crc;
    best = Math.min(best, Number(process.hrtime.bigint() - started) / 1e9);
  }
  if (sink < 0) throw new Error('unreachable: keeps the digests alive');
  const bytes = chunks * CHUNK_BYTES;
  const cores = os.availableParallelism();
  const oneCore = bytes / best;
  return {
    steps: 'AES-256-GCM decrypt + SHA-256 (manifest) + SHA-256 (archive) + CRC-32 (ZIP), 1 MiB chunks, native',
    bytes,
    seconds: best,
    oneCoreBytesPerSecond: oneCore,
    cores,
    allCoresBytesPerSecond: oneCore * cores,
  };
}

export interface CopyCost {
  steps: string;
  bytes: number;
  /** Whether the copy was written with O_DIRECT, as the sealer writes the archive where the file system takes it. */
  direct: boolean;
  /** CPU seconds (user + system of this process) of the fastest round. */
  cpuSeconds: number;
}

/**
 * The CPU an export spends moving each payload byte through the kernel, whatever else it does: reading its stored
 * blob from the page cache and writing it into the archive file, in 1 MiB reads and writes, then the fsync the sealer
 * does. The archive is written as the sealer writes it: with O_DIRECT from page-aligned memory where the file system
 * takes it, else through the page cache. Only this process's CPU counts, not the kernel's writeback threads: a lower
 * bound on the cost, so that a ceiling built on it stays an upper bound.
 */
export function measureCopyCost(folder: string, mebibytes: number, rounds = 3): CopyCost {
  const chunks = Math.max(1, mebibytes);
  const source = path.join(folder, 'ceiling-copy-source.bin');
  const target = path.join(folder, 'ceiling-copy-target.bin');
  const shared = alignedSharedMemory(CHUNK_BYTES);
  const buffer = shared ? Buffer.from(shared) : Buffer.allocUnsafe(CHUNK_BYTES);
  randomBytes(CHUNK_BYTES).copy(buffer);
  let direct = shared !== undefined && typeof constants.O_DIRECT === 'number';
  let best = Number.POSITIVE_INFINITY;
  try {
    // The source is written once and then sits in the page cache, as a world's warmed stores do.
    const sourceFd = openSync(source, 'w');
    try {
      for (let index = 0; index < chunks; index++) writeSync(sourceFd, buffer, 0, CHUNK_BYTES);
    } finally {
      closeSync(sourceFd);
    }
    for (let round = 0; round < rounds; round++) {
      rmSync(target, { force: true });
      const readFd = openSync(source, 'r');
      const writeFd = openTarget(target, direct);
      const started = process.cpuUsage();
      try {
        for (let position = 0; ; position += CHUNK_BYTES) {
          const read = readSync(readFd, buffer, 0, CHUNK_BYTES, position);
          if (read === 0) break;
          writeSync(writeFd.fd, buffer, 0, read);
        }
        fsyncSync(writeFd.fd);
      } finally {
        closeSync(writeFd.fd);
        closeSync(readFd);
      }
      direct = writeFd.direct;
      const used = process.cpuUsage(started);
      best = Math.min(best, (used.user + used.system) / 1e6);
    }
  } finally {
    rmSync(source, { force: true });
    rmSync(target, { force: true });
  }
  return {
    steps: `read a page-cached file and write it to a new one in 1 MiB pieces (${direct ? 'O_DIRECT' : 'through the page cache'}), then fsync; CPU of this process`,
    bytes: chunks * CHUNK_BYTES,
    direct,
    cpuSeconds: best,
  };
}

/** A new file for writing, with O_DIRECT when asked and the file system takes it. */
function openTarget(file: string, direct: boolean): { fd: number; direct: boolean } {
  const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC;
  if (direct) {
    try {
      return { fd: openSync(file, flags | constants.O_DIRECT, 0o644), direct: true };
    } catch {
      // Refused here (tmpfs on older kernels): the sealer writes through the page cache too.
    }
  }
  return { fd: openSync(file, flags, 0o644), direct: false };
}

/**
 * The crypto ceiling with the kernel copies added: every payload byte's CPU work, spread perfectly over every core.
 * Undefined when the summed cost per byte is not a finite positive number.
 */
export function withCopies(crypto: CryptoCeiling, copy: CopyCost): number | undefined {
  const seconds = crypto.seconds / crypto.bytes + copy.cpuSeconds / copy.bytes;
  return Number.isFinite(seconds) && seconds > 0 ? crypto.cores / seconds : undefined;
}

export interface BatchCeiling {
  cores: number;
  /** CPU seconds (user + system, every thread) of the batch with 1 worker and with 2: medians of the runs. */
  cpuSeconds1: Summary;
  cpuSeconds2: Summary;
  /** Cores kept busy by the 1-worker batch: its CPU seconds / its wall seconds. */
  coresBusyWithOne: number;
  /**
   * The best speedup 2 workers can reach with the CPU work they did: 1-worker wall seconds x cores / 2-worker CPU
   * seconds (the 2-worker run cannot finish before its CPU work, spread perfectly over every core, is done).
   */
  speedupCeiling: number;
}

/** The batch ceiling from the runs' own wall and CPU seconds, or null when CPU time was not measured. */
export function batchCeiling(wall1: Summary, cpu1: readonly (number | null)[], cpu2: readonly (number | null)[]): BatchCeiling | null {
  const measured = (values: readonly (number | null)[]): number[] | null =>
    values.length > 0 && values.every((value): value is number => value !== null && Number.isFinite(value)) ? (values as number[]) : null;
  const one = measured(cpu1);
  const two = measured(cpu2);
  if (!one || !two) return null;
  const cores = os.availableParallelism();
  const cpuSeconds1 = summarize(one);
  const cpuSeconds2 = summarize(two);
  return {
    cores,
    cpuSeconds1,
    cpuSeconds2,
    coresBusyWithOne: cpuSeconds1.median / wall1.median,
    speedupCeiling: (wall1.median * cores) / cpuSeconds2.median,
  };
}
