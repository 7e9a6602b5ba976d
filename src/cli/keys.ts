/**
 * `gatehouse keys …` (docs/keys.md has the runbook):
 *
 *   keys generate [--alg ES256] [--status active|next] [--config FILE]   a private JWK for the config
 *   keys generate-kek [--kid KID]                                         a key-encryption key
 *   keys list                                    the key set in L2, every key's status and times
 *   keys rotate [--alg ALG] [--activate-in SECONDS]   a new key signs after the lead (default: 2 × cache)
 *   keys retire KID [--force]                    out of the JWKS; refused while its tokens can be live
 *   keys revoke KID                              compromise: out at once, edges refuse its tokens
 *
 * The L2 verbs act on the same key set the origins follow (UPSTASH_REDIS_REST_URL/TOKEN) and read
 * the origin's config (GATEHOUSE_CONFIG, GATEHOUSE_KEYS_FILE, GATEHOUSE_ISSUER) for the issuer, the
 * schedule, the token lifetimes and the key-encryption key. With `--tenant ID` they act on that
 * tenant's set instead (`t:{id}:keys:set:{issuer}`, its issuer and schedule from the registry; the
 * deployment's key-encryption key; docs/tenancy.md).
 *
 * @example gatehouse keys rotate --activate-in 900
 * @example gatehouse keys list --tenant acme
 */
import { readFile } from 'node:fs/promises'
import { parseArgs } from 'node:util'
import { dashedPositionals } from './dashed-positionals.ts'
import { SIGNING_ALGS as ALGS } from '../core/keys.ts'
import type { JWK } from 'jose'
import { type KeyStatus, type OAuthConfig, type SigningAlgorithm } from '../core/oauth/config.ts'
import {
  resolveKeyEncryptionKeys,
  rotationPolicyOf,
  updateKeySet,
} from '../core/oauth/jwks-publication.ts'
import { keyRecordFor } from '../core/oauth/key-lifecycle.ts'
import { tokenLifetimeBound } from '../core/oauth/key-lifecycle-config.ts'
import { minimumLeadSeconds, retireKey, revokeKey, rotateKeys } from '../core/oauth/key-schedule.ts'
import { generateKeyEncryptionKey } from '../core/oauth/key-wrap.ts'
import { generateSigningKey, jwkOf } from '../core/oauth/keys.ts'
import {
  keySetStoreKeys,
  keyStatusAt,
  parseKeySetDocument,
  type KeySetDocument,
} from '../core/published-key-set.ts'
import type { Clock } from '../core/types.ts'
import { loadNodeConfig } from '../entry/node-config.ts'
import { createRevocationWriter, MAX_ACCESS_TOKEN_LIFETIME_SECONDS } from '../revocation/index.ts'
import type { Store } from '../store/types.ts'
import { createUpstashStore } from '../store/upstash.ts'
import { tenantKeyScope } from '../tenancy/tenant-key-admin.ts'
import { DEFAULT_TENANT, isTenantId, TENANT_ID_RULE } from '../tenancy/tenant-id.ts'

const STATUSES: readonly KeyStatus[] = ['next', 'active']

export class UsageError extends Error {
  override readonly name = 'UsageError'
}

type Env = Record<string, string | undefined>

/** What the L2 verbs need; tests pass a store, a clock and an in-memory config. */
export interface KeysDeps {
  store?: Store
  clock?: Clock
  readFile?: (path: string) => Promise<string>
  /** Where warnings go (what `--force` breaks). Default stderr. */
  warn?: (line: string) => void
}

const alg = (value: string | undefined, fallback: SigningAlgorithm): SigningAlgorithm => {
  const a = (value ?? fallback) as SigningAlgorithm
  if (!ALGS.includes(a)) throw new UsageError(`--alg must be one of ${ALGS.join(', ')}`)
  return a
}

/**
 * `keys generate`: a private signing JWK with kid, alg and status. The status is `active` unless
 * `--config` names a config that already has an active key (then `next`), so the first generated
 * key makes a config that starts.
 */
export async function keysGenerate(
  args: string[],
  deps: Pick<KeysDeps, 'readFile'> = {},
): Promise<Record<string, unknown>> {
  const { values } = parseArgs({
    args,
    options: {
      alg: { type: 'string', default: 'ES256' },
      status: { type: 'string' },
      config: { type: 'string' },
    },
    strict: true,
  })
  let status = values.status as KeyStatus | undefined
  if (status === undefined) {
    status = 'active'
    if (values.config !== undefined) {
      const text = await (deps.readFile ?? ((p: string) => readFile(p, 'utf8')))(values.config)
      const keys = (JSON.parse(text) as { keys?: { status?: string }[] }).keys ?? []
      if (keys.some((k) => k.status === 'active')) status = 'next'
    }
  }
  if (!STATUSES.includes(status)) throw new UsageError('--status must be next or active')
  return { ...(await generateSigningKey(alg(values.alg, 'ES256'), status)) }
}

