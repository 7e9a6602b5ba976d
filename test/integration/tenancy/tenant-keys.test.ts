/**
 * `gatehouse keys … --tenant ID` on real Redis through the Upstash bridge: each verb acts on that
 * tenant's key set in its own namespace (`t:{id}:keys:set:{issuer}`), the one the tenant's origins
 * follow, and leaves the default issuer's set and every other tenant's byte for byte as they were.
 * The CLI runs as a real process (as an operator runs it); the schedule cases run it in process on a
 * fake clock, so a lead of minutes passes without waiting.
 */
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { keysRetire, keysRotate } from '../../../src/cli/keys.ts'
import { parseOAuthConfig } from '../../../src/core/oauth/config.ts'
import { createOriginKeySet } from '../../../src/core/oauth/jwks-publication.ts'
import {
  generateKeyEncryptionKey,
  importKeyEncryptionKeys,
} from '../../../src/core/oauth/key-wrap.ts'
import { tokenLifetimeBound } from '../../../src/core/oauth/key-lifecycle-config.ts'
import { keySetStoreKeys, parseKeySetDocument } from '../../../src/core/published-key-set.ts'
import type { Store } from '../../../src/store/types.ts'
import { createUpstashStore } from '../../../src/store/upstash.ts'
import { originTenantBuilder, type OriginTenant } from '../../../src/tenancy/origin-tenant.ts'
import { createTenantRegistry, type TenantRegistry } from '../../../src/tenancy/registry.ts'
import { registryKeys } from '../../../src/tenancy/registry-keys.ts'
import { eraseTenant } from '../../../src/tenancy/tenant-data.ts'
import { ROOT } from '../../support/node-process.ts'
import { useRedisWithBridge, type RedisWithBridge } from '../../support/redis.ts'
import { testConfig, testPasswords } from '../../unit/oauth/support.ts'

const RUN = crypto.randomUUID().slice(0, 8)
const DEFAULT_ISSUER = `https://auth-${RUN}.test`
const issuerOf = (id: string) => `${DEFAULT_ISSUER}/t/${id}`

let redis: RedisWithBridge
let root: Store
let registry: TenantRegistry
let dir: string
let env: Record<string, string>
let configText: string
const ids: string[] = []

beforeAll(async () => {
  redis = await useRedisWithBridge()
  // The CLI's own adapter settings (default key prefix), so the test reads what the process wrote.
  root = createUpstashStore({ url: redis.url, token: redis.token })
  registry = createTenantRegistry({ store: root })
  dir = await mkdtemp(join(tmpdir(), 'gatehouse-tenant-keys-'))
  configText = JSON.stringify({
    ...(await testConfig({ issuer: DEFAULT_ISSUER })),
    keyEncryptionKeys: [generateKeyEncryptionKey('kek')],
  })
  await writeFile(join(dir, 'gatehouse.json'), configText)
  env = {
    GATEHOUSE_CONFIG: join(dir, 'gatehouse.json'),
    UPSTASH_REDIS_REST_URL: redis.url,
    UPSTASH_REDIS_REST_TOKEN: redis.token,
  }
  // The default issuer's set, as its origin publishes it.
  const defaultKeys = await createOriginKeySet({
    config: parseOAuthConfig(JSON.parse(configText)),
    store: root,
    production: false,
    log: () => {},
  })
  await defaultKeys.start()
})

afterAll(async () => {
  for (const id of ids) await eraseTenant(root, registry, id).catch(() => {})
  await redis?.close()
  if (dir) await rm(dir, { recursive: true, force: true })
})

/** A tenant in the registry and its key set as its first origin creates it. */
async function tenant(
  name: string,
  clock?: () => number,
): Promise<{ id: string; origin: OriginTenant }> {
  const id = `${name}-${RUN}`
  ids.push(id)
  const record = await registry.add({
    id,
    issuer: issuerOf(id),
    audiences: [`https://api.${id}.test`],
    oauth: {
      keyRotation: { cacheSeconds: 30 },
      tokens: { accessTokenTtlSeconds: 300, idTokenTtlSeconds: 300 },
    },
  })
  const config = parseOAuthConfig(JSON.parse(configText))
  const build = originTenantBuilder({
    store: root,
    passwords: testPasswords,
    keyEncryptionKeys: await importKeyEncryptionKeys(config.keyEncryptionKeys),
    ...(clock ? { clock } : {}),
  })
  return { id, origin: await build(record) }
}

