/**
 * What `gatehouse keys … --tenant ID` acts on (docs/tenancy.md, "Signing keys"): the tenant's managed
 * key set in its own namespace, `t:{id}:keys:set:{issuer}`, exactly as the tenant's origins follow it
 * (origin-tenant.ts). The tenant's issuer, schedule and token lifetimes come from its record and
 * settings in the registry; the key-encryption keys are the deployment's (the default issuer's), as
 * on the origins. A kid revocation goes to the tenant's own revocation stream and rings its doorbell,
 * so every edge syncs the tenant's filter within the revocation bound.
 *
 * @example
 * const scope = await tenantKeyScope(rootStore, 'acme', defaultConfig)
 * await updateKeySet(scope.store, scope.config.issuer, now, change) // t:acme:keys:set:{issuer}
 */
import type { OAuthConfig } from '../core/oauth/config.ts'
import type { Store } from '../store/types.ts'
import { settingsKey } from './registry-keys.ts'
import { createTenantRegistry } from './registry.ts'
import { scopeStore } from './scoped-store.ts'
import type { TenantId } from './tenant-id.ts'
import { parseTenantSettings, tenantOAuthConfig } from './tenant-record.ts'
import { withRevocationDoorbell } from './tenant-revocation.ts'

export interface TenantKeyScope {
  /** The tenant's view of L2: its key set and lease are under `t:{id}:`. */
  store: Store
  /** The tenant's view whose revocation-stream appends also ring its doorbell. */
  revocationStore: Store
  /** The tenant's OAuth config (its issuer, `keyRotation`, `tokens`), the deployment's KEKs. */
  config: OAuthConfig
}

/**
 * The tenant's key set scope, read from the registry; throws when the tenant is not published (a
 * removed tenant's keys are not managed) or its settings are mid-update.
 *
 * @example const { store, config } = await tenantKeyScope(root, 'acme', deploymentConfig)
 */
export async function tenantKeyScope(
  root: Store,
  id: TenantId,
  deployment: Pick<OAuthConfig, 'keyEncryptionKeys'>,
): Promise<TenantKeyScope> {
  const record = await createTenantRegistry({ store: root }).get(id)
  if (!record) throw new Error(`no tenant "${id}" in the registry`)
  const store = scopeStore(root, id)
  const settings = parseTenantSettings(await store.get(settingsKey(record.settings)))
  if (!settings) throw new Error(`tenant "${id}" is being updated; retry`)
  return {
    store,
    revocationStore: withRevocationDoorbell(store, root, id),
    config: {
      ...tenantOAuthConfig(record.issuer, settings.oauth),
      keyEncryptionKeys: deployment.keyEncryptionKeys,
    },
  }
}
