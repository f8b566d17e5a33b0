// Canonical JSON for approval signatures: keys sorted by code point, no whitespace, UTF-8.

export function canonicalJson(value: unknown): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError('canonical JSON cannot hold a non-finite number');
      return JSON.stringify(value);
    case 'object': {
      if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
      const entries = Object.keys(value as Record<string, unknown>)
        .filter((key) => (value as Record<string, unknown>)[key] !== undefined)
        .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      return `{${entries.map((key) => `${JSON.stringify(key)}:${canonicalJson((value as Record<string, unknown>)[key])}`).join(',')}}`;
    }
    default:
      throw new TypeError(`canonical JSON cannot hold a ${typeof value}`);
  }
}

/** The bytes an approval signature covers: the whole order with only approval.signature left out. */
export function approvalSigningBytes(order: Record<string, unknown>): Buffer {
  const copy: Record<string, unknown> = { ...order };
  const approval = copy['approval'];
  if (approval && typeof approval === 'object' && !Array.isArray(approval)) {
    const rest: Record<string, unknown> = { ...(approval as Record<string, unknown>) };
    delete rest['signature'];
    copy['approval'] = rest;
  }
  return Buffer.from(canonicalJson(copy), 'utf8');
}
