// The account directory (stores/directory.json): which account an exact identifier names, and its tenant.
import type { TargetType } from '../order/schema.js';

export type TenantType = 'consumer' | 'enterprise' | 'customer-key';

export interface Account {
  id: string;
  tenant: string;
  tenantType: TenantType;
  identifiers: { type: TargetType; value: string }[];
}

export interface AccountDirectory {
  /** Every account an identifier names exactly (case-insensitive for email). Empty when none. */
  resolve(target: { type: TargetType; value: string }): Account[];
  get(accountId: string): Account | undefined;
}
