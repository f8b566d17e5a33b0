// The sample world's profiles and defaults: what `scopex samples generate --help` shows, kept apart from the
// generator so that the CLI can describe the command without loading it (and node-forge with it).
export const SAMPLE_PROFILES = ['realistic', 'small-items', 'large-items'] as const;
export type SampleProfile = (typeof SAMPLE_PROFILES)[number];

export const SAMPLE_DEFAULTS = { accounts: 12, size: 8_000_000, seed: 'scopex-sample', profile: 'realistic' } as const;
