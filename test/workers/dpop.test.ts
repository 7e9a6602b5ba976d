/**
 * DPoP inside workerd: the shared suite (test/shared/dpop.case.ts) on apps built with createApp, and
 * the real Worker default export with the bindings of wrangler.test.toml (no L2 there: its replay
 * cache is the isolate's memory).
 */
import { exports } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { signTestToken } from '../fixtures/keys.ts'
import { defineDpopSuite } from '../shared/dpop.case.ts'
import { generateProofKey, makeProof } from '../support/dpop-proofs.ts'

describe('DPoP inside workerd (createApp)', () =>
  defineDpopSuite({
    serve: async (app) => ({
      base: 'http://gatehouse.test',
      fetch: async (path, init) => app.fetch(new Request(`http://gatehouse.test${path}`, init)),
      close: async () => {},
    }),
  }))

describe('DPoP at the Worker default export (wrangler.test.toml)', () => {
  const url = 'http://gatehouse.test/verify'
  const call = (headers: Record<string, string>) =>
    exports.default.fetch(new Request(url, { headers }))

  it('DPoP: the deployed Worker admits a bound token with its proof, once', async () => {
    const key = await generateProofKey()
    const token = await signTestToken({ cnf: { jkt: key.jkt } })
    const proof = await makeProof(key, { htm: 'GET', htu: url, accessToken: token })
    const headers = { Authorization: `DPoP ${token}`, DPoP: proof }
    const res = await call(headers)
    expect(res.status).toBe(200)
    expect(await res.json()).toMatchObject({ active: true, cnf: { jkt: key.jkt } })
    const replay = await call(headers)
    expect(replay.status).toBe(401)
    expect(replay.headers.get('WWW-Authenticate')).toMatch(/^DPoP .*error="invalid_dpop_proof"/)
  })

  it('DPoP: the deployed Worker refuses the bound token as Bearer and without the key', async () => {
    const key = await generateProofKey()
    const token = await signTestToken({ cnf: { jkt: key.jkt } })
    const bearer = await call({ Authorization: `Bearer ${token}` })
    expect(bearer.status).toBe(401)
    expect(bearer.headers.get('WWW-Authenticate')).toMatch(/^DPoP .*error="invalid_token"/)
    const thief = await generateProofKey()
    const stolen = await makeProof(thief, { htm: 'GET', htu: url, accessToken: token })
    const res = await call({ Authorization: `DPoP ${token}`, DPoP: stolen })
    expect(res.status).toBe(401)
    expect(res.headers.get('WWW-Authenticate')).toMatch(/^DPoP .*error="invalid_token"/)
  })
})
