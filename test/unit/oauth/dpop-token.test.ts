/**
 * DPoP at the origin (RFC 9449 §5, §8, §7 at /userinfo): /token binds what it issues to the proof key,
 * per-client `requireDpop` and nonces, discovery, introspection; the client side is oauth4webapi's
 * DPoP support, so the wire format is checked against an independent implementation.
 */
import { decodeJwt } from 'jose'
import * as oauth from 'oauth4webapi'
import { describe, expect, it } from 'vitest'
import { clientsAdd, clientsUpdate } from '../../../src/cli/clients.ts'
import { ENDPOINTS } from '../../../src/core/oauth/endpoints.ts'
import {
  generateProofKey,
  makeProof,
  unsecuredProof,
  type ProofKey,
} from '../../support/dpop-proofs.ts'
import {
  ISSUER,
  SERVICE_SECRET,
  SPA_REDIRECT,
  basic,
  API,
  createHarness,
  discover,
  obtainCode,
  codeExchangeForm,
  postForm,
  spaClient,
  testConfig,
  type Harness,
} from './support.ts'

const TOKEN_URL = `${ISSUER}${ENDPOINTS.token}`
const serviceAuth = { authorization: basic('service', SERVICE_SECRET) }

/** A harness whose clients carry extra settings (`requireDpop`, `dpopNonce`). */
async function harness(settings: Record<string, Record<string, unknown>> = {}): Promise<Harness> {
  const base = await testConfig()
  const clients = (base.clients ?? []).map((c) => ({ ...c, ...settings[c.id] }))
  return createHarness({ config: { clients } })
}

/** A proof for POST /token at the harness's clock. */
const tokenProof = (h: Harness, key: ProofKey, extra: Record<string, unknown> = {}) =>
  makeProof(key, {
    htm: 'POST',
    htu: TOKEN_URL,
    iat: Math.floor(h.now() / 1000),
    ...extra,
  })

/** The SPA's code exchange with `headers` (a DPoP proof, or none). */
async function redeem(h: Harness, headers: Record<string, string> = {}) {
  const { code, verifier } = await obtainCode(h, { scope: 'openid read' })
  const form = codeExchangeForm(code, verifier)
  return { form, response: await postForm(h, '/token', form, headers) }
}

interface Tokens {
  access_token: string
  refresh_token?: string
  token_type: string
}

/** The callback parameters as oauth4webapi validates them (obtainCode uses state "xyz"). */
const callback = (as: oauth.AuthorizationServer, code: string): URLSearchParams =>
  oauth.validateAuthResponse(
    as,
    spaClient,
    new URL(`${SPA_REDIRECT}?${new URLSearchParams({ code, state: 'xyz', iss: ISSUER })}`),
    'xyz',
  )

const refreshForm = (token: string) => ({
  grant_type: 'refresh_token',
  refresh_token: token,
  client_id: 'spa',
})

