/**
 * Tenants for `npm run bench:tenancy`: issuers, audiences, published key sets and tokens for tenant
 * `t{i}`, and an edge (`createEdgeTenancy`) over a store with `n` of them registered. Every tenant's
 * key set holds one ES256 key; all tenants share one key pair under different kids, so key
 * generation is not what the setup waits for (each tenant still imports its own copy at the edge).
 *
 * @example
 * const edge = await tenancyWorld(10_000, { l1MaxEntries: 10_000 })
 * await edge.verifier.verify(await signFor(7, 0))
 */
import { exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose'
import { parseVerificationConfig } from '../../src/core/config.ts'
import { createStaticKeySet } from '../../src/core/jwks.ts'
import { keySetStoreKeys, type KeySetDocument } from '../../src/core/published-key-set.ts'
import { createRevocationWriter } from '../../src/revocation/records.ts'
import type { SignatureCheck } from '../../src/core/signature.ts'
import { createMemoryStore } from '../../src/store/memory.ts'
import type { Store } from '../../src/store/types.ts'
import { createEdgeTenancy, type EdgeTenancy } from '../../src/tenancy/edge-tenancy.ts'
import type { TenantVerifier } from '../../src/tenancy/edge-tenants.ts'
import { scopeStore } from '../../src/tenancy/scoped-store.ts'
import { withRevocationDoorbell } from '../../src/tenancy/tenant-revocation.ts'
import { publicJwks } from '../../test/fixtures/keys.ts'
import { TEST_AUDIENCE, TEST_ISSUER } from './tokens.ts'

export const BENCH_BASE = 'https://auth.bench.test'
export const issuerOf = (i: number): string => `${BENCH_BASE}/t/t${i}`
export const audienceOf = (i: number): string => `https://api.t${i}.bench.test`

const { privateKey, publicKey } = await generateKeyPair('ES256')
const publicJwk: JWK = await exportJWK(publicKey)

/** Tenant `i`'s definition, as `gatehouse tenants add` and the admin API take it. */
export const definitionOf = (i: number) => ({
  id: `t${i}`,
  issuer: issuerOf(i),
  audiences: [audienceOf(i)],
})

/** Tenant `i`'s key set document, as its origin publishes it in its namespace. */
export function keySetOf(i: number): string {
  const at = Math.floor(Date.now() / 1000) - 60
  const doc: KeySetDocument = {
    format: 1,
    issuer: issuerOf(i),
    version: 1,
    updatedAt: at,
    cacheSeconds: 300,
    keys: [
      {
        kid: `k${i}`,
        alg: 'ES256',
        jwk: {
          ...publicJwk,
          kid: `k${i}`,
          alg: 'ES256',
          use: 'sig',
        } as KeySetDocument['keys'][0]['jwk'],
        createdAt: at,
        publishAt: at,
        activateAt: at,
      },
    ],
  }
  return JSON.stringify(doc)
}

/** An access token of tenant `i` (the n-th of the run: its own sub and jti), valid 15 minutes. */
export const signFor = (i: number, n: number): Promise<string> =>
  new SignJWT({
    iss: issuerOf(i),
    aud: audienceOf(i),
    sub: `user-${n}`,
    client_id: 'app',
    jti: crypto.randomUUID(),
    scope: 'openid profile orders:read',
    iat: Math.floor(Date.now() / 1000),
    exp: Math.floor(Date.now() / 1000) + 900,
  })
    .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: `k${i}` })
    .sign(privateKey)

/** `count` tokens spread over tenants 0..tenants−1 (a stride, so neighbours differ). */
export async function tokensOver(tenants: number, count: number): Promise<string[]> {
  const out: string[] = []
  for (let n = 0; n < count; n++) out.push(await signFor((n * 7919) % tenants, n))
  return out
}

/** The edge's configuration for the bench: tenancy on, the store given directly. */
export const benchEdgeConfig = (l1MaxEntries: number, maxTenants: number) =>
  parseVerificationConfig(
    {
      GATEHOUSE_ISSUER: TEST_ISSUER,
      GATEHOUSE_AUDIENCE: TEST_AUDIENCE,
      GATEHOUSE_JWKS: JSON.stringify(publicJwks()),
      GATEHOUSE_TENANCY: 'true',
      GATEHOUSE_L1_MAX_ENTRIES: String(l1MaxEntries),
      GATEHOUSE_TENANT_CACHE_SIZE: String(maxTenants),
      // Never called: the store is given directly.
      UPSTASH_REDIS_REST_URL: 'https://l2.bench.invalid',
      UPSTASH_REDIS_REST_TOKEN: 'unused',
      GATEHOUSE_LOG_LEVEL: 'silent',
    },
    { runtime: 'edge' },
  )

/** The memory store with a count of every command, so an operation's L2 cost can be read off. */
export function countingStore(): { store: Store; commands: () => number } {
  const memory = createMemoryStore({ maxKeys: 10_000_000 })
  let commands = 0
  const store = new Proxy(memory, {
    get(target, name, receiver) {
      const value = Reflect.get(target, name, receiver) as unknown
      if (typeof value !== 'function') return value
      return (...args: unknown[]) => {
        commands++
        return (value as (...a: unknown[]) => unknown).apply(target, args)
      }
    },
  })
  return { store, commands: () => commands }
}

export interface TenancyWorld {
  tenancy: EdgeTenancy
  verifier: TenantVerifier
  store: Store
  /** Per add (registry.add + the key set its origin publishes): store commands and ms, in order. */
  adds: { commands: number; ms: number }[]
}

/**
 * An edge over the memory store with `tenants` tenants registered and their key sets published.
 * `revokedPerTenant`: that many token ids revoked in every tenant (ids no bench token carries), as
 * its origin's `/revoke` writes them, so every tenant's filter holds ids and is probed.
 */
export async function tenancyWorld(
  tenants: number,
  options: {
    l1MaxEntries: number
    maxTenants?: number
    revokedPerTenant?: number
    checkSignature?: SignatureCheck
  },
): Promise<TenancyWorld> {
  const { store, commands } = countingStore()
  const config = benchEdgeConfig(options.l1MaxEntries, options.maxTenants ?? 10_000)
  const tenancy = createEdgeTenancy({
    config,
    store,
    ...(options.checkSignature ? { checkSignature: options.checkSignature } : {}),
  })
  const verifier = await tenancy.verifierWith(await createStaticKeySet(publicJwks()))
  const adds: TenancyWorld['adds'] = []
  for (let i = 0; i < tenants; i++) {
    const before = commands()
    const t0 = performance.now()
    await tenancy.registry.add(definitionOf(i))
    // As the tenant's origin publishes it on its first start (its key lifecycle).
    await scopeStore(store, `t${i}`).set(keySetStoreKeys(issuerOf(i)).document, keySetOf(i))
    adds.push({ commands: commands() - before, ms: performance.now() - t0 })
    const revoked = options.revokedPerTenant ?? 0
    if (revoked > 0) {
      const writer = createRevocationWriter({
        store: withRevocationDoorbell(scopeStore(store, `t${i}`), store, `t${i}`),
        maxAccessTokenLifetimeSeconds: 900,
      })
      const exp = Math.floor(Date.now() / 1000) + 900
      for (let r = 0; r < revoked; r++) await writer.revokeToken(`revoked-${i}-${r}`, exp)
    }
  }
  return { tenancy, verifier, store, adds }
}
