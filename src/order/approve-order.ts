// A compliance reviewer approves an order: it must carry no approval yet and pass every other check first, and the
// result must verify.
import { randomBytes, X509Certificate, type KeyObject } from 'node:crypto';
import type { Stats } from 'node:fs';
import { link, lstat, open, realpath, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { describeFsError, InputError, KeyError, NotRegularFileError, OrderError } from '../errors.js';
import { refuseKeyFileOpenToOthers } from '../keys/key-file-mode.js';
import { signOrder, keyFromPem } from './approval-sign.js';
import { approvalCertificateName, approvalSignatureMatches, commonName, loadArchiveSigner, loadReviewerCas, publicKeyProblem, verifyApproval } from './approval-verify.js';
import { evaluateOrderRules, type OrderContext } from './check-order.js';
import { INPUT_OPEN_FLAGS } from '../util/read-input-file.js';
import { quoteText } from '../util/quote-text.js';
import { parseOrderJson, readOrderFile } from './read-order.js';
import { directoryIdentifiers } from './targets.js';
import { displayText, type Approval, type Order } from './schema.js';

export interface ApproveOptions {
  orderFile: string;
  /** The reviewer's private key (PEM); loaded into a KeyObject, never kept as a string. */
  keyFile: string;
  /** The reviewer's certificate (PEM); it must chain to a reviewer CA in the config. */
  certFile: string;
  /** Where the approved order goes; default: the order file itself, replaced atomically. */
  out?: string;
  /** Whether an existing `out` file may be replaced (--force); never checked for the default, the order file itself. */
  replace?: boolean;
  ctx: OrderContext;
  /** Reviewer name written into the approval; default: the certificate's subject common name. */
  reviewer?: string;
  /** Approval time; default: ctx.now. */
  now?: Date;
}

export interface ApprovedOrder {
  order: Order;
  out: string;
}

export async function approveOrder(options: ApproveOptions): Promise<ApprovedOrder> {
  const replace = options.out === undefined || options.replace === true;
  // Refused before anything is read or signed; the write itself refuses too, should a file appear meanwhile.
  if (options.out !== undefined) {
    const existing = await lstat(options.out).catch(() => undefined);
    // Not "already exists; use --force": --force cannot replace a folder either.
    if (existing?.isDirectory()) throw new InputError('OUTPUT_UNWRITABLE', `cannot write approved order ${options.out}: it is a folder`);
    if (existing && !replace) throw approvedOrderExists(options.out);
  }
  const { order, raw } = await readOrderFile(options.orderFile, directoryIdentifiers(options.ctx.directory, options.ctx.config));
  if (order.approval) throw existingApproval(order, order.approval, raw, options.orderFile);
  const rules = evaluateOrderRules(order, options.ctx);
  if (rules.reasons.length > 0) throw new OrderError(rules.reasons);

  const certificatePem = await readSmallText(options.certFile, 'reviewer certificate');
  const certificate = parseCertificate(certificatePem, options.certFile);
  const key = await loadKey(options.keyFile);
  if (!certificate.checkPrivateKey(key)) {
    throw new InputError('USAGE', `reviewer key ${options.keyFile} does not belong to certificate ${options.certFile}; expected the certificate's own key`);
  }
  // Refused as `order check` would refuse the approval, before signing: an Ed25519 key takes no digest and failed inside
  // the signing call (exit 1).
  const keyProblem = publicKeyProblem(certificate);
  if (keyProblem) throw new OrderError([{ code: 'APPROVAL_UNTRUSTED', message: `field approval.certificate: ${keyProblem}` }]);

  const reviewer = options.reviewer ?? commonName(certificate);
  const reviewerCheck = displayText.safeParse(reviewer);
  if (!reviewerCheck.success) {
    // Quoted and escaped: the refused name may hold the very control characters it is refused for.
    const source = options.reviewer === undefined ? `the certificate's common name ${quoteText(reviewer)}` : `--reviewer ${quoteText(reviewer)}`;
    throw new InputError('USAGE', `${source} cannot name the reviewer: expected ${reviewerCheck.error.issues[0]?.message ?? 'a non-blank name'}`);
  }

  const approvedAt = options.now ?? options.ctx.now;
  const approved = signOrder(order, { reviewer, certificatePem, key }, approvedAt);
  // Never write an approval that `order check` would refuse (untrusted or expired reviewer certificate).
  const problems = verifyApproval(
    approved as unknown as Record<string, unknown>,
    approved.approval!,
    loadReviewerCas(options.ctx.config.reviewerCaFiles),
    approvedAt,
    loadArchiveSigner(options.ctx.config.signerCertificateFile),
  );
  if (problems.length > 0) throw new OrderError(problems);

  const out = options.out ?? options.orderFile;
  // In place, the order is replaced where it lies: through a symbolic link, the file it names (replacing the link left
  // that file unapproved). The approved order is as private as the order was (a 0600 order stayed 0600, not 0644).
  const source = await stat(options.orderFile).catch(() => undefined);
  const target = options.out ?? (await realpath(options.orderFile).catch(() => options.orderFile));
  await writeAtomically(target, `${JSON.stringify(approved, null, 2)}\n`, replace, source ? source.mode & 0o777 : undefined);
  return { order: approved, out };
}

/**
 * An order that already carries an approval is never signed over it. When that approval still matches the order, a
 * second one would silently replace a reviewer's signed decision (exit 2: there is nothing to do). When it does not,
 * the order was changed after it was signed, and a new signature made in good faith would hide that change: the order
 * is tampered (exit 3, as `order check` refuses it). Either way a reviewer who means to replace the approval removes
 * the block by hand first, so that doing it is a decision, not a side effect.
 */
function existingApproval(order: Order, approval: Approval, raw: Buffer, file: string): InputError | OrderError {
  const certificate = approvalCertificateName(approval);
  const by = `${quoteText(approval.reviewer)} (certificate ${certificate === null ? 'that cannot be read' : quoteText(certificate)}) at ${approval.approvedAt}`;
  if (approvalSignatureMatches(parseOrderJson(raw, file), approval)) {
    return new InputError(
      'ALREADY_APPROVED',
      `order ${order.id} (${file}) is already approved by ${by}, and that approval still matches it; nothing was written (to replace an approval, remove the order's approval block by hand first)`,
    );
  }
  return new OrderError([
    {
      code: 'APPROVAL_INVALID',
      message:
        `field approval: order ${order.id} (${file}) carries an approval by ${by} that no longer matches it: the order was changed after it was signed ` +
        '(or signed with a key other than the certificate\'s); nothing was written, as a new approval would cover that change (have the change reviewed, then remove the approval block by hand before approving)',
    },
  ]);
}

async function readSmallText(file: string, what: string): Promise<string> {
  const bytes = await readSmall(file, what);
  return bytes.toString('utf8');
}

/** A small PEM file; `inspect` sees the open file's stats before a byte is read, and what it throws goes through. */
async function readSmall(file: string, what: string, inspect?: (stats: Stats) => void): Promise<Buffer> {
  let handle;
  try {
    handle = await open(file, INPUT_OPEN_FLAGS);
    const stat = await handle.stat();
    if (!stat.isFile()) throw new NotRegularFileError(file, stat.isDirectory());
    inspect?.(stat);
    if (stat.size > 64 * 1024) {
      throw new InputError('FILE_UNREADABLE', `${what} ${file}: expected a PEM file of at most 64 KiB`);
    }
    return await handle.readFile();
  } catch (error) {
    if (error instanceof InputError || error instanceof KeyError) throw error;
    throw new InputError('FILE_UNREADABLE', `cannot read ${what} ${file}: ${describeFsError(error)}`, { cause: error });
  } finally {
    await handle?.close();
  }
}

function parseCertificate(pem: string, file: string): X509Certificate {
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) {
    throw new InputError('FILE_UNREADABLE', `reviewer certificate ${file}: expected a PEM certificate`);
  }
  try {
    return new X509Certificate(pem);
  } catch (error) {
    throw new InputError('FILE_UNREADABLE', `reviewer certificate ${file}: it cannot be parsed as an X.509 certificate`, { cause: error });
  }
}

