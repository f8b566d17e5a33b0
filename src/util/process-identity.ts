// Whether a lock's holder still runs: a pid alone is not enough, since a pid is reused once its process is gone.
import { readFile } from 'node:fs/promises';

/** `<boot id>:<start time in clock ticks>` of a process (Linux /proc); null where that cannot be read. */
export async function processIdentity(pid: number): Promise<string | null> {
  if (process.platform !== 'linux') return null;
  try {
    const [bootId, procStat] = await Promise.all([
      readFile('/proc/sys/kernel/random/boot_id', 'utf8'),
      readFile(`/proc/${pid}/stat`, 'utf8'),
    ]);
    // Field 22 (starttime); the fields after the command name, which may hold spaces and ')', start at field 3.
    const startTicks = procStat.slice(procStat.lastIndexOf(')') + 2).split(' ')[19];
    return startTicks && /^\d+$/.test(startTicks) ? `${bootId.trim()}:${startTicks}` : null;
  } catch {
    return null;
  }
}
