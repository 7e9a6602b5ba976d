/**
 * /token validates everything before it changes anything (issue 21): a refused request leaves every
 * code and refresh token as it was, and so does a refused DPoP proof (issue 18). The property: any refused request, followed by the corrected
 * one, behaves as if the refused one never happened — checked against a twin run that never sent it.
 */
import fc from 'fast-check'
import { decodeJwt } from 'jose'
import { describe, expect, it } from 'vitest'
import {
  generateProofKey,
  makeProof,
  unsecuredProof,
  type ProofKey,
} from '../../support/dpop-proofs.ts'
import {
  API,
  ISSUER,
  SERVICE_SECRET,
  basic,
  createHarness,
  obtainCode,
  codeExchangeForm,
  postForm,
  testConfig,
  type Harness,
} from './support.ts'

type Form = Record<string, string>

const refresh = (h: Harness, token: string, extra: Form = {}, headers: Form = {}) =>
  postForm(h, '/token', { grant_type: 'refresh_token', refresh_token: token, ...extra }, headers)

async function signedIn(h: Harness): Promise<{ refreshToken: string }> {
  const { code, verifier } = await obtainCode(h, { scope: 'openid read' })
  const response = await postForm(h, '/token', codeExchangeForm(code, verifier))
  expect(response.status).toBe(200)
  return { refreshToken: ((await response.json()) as { refresh_token: string }).refresh_token }
}

describe('a refused refresh does not spend the refresh token', () => {
  for (const [name, extra, error] of [
    ['invalid_scope', { scope: 'read admin' }, 'invalid_scope'],
    ['invalid_target', { resource: 'https://unknown-api.test' }, 'invalid_target'],
  ] as const) {
    it(`${name}: the corrected retry after the grace window still works`, async () => {
      const h = await createHarness()
      const { refreshToken } = await signedIn(h)
      const refused = await refresh(h, refreshToken, { client_id: 'spa', ...extra })
      expect(refused.status).toBe(400)
      expect(await refused.json()).toMatchObject({ error })
      h.advance(60_000) // past the 10 s grace window: a spent token would now count as reuse
      const retried = await refresh(h, refreshToken, { client_id: 'spa' })
      expect(retried.status).toBe(200)
      const next = (await retried.json()) as { refresh_token: string }
      expect((await refresh(h, next.refresh_token, { client_id: 'spa' })).status).toBe(200)
    })
  }
})

/** One way to spoil a valid token request, and what it is answered with. */
interface Spoiler {
  name: string
  spoil(form: Form, headers: Form): { form: Form; headers: Form }
}

const without = (form: Form, name: string): Form =>
  Object.fromEntries(Object.entries(form).filter(([k]) => k !== name))

const serviceAuth = { authorization: basic('service', SERVICE_SECRET) }
const SPOILERS: Spoiler[] = [
  {
    name: 'unregistered resource',
    spoil: (f, hd) => ({ form: { ...f, resource: 'https://elsewhere.test' }, headers: hd }),
  },
  {
    name: 'malformed resource',
    spoil: (f, hd) => ({ form: { ...f, resource: 'not a uri' }, headers: hd }),
  },
  {
    name: 'another client (authenticated)',
    spoil: (f) => ({ form: without(f, 'client_id'), headers: serviceAuth }),
  },
  {
    name: 'unknown client',
    spoil: (f, hd) => ({ form: { ...f, client_id: 'nobody' }, headers: hd }),
  },
  {
    name: 'unsupported grant_type',
    spoil: (f, hd) => ({ form: { ...f, grant_type: 'password' }, headers: hd }),
  },
  {
    name: 'grant the client may not use',
    spoil: (f, hd) => ({ form: { ...f, grant_type: 'client_credentials' }, headers: hd }),
  },
  {
    name: 'repeated parameter',
    spoil: (f, hd) => ({ form: { ...f, scope: 'read', 'scope ': 'x' }, headers: hd }),
  },
]

// RFC 6749 §4.1.3 defines no scope on the code exchange (it is ignored there); refresh narrows it.
const REFRESH_SPOILERS: Spoiler[] = [
  {
    name: 'scope beyond the grant',
    spoil: (f, hd) => ({ form: { ...f, scope: 'write' }, headers: hd }),
  },
  {
    name: 'unknown scope',
    spoil: (f, hd) => ({ form: { ...f, scope: 'read x-unknown' }, headers: hd }),
  },
  {
    name: 'malformed scope',
    spoil: (f, hd) => ({ form: { ...f, scope: 'read\u0001' }, headers: hd }),
  },
]

const CODE_SPOILERS: Spoiler[] = [
  {
    name: 'wrong code_verifier',
    spoil: (f, hd) => ({ form: { ...f, code_verifier: 'x'.repeat(43) }, headers: hd }),
  },
  {
    name: 'missing code_verifier',
    spoil: (f, hd) => ({ form: without(f, 'code_verifier'), headers: hd }),
  },
  {
    name: 'other redirect_uri',
    spoil: (f, hd) => ({ form: { ...f, redirect_uri: 'https://app.test/other' }, headers: hd }),
  },
]