/** `keys generate-kek`: a 256-bit key-encryption key for `keyEncryptionKeys`. */
export function keysGenerateKek(args: string[], clock: Clock = Date.now): Record<string, unknown> {
  const { values } = parseArgs({ args, options: { kid: { type: 'string' } }, strict: true })
  const kid = values.kid ?? `kek-${new Date(clock()).toISOString().slice(0, 10)}`
  if (!/^[\x21-\x7e]{1,128}$/.test(kid)) throw new UsageError('--kid must be printable ASCII')
  return { ...generateKeyEncryptionKey(kid) }
}

interface Admin {
  /** The L2 store as the origin's config names it (the development KEK lives here). */
  root: Store
  /** Where the key set is: the root store, or a tenant's view of it. */
  store: Store
  /** Where a kid revocation is written (a tenant's also rings its doorbell). */
  revocationStore: Store
  /** The key set's issuer, schedule and lifetimes (a tenant's own), the deployment's KEKs. */
  config: OAuthConfig
  now: () => number
}

/** `--tenant ID`, shared by the L2 verbs. */
const TENANT_OPTION = { tenant: { type: 'string' } } as const

async function admin(env: Env, deps: KeysDeps, tenant?: string): Promise<Admin> {
  if (tenant !== undefined && !isTenantId(tenant))
    throw new UsageError(`--tenant: the tenant id ${TENANT_ID_RULE}`)
  if (!env.GATEHOUSE_CONFIG) throw new UsageError('set GATEHOUSE_CONFIG (the origin’s config)')
  // The origin's own loader: the same files, checks and issuer as the origins that follow the set.
  const node = await loadNodeConfig(env, {
    ...(deps.readFile ? { readFile: deps.readFile, fileMode: async () => undefined } : {}),
    storeProvided: deps.store !== undefined,
  })
  const upstash = node.verification.upstash
  if (!deps.store && !upstash)
    throw new UsageError(
      'set UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN (the origin’s L2)',
    )
  const clock = deps.clock ?? Date.now
  const root = deps.store ?? createUpstashStore(upstash!)
  const config = node.oauth!
  const scope =
    tenant === undefined || tenant === DEFAULT_TENANT
      ? { store: root, revocationStore: root, config }
      : await tenantKeyScope(root, tenant, config)
  return { root, ...scope, now: () => Math.floor(clock() / 1000) }
}

const iso = (t: number | undefined) =>
  t === undefined ? undefined : new Date(t * 1000).toISOString()

function describeSet(doc: KeySetDocument, now: number) {
  return {
    issuer: doc.issuer,
    version: doc.version,
    updatedAt: iso(doc.updatedAt),
    keys: doc.keys.map((k) => ({
      kid: k.kid,
      alg: k.alg,
      status: keyStatusAt(doc, k, now),
      createdAt: iso(k.createdAt),
      publishAt: iso(k.publishAt),
      activateAt: iso(k.activateAt),
      ...(k.retireAt === undefined ? {} : { retireAt: iso(k.retireAt) }),
      ...(k.revokedAt === undefined ? {} : { revokedAt: iso(k.revokedAt) }),
    })),
  }
}

/** `keys list`: the key set in L2, as every origin and edge sees it now. */
export async function keysList(args: string[], env: Env, deps: KeysDeps = {}) {
  const { values } = parseArgs({ args, options: TENANT_OPTION, strict: true })
  const a = await admin(env, deps, values.tenant)
  const raw = await a.store.get(keySetStoreKeys(a.config.issuer).document)
  const doc = parseKeySetDocument(raw)
  if (!doc)
    throw new Error(
      raw === null ? `no key set in L2 for ${a.config.issuer}` : 'the key set is damaged',
    )
  return describeSet(doc, a.now())
}

async function newKey(
  a: Admin,
  env: Env,
  algorithm: SigningAlgorithm,
  times: { publishAt: number; activateAt: number },
) {
  const keks = await resolveKeyEncryptionKeys({
    config: a.config,
    store: a.root,
    production: env.NODE_ENV === 'production',
    log: () => {},
  })
  const jwk = jwkOf(await generateSigningKey(algorithm)) as JWK & {
    kid: string
    alg: SigningAlgorithm
  }
  return keyRecordFor(jwk, keks, { now: a.now(), ...times })
}

/**
 * `keys rotate`: a new key (or the pending `next` one) signs after `--activate-in` seconds, at least
 * the minimum lead (twice the verifiers' cache lifetime) after it was published.
 */
