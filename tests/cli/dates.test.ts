// Dates given on the command line must be days of the calendar: Date alone would roll 2026-02-31 over to 3 March.
import { beforeAll, describe, expect, it } from 'vitest';
import { parseInstant } from '../../src/custody/read-log.js';
import { InputError } from '../../src/errors.js';
import { buildCli, runCli } from '../e2e/export-helpers.js';

beforeAll(() => buildCli());

describe('calendar dates', () => {
  it.each(['2026-02-29', '2026-02-30', '2026-04-31', '2026-02-30T00:00:00Z', '2026-06-31T12:00:00+02:00'])('parseInstant refuses %s', (text) => {
    expect(() => parseInstant(text, 'start', '--from')).toThrow(InputError);
  });

  it('parseInstant still takes real days, leap days included', () => {
    expect(parseInstant('2024-02-29', 'end', '--to').toISOString()).toBe('2024-02-29T23:59:59.999Z');
    expect(parseInstant('2026-06-30T23:30:00-02:00', 'start', '--from').toISOString()).toBe('2026-07-01T01:30:00.000Z');
  });

  it('notify --as-of and report transparency --from / --to refuse impossible days with exit 2, naming the flag and the value', async () => {
    const runs = [
      { args: ['notify', '--as-of', '2026-02-31'], flag: '--as-of', value: '2026-02-31' },
      { args: ['report', 'transparency', '--from', '2026-02-30', '--to', '2026-03-31'], flag: '--from', value: '2026-02-30' },
      { args: ['report', 'transparency', '--from', '2026-01-01', '--to', '2026-09-31'], flag: '--to', value: '2026-09-31' },
    ];
    for (const { args, flag, value } of runs) {
      const result = await runCli([...args, '--log', '/nonexistent/custody.jsonl']);
      expect(result.code, args.join(' ')).toBe(2);
      const lines = result.stderr.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toContain(flag);
      expect(lines[0]).toContain(value);
    }
  });
});