/** What a client can observe of a token response and of using what it got. */
async function observe(h: Harness, response: Response): Promise<unknown> {
  const body = (await response.json()) as Record<string, unknown>
  if (response.status !== 200) return { status: response.status, error: body['error'] }
  const claims = decodeJwt(body['access_token'] as string)
  const next =
    typeof body['refresh_token'] === 'string'
      ? (await refresh(h, body['refresh_token'], { client_id: 'spa' })).status
      : undefined
  return {
    status: 200,
    scope: body['scope'],
    aud: claims.aud,
    sub: claims.sub,
    idToken: typeof body['id_token'] === 'string',
    refreshAfter: next,
  }
}

/** Sends the spoiled request — the form's `'scope '` key stands for "send scope twice". */
function send(h: Harness, form: Form, headers: Form): Promise<Response> {
  const body = new URLSearchParams()
  for (const [k, v] of Object.entries(form)) body.append(k.trim(), v)
  return postForm(h, '/token', body.toString(), headers)
}

/**
 * The property: in one of two identical harnesses, send `spoiler`'s version of the valid request
 * first (it must be refused with a 4xx); wait; then send the valid request in both. What the client
 * observes must be the same.
 */
async function refusalChangesNothing(
  validRequest: (h: Harness) => Promise<Form>,
  spoiler: Spoiler,
  wait: number,
): Promise<void> {
  const twins = await Promise.all([createHarness(), createHarness()])
  const results = []
  for (const [i, h] of twins.entries()) {
    const valid = await validRequest(h)
    if (i === 0) {
      const bad = spoiler.spoil(valid, {})
      const refused = await send(h, bad.form, bad.headers)
      expect(refused.status, spoiler.name).toBeGreaterThanOrEqual(400)
      expect(refused.status, spoiler.name).toBeLessThan(500)
    }
    h.advance(wait)
    results.push(await observe(h, await send(h, valid, {})))
  }
  expect(results[0], spoiler.name).toEqual(results[1])
  expect(results[0]).toMatchObject({ status: 200, refreshAfter: 200 })
}

describe('property: a refused /token request changes nothing', () => {
  it('refresh_token grant', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...SPOILERS, ...REFRESH_SPOILERS),
        fc.integer({ min: 0, max: 120_000 }),
        fc.constantFrom<Form>({}, { scope: 'read' }, { resource: API }),
        (spoiler, wait, corrected) =>
          refusalChangesNothing(
            async (h) => ({
              grant_type: 'refresh_token',
              refresh_token: (await signedIn(h)).refreshToken,
              client_id: 'spa',
              ...corrected,
            }),
            spoiler,
            wait,
          ),
      ),
      { numRuns: 40 },
    )
  }, 120_000) // 80 sign-ins: a generous bound for a busy machine, not a speed check

  it('authorization_code grant', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...SPOILERS, ...CODE_SPOILERS),
        fc.integer({ min: 0, max: 30_000 }),
        (spoiler, wait) =>
          refusalChangesNothing(
            async (h) => {
              const { code, verifier } = await obtainCode(h, { scope: 'openid read' })
              return codeExchangeForm(code, verifier)
            },
            spoiler,
            wait,
          ),
      ),
      { numRuns: 40 },
    )
  }, 120_000) // 80 sign-ins: a generous bound for a busy machine, not a speed check
})

// ---- DPoP (issue 18): a refused proof spends no code and rotates no refresh token -------------

const TOKEN_URL = `${ISSUER}/token`

const proofFor = (
  h: Harness,
  key: ProofKey,
  extra: Partial<Parameters<typeof makeProof>[1]> = {},
) => makeProof(key, { htm: 'POST', htu: TOKEN_URL, iat: Math.floor(h.now() / 1000), ...extra })

/** One way to spoil the DPoP side of an otherwise valid request: the headers sent instead. */
interface DpopSpoiler {
  name: string
  headers(h: Harness, key: ProofKey): Promise<Form>
}