export async function keysRotate(args: string[], env: Env, deps: KeysDeps = {}) {
  const { values } = parseArgs({
    args,
    options: { alg: { type: 'string' }, 'activate-in': { type: 'string' }, ...TENANT_OPTION },
    strict: true,
  })
  const a = await admin(env, deps, values.tenant)
  const policy = rotationPolicyOf(a.config)
  const algorithm = alg(values.alg, policy.alg)
  const lead =
    values['activate-in'] === undefined ? minimumLeadSeconds(policy) : Number(values['activate-in'])
  if (!Number.isInteger(lead) || lead < 0)
    throw new UsageError('--activate-in must be whole seconds')
  const now = a.now()
  const activateAt = now + lead
  const fresh = await newKey(a, env, algorithm, { publishAt: now, activateAt })
  const { doc, result } = await updateKeySet(a.store, a.config.issuer, now, async (current) => {
    const rotated = rotateKeys(current, now, activateAt, { ...policy, alg: algorithm }, fresh)
    return { doc: rotated.doc, result: rotated }
  })
  return { rotated: result.kid, activateAt: iso(result.activateAt), ...describeSet(doc, now) }
}

/** `keys retire KID [--force]`. */
export async function keysRetire(args: string[], env: Env, deps: KeysDeps = {}) {
  const options = { force: { type: 'boolean', default: false }, ...TENANT_OPTION } as const
  const { values, positionals } = parseArgs({
    args: dashedPositionals(args, options),
    options,
    allowPositionals: true,
    strict: true,
  })
  const [kid, ...extra] = positionals
  if (kid === undefined || extra.length > 0)
    throw new UsageError('usage: gatehouse keys retire KID [--force] [--tenant ID]')
  const a = await admin(env, deps, values.tenant)
  const now = a.now()
  const { doc, result } = await updateKeySet(a.store, a.config.issuer, now, async (current) => {
    const retired = retireKey(
      current,
      kid,
      now,
      { tokenLifetimeSeconds: tokenLifetimeBound(a.config.tokens), force: values.force },
      rotationPolicyOf(a.config),
    )
    return { doc: retired.doc, result: retired.liveUntil }
  })
  const broken = result > now
  if (broken)
    (deps.warn ?? ((l: string) => process.stderr.write(`${l}\n`)))(
      `gatehouse: --force: tokens signed by "${kid}" in the last ${result - now} s now fail ` +
        'verification at every origin and (within the edges’ key-set refresh, 60 s) every edge; ' +
        'their clients must refresh or sign in again',
    )
  return {
    retired: kid,
    ...(broken ? { tokensBrokenUntil: iso(result) } : {}),
    ...describeSet(doc, now),
  }
}

/**
 * `keys revoke KID`: a compromised key. A kid revocation record first (every edge refuses the key's
 * tokens within the revocation bound), then the key leaves the set; if it was signing, the next key
 * (or a new one) signs from now on. Idempotent: a retry after a failure finishes the job.
 */
export async function keysRevoke(args: string[], env: Env, deps: KeysDeps = {}) {
  const { values, positionals } = parseArgs({
    args: dashedPositionals(args, TENANT_OPTION),
    options: TENANT_OPTION,
    allowPositionals: true,
    strict: true,
  })
  const [kid, ...extra] = positionals
  if (kid === undefined || extra.length > 0)
    throw new UsageError('usage: gatehouse keys revoke KID [--tenant ID]')
  const a = await admin(env, deps, values.tenant)
  const now = a.now()
  const raw = await a.store.get(keySetStoreKeys(a.config.issuer).document)
  if (!parseKeySetDocument(raw)?.keys.some((k) => k.kid === kid))
    throw new UsageError(`no key with kid "${kid}" in the key set`)
  await createRevocationWriter({
    store: a.revocationStore,
    maxAccessTokenLifetimeSeconds: MAX_ACCESS_TOKEN_LIFETIME_SECONDS,
    ...(deps.clock ? { now: deps.clock } : {}),
  }).revokeKey(kid)
  const policy = rotationPolicyOf(a.config)
  const replacement = await newKey(a, env, policy.alg, { publishAt: now, activateAt: now })
  const { doc } = await updateKeySet(a.store, a.config.issuer, now, async (current) => {
    const key = current.keys.find((k) => k.kid === kid)
    if (key?.revokedAt !== undefined) return { doc: current, result: null }
    return { doc: revokeKey(current, kid, now, replacement, policy).doc, result: null }
  })
  return { revoked: kid, ...describeSet(doc, now) }
}

/** Dispatches `keys <verb>`; undefined for an unknown verb. */
export function keysCommand(
  verb: string | undefined,
  args: string[],
  env: Env,
): Promise<unknown> | undefined {
  switch (verb) {
    case 'generate':
      return keysGenerate(args)
    case 'generate-kek':
      return Promise.resolve(keysGenerateKek(args))
    case 'list':
      return keysList(args, env)
    case 'rotate':
      return keysRotate(args, env)
    case 'retire':
      return keysRetire(args, env)
    case 'revoke':
      return keysRevoke(args, env)
    default:
      return undefined
  }
}