/** `gatehouse keys …` as an operator runs it. */
async function gatehouse(args: string[]) {
  const child = spawn(
    process.execPath,
    [
      '--experimental-strip-types',
      '--no-warnings=ExperimentalWarning',
      'src/cli/gatehouse.ts',
      'keys',
      ...args,
    ],
    { cwd: ROOT, env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
  )
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
  const [code] = (await once(child, 'exit')) as [number]
  return { code, stdout, stderr, json: () => JSON.parse(stdout) as Listed }
}

interface Listed {
  issuer: string
  rotated?: string
  keys: { kid: string; status: string }[]
}

const setOf = (issuer: string, id?: string) =>
  `${id ? `t:${id}:` : ''}${keySetStoreKeys(issuer).document}`

describe('gatehouse keys --tenant (real Redis, Upstash bridge)', () => {
  it("keys list --tenant shows that tenant's key set, never the default issuer's or another tenant's", async () => {
    const acme = await tenant('acme')
    const globex = await tenant('globex')
    const listed = {
      acme: await gatehouse(['list', '--tenant', acme.id]),
      globex: await gatehouse(['list', '--tenant', globex.id]),
      default: await gatehouse(['list']),
    }
    for (const r of Object.values(listed)) expect(r.code, r.stderr).toBe(0)
    expect(listed.acme.json().issuer).toBe(issuerOf(acme.id))
    expect(listed.globex.json().issuer).toBe(issuerOf(globex.id))
    expect(listed.default.json().issuer).toBe(DEFAULT_ISSUER)
    const kids = (r: { json: () => Listed }) => r.json().keys.map((k) => k.kid)
    expect(kids(listed.acme)).toEqual([acme.origin.keys.active.kid])
    expect(kids(listed.globex)).toEqual([globex.origin.keys.active.kid])
    expect(kids(listed.default)).toEqual(['test-es256'])
    expect(kids(listed.acme)).not.toEqual(kids(listed.globex))
    expect(listed.acme.stdout).not.toMatch(/wrapped|"d"/)
  })

  it("keys rotate --tenant writes only the tenant's set in its namespace; its origin follows", async () => {
    const acme = await tenant('acme2')
    const globex = await tenant('globex2')
    const others = [setOf(DEFAULT_ISSUER), setOf(issuerOf(globex.id), globex.id)]
    const before = await Promise.all(others.map((k) => root.get(k)))
    const rotated = await gatehouse(['rotate', '--tenant', acme.id])
    expect(rotated.code, rotated.stderr).toBe(0)
    const out = rotated.json()
    expect(out.issuer).toBe(issuerOf(acme.id))
    expect(out.keys.map((k) => k.status)).toEqual(['active', 'next'])

    const doc = parseKeySetDocument(await root.get(setOf(issuerOf(acme.id), acme.id)))
    expect(doc?.keys.map((k) => k.kid)).toContain(out.rotated)
    // No copy outside the namespace, and no other set changed.
    expect(await root.get(setOf(issuerOf(acme.id)))).toBeNull()
    expect(await Promise.all(others.map((k) => root.get(k)))).toEqual(before)
    // The tenant's origin publishes the new key on its next read.
    await acme.origin.keys.refresh()
    expect(acme.origin.keys.publicJwks().keys.map((k) => k.kid)).toContain(out.rotated)
    expect(globex.origin.keys.publicJwks().keys.map((k) => k.kid)).not.toContain(out.rotated)
  })

  it("keys revoke --tenant: the kid revocation is in the tenant's stream and rings its doorbell; no other tenant's", async () => {
    const acme = await tenant('acme3')
    const globex = await tenant('globex3')
    const kid = acme.origin.keys.active.kid
    // Another tenant cannot name acme's key: it is not in globex's set.
    const foreign = await gatehouse(['revoke', kid, '--tenant', globex.id])
    expect(foreign.code).toBe(2)
    expect(foreign.stderr).toContain(`no key with kid "${kid}"`)

    const changesBefore = (await root.readStream(registryKeys.changes, '0-0', 10_000)).length
    const revoked = await gatehouse(['revoke', kid, '--tenant', acme.id])
    expect(revoked.code, revoked.stderr).toBe(0)
    const out = revoked.json()
    expect(out.keys.find((k) => k.kid === kid)?.status).toBe('revoked')
    expect(out.keys.some((k) => k.kid !== kid && k.status === 'active')).toBe(true)

    expect(await root.get(`t:${acme.id}:rev:kid:${kid}`)).not.toBeNull()
    expect(await root.get(`rev:kid:${kid}`)).toBeNull()
    expect(await root.get(`t:${globex.id}:rev:kid:${kid}`)).toBeNull()
    const events = await root.readStream(`t:${acme.id}:rev:stream`, '0-0', 100)
    expect(events.map((e) => e.fields)).toContainEqual({ kind: 'kid', id: kid })
    expect(await root.readStream(`t:${globex.id}:rev:stream`, '0-0', 100)).toEqual([])
    const changes = (await root.readStream(registryKeys.changes, '0-0', 10_000)).slice(
      changesBefore,
    )
    expect(changes.map((e) => e.fields)).toContainEqual({ kind: 'revocation', id: acme.id })
    // The tenant's origin stops publishing it and signs with the replacement.
    await acme.origin.keys.refresh()
    expect(acme.origin.keys.publicJwks().keys.map((k) => k.kid)).not.toContain(kid)
    expect(acme.origin.keys.active.kid).not.toBe(kid)
  })

  it('keys --tenant for a tenant not in the registry, or a bad tenant id, changes nothing', async () => {
    const gone = await tenant('gone')
    await registry.remove(gone.id)
    const set = setOf(issuerOf(gone.id), gone.id)
    const before = await root.get(set)
    const removed = await gatehouse(['rotate', '--tenant', gone.id])
    expect(removed.code).toBe(1)
    expect(removed.stderr).toContain(`no tenant "${gone.id}"`)
    expect(removed.stdout).toBe('')
    expect(await root.get(set)).toBe(before)

    const bad = await gatehouse(['list', '--tenant', 'Not_A_Tenant'])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain('--tenant: the tenant id')
  })
})

describe("a tenant's key schedule through gatehouse keys --tenant (real Redis, fake clock)", () => {
  it("a tenant's rotated key signs at its origin after the lead; retiring the old one is refused while the tenant's tokens can be live", async () => {
    let t = Math.floor(Date.now() / 1000) * 1000 // whole seconds, as the key set stores times
    const clock = Object.assign(() => t, { advance: (s: number) => void (t += s * 1000) })
    const acme = await tenant('acme4', clock)
    const old = acme.origin.keys.active.kid
    const deps = { store: root, clock, readFile: async () => configText, warn: () => {} }
    const rotated = await keysRotate(['--tenant', acme.id], env, deps)
    // The tenant's own schedule: twice its cacheSeconds (30), not the default issuer's.
    expect(Date.parse(rotated.activateAt!) - t).toBe(60_000)
    clock.advance(60)
    await acme.origin.keys.tick()
    expect(acme.origin.keys.active.kid).toBe(rotated.rotated)
    expect((await acme.origin.keys.signingKey()).kid).toBe(rotated.rotated)
    // The tenant's token lifetimes (300 s, not the default issuer's 600 s) bound the retirement.
    const bound = tokenLifetimeBound({ accessTokenTtlSeconds: 300, idTokenTtlSeconds: 300 })
    await expect(keysRetire([old, '--tenant', acme.id], env, deps)).rejects.toThrow(
      `valid for up to ${bound} s more`,
    )
    clock.advance(bound + 1)
    const retired = await keysRetire([old, '--tenant', acme.id], env, deps)
    expect(retired.keys.find((k) => k.kid === old)?.status).toBe('retired')
    await acme.origin.keys.tick()
    expect(acme.origin.keys.publicJwks().keys.map((k) => k.kid)).not.toContain(old)
  })
})
