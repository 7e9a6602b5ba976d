/**
 * A multi-tenant edge over the memory store and a fake clock, runtime-neutral (Node and workerd):
 * the registry, its follower, the tenant contexts and the tenant verifier wired as the entries wire
 * them, plus helpers to add tenants with their own signing keys (a key set published in each tenant's
 * namespace as its origin's key lifecycle does) and to sign tokens as any tenant, or as an attacker
 * would.
 */
import { exportJWK, generateKeyPair, SignJWT, type JWK, type JWTPayload } from 'jose'
import {
  keySetStoreKeys,
  type KeyRecord,
  type KeySetDocument,
} from '../../src/core/published-key-set.ts'
import { encodeBase64Url, encodeBase64UrlText } from '../../src/core/base64url.ts'
import type { SignatureCheck } from '../../src/core/signature.ts'
import { createRevocationWriter } from '../../src/revocation/records.ts'
import { createMemoryStore } from '../../src/store/memory.ts'
import type { Store } from '../../src/store/types.ts'
import {
  createTenantVerifier,
  edgeTenantBuilder,
  type EdgeTenant,
} from '../../src/tenancy/edge-tenants.ts'
import { ringTenant } from '../../src/tenancy/edge-tenancy.ts'
import { createRegistryFollower } from '../../src/tenancy/registry-follower.ts'
import { createTenantRegistry } from '../../src/tenancy/registry.ts'
import { scopeStore } from '../../src/tenancy/scoped-store.ts'
import { withRevocationDoorbell } from '../../src/tenancy/tenant-revocation.ts'
import { createTenantContexts } from '../../src/tenancy/tenant-contexts.ts'
import type { TenantDefinitionInput } from '../../src/tenancy/tenant-record.ts'

export const BASE = 'https://auth.example.test'
export const T0 = 1_900_000_000_000 // ms

export interface TenantKey {
  kid: string
  privateKey: CryptoKey
  publicJwk: JWK
}

/** A fresh ES256 key pair named `kid`. */
export async function tenantKey(kid: string): Promise<TenantKey> {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true })
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' }
  return { kid, privateKey, publicJwk }
}

export const issuerOf = (id: string) => `${BASE}/t/${id}`
export const audienceOf = (id: string) => `https://api.${id}.example.test`

/**
 * A tenant's key set as its origin's key lifecycle publishes it (docs/keys.md): every key published
 * and active from a minute before `nowMs`. Store it at `keySetStoreKeys(issuer).document` in the
 * tenant's view of L2.
 */
export function tenantKeySetDocument(
  issuer: string,
  tenantKeys: TenantKey[],
  nowMs: number,
  version = 1,
): string {
  const at = Math.floor(nowMs / 1000) - 60
  const records: KeyRecord[] = tenantKeys.map((k) => ({
    kid: k.kid,
    alg: 'ES256',
    jwk: k.publicJwk as KeyRecord['jwk'],
    createdAt: at,
    publishAt: at,
    activateAt: at,
  }))
  const doc: KeySetDocument = {
    format: 1,
    issuer,
    version,
    updatedAt: at,
    cacheSeconds: 300,
    keys: records,
    discovery: { issuer, jwks_uri: `${issuer}/.well-known/jwks.json` },
  }
  return JSON.stringify(doc)
}

export interface TenancyFixtureOptions {
  policy?: 'open' | 'closed'
  /** L2 reads counted by key prefix, to show what a lookup cost. */
  l1MaxEntries?: number
  maxTenants?: number
  store?: Store
  /** The tenants' signature check (default WebCrypto; the Node origin may give node:crypto's). */
  checkSignature?: SignatureCheck
}

