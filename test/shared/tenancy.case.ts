/**
 * Tenant isolation at the edge, runtime-neutral: the same cases run on Node
 * (test/unit/tenancy/tenancy-edge.test.ts) and inside workerd (test/workers/tenancy.test.ts). Each
 * builds a multi-tenant edge over the memory store with a fake clock (tenancy-fixture.ts); tenants
 * have their own ES256 keys, published to their own namespaces as their origins publish them.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { AuthError } from '../../src/core/errors.ts'
import { createApp } from '../../src/http/app.ts'
import { createSnapshotBuilder } from '../../src/revocation/snapshot-builder.ts'
import { QuotaError } from '../../src/tenancy/quotas.ts'
import { scopeStore } from '../../src/tenancy/scoped-store.ts'
import { createMemoryStore } from '../../src/store/memory.ts'
import type { Store } from '../../src/store/types.ts'
import { createTenantRegistry, TenantConflictError } from '../../src/tenancy/registry.ts'
import { registryKeys } from '../../src/tenancy/registry-keys.ts'
import {
  audienceOf,
  BASE,
  issuerOf,
  tenancyFixture as fixtureWith,
  tenantKey,
  type TenancyFixtureOptions,
} from './tenancy-fixture.ts'

const refusal = async (promise: Promise<unknown>) => {
  try {
    await promise
  } catch (error) {
    return error
  }
  throw new Error('expected a refusal')
}

const authCode = async (promise: Promise<unknown>) => {
  const error = await refusal(promise)
  expect(error).toBeInstanceOf(AuthError)
  return (error as AuthError).code
}

/**
 * The cases; `defaults` go to every edge they build (e.g. the node:crypto signature check, which
 * the Node origin gives its tenants on one core: test/unit/tenancy/tenancy-node-crypto.test.ts).
 */
