// keys/data-keys.json: each account's data key, wrapped (AES-256-GCM) by the master key, or marked customer-held.
import { createCipheriv, createDecipheriv, createSecretKey, type KeyObject } from 'node:crypto';
import * as z from '../util/zod.js';
import { KeyError } from '../errors.js';

export const dataKeysSchema = z.strictObject({
  schema: z.literal('scopex.data-keys/v1'),
  wrapping: z.literal('aes-256-gcm'),
  accounts: z.record(
    z.string(),
    z.discriminatedUnion('state', [
      z.strictObject({ state: z.literal('provider-key'), wrapped: z.string().check(z.regex(/^[A-Za-z0-9+/]+={0,2}$/)) }),
      z.strictObject({ state: z.literal('customer-key') }),
    ]),
  ),
});
export type DataKeysFile = z.infer<typeof dataKeysSchema>;

const WRAP_NONCE = 12;
const WRAP_TAG = 16;

function wrapAad(accountId: string): Buffer {
  return Buffer.from(`scopex.data-key/v1\n${accountId}`, 'utf8');
}

/** Wraps a 32-byte data key for an account; the result is base64(nonce | ciphertext | tag). */
export function wrapDataKey(master: KeyObject, accountId: string, dataKey: Buffer, nonce: Buffer): string {
  const cipher = createCipheriv('aes-256-gcm', master, nonce, { authTagLength: WRAP_TAG });
  cipher.setAAD(wrapAad(accountId));
  const body = Buffer.concat([cipher.update(dataKey), cipher.final()]);
  return Buffer.concat([nonce, body, cipher.getAuthTag()]).toString('base64');
}

/**
 * Unwraps an account's data key straight into a KeyObject; the plaintext bytes are wiped. `files` names the master key
 * and data-keys files in the error, so that the person who must mend one knows which.
 */
export function unwrapDataKey(master: KeyObject, accountId: string, wrapped: string, files?: { masterKeyFile: string; dataKeysFile: string }): KeyObject {
  const blob = Buffer.from(wrapped, 'base64');
  if (blob.length !== WRAP_NONCE + 32 + WRAP_TAG) {
    throw new KeyError('UNWRAP_FAILED', `the wrapped data key of account ${accountId} has the wrong length`);
  }
  const decipher = createDecipheriv('aes-256-gcm', master, blob.subarray(0, WRAP_NONCE), { authTagLength: WRAP_TAG });
  decipher.setAAD(wrapAad(accountId));
  decipher.setAuthTag(blob.subarray(blob.length - WRAP_TAG));
  let raw: Buffer | undefined;
  try {
    raw = Buffer.concat([decipher.update(blob.subarray(WRAP_NONCE, blob.length - WRAP_TAG)), decipher.final()]);
    return createSecretKey(raw);
  } catch (error) {
    throw new KeyError(
      'UNWRAP_FAILED',
      files
        ? `the data key of account ${accountId} could not be unwrapped: the master key file ${files.masterKeyFile} is not the key it was wrapped with, or its entry in the data-keys file ${files.dataKeysFile} was altered`
        : `the data key of account ${accountId} could not be unwrapped: wrong master key or altered data-keys file`,
      { cause: error instanceof Error ? new Error(error.message) : undefined },
    );
  } finally {
    raw?.fill(0);
    blob.fill(0);
  }
}
