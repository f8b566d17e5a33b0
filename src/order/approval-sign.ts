// A reviewer signs an order: RSA-PSS (SHA-256, MGF1-SHA-256, 32-byte salt) over the approval signing bytes.
import { createPrivateKey, sign, constants, type KeyObject } from 'node:crypto';
import { approvalSigningBytes } from './canonical.js';
import type { Order } from './schema.js';

export const APPROVAL_PSS_SALT = 32;

export interface ApprovalSigner {
  reviewer: string;
  /** PEM certificate of the reviewer (signed into the approval too). */
  certificatePem: string;
  /** The reviewer's private key; a KeyObject so it never becomes a JavaScript string here. */
  key: KeyObject;
}

export function keyFromPem(pem: Buffer): KeyObject {
  return createPrivateKey({ key: pem, format: 'pem' });
}

/** Returns a copy of the order with a fresh approval block signed by the reviewer. */
export function signOrder(order: Order, signer: ApprovalSigner, approvedAt: Date = new Date()): Order {
  const unsigned: Order = {
    ...order,
    approval: {
      reviewer: signer.reviewer,
      approvedAt: approvedAt.toISOString().replace(/\.\d{3}Z$/, 'Z'),
      certificate: signer.certificatePem,
      signature: 'pending',
    },
  };
  const signature = sign('sha256', approvalSigningBytes(unsigned), {
    key: signer.key,
    padding: constants.RSA_PKCS1_PSS_PADDING,
    saltLength: APPROVAL_PSS_SALT,
  });
  return { ...unsigned, approval: { ...unsigned.approval!, signature: signature.toString('base64') } };
}