describe('DPoP at /token (RFC 9449 §5)', () => {
  it('DPoP code exchange through oauth4webapi binds the access token (cnf.jkt, token_type DPoP)', async () => {
    const h = await harness()
    const as = await discover(h)
    const keyPair = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, [
      'sign',
      'verify',
    ])
    const DPoP = oauth.DPoP(spaClient, keyPair)
    const { code, verifier } = await obtainCode(h, { scope: 'openid read' })
    const params = callback(as, code)
    const response = await oauth.authorizationCodeGrantRequest(
      as,
      spaClient,
      oauth.None(),
      params,
      SPA_REDIRECT,
      verifier,
      { DPoP, [oauth.customFetch]: h.fetch },
    )
    const tokens = await oauth.processAuthorizationCodeResponse(as, spaClient, response)
    expect(tokens.token_type).toBe('dpop')
    expect(decodeJwt(tokens.access_token)['cnf']).toEqual({
      jkt: await DPoP.calculateThumbprint(),
    })
  })

  it('DPoP: a public client refresh token is bound to the key: another key or none fails', async () => {
    const h = await harness()
    const key = await generateProofKey()
    const { response } = await redeem(h, { DPoP: await tokenProof(h, key) })
    expect(response.status).toBe(200)
    const first = (await response.json()) as Tokens
    const rt = first.refresh_token!
    const thief = await generateProofKey()
    const stolen = await postForm(h, '/token', refreshForm(rt), {
      DPoP: await tokenProof(h, thief),
    })
    expect(stolen.status).toBe(400)
    expect(await stolen.json()).toMatchObject({ error: 'invalid_dpop_proof' })
    const bare = await postForm(h, '/token', refreshForm(rt))
    expect(bare.status).toBe(400)
    expect(await bare.json()).toMatchObject({ error: 'invalid_dpop_proof' })
    // Neither refusal spent the token: well past the grace window, the key holder refreshes.
    h.advance(60_000)
    const own = await postForm(h, '/token', refreshForm(rt), { DPoP: await tokenProof(h, key) })
    expect(own.status).toBe(200)
    const next = (await own.json()) as Tokens
    expect(next.token_type).toBe('DPoP')
    expect(decodeJwt(next.access_token)['cnf']).toEqual({ jkt: key.jkt })
  })

  it('DPoP: a confidential client refresh token is not bound; the new access token follows the proof', async () => {
    const h = await harness()
    const { code, verifier } = await obtainCode(h, {
      scope: 'openid read',
      clientId: 'service',
      redirectUri: 'https://service.test/cb',
    })
    const keyA = await generateProofKey()
    const exchanged = await postForm(
      h,
      '/token',
      {
        grant_type: 'authorization_code',
        code,
        redirect_uri: 'https://service.test/cb',
        code_verifier: verifier,
      },
      { ...serviceAuth, DPoP: await tokenProof(h, keyA) },
    )
    expect(exchanged.status).toBe(200)
    const { refresh_token } = (await exchanged.json()) as Tokens
    const keyB = await generateProofKey()
    const refreshed = await postForm(
      h,
      '/token',
      { grant_type: 'refresh_token', refresh_token: refresh_token! },
      { ...serviceAuth, DPoP: await tokenProof(h, keyB) },
    )
    expect(refreshed.status).toBe(200)
    expect(decodeJwt(((await refreshed.json()) as Tokens).access_token)['cnf']).toEqual({
      jkt: keyB.jkt,
    })
  })

  it('DPoP client_credentials: the access token is bound, token_type DPoP', async () => {
    const h = await harness()
    const key = await generateProofKey('EdDSA')
    const response = await postForm(
      h,
      '/token',
      { grant_type: 'client_credentials', scope: 'read' },
      { ...serviceAuth, DPoP: await tokenProof(h, key) },
    )
    expect(response.status).toBe(200)
    const body = (await response.json()) as Tokens
    expect(body.token_type).toBe('DPoP')
    expect(decodeJwt(body.access_token)['cnf']).toEqual({ jkt: key.jkt })
    // Without a proof the same client still gets a bearer token (no requireDpop).
    const plain = await postForm(
      h,
      '/token',
      { grant_type: 'client_credentials', scope: 'read' },
      serviceAuth,
    )
    const plainBody = (await plain.json()) as Tokens
    expect(plainBody.token_type).toBe('Bearer')
    expect(decodeJwt(plainBody.access_token)['cnf']).toBeUndefined()
  })

  it('DPoP requireDpop: a request without a proof is refused and spends nothing', async () => {
    const h = await harness({ spa: { requireDpop: true } })
    const { form, response } = await redeem(h)
    expect(response.status).toBe(400)
    expect(await response.json()).toMatchObject({ error: 'invalid_dpop_proof' })
    const key = await generateProofKey()
    const retried = await postForm(h, '/token', form, { DPoP: await tokenProof(h, key) })
    expect(retried.status).toBe(200)
  })

  it('DPoP proof replayed at /token is refused and the code is not spent', async () => {
    const h = await harness()
    const key = await generateProofKey()
    const proof = await tokenProof(h, key)
    const { response } = await redeem(h, { DPoP: proof })
    expect(response.status).toBe(200)
    const { form, response: replayed } = await redeem(h, { DPoP: proof })
    expect(replayed.status).toBe(400)
    expect(await replayed.json()).toMatchObject({
      error: 'invalid_dpop_proof',
      error_description: expect.stringMatching(/already used/),
    })
    const fresh = await postForm(h, '/token', form, { DPoP: await tokenProof(h, key) })
    expect(fresh.status).toBe(200)
  })

  it('DPoP proofs for another endpoint, another method, or unsecured are refused at /token', async () => {
    const h = await harness()
    const key = await generateProofKey()
    const iat = Math.floor(h.now() / 1000)
    for (const proof of [
      await makeProof(key, { htm: 'POST', htu: `${ISSUER}/revoke`, iat }),
      await makeProof(key, { htm: 'GET', htu: TOKEN_URL, iat }),
      await unsecuredProof(key, { htm: 'POST', htu: TOKEN_URL, iat }),
    ]) {
      const response = await postForm(
        h,
        '/token',
        { grant_type: 'client_credentials' },
        { ...serviceAuth, DPoP: proof },
      )
      expect(response.status).toBe(400)
      expect(await response.json()).toMatchObject({ error: 'invalid_dpop_proof' })
    }
  })

  it('DPoP htu may name the token endpoint as discovery publishes it or as the request reached it', async () => {
    const h = await harness()
    const key = await generateProofKey()
    const iat = Math.floor(h.now() / 1000)
    // Behind the edge the origin sees another URL; the issuer's token endpoint is always accepted.
    const internal = 'http://origin.internal:8788/token'
    for (const htu of [TOKEN_URL, internal]) {
      const response = await h.fetch(internal, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          ...serviceAuth,
          DPoP: await makeProof(key, { htm: 'POST', htu, iat }),
        },
        body: 'grant_type=client_credentials',
      })
      expect(response.status, htu).toBe(200)
    }
  })
})

