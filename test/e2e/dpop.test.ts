/**
 * DPoP end to end (issue 18), in headless Chromium against the stack `npm run dev` starts: the
 * example SPA signs in with `gatehouse/client`, which keeps a non-extractable ES256 key in IndexedDB
 * and gets DPoP-bound tokens from the origin; the edge Worker (wrangler dev, L2 on real Redis through
 * the Upstash bridge) checks a proof on every API call. A second edge Worker on the same L2 stands in
 * for another edge location.
 *
 * What an attacker who copies the token out of the page (an injected script, an extension, a log of
 * the request) can do with it from elsewhere: nothing. As a bearer token it is refused (RFC 9449
 * §7.2), without a proof or with a proof of the attacker's own key it is refused, and the one proof
 * the page made is spent at the first location that sees it, so replaying it anywhere is refused.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Page, Request as PageRequest } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { freePort } from '../../scripts/dev-ports.ts'
import { startChild, waitForHttp, type Child } from '../../scripts/dev-processes.ts'
import { REPO_ROOT } from '../../scripts/dev-spa.ts'
import { generateProofKey, makeProof } from '../support/dpop-proofs.ts'
import { callApi, signIn } from './browser.ts'
import { useE2eStack } from './e2e-stack.ts'

const e2e = useE2eStack('dpop')
let secondEdge: { child: Child; url: string; stateDir: string }

/** Another edge Worker under wrangler dev with the stack's settings and L2: another location. */
async function startSecondEdge(): Promise<typeof secondEdge> {
  const port = await freePort()
  const stateDir = await mkdtemp(join(tmpdir(), 'gatehouse-e2e-edge2-'))
  const { urls } = e2e.stack
  const vars = {
    GATEHOUSE_ISSUER: urls.origin,
    GATEHOUSE_AUDIENCE: urls.api,
    GATEHOUSE_JWKS_URL: `${urls.origin}/.well-known/jwks.json`,
    GATEHOUSE_ORIGIN_URL: urls.origin,
    GATEHOUSE_UPSTREAM_URL: urls.upstream,
    GATEHOUSE_ALLOWED_ORIGINS: urls.spa,
  }
  const child = startChild(
    'edge-2',
    process.execPath,
    [
      join(REPO_ROOT, 'node_modules/wrangler/bin/wrangler.js'),
      'dev',
      '--ip',
      '127.0.0.1',
      '--port',
      String(port),
      '--inspector-port',
      String(await freePort()),
      '--show-interactive-dev-session=false',
      '--persist-to',
      stateDir,
      // The stack's edge.env: the same Upstash URL and token, so the same L2.
      '--env-file',
      join(e2e.configDir, 'edge.env'),
      ...Object.entries(vars).flatMap(([k, v]) => ['--var', `${k}:${v}`]),
    ],
    {
      cwd: REPO_ROOT,
      log: e2e.log,
      env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CLOUDFLARE_CF_FETCH_ENABLED: 'false' },
    },
  )
  const url = `http://127.0.0.1:${port}`
  await waitForHttp(`${url}/healthz`, { child, timeoutMs: 30_000 })
  return { child, url, stateDir }
}

// Registered after the stack's hooks: starts once the stack runs, stops before it stops.
beforeAll(async () => {
  try {
    secondEdge = await startSecondEdge()
  } catch (e) {
    console.error(e2e.logs.slice(-40).join('\n'))
    throw e
  }
})

afterAll(async () => {
  await secondEdge?.child.stop()
  if (secondEdge) await rm(secondEdge.stateDir, { recursive: true, force: true })
})

const demo = () => ({ username: e2e.stack.demo.username, password: e2e.stack.demo.password })

/** The headers the page sent with its API call: what a script copying them would get. */
interface Copied {
  url: string
  authorization: string
  proof: string
}

function copyApiCalls(page: Page): Copied[] {
  const copied: Copied[] = []
  page.on('request', (r: PageRequest) => {
    const headers = r.headers()
    if (r.url().startsWith(e2e.stack.urls.api) && r.method() === 'GET' && headers['authorization'])
      copied.push({
        url: r.url(),
        authorization: headers['authorization'],
        proof: headers['dpop'] ?? '',
      })
  })
  return copied
}

const challengeOf = (response: Response) => response.headers.get('www-authenticate') ?? ''

