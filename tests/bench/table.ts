// The printed table: one row per figure, scopex beside its baseline, the ratio, the target and the verdict.

export interface Row {
  figure: string;
  scopex: string;
  baseline: string;
  /** scopex relative to the baseline in the direction where higher is better (null: not comparable). */
  ratio: number | null;
  /** e.g. ">= 2.0x"; empty for an informational row. */
  target: string;
  /** true/false for a target row, null when the figure is informational or could not be measured. */
  pass: boolean | null;
}

export function formatRate(value: number, unit: string): string {
  if (!Number.isFinite(value)) return 'n/a';
  if (value >= 100) return `${Math.round(value).toLocaleString('en-US')} ${unit}`;
  return `${value.toFixed(value >= 10 ? 1 : 2)} ${unit}`;
}

export function formatSeconds(seconds: number): string {
  return seconds >= 10 ? `${seconds.toFixed(1)} s` : `${seconds.toFixed(2)} s`;
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}

export function verdict(pass: boolean | null): string {
  if (pass === null) return '';
  return pass ? 'PASS' : 'FAIL';
}

export function renderTable(rows: readonly Row[]): string {
  const header = ['figure', 'scopex', 'baseline', 'ratio', 'target', 'result'];
  const cells = rows.map((row) => [
    row.figure,
    row.scopex,
    row.baseline,
    row.ratio === null ? '' : `${row.ratio.toFixed(2)}x`,
    row.target,
    verdict(row.pass),
  ]);
  const widths = header.map((title, column) => Math.max(title.length, ...cells.map((line) => line[column]!.length)));
  const line = (values: readonly string[]): string =>
    values.map((value, column) => (column === 0 ? value.padEnd(widths[column]!) : value.padStart(widths[column]!))).join('  ').trimEnd();
  const rule = widths.map((width) => '-'.repeat(width)).join('  ');
  return [line(header), rule, ...cells.map(line)].join('\n');
}