describe('DPoP nonces at /token (RFC 9449 §8)', () => {
  it('DPoP nonce flow: use_dpop_nonce with a DPoP-Nonce, then the retry with it succeeds', async () => {
    const h = await harness({ spa: { dpopNonce: true } })
    const key = await generateProofKey()
    const { form, response } = await redeem(h, { DPoP: await tokenProof(h, key) })
    expect(response.status).toBe(400)
    expect(await response.json()).toMatchObject({ error: 'use_dpop_nonce' })
    const nonce = response.headers.get('DPoP-Nonce')
    expect(nonce).toMatch(/^[0-9a-z]+\.[A-Za-z0-9_-]{22}$/)
    const retried = await postForm(h, '/token', form, {
      DPoP: await tokenProof(h, key, { nonce: nonce! }),
    })
    expect(retried.status).toBe(200)
    // Every answer carries the current nonce, so the next request has one ready.
    expect(retried.headers.get('DPoP-Nonce')).toBe(nonce)
    const { refresh_token } = (await retried.json()) as Tokens
    h.advance(11 * 60_000) // two nonce periods later: the old one is refused, a new one given
    const stale = await postForm(h, '/token', refreshForm(refresh_token!), {
      DPoP: await tokenProof(h, key, { nonce: nonce! }),
    })
    expect(stale.status).toBe(400)
    const fresh = stale.headers.get('DPoP-Nonce')
    expect(fresh).not.toBe(nonce)
    const ok = await postForm(h, '/token', refreshForm(refresh_token!), {
      DPoP: await tokenProof(h, key, { nonce: fresh! }),
    })
    expect(ok.status).toBe(200)
  })

  it('DPoP nonce flow with oauth4webapi: isDPoPNonceError, then its retry carries the nonce', async () => {
    const h = await harness({ spa: { dpopNonce: true } })
    const as = await discover(h)
    const keyPair = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, [
      'sign',
      'verify',
    ])
    const DPoP = oauth.DPoP(spaClient, keyPair)
    const { code, verifier } = await obtainCode(h, { scope: 'openid read' })
    const params = callback(as, code)
    const exchange = async () =>
      oauth.processAuthorizationCodeResponse(
        as,
        spaClient,
        await oauth.authorizationCodeGrantRequest(
          as,
          spaClient,
          oauth.None(),
          params,
          SPA_REDIRECT,
          verifier,
          { DPoP, [oauth.customFetch]: h.fetch },
        ),
      )
    const error = await exchange().then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(oauth.isDPoPNonceError(error)).toBe(true)
    const tokens = await exchange()
    expect(tokens.token_type).toBe('dpop')
  })
})

describe('DPoP in metadata, introspection and /userinfo', () => {
  it('DPoP: discovery advertises dpop_signing_alg_values_supported (RFC 9449 §5.1)', async () => {
    const as = await discover(await harness())
    expect(as.dpop_signing_alg_values_supported).toEqual([
      'ES256',
      'ES384',
      'EdDSA',
      'RS256',
      'PS256',
    ])
  })

  it('DPoP: introspection reports token_type DPoP and the cnf (RFC 9449 §6.2)', async () => {
    const h = await harness()
    const key = await generateProofKey()
    const issued = await postForm(
      h,
      '/token',
      { grant_type: 'client_credentials' },
      { ...serviceAuth, DPoP: await tokenProof(h, key) },
    )
    const { access_token } = (await issued.json()) as Tokens
    const body = await (
      await postForm(h, '/introspect', { token: access_token }, serviceAuth)
    ).json()
    expect(body).toMatchObject({ active: true, token_type: 'DPoP', cnf: { jkt: key.jkt } })
  })

  it('DPoP at /userinfo: refused as Bearer, answered with a proof, a replayed proof refused', async () => {
    const h = await harness()
    const key = await generateProofKey()
    const { response } = await redeem(h, { DPoP: await tokenProof(h, key) })
    const { access_token } = (await response.json()) as Tokens
    const url = `${ISSUER}/userinfo`
    const asBearer = await h.fetch(url, { headers: { authorization: `Bearer ${access_token}` } })
    expect(asBearer.status).toBe(401)
    expect(asBearer.headers.get('www-authenticate')).toMatch(/^DPoP .*error="invalid_token"/)
    const proof = await makeProof(key, {
      htm: 'GET',
      htu: url,
      accessToken: access_token,
      iat: Math.floor(h.now() / 1000),
    })
    const headers = { authorization: `DPoP ${access_token}`, DPoP: proof }
    const ok = await h.fetch(url, { headers })
    expect(ok.status).toBe(200)
    expect(await ok.json()).toMatchObject({ sub: 'user-alice' })
    const replay = await h.fetch(url, { headers })
    expect(replay.status).toBe(401)
    expect(replay.headers.get('www-authenticate')).toMatch(/^DPoP .*error="invalid_dpop_proof"/)
  })
})