describe('DPoP in Chromium through the edge', () => {
  it('DPoP: the SPA token copied out of the page and replayed without the key is refused at the edge', async () => {
    const page = await e2e.context.newPage()
    const copied = copyApiCalls(page)
    await signIn(page, e2e.stack.urls.spa, demo())
    expect((await callApi(page)).status).toBe('200')
    const [call] = copied
    expect(call?.authorization).toMatch(/^DPoP ey/)
    expect(call?.proof).toMatch(/^ey[^.]+\.[^.]+\.[^.]+$/)
    const token = call!.authorization.slice('DPoP '.length)
    const api = call!.url

    // As a bearer token (RFC 9449 §7.2).
    const bearer = await fetch(api, { headers: { authorization: `Bearer ${token}` } })
    expect(bearer.status).toBe(401)
    expect(challengeOf(bearer)).toMatch(/^DPoP .*error="invalid_token"/)
    // Under the DPoP scheme with no proof.
    const bare = await fetch(api, { headers: { authorization: `DPoP ${token}` } })
    expect(bare.status).toBe(401)
    expect(challengeOf(bare)).toMatch(/error="invalid_dpop_proof"/)
    // With the page's own proof, copied too: spent by the page's request already.
    const replayed = await fetch(api, {
      headers: { authorization: call!.authorization, dpop: call!.proof },
    })
    expect(replayed.status).toBe(401)
    expect(challengeOf(replayed)).toMatch(/error="invalid_dpop_proof"/)
    // With a proof the attacker can make: signed by the attacker's key, not the one in the page.
    const attacker = await generateProofKey()
    const forged = await fetch(api, {
      headers: {
        authorization: `DPoP ${token}`,
        dpop: await makeProof(attacker, { htm: 'GET', htu: api, accessToken: token }),
      },
    })
    expect(forged.status).toBe(401)
    expect(challengeOf(forged)).toMatch(/error="invalid_token"/)
    // The page, which holds the key, goes on working.
    expect((await callApi(page)).status).toBe('200')
  })

  it('DPoP: a proof replayed at another edge location is refused through L2', async () => {
    const page = await e2e.context.newPage()
    await signIn(page, e2e.stack.urls.spa, demo())
    // Copy the page's next API call and stop it on its way: the proof is still unused.
    let held: Copied | undefined
    await page.route(`${e2e.stack.urls.api}/**`, async (route) => {
      const headers = route.request().headers()
      if (route.request().method() === 'GET' && headers['dpop']) {
        held = {
          url: route.request().url(),
          authorization: headers['authorization']!,
          proof: headers['dpop'],
        }
        await route.abort()
      } else await route.continue()
    })
    await callApi(page)
    expect(held?.authorization).toMatch(/^DPoP ey/)
    // A service at any location asks its edge whether the copied request is authorized.
    const verifyAt = (edge: string) =>
      fetch(`${edge}/verify`, {
        headers: {
          authorization: held!.authorization,
          dpop: held!.proof,
          'x-original-method': 'GET',
          'x-original-url': held!.url,
        },
      })
    const first = await verifyAt(secondEdge.url)
    expect(first.status).toBe(200)
    expect(await first.json()).toMatchObject({ active: true, sub: 'demo-user' })
    const again = await verifyAt(e2e.stack.urls.edge)
    expect(again.status).toBe(401)
    expect(challengeOf(again)).toMatch(/error="invalid_dpop_proof"/)
    expect(((await again.json()) as { error_description: string }).error_description).toMatch(
      /already used/,
    )
  })

  it('DPoP: script on the page can use the key in IndexedDB but cannot export it', async () => {
    const page = await e2e.context.newPage()
    await signIn(page, e2e.stack.urls.spa, demo())
    const result = await page.evaluate(async () => {
      const db = await new Promise<IDBDatabase>((resolve, reject) => {
        const req = indexedDB.open('gatehouse-dpop')
        req.onsuccess = () => resolve(req.result)
        req.onerror = () => reject(req.error)
      })
      const pair = await new Promise<CryptoKeyPair>((resolve, reject) => {
        const req = db.transaction('keys').objectStore('keys').getAll()
        req.onsuccess = () => resolve((req.result as CryptoKeyPair[])[0]!)
        req.onerror = () => reject(req.error)
      })
      const exported = await crypto.subtle.exportKey('jwk', pair.privateKey).then(
        () => 'exported',
        (e: unknown) => (e as Error).name,
      )
      return {
        algorithm: (pair.privateKey.algorithm as EcKeyAlgorithm).namedCurve,
        extractable: pair.privateKey.extractable,
        exported,
      }
    })
    expect(result).toEqual({
      algorithm: 'P-256',
      extractable: false,
      exported: 'InvalidAccessError',
    })
  })
})