async function loadKey(file: string): Promise<KeyObject> {
  // A reviewer key others may read could approve any order: refused as the master key is.
  const pem = await readSmall(file, 'reviewer key', (stats) => refuseKeyFileOpenToOthers(stats, 'the reviewer key file', file, 'KEY_FILE_NOT_PRIVATE'));
  try {
    return keyFromPem(pem);
  } catch {
    // The cause is dropped on purpose: nothing derived from key material goes into an error.
    throw new InputError('FILE_UNREADABLE', `reviewer key ${file}: expected an unencrypted PEM private key`);
  } finally {
    pem.fill(0);
  }
}

/**
 * Writes to a temporary file beside the target, flushes it, then renames it over the target, or, when it may not
 * replace one, links it to the target's name, which fails if a file got there first (no gap between a look and the
 * write in which another file could appear and be overwritten). `mode`: the new file's permissions (default 0644 less
 * the umask).
 */
export async function writeAtomically(file: string, text: string, replace: boolean, mode?: number): Promise<void> {
  const temp = path.join(path.dirname(file), `.${path.basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  let handle;
  try {
    handle = await open(temp, 'wx', mode ?? 0o644);
    // Exactly that mode, whatever the umask: a private order stays private.
    if (mode !== undefined) await handle.chmod(mode);
    await handle.writeFile(text, 'utf8');
    await handle.sync();
    await handle.close();
    handle = undefined;
    if (replace) {
      await rename(temp, file);
    } else {
      await link(temp, file);
      await rm(temp, { force: true });
    }
  } catch (error) {
    await handle?.close().catch(() => undefined);
    await rm(temp, { force: true }).catch(() => undefined);
    if (!replace && (error as NodeJS.ErrnoException).code === 'EEXIST') throw approvedOrderExists(file);
    throw new InputError('OUTPUT_UNWRITABLE', `cannot write approved order ${file}: ${describeFsError(error)}`, { cause: error });
  }
}

/** An approved order is evidence: an existing --out file is replaced only with --force (the export's rule for archives). */
function approvedOrderExists(file: string): InputError {
  return new InputError('OUTPUT_EXISTS', `approved order ${file} already exists; use --force to replace it.`);
}
