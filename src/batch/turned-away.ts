// The custody records of an order that a batch turns away before its export starts (an archive of it already there
// that does not verify or cannot be checked, a different order under its id, another host's export of it): the
// records `export` writes when it refuses the same order at the same point, so that the log (and the transparency
// figures taken from it) shows every demand a batch was given.
import path from 'node:path';
import type { ScopexConfig } from '../config.js';
import type { CustodyEvent, CustodyLog } from '../custody/custody-log.js';
import { reportOrderCheck } from '../order/check-report.js';
import { createFileDirectory } from '../sources/file-directory.js';
import { redactKeyMaterial } from '../util/key-material.js';

/**
 * Checks the order as `export` does first and logs the verdict (`order.checked`, or `order.refused` for an order that
 * is refused or malformed by now), then `export.failed` with why the batch did not export it. Returns null once the
 * records are written (an unreadable file is no demand received: nothing to write), else why they could not be.
 */
export async function recordTurnedAway(
  orderFile: string,
  config: ScopexConfig,
  custody: CustodyLog,
  failure: { code: string; message: string },
): Promise<string | null> {
  try {
    const directory = createFileDirectory({ file: path.join(config.storesRoot, 'directory.json') });
    const outcome = await reportOrderCheck(orderFile, { config, directory, now: new Date() });
    if (!outcome.custody) return null;
    const events: CustodyEvent[] = [outcome.custody];
    if (!outcome.error && outcome.order) {
      events.push({
        event: 'export.failed',
        orderId: outcome.order.id,
        details: { code: failure.code, message: redactKeyMaterial(failure.message), archiveKept: false },
      });
    }
    await custody.appendAll(events);
    return null;
  } catch (error) {
    return redactKeyMaterial(error instanceof Error ? error.message : String(error));
  }
}