const DPOP_SPOILERS: DpopSpoiler[] = [
  { name: 'no proof', headers: async () => ({}) },
  {
    name: 'wrong htu',
    headers: async (h, key) => ({ DPoP: await proofFor(h, key, { htu: `${ISSUER}/revoke` }) }),
  },
  {
    name: 'wrong htm',
    headers: async (h, key) => ({ DPoP: await proofFor(h, key, { htm: 'GET' }) }),
  },
  {
    name: 'stale iat',
    headers: async (h, key) => ({
      DPoP: await proofFor(h, key, { iat: Math.floor(h.now() / 1000) - 120 }),
    }),
  },
  {
    name: 'future iat',
    headers: async (h, key) => ({
      DPoP: await proofFor(h, key, { iat: Math.floor(h.now() / 1000) + 60 }),
    }),
  },
  {
    name: 'alg none',
    headers: async (h, key) => ({
      DPoP: await unsecuredProof(key, {
        htm: 'POST',
        htu: TOKEN_URL,
        iat: Math.floor(h.now() / 1000),
      }),
    }),
  },
  {
    name: 'private key in the header',
    headers: async (h, key) => ({
      DPoP: await makeProof(
        key,
        { htm: 'POST', htu: TOKEN_URL, iat: Math.floor(h.now() / 1000) },
        { header: { jwk: key.privateJwk } },
      ),
    }),
  },
  {
    name: 'signed by another key',
    headers: async (h, key) => ({
      DPoP: await makeProof(
        key,
        { htm: 'POST', htu: TOKEN_URL, iat: Math.floor(h.now() / 1000) },
        { signWith: (await generateProofKey()).privateKey },
      ),
    }),
  },
  {
    name: 'a proof already used',
    headers: async (h, key) => {
      const jti = crypto.randomUUID()
      await h.oauth.dpop.replay.claim(key.jkt, jti)
      return { DPoP: await proofFor(h, key, { jti }) }
    },
  },
]

// Another key is a valid proof for a code exchange; only a bound refresh token refuses it.
const BOUND_REFRESH_SPOILERS: DpopSpoiler[] = [
  {
    name: 'a proof by another key',
    headers: async (h) => ({ DPoP: await proofFor(h, await generateProofKey()) }),
  },
]

/** What a DPoP client can observe: as `observe`, plus the token type and binding. */
async function observeDpop(h: Harness, response: Response, key: ProofKey): Promise<unknown> {
  const body = (await response.json()) as Record<string, unknown>
  if (response.status !== 200) return { status: response.status, error: body['error'] }
  const claims = decodeJwt(body['access_token'] as string)
  const next =
    typeof body['refresh_token'] === 'string'
      ? (
          await refresh(
            h,
            body['refresh_token'],
            { client_id: 'spa' },
            { DPoP: await proofFor(h, key) },
          )
        ).status
      : undefined
  return {
    status: 200,
    tokenType: body['token_type'],
    bound: (claims['cnf'] as { jkt?: string } | undefined)?.jkt === key.jkt,
    scope: body['scope'],
    refreshAfter: next,
  }
}

async function dpopRefusalChangesNothing(
  validRequest: (h: Harness, key: ProofKey) => Promise<Form>,
  spoiler: DpopSpoiler,
  wait: number,
): Promise<void> {
  const twins = await Promise.all([dpopHarness(), dpopHarness()])
  const results = []
  for (const [i, h] of twins.entries()) {
    const key = await generateProofKey()
    const valid = await validRequest(h, key)
    if (i === 0) {
      const refused = await send(h, valid, await spoiler.headers(h, key))
      expect(refused.status, spoiler.name).toBeGreaterThanOrEqual(400)
      expect(refused.status, spoiler.name).toBeLessThan(500)
    }
    h.advance(wait)
    results.push(await observeDpop(h, await send(h, valid, { DPoP: await proofFor(h, key) }), key))
  }
  expect(results[0], spoiler.name).toEqual(results[1])
  expect(results[0]).toMatchObject({
    status: 200,
    tokenType: 'DPoP',
    bound: true,
    refreshAfter: 200,
  })
}

/** The SPA client with `requireDpop`, so a missing proof is a refusal on every grant. */
async function dpopHarness(): Promise<Harness> {
  const base = await testConfig()
  const clients = (base.clients ?? []).map((c) =>
    c.id === 'spa' ? { ...c, requireDpop: true } : c,
  )
  return createHarness({ config: { clients } })
}

describe('property: a refused DPoP /token request changes nothing', () => {
  it('DPoP refresh_token grant (refresh token bound to the key)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...DPOP_SPOILERS, ...BOUND_REFRESH_SPOILERS),
        fc.integer({ min: 0, max: 50_000 }),
        (spoiler, wait) =>
          dpopRefusalChangesNothing(
            async (h, key) => {
              const { code, verifier } = await obtainCode(h, { scope: 'openid read' })
              const form = codeExchangeForm(code, verifier)
              const issued = await send(h, form, { DPoP: await proofFor(h, key) })
              expect(issued.status).toBe(200)
              const { refresh_token } = (await issued.json()) as { refresh_token: string }
              return { grant_type: 'refresh_token', refresh_token, client_id: 'spa' }
            },
            spoiler,
            wait,
          ),
      ),
      { numRuns: 30 },
    )
  }, 120_000) // 60 sign-ins: a generous bound for a busy machine, not a speed check

  it('DPoP authorization_code grant', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...DPOP_SPOILERS),
        fc.integer({ min: 0, max: 30_000 }),
        (spoiler, wait) =>
          dpopRefusalChangesNothing(
            async (h) => {
              const { code, verifier } = await obtainCode(h, { scope: 'openid read' })
              return codeExchangeForm(code, verifier)
            },
            spoiler,
            wait,
          ),
      ),
      { numRuns: 30 },
    )
  }, 120_000) // 60 sign-ins: a generous bound for a busy machine, not a speed check
})
