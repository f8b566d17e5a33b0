// Writes one BagIt bag into a ZIP with archiver, streaming, then signs it and renames it into place.
import type { BagSealer, SealerOptions } from './sealer.js';

export function createBagSealer(options: SealerOptions): Promise<BagSealer> {
  return Promise.reject(new Error(`createBagSealer is not implemented yet (order ${options.orderId})`));
}
