/**
 * The origin's key set, as the entry builds it (docs/keys.md): the key-encryption keys from the
 * config (or, outside production only, a development KEK shared through the store, with a warning),
 * and the managed key set over L2 that publishes the JWKS and discovery for every origin and edge.
 *
 * @example
 * const keys = await createOriginKeySet({ config, store, production: false, log })
 * const oauth = await createOAuthContext({ config, store, keys, ... })
 * await keys.start() // reads the key set, creating the first one if L2 has none
 */
import { keySetStoreKeys, parseKeySetDocument, type KeySetDocument } from '../published-key-set.ts'
import { KeyScheduleError } from './key-schedule.ts'
import { parseRecord, type OAuthStore } from './store.ts'
import type { OAuthConfig } from './config.ts'
import { ConfigError } from './config.ts'
import {
  createKeyLifecycle,
  type KeyLifecycle,
  type KeyLifecycleOptions,
  type KeyLifecyclePolicy,
  type KeyLog,
} from './key-lifecycle.ts'
import type { KeyEncryptionKeyConfig } from './key-lifecycle-config.ts'
import {
  generateKeyEncryptionKey,
  importKeyEncryptionKeys,
  type KeyEncryptionKeys,
} from './key-wrap.ts'

/** Where the development KEK is shared (outside production, when none is configured). */
export const DEVELOPMENT_KEK_KEY = 'keys:development-kek'

/**
 * A KEK generated once and shared through the store with SET NX, so every development process on
 * one store can open the same keys. Never used when KEKs are configured; refused in production.
 */
async function sharedDevelopmentKek(
  store: Pick<OAuthStore, 'get' | 'set'>,
): Promise<KeyEncryptionKeyConfig> {
  const candidate = generateKeyEncryptionKey('development')
  await store.set(DEVELOPMENT_KEK_KEY, JSON.stringify(candidate), { ifAbsent: true })
  return parseRecord<KeyEncryptionKeyConfig>(await store.get(DEVELOPMENT_KEK_KEY)) ?? candidate
}

export interface OriginKeySetOptions {
  config: OAuthConfig
  store: KeyLifecycleOptions['store']
  production: boolean
  log: KeyLog
  clock?: () => number
  discovery?: () => Record<string, unknown>
}

/**
 * The configured KEKs, imported; outside production with none configured, the shared development
 * KEK (with a warning). Throws the config's `ConfigError` when production has none.
 *
 * @example const keks = await resolveKeyEncryptionKeys({ config, store, production, log })
 */
export async function resolveKeyEncryptionKeys(
  options: Pick<OriginKeySetOptions, 'config' | 'store' | 'production' | 'log'>,
): Promise<KeyEncryptionKeys> {
  const { config, store, production, log } = options
  let configured = config.keyEncryptionKeys
  if (configured.length === 0) {
    if (production)
      throw new ConfigError([
        {
          field: 'config.keyEncryptionKeys',
          message:
            'required in production: private signing keys are kept in L2 encrypted under it (gatehouse keys generate-kek)',
        },
      ])
    log({
      level: 'warn',
      msg: 'no keyEncryptionKeys configured: using a development key-encryption key kept in the store (development only; run `gatehouse keys generate-kek`)',
    })
    configured = [await sharedDevelopmentKek(store)]
  }
  return importKeyEncryptionKeys(configured)
}

/** The lifecycle policy from the config's `keyRotation`. */
export const rotationPolicyOf = (config: OAuthConfig): KeyLifecyclePolicy => ({
  scheduled: config.keyRotation.scheduled,
  alg: config.keyRotation.alg,
  periodSeconds: config.keyRotation.periodSeconds,
  prePublishSeconds: config.keyRotation.prePublishSeconds,
  retainSeconds: config.keyRotation.retainSeconds,
  cacheSeconds: config.keyRotation.cacheSeconds,
  checkSeconds: config.keyRotation.checkSeconds,
})

/**
 * Builds the managed key set (not started). Throws the config's `ConfigError` when production has
 * no key-encryption key.
 */
export async function createOriginKeySet(options: OriginKeySetOptions): Promise<KeyLifecycle> {
  const { config, store, log } = options
  return createKeyLifecycle({
    store,
    issuer: config.issuer,
    keks: await resolveKeyEncryptionKeys(options),
    policy: rotationPolicyOf(config),
    seed: config.keys,
    log,
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.discovery ? { discovery: options.discovery } : {}),
  })
}

/**
 * One operator change to the key set in L2: read, change, compare-and-swap (version + 1), retried
 * when another writer got there first. `change` may throw (`KeyScheduleError`) to refuse.
 *
 * @example await updateKeySet(store, issuer, now, (doc) => ({ doc: revokeKey(doc, kid, now, undefined, policy).doc, result: null }))
 */
export async function updateKeySet<T>(
  store: Pick<OAuthStore, 'get' | 'compareAndSwap'>,
  issuer: string,
  now: number,
  change: (doc: KeySetDocument) => Promise<{ doc: KeySetDocument; result: T }>,
): Promise<{ doc: KeySetDocument; result: T }> {
  const key = keySetStoreKeys(issuer).document
  for (let attempt = 0; attempt < 8; attempt++) {
    const raw = await store.get(key)
    const doc = parseKeySetDocument(raw)
    if (!doc)
      throw new KeyScheduleError(
        raw === null
          ? `no key set in L2 for ${issuer}: start an origin first`
          : 'the key set in L2 is damaged',
      )
    const changed = await change(doc)
    const next = { ...changed.doc, version: doc.version + 1, updatedAt: now }
    if (await store.compareAndSwap(key, raw, JSON.stringify(next)))
      return { doc: next, result: changed.result }
  }
  throw new Error('could not update the key set: store contention')
}