export async function tenancyFixture(options: TenancyFixtureOptions = {}) {
  let t = T0
  const clock = Object.assign(() => t, { advance: (ms: number) => void (t += ms) })
  const memory = options.store ?? createMemoryStore({ now: clock, maxKeys: 1_000_000 })
  const reads: string[] = []
  const store: Store = {
    ...memory,
    get: (key) => {
      reads.push(key)
      return memory.get(key)
    },
  }
  const registry = createTenantRegistry({ store, now: clock })
  const revocation = {
    syncSeconds: 2,
    syncTimeoutMs: 1000,
    maxStalenessSeconds: 30,
    policy: options.policy ?? 'open',
  }
  // eslint-disable-next-line prefer-const -- the follower's callback needs the contexts
  let contexts: ReturnType<typeof createTenantContexts<EdgeTenant>>
  const follower = createRegistryFollower({
    store,
    now: clock,
    ...revocation,
    onChange: (id) => contexts.changed(id),
    onRevocation: (id) => ringTenant(contexts, id),
  })
  contexts = createTenantContexts<EdgeTenant>({
    registry,
    build: edgeTenantBuilder(
      store,
      {
        now: clock,
        revocation,
        clockLeewaySeconds: 0,
        ...(options.checkSignature ? { checkSignature: options.checkSignature } : {}),
      },
      follower,
    ),
    epoch: () => follower.epoch,
    ...(options.maxTenants ? { maxEntries: options.maxTenants } : {}),
  })
  const verifier = createTenantVerifier({
    contexts,
    follower,
    now: clock,
    ...(options.l1MaxEntries === undefined ? {} : { l1MaxEntries: options.l1MaxEntries }),
  })
  const keys = new Map<string, TenantKey>()

  /** Adds tenant `id` (path-based issuer, one audience) and publishes its key as its origin would. */
  async function addTenant(
    id: string,
    extra: Partial<TenantDefinitionInput> & { key?: TenantKey } = {},
  ) {
    const { key: given, ...definition } = extra
    const key = given ?? (await tenantKey(`${id}-key`))
    keys.set(id, key)
    const record = await registry.add({
      id,
      issuer: issuerOf(id),
      audiences: [audienceOf(id)],
      ...definition,
    })
    await publishKeySet(id, [key])
    return record
  }

  /** Publishes tenant `id`'s key set in its namespace (`tenantKeySetDocument`). */
  async function publishKeySet(id: string, tenantKeys: TenantKey[], version = 1) {
    await scopeStore(store, id).set(
      keySetStoreKeys(issuerOf(id)).document,
      tenantKeySetDocument(issuerOf(id), tenantKeys, clock(), version),
    )
  }

  /**
   * A token as `id`'s origin would mint it; `claims` and `header` override anything, and `signWith`
   * signs with another tenant's key (an attacker holding that key).
   */
  async function sign(
    id: string,
    claims: JWTPayload = {},
    options: { signWith?: string; kid?: string } = {},
  ) {
    const key = keys.get(options.signWith ?? id)
    if (!key) throw new Error(`no key for ${options.signWith ?? id}`)
    const now = Math.floor(clock() / 1000)
    return new SignJWT({
      iss: issuerOf(id),
      aud: audienceOf(id),
      sub: 'user-1',
      jti: `jti-${Math.random().toString(36).slice(2)}`,
      client_id: 'app',
      iat: now,
      exp: now + 600,
      ...claims,
    })
      .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: options.kid ?? key.kid })
      .sign(key.privateKey)
  }

  /**
   * A compact JWS of exactly `header` and `payloadText` (which may be JSON no library would write,
   * e.g. a member named twice), signed ES256 with tenant `signWith`'s key.
   */
  async function signRaw(signWith: string, header: object, payloadText: string) {
    const key = keys.get(signWith)
    if (!key) throw new Error(`no key for ${signWith}`)
    const input = `${encodeBase64UrlText(JSON.stringify(header))}.${encodeBase64UrlText(payloadText)}`
    const signature = await crypto.subtle.sign(
      { name: 'ECDSA', hash: 'SHA-256' },
      key.privateKey,
      new TextEncoder().encode(input),
    )
    return `${input}.${encodeBase64Url(new Uint8Array(signature))}`
  }

  /** Tenant `id`'s revocation writer, over its view of the store (as its origin's /revoke). */
  const revoker = (id: string) =>
    createRevocationWriter({
      store: withRevocationDoorbell(scopeStore(store, id), store, id),
      maxAccessTokenLifetimeSeconds: 900,
      now: clock,
    })

  /** Advances the clock past the revocation bound (sync + timeout). */
  const pastBound = () => clock.advance((follower.boundSeconds + 0.001) * 1000)

  return {
    clock,
    store,
    memory,
    reads,
    registry,
    follower,
    contexts,
    verifier,
    keys,
    addTenant,
    publishKeySet,
    sign,
    signRaw,
    revoker,
    pastBound,
  }
}

export type TenancyFixture = Awaited<ReturnType<typeof tenancyFixture>>
