// The order templates shipped in samples/orders must stay valid scopex.order/v1 documents.
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { readOrderFile } from '../../src/order/read-order.js';
import { packageRoot } from '../../src/util/package-root.js';

const folder = path.join(packageRoot(), 'samples', 'orders');
const templates = readdirSync(folder).filter((name) => name.endsWith('.json'));

describe('samples/orders templates', () => {
  it('exist', () => {
    expect(templates.length).toBeGreaterThanOrEqual(2);
  });
  it.each(templates)('%s parses strictly and carries no approval', async (name) => {
    const { order } = await readOrderFile(path.join(folder, name));
    expect(order.schema).toBe('scopex.order/v1');
    expect(order.approval).toBeUndefined();
  });
});
