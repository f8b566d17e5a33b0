// The human-readable form of a VerifyReport: what was checked, the counts, the signer, and every failure.
import type { VerifyReport } from './verify.js';

export function describeVerifyReport(report: VerifyReport): string {
  const lines: string[] = [];
  lines.push(`archive   ${report.archive}`);
  lines.push(`order     ${report.orderId ?? '(unknown)'}`);
  const { entries, payloadFiles, payloadBytes, tagFiles } = report.counts;
  lines.push(`contents  ${entries} entries: ${payloadFiles} payload files (${payloadBytes} bytes), ${tagFiles} tag files`);
  lines.push(report.signer ? `signer    ${report.signer.subject}` : 'signer    (none established)');
  if (report.signer) lines.push(`          issued by ${report.signer.issuer}, serial ${report.signer.serial}`);
  lines.push(`signed    ${report.signingTime ?? '(no signing time)'}`);
  lines.push('checks');
  for (const check of report.checks) {
    lines.push(`  ${check.ok ? 'ok  ' : 'FAIL'}  ${check.name.padEnd(16)} ${check.detail ?? ''}`.trimEnd());
  }
  if (report.failures.length > 0) {
    const total = report.failures.length + report.failuresOmitted;
    lines.push(`failures (${total})`);
    for (const failure of report.failures) {
      lines.push(`  [${failure.check}] ${failure.entry ?? '(archive)'}: ${failure.message}`);
      lines.push(`      expected: ${failure.expected}`);
      lines.push(`      found:    ${failure.found}`);
    }
    if (report.failuresOmitted > 0) lines.push(`  ... and ${report.failuresOmitted} more (raise --max-failures to list them)`);
  }
  const againstGiven = report.checks.some((check) => check.name === 'order' && check.ok && (check.detail ?? '').includes('--order'));
  const scope = againstGiven ? 'in scope of the given order' : "in scope of the order it carries (give --order to check it is the right one)";
  lines.push(report.ok ? `VERIFIED: the archive is whole, authentic and ${scope}` : 'NOT VERIFIED');
  return lines.join('\n');
}