export function tenancyCases(defaults: Pick<TenancyFixtureOptions, 'checkSignature'> = {}) {
  const tenancyFixture = (options: TenancyFixtureOptions = {}) =>
    fixtureWith({ ...defaults, ...options })

  describe('tenant store views', () => {
    it("prefixes every key and stream of a tenant's view with the tenant's namespace", async () => {
      const f = await tenancyFixture()
      const acme = scopeStore(f.memory, 'acme')
      await acme.set('oauth:code:x', 'grant')
      await acme.appendToStream('rev:stream', { kind: 'jti', id: 'j' })
      expect(await acme.compareAndSwap('oauth:rf:1', null, 'family')).toBe(true)
      expect(await acme.increment('oauth:rl:ip:1', 60)).toBe(1)
      expect(await f.memory.get('t:acme:oauth:code:x')).toBe('grant')
      expect(await f.memory.get('t:acme:oauth:rf:1')).toBe('family')
      expect(await f.memory.get('t:acme:oauth:rl:ip:1')).toBe('1')
      expect(await f.memory.readStream('t:acme:rev:stream', '0')).toHaveLength(1)
      expect(await f.memory.get('oauth:code:x')).toBeNull()
      expect(await f.memory.readStream('rev:stream', '0')).toEqual([])
    })

    it("a tenant's view cannot read or change another tenant's keys, whatever the key name", async () => {
      const f = await tenancyFixture()
      await f.memory.set('t:globex:oauth:code:x', 'globex grant')
      await f.memory.set('oauth:code:x', 'default grant')
      const acme = scopeStore(f.memory, 'acme')
      // Names that try to climb out of the namespace stay inside it.
      for (const key of ['oauth:code:x', 't:globex:oauth:code:x', '../t:globex:oauth:code:x'])
        expect(await acme.get(key)).toBeNull()
      expect(await acme.take('t:globex:oauth:code:x')).toBeNull()
      expect(await f.memory.get('t:globex:oauth:code:x')).toBe('globex grant')
      expect(await f.memory.get('oauth:code:x')).toBe('default grant')
    })

    it("the default tenant's view keeps historical key names and refuses other tenants' keys", async () => {
      const f = await tenancyFixture()
      const main = scopeStore(f.memory, 'default')
      await main.set('oauth:code:x', 'default grant')
      expect(await f.memory.get('oauth:code:x')).toBe('default grant')
      await f.memory.set('t:acme:oauth:code:x', 'acme grant')
      await expect(main.get('t:acme:oauth:code:x')).rejects.toThrow(TypeError)
      await expect(main.delete('t:acme:oauth:code:x')).rejects.toThrow(TypeError)
      await expect(main.set('tenancy:issuer:x', 'acme')).rejects.toThrow(TypeError)
      expect(await f.memory.get('t:acme:oauth:code:x')).toBe('acme grant')
    })
  })

  describe('tenant registry', () => {
    it('refuses a second tenant with the same id, issuer, host or audience', async () => {
      const f = await tenancyFixture()
      await f.addTenant('acme', { hosts: ['auth.acme.test'], issuer: 'https://auth.acme.test' })
      const x = ['https://x.test']
      const conflicts = [
        { id: 'acme', issuer: issuerOf('acme'), audiences: x },
        { id: 'other', issuer: 'https://auth.acme.test', hosts: ['auth.acme.test'], audiences: x },
        { id: 'other', issuer: issuerOf('other'), hosts: ['auth.acme.test'], audiences: x },
        { id: 'other', issuer: issuerOf('other'), audiences: [audienceOf('acme')] },
      ]
      const codes = ['id', 'issuer', 'host', 'audience'].map((what) => `tenant_${what}_taken`)
      for (const [i, definition] of conflicts.entries()) {
        const error = await refusal(f.registry.add(definition))
        expect(error).toBeInstanceOf(TenantConflictError)
        expect((error as TenantConflictError).status).toBe(409)
        expect((error as TenantConflictError).code).toBe(codes[i])
      }
      // Nothing of the refused adds was left behind: no settings document, and the last three ids
      // are free to use (no claim is held).
      expect((await f.memory.scanKeys('t:other:', '0', 100)).keys).toEqual([])
      await f.addTenant('other', { hosts: ['auth.other.test'] })
      expect((await f.registry.resolveHost('auth.other.test'))?.id).toBe('other')
    })

    it('adds a tenant and announces it in one all-or-nothing store step when nothing is in its way', async () => {
      const memory = createMemoryStore({ maxKeys: 1000 })
      const calls: string[] = []
      const store = new Proxy(memory, {
        get: (target, name: keyof Store) => {
          const method = target[name] as (...args: unknown[]) => unknown
          return (...args: unknown[]) => {
            calls.push(name)
            return method.apply(target, args)
          }
        },
      })
      const registry = createTenantRegistry({ store })
      const definition = {
        id: 'acme',
        issuer: 'https://auth.acme.test',
        hosts: ['auth.acme.test'],
        audiences: [audienceOf('acme'), 'https://api2.acme.test'],
        oauth: { tokens: { accessTokenTtlSeconds: 300 } },
      }
      const record = await registry.add(definition)
      expect(calls).toEqual(['setAllIfAbsent'])
      expect((await registry.view('acme'))?.settings?.oauth).toEqual(definition.oauth)
      expect((await registry.resolveIssuer('https://auth.acme.test'))?.revision).toBe(1)
      expect((await registry.resolveHost('auth.acme.test'))?.id).toBe('acme')
      for (const audience of definition.audiences)
        expect(await memory.get(registryKeys.audience(audience))).toBe('acme')
      const [change] = await memory.readStream(registryKeys.changes, '0')
      expect(change?.fields).toEqual({ kind: 'tenant', id: 'acme', revision: '1' })
      expect(record.settings).toMatch(/^[0-9a-f]{32}$/)
    })

    it('takes over a claim left behind by a crashed add, and refuses one a live tenant holds', async () => {
      const f = await tenancyFixture()
      // A claim naming a tenant without a record (its add died before the record was written), and
      // one naming the tenant being added itself (the same add, retried).
      await f.memory.set(registryKeys.issuer(issuerOf('acme')), 'ghost')
      await f.memory.set(registryKeys.audience(audienceOf('acme')), 'acme')
      await f.addTenant('acme')
      expect((await f.registry.resolveIssuer(issuerOf('acme')))?.id).toBe('acme')
      expect(await f.memory.get(registryKeys.audience(audienceOf('acme')))).toBe('acme')
      // A live tenant's claim is never taken over, and the refused add leaves nothing behind.
      const error = await refusal(
        f.registry.add({ id: 'other', issuer: issuerOf('other'), audiences: [audienceOf('acme')] }),
      )
      expect((error as TenantConflictError).code).toBe('tenant_audience_taken')
      expect(await f.memory.get(registryKeys.issuer(issuerOf('other')))).toBeNull()
      expect(await f.memory.get(registryKeys.record('other'))).toBeNull()
    })

    it('of concurrent adds of one tenant id, exactly one wins and the others leave nothing behind', async () => {
      const f = await tenancyFixture()
      const results = await Promise.allSettled(
        [1, 2, 3, 4, 5].map((n) =>
          f.registry.add({
            id: 'acme',
            issuer: `https://auth${n}.acme.test`,
            hosts: [`auth${n}.acme.test`],
            audiences: [`https://api${n}.acme.test`],
          }),
        ),
      )
      const won = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []))
      expect(won).toHaveLength(1)
      for (const r of results)
        if (r.status === 'rejected')
          expect((r.reason as TenantConflictError).code).toBe('tenant_id_taken')
      const n = Number(/auth(\d)/.exec(won[0]!.issuer)?.[1])
      for (const m of [1, 2, 3, 4, 5]) {
        const owner = m === n ? 'acme' : null
        expect(await f.memory.get(registryKeys.issuer(`https://auth${m}.acme.test`))).toBe(owner)
        expect(await f.memory.get(registryKeys.host(`auth${m}.acme.test`))).toBe(owner)
        expect(await f.memory.get(registryKeys.audience(`https://api${m}.acme.test`))).toBe(owner)
      }
      expect((await f.memory.scanKeys('t:acme:tenant:settings:', '0', 100)).keys).toEqual([
        `t:acme:tenant:settings:${won[0]!.settings}`,
      ])
    })

    it('resolves a tenant by its exact issuer only', async () => {
      const f = await tenancyFixture()
      await f.addTenant('acme')
      expect((await f.registry.resolveIssuer(issuerOf('acme')))?.id).toBe('acme')
      for (const near of [
        `${issuerOf('acme')}/`,
        issuerOf('acme').toUpperCase(),
        `${issuerOf('acme')}x`,
      ])
        expect(await f.registry.resolveIssuer(near)).toBeUndefined()
    })
  })

  describe('tenant selection at the edge', () => {
    it("verifies a tenant's token with that tenant's keys and reports the tenant", async () => {
      const f = await tenancyFixture()
      await f.addTenant('acme')
      await f.addTenant('globex')
      const verified = await f.verifier.verify(await f.sign('acme'))
      expect(verified.tenant).toBe('acme')
      expect(verified.claims.iss).toBe(issuerOf('acme'))
      expect((await f.verifier.verify(await f.sign('globex'))).tenant).toBe('globex')
    })

    it("refuses tenant A's token presented for tenant B's audience", async () => {
      const f = await tenancyFixture()
      await f.addTenant('acme')
      await f.addTenant('globex')
      expect(
        await authCode(f.verifier.verify(await f.sign('acme', { aud: audienceOf('globex') }))),
      ).toBe('audience_mismatch')
    })

    it("refuses a token naming tenant B that carries tenant A's kid and signature", async () => {
      const f = await tenancyFixture()
      await f.addTenant('acme')
      await f.addTenant('globex')
      const forged = await f.sign('globex', {}, { signWith: 'acme' })
      expect(await authCode(f.verifier.verify(forged))).toBe('kid_unknown')
    })

    it("refuses tenant A's signature under tenant B's kid when both tenants use the same kid", async () => {
      const f = await tenancyFixture()
      await f.addTenant('acme', { key: await tenantKey('shared-kid') })
      await f.addTenant('globex', { key: await tenantKey('shared-kid') })
      expect((await f.verifier.verify(await f.sign('globex'))).tenant).toBe('globex')
      const forged = await f.sign('globex', {}, { signWith: 'acme' })
      expect(await authCode(f.verifier.verify(forged))).toBe('signature_invalid')
    })

    it('refuses a tenant token whose iss was swapped after signing, and one signed for another iss', async () => {
      const f = await tenancyFixture()
      await f.addTenant('acme')
      await f.addTenant('globex')
      const token = await f.sign('acme')
      const [header, payload, signature] = token.split('.') as [string, string, string]
      const claims = JSON.parse(atob(payload.replace(/-/g, '+').replace(/_/g, '/')))
      const swapped = btoa(JSON.stringify({ ...claims, iss: issuerOf('globex') }))
        .replace(/\+/g, '-')
        .replace(/\//g, '_')
        .replace(/=+$/, '')
      expect(['kid_unknown', 'signature_invalid']).toContain(
        await authCode(f.verifier.verify(`${header}.${swapped}.${signature}`)),
      )
      // A valid signature by A over a payload naming B: B's keys decide, and none of them is A's.
      const signedForB = await f.sign('acme', { iss: issuerOf('globex') })
      expect(await authCode(f.verifier.verify(signedForB))).toBe('kid_unknown')
    })

    it('a key of one tenant never verifies a token of another tenant, whatever kid, iss and aud it carries', async () => {
      const f = await tenancyFixture()
      await f.addTenant('acme')
      await f.addTenant('globex', { key: await tenantKey('shared-kid') })
      await f.addTenant('initech', { key: await tenantKey('shared-kid') })
      // An attacker's own key, never published, named like acme's.
      f.keys.set('mallory', await tenantKey('acme-key'))
      const tenants = ['acme', 'globex', 'initech'] as const
      const signers = [...tenants, 'mallory'] as const
      const anything = fc.record({
        signer: fc.constantFrom(...signers),
        iss: fc.constantFrom(...tenants.map(issuerOf), BASE, 'https://evil.test'),
        kid: fc.constantFrom('acme-key', 'shared-kid', 'unknown-kid'),
        aud: fc.oneof(
          fc.constantFrom(...tenants.map(audienceOf), 'https://api.evil.test'),
          fc.subarray(tenants.map(audienceOf), { minLength: 1 }),
        ),
      })
      // A tenant's own token with at most one field taken from elsewhere: the near misses.
      const nearlyOwn = fc
        .tuple(fc.constantFrom(...tenants), anything, fc.integer({ min: 0, max: 4 }))
        .map(([tenant, other, changed]) => ({
          signer: changed === 1 ? other.signer : tenant,
          iss: changed === 2 ? other.iss : issuerOf(tenant),
          kid: changed === 3 ? other.kid : (f.keys.get(tenant)?.kid ?? ''),
          aud: changed === 4 ? other.aud : [audienceOf(tenant)],
        }))
      const attempt = fc.oneof(anything, nearlyOwn)
      await fc.assert(
        fc.asyncProperty(attempt, async ({ signer, iss, kid, aud }) => {
          const token = await f.sign(signer, { iss, aud }, { signWith: signer, kid })
          const auds = typeof aud === 'string' ? [aud] : aud
          // Accepted exactly when the token is its own tenant's: that tenant's key under its kid,
          // its issuer, one of its audiences. Twice: the second answer comes from L1.
          const own =
            signer !== 'mallory' &&
            iss === issuerOf(signer) &&
            kid === f.keys.get(signer)?.kid &&
            auds.includes(audienceOf(signer))
          for (let i = 0; i < 2; i++) {
            const verified = await f.verifier.verify(token).catch((e: unknown) => {
              expect(e).toBeInstanceOf(AuthError)
              return undefined
            })
            expect(verified !== undefined).toBe(own)
            if (verified) expect(verified.tenant).toBe(signer)
          }
        }),
        { numRuns: 100 },
      )
    })

    it('refuses a tenant token that names iss twice, whichever tenant either names and whoever signed', async () => {
      const f = await tenancyFixture()
      await f.addTenant('acme')
      await f.addTenant('globex')
      const now = Math.floor(f.clock() / 1000)
      // The tenant is picked by a lenient read of iss (the last one); the tenant's verifier parses
      // strictly (RFC 7519 §4: member names unique) and refuses before any key is chosen.
      for (const [first, last] of [
        ['acme', 'globex'],
        ['globex', 'acme'],
      ] as const)
        for (const signer of [first, last]) {
          const payload = `{"iss":"${issuerOf(first)}","aud":"${audienceOf(signer)}","sub":"u","client_id":"app","jti":"j-${first}-${signer}","iat":${now},"exp":${now + 600},"iss":"${issuerOf(last)}"}`
          const token = await f.signRaw(
            signer,
            { alg: 'ES256', typ: 'at+jwt', kid: f.keys.get(signer)?.kid },
            payload,
          )
          expect(await authCode(f.verifier.verify(token))).toBe('token_malformed')
        }
      // The same token with iss once verifies: the refusal above is the duplicate's.
      const once = `{"iss":"${issuerOf('acme')}","aud":"${audienceOf('acme')}","sub":"u","client_id":"app","jti":"j-once","iat":${now},"exp":${now + 600}}`
      const token = await f.signRaw(
        'acme',
        { alg: 'ES256', typ: 'at+jwt', kid: f.keys.get('acme')?.kid },
        once,
      )
      expect((await f.verifier.verify(token)).tenant).toBe('acme')
    })

    it("a tenant token's header is checked by its tenant's verifier: jku, crit and alg none are refused", async () => {
      const f = await tenancyFixture()
      await f.addTenant('acme')
      const now = Math.floor(f.clock() / 1000)
      const payload = JSON.stringify({
        iss: issuerOf('acme'),
        aud: audienceOf('acme'),
        sub: 'u',
        client_id: 'app',
        jti: 'j-header',
        iat: now,
        exp: now + 600,
      })
      const kid = f.keys.get('acme')?.kid
      const cases = [
        [{ alg: 'ES256', typ: 'at+jwt', kid, jku: 'https://evil.test/jwks' }, 'header_untrusted'],
        [{ alg: 'ES256', typ: 'at+jwt', kid, crit: ['exp'] }, 'crit_unsupported'],
        [{ alg: 'none', typ: 'at+jwt', kid }, 'alg_not_allowed'],
        [{ alg: 'ES256', typ: 'JWT', kid }, 'type_mismatch'],
      ] as const
      for (const [header, code] of cases)
        expect(await authCode(f.verifier.verify(await f.signRaw('acme', header, payload)))).toBe(
          code,
        )
    })

    it('answers anything that is not a tenant token with an AuthError, never another error', async () => {
      const f = await tenancyFixture()
      await f.addTenant('acme')
      const b64 = (text: string) =>
        btoa(text).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
      const segment = fc.oneof(
        fc.string(),
        fc.json().map(b64),
        fc.constantFrom('', 'null', '[]', '"s"', '{"iss":1}', '{"iss":null}').map(b64),
        fc.constant(b64(JSON.stringify({ iss: issuerOf('acme') }))),
      )
      const token = fc.oneof(
        fc.string(),
        fc.tuple(segment, segment, segment).map((parts) => parts.join('.')),
      )
      await fc.assert(
        fc.asyncProperty(token, async (t) => {
          await authCode(f.verifier.verify(t))
        }),
        { numRuns: 200 },
      )
    })

    it('refuses a token whose issuer is no tenant, after one registry read per issuer', async () => {
      const f = await tenancyFixture()
      await f.addTenant('acme')
      const stranger = await f.sign('acme', { iss: 'https://evil.test' })
      expect(await authCode(f.verifier.verify(stranger))).toBe('issuer_mismatch')
      const before = f.reads.filter((k) => k.startsWith('tenancy:issuer:')).length
      for (let i = 0; i < 5; i++)
        expect(await authCode(f.verifier.verify(stranger))).toBe('issuer_mismatch')
      expect(f.reads.filter((k) => k.startsWith('tenancy:issuer:')).length).toBe(before)
    })

    it('never lets the Host header choose the tenant of /verify', async () => {
      const f = await tenancyFixture()
      await f.addTenant('acme', { hosts: ['auth.acme.test'], issuer: 'https://auth.acme.test' })
      await f.addTenant('globex')
      const app = createApp({ role: 'edge', verifier: f.verifier, logger: { log: () => {} } })
      const token = await f.sign('globex')
      const response = await app.request('https://auth.acme.test/verify', {
        headers: { Authorization: `Bearer ${token}`, Host: 'auth.acme.test' },
      })
      expect(response.status).toBe(200)
      expect(((await response.json()) as { iss: string }).iss).toBe(issuerOf('globex'))
      // A's host and B's kid/signature: still B's keys decide.
      const forged = await f.sign('acme', { iss: issuerOf('globex') })
      const refused = await app.request('https://auth.acme.test/verify', {
        headers: { Authorization: `Bearer ${forged}`, Host: 'auth.acme.test' },
      })
      expect(refused.status).toBe(401)
    })
  })

  describe('tenant revocation', () => {
    it('revoking a token id in tenant A leaves the same id in tenant B valid', async () => {
      const f = await tenancyFixture()
      await f.addTenant('acme')
      await f.addTenant('globex')
      const a = await f.sign('acme', { jti: 'same-id' })
      const b = await f.sign('globex', { jti: 'same-id' })
      await f.verifier.verify(a)
      await f.verifier.verify(b)
      await f.revoker('acme').revokeToken('same-id', f.clock() / 1000 + 600)
      f.pastBound()
      expect(await authCode(f.verifier.verify(a))).toBe('token_revoked')
      expect((await f.verifier.verify(b)).tenant).toBe('globex')
    })

    it("revoking a subject in tenant A does not touch the same subject's tokens in tenant B", async () => {
      const f = await tenancyFixture()
      await f.addTenant('acme')
      await f.addTenant('globex')
      const a = await f.sign('acme', { sub: 'alice' })
      const b = await f.sign('globex', { sub: 'alice' })
      f.clock.advance(2000)
      await f.revoker('acme').revokeSubject('alice')
      f.pastBound()
      expect(await authCode(f.verifier.verify(a))).toBe('token_revoked')
      expect((await f.verifier.verify(b)).claims.sub).toBe('alice')
      // Tenant B's stream and records never saw the event.
      expect(await f.memory.readStream('t:globex:rev:stream', '0')).toEqual([])
    })

    it("an isolate reads a tenant's revocation stream only when the tenant's doorbell rang", async () => {
      const f = await tenancyFixture()
      const streamReads = (id: string) =>
        calls.filter((stream) => stream === `t:${id}:rev:stream`).length
      const calls: string[] = []
      const readStream = f.store.readStream
      f.store.readStream = (stream, ...rest) => {
        calls.push(stream)
        return readStream(stream, ...rest)
      }
      const ids = ['acme', 'globex', 'initech']
      for (const id of ids) await f.addTenant(id)
      const tokens = await Promise.all(ids.map((id) => f.sign(id)))
      for (let second = 0; second < 20; second++) {
        for (const token of tokens) await f.verifier.verify(token)
        f.clock.advance(1000)
      }
      // One read each, when the isolate first met the tenant; 20 s of traffic added none.
      for (const id of ids) expect(streamReads(id)).toBe(1)
      await f.revoker('globex').revokeToken('unrelated', f.clock() / 1000 + 60)
      f.pastBound()
      for (const token of tokens) await f.verifier.verify(token)
      expect(streamReads('globex')).toBe(2)
      expect(streamReads('acme')).toBe(1)
      expect(streamReads('initech')).toBe(1)
    })
    it("a tenant's cached token is answered at once (verifyNow) until it is revoked in that tenant", async () => {
      const f = await tenancyFixture()
      await f.addTenant('acme')
      await f.addTenant('globex')
      const a = await f.sign('acme', { jti: 'a-1' })
      const b = await f.sign('globex', { jti: 'b-1' })
      await f.verifier.verify(a)
      await f.verifier.verify(b)
      const hit = f.verifier.verifyNow(a)
      expect(hit).not.toBeInstanceOf(Promise)
      expect((hit as Awaited<typeof hit>).tenant).toBe('acme')
      await f.revoker('acme').revokeToken('a-1', f.clock() / 1000 + 600)
      f.pastBound()
      // Its tenant's doorbell rang: the next hit syncs acme's filter and finds the token in it,
      // and so does every hit after (the filter changed since the token last missed).
      const now = async () => f.verifier.verifyNow(a)
      expect(await authCode(now())).toBe('token_revoked')
      expect(await authCode(now())).toBe('token_revoked')
      const other = f.verifier.verifyNow(b)
      expect(other).not.toBeInstanceOf(Promise)
      expect((other as Awaited<typeof other>).tenant).toBe('globex')
    })

    it("a tenant's other tokens stay valid and its revoked one is refused once its filter holds ids", async () => {
      const f = await tenancyFixture({ l1MaxEntries: 0 })
      await f.addTenant('acme')
      const kept = await f.sign('acme', { jti: 'kept' })
      const revoked = await f.sign('acme', { jti: 'gone' })
      // Nothing revoked in acme yet: both pass (an empty filter is not probed).
      for (const token of [kept, revoked])
        expect((await f.verifier.verify(token)).tenant).toBe('acme')
      await f.revoker('acme').revokeToken('gone', f.clock() / 1000 + 600)
      f.pastBound()
      expect(await authCode(f.verifier.verify(revoked))).toBe('token_revoked')
      expect((await f.verifier.verify(kept)).claims.jti).toBe('kept')
      expect(await authCode(f.verifier.verify(revoked))).toBe('token_revoked')
    })

    it("a tenant's tokens are checked against the filter its last sync loaded, also once a snapshot replaced it", async () => {
      const f = await tenancyFixture({ l1MaxEntries: 0 })
      await f.addTenant('acme')
      const first = await f.sign('acme', { jti: 'first' })
      const second = await f.sign('acme', { jti: 'second' })
      const kept = await f.sign('acme', { jti: 'kept' })
      await f.revoker('acme').revokeToken('first', f.clock() / 1000 + 600)
      f.pastBound()
      expect(await authCode(f.verifier.verify(first))).toBe('token_revoked')
      const gate = f.contexts.peek('acme')?.context.revocation?.sync
      const before = gate?.filter()
      expect(before?.has('jti:first')).toBe(true)
      // Past the reload interval, with a snapshot of acme's revocations in its namespace: the
      // doorbell's sync loads the snapshot, a new filter object, and reads the stream onto it.
      f.clock.advance(61_000)
      await f.revoker('acme').revokeToken('second', f.clock() / 1000 + 600)
      await createSnapshotBuilder({
        store: scopeStore(f.store, 'acme'),
        maxAccessTokenLifetimeSeconds: 900,
        now: f.clock,
      }).run()
      f.pastBound()
      expect(await authCode(f.verifier.verify(second))).toBe('token_revoked')
      expect(gate?.filter()).not.toBe(before)
      expect(await authCode(f.verifier.verify(first))).toBe('token_revoked')
      expect((await f.verifier.verify(kept)).claims.jti).toBe('kept')
    })
  })

  describe('tenant quotas', () => {
    it('a tenant at its verification quota gets 429 with Retry-After and another tenant does not', async () => {
      const f = await tenancyFixture()
      await f.addTenant('acme', { quotas: { verificationsPerSecond: 3 } })
      await f.addTenant('globex', { quotas: { verificationsPerSecond: 3 } })
      const app = createApp({ role: 'edge', verifier: f.verifier, logger: { log: () => {} } })
      const call = async (token: string) =>
        app.request('/verify', { headers: { Authorization: `Bearer ${token}` } })
      const a = await f.sign('acme')
      const b = await f.sign('globex')
      for (let i = 0; i < 3; i++) expect((await call(a)).status).toBe(200)
      const limited = await call(a)
      expect(limited.status).toBe(429)
      expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
      expect(((await limited.json()) as { error: string }).error).toBe('temporarily_unavailable')
      for (let i = 0; i < 3; i++) expect((await call(b)).status).toBe(200)
      f.clock.advance(1000)
      expect((await call(a)).status).toBe(200)
    })

    it('a tenant without quotas is never limited by another tenant at its quota', async () => {
      const f = await tenancyFixture()
      await f.addTenant('acme', { quotas: { verificationsPerSecond: 1 } })
      await f.addTenant('globex')
      const a = await f.sign('acme')
      await f.verifier.verify(a)
      expect(await refusal(f.verifier.verify(a))).toBeInstanceOf(QuotaError)
      const b = await f.sign('globex')
      for (let i = 0; i < 50; i++) await f.verifier.verify(b)
    })
  })

  describe('tenant changes at the edge', () => {
    it('a tenant removed while its tokens are cached stops verifying within the revocation bound', async () => {
      const f = await tenancyFixture()
      await f.addTenant('acme')
      await f.addTenant('globex')
      const a = await f.sign('acme')
      const b = await f.sign('globex')
      await f.verifier.verify(a)
      await f.verifier.verify(b)
      const hitsBefore = f.verifier.stats().hits
      await f.verifier.verify(a) // served from L1
      expect(f.verifier.stats().hits).toBe(hitsBefore + 1)
      await f.registry.remove('acme')
      f.pastBound()
      expect(await authCode(f.verifier.verify(a))).toBe('issuer_mismatch')
      expect((await f.verifier.verify(b)).tenant).toBe('globex')
    })

    it("a removed tenant's cached token stays refused when another tenant takes its L1-hit slot", async () => {
      const f = await tenancyFixture()
      await f.addTenant('acme')
      await f.addTenant('globex')
      const a = await f.sign('acme')
      await f.verifier.verify(a) // acme's first tenant state for L1 hits
      await f.registry.remove('acme')
      f.pastBound()
      // globex is built after acme was dropped: it reuses acme's place in the hit table.
      expect((await f.verifier.verify(await f.sign('globex'))).tenant).toBe('globex')
      expect(await authCode(f.verifier.verify(a))).toBe('issuer_mismatch')
    })

    it("a tenant's new audiences apply within the bound and its cached tokens are checked again", async () => {
      const f = await tenancyFixture()
      await f.addTenant('acme')
      const token = await f.sign('acme')
      await f.verifier.verify(token)
      await f.registry.update({
        id: 'acme',
        issuer: issuerOf('acme'),
        audiences: ['https://new.acme.test'],
      })
      f.pastBound()
      expect(await authCode(f.verifier.verify(token))).toBe('audience_mismatch')
    })

    it('a re-added tenant with the same id and new keys never gets the old L1 entries', async () => {
      const f = await tenancyFixture()
      await f.addTenant('acme')
      const old = await f.sign('acme')
      await f.verifier.verify(old)
      await f.registry.remove('acme')
      await f.addTenant('acme', { key: await tenantKey('acme-key') }) // same kid, new key
      f.pastBound()
      expect(await authCode(f.verifier.verify(old))).toBe('signature_invalid')
      expect((await f.verifier.verify(await f.sign('acme'))).tenant).toBe('acme')
    })

    it('with policy closed, a tenant registry that cannot be read past its staleness refuses with 503', async () => {
      let down = false
      const f = await tenancyFixture({ policy: 'closed' })
      await f.addTenant('acme')
      const token = await f.sign('acme')
      await f.verifier.verify(token)
      const readStream = f.store.readStream
      f.store.readStream = async (...args) => {
        if (down) throw new Error('unreachable')
        return readStream(...args)
      }
      down = true
      f.clock.advance(31_000)
      const error = await refusal(f.verifier.verify(token))
      expect((error as AuthError).status).toBe(503)
      down = false
      f.clock.advance(3000)
      expect((await f.verifier.verify(token)).tenant).toBe('acme')
    })

    it('a tenant registry follower that missed trimmed changes drops every tenant context', async () => {
      const f = await tenancyFixture()
      await f.addTenant('acme')
      await f.verifier.verify(await f.sign('acme'))
      expect(f.contexts.size).toBe(1)
      const builds = () => f.reads.filter((k) => k === 'tenancy:tenant:acme').length
      const before = builds()
      // Changes of other tenants, trimmed so hard that the stream no longer reaches our cursor.
      for (let i = 0; i < 3; i++)
        await f.memory.appendToStream('tenancy:changes', { id: `other-${i}` }, { maxLength: 1 })
      f.pastBound()
      await f.verifier.verify(await f.sign('acme'))
      expect(f.contexts.size).toBe(1)
      expect(builds()).toBe(before + 1) // built again: the old context could have missed a change
    })

    it('tenant contexts are bounded: the least recently used goes and is rebuilt on demand', async () => {
      const f = await tenancyFixture({ maxTenants: 2 })
      for (const id of ['acme', 'globex', 'initech']) await f.addTenant(id)
      for (const id of ['acme', 'globex', 'initech']) await f.verifier.verify(await f.sign(id))
      expect(f.contexts.size).toBe(2)
      expect((await f.verifier.verify(await f.sign('acme'))).tenant).toBe('acme')
      expect(f.contexts.size).toBe(2)
    })
  })
}
