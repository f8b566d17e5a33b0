// The account directory (stores/directory.json): which account an exact identifier names, and its tenant.
import type { TargetType } from '../order/schema.js';

export type TenantType = 'consumer' | 'enterprise' | 'customer-key';

/**
 * Whether an account's tenant is an organisation whose demands go to it first (DESIGN.md: "enterprise tenants",
 * exported only with enterpriseRedirect customer-unreachable or customer-consented). A customer-key tenant is one too:
 * an organisation that holds its own keys, which only an organisational customer does. DESIGN.md names the redirect
 * for enterprise tenants only; the rule exists so that a business's data is asked of the business, which holds here.
 */
export function isOrganisationTenant(tenantType: TenantType): boolean {
  return tenantType === 'enterprise' || tenantType === 'customer-key';
}

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