describe('DPoP settings from `gatehouse clients` (add, update)', () => {
  const credentials = { grant_type: 'client_credentials', scope: 'read' }

  /** `clients update` on a config file holding the test clients; returns the changed clients. */
  async function updated(clients: unknown, ...flags: string[]) {
    const file = JSON.stringify({ issuer: ISSUER, clients })
    const { config } = await clientsUpdate(
      ['--config', 'config.json', '--id', 'service', ...flags],
      {},
      { readFile: async () => file },
    )
    return config['clients'] as Record<string, unknown>[]
  }

  it('DPoP: clients update --require-dpop --dpop-nonce makes /token demand a proof with the nonce; --no-… lifts both', async () => {
    const base = (await testConfig()).clients
    const strict = await updated(base, '--require-dpop', '--dpop-nonce')
    const h = await createHarness({ config: { clients: strict as never } })
    const none = await postForm(h, '/token', credentials, serviceAuth)
    expect(none.status).toBe(400)
    expect(await none.json()).toMatchObject({ error: 'invalid_dpop_proof' })
    const key = await generateProofKey()
    const noNonce = await postForm(h, '/token', credentials, {
      ...serviceAuth,
      DPoP: await tokenProof(h, key),
    })
    expect(noNonce.status).toBe(400)
    expect(await noNonce.json()).toMatchObject({ error: 'use_dpop_nonce' })
    const nonce = noNonce.headers.get('DPoP-Nonce')!
    const ok = await postForm(h, '/token', credentials, {
      ...serviceAuth,
      DPoP: await tokenProof(h, key, { nonce }),
    })
    expect(ok.status).toBe(200)
    expect(((await ok.json()) as Tokens).token_type).toBe('DPoP')

    const relaxed = await updated(strict, '--no-require-dpop', '--no-dpop-nonce')
    expect(relaxed.find((c) => c['id'] === 'service')).toMatchObject({
      requireDpop: false,
      dpopNonce: false,
    })
    const h2 = await createHarness({ config: { clients: relaxed as never } })
    const plain = await postForm(h2, '/token', credentials, serviceAuth)
    expect(plain.status).toBe(200)
    expect(((await plain.json()) as Tokens).token_type).toBe('Bearer')
  })

  it('DPoP: clients add --require-dpop --dpop-nonce prints an entry whose client /token holds to both', async () => {
    const { client } = await clientsAdd([
      ...['--id', 'spa', '--redirect-uri', SPA_REDIRECT, '--scope', 'openid', '--scope', 'read'],
      ...['--audience', API, '--require-dpop', '--dpop-nonce'],
    ])
    expect(client).toMatchObject({ requireDpop: true, dpopNonce: true })
    const others = (await testConfig()).clients!.filter((c) => c.id !== 'spa')
    const h = await createHarness({ config: { clients: [client as never, ...others] } })
    const { form, response } = await redeem(h)
    expect(response.status).toBe(400)
    expect(await response.json()).toMatchObject({ error: 'invalid_dpop_proof' })
    const key = await generateProofKey()
    const noNonce = await postForm(h, '/token', form, { DPoP: await tokenProof(h, key) })
    expect(await noNonce.json()).toMatchObject({ error: 'use_dpop_nonce' })
    const nonce = noNonce.headers.get('DPoP-Nonce')!
    const ok = await postForm(h, '/token', form, {
      DPoP: await tokenProof(h, key, { nonce }),
    })
    expect(ok.status).toBe(200)
    expect(((await ok.json()) as Tokens).token_type).toBe('DPoP')
  })
})
