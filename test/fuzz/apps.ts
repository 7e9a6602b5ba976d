/**
 * The apps the fuzz suite drives in-process with `app.request()`: the origin exactly as node-server.ts
 * assembles it (createOriginRoutes over the memory store, metrics, readiness, revocation sync,
 * appFromConfig with role `origin`), and the edge (role `edge`, the origin proxy whose fetch is the
 * origin app). Plus real credentials to mutate: an access token, a refresh token, a session cookie.
 */
import { parseVerificationConfig } from '../../src/core/config.ts'
import { appFromConfig } from '../../src/entry/app-from-config.ts'
import { createOriginRoutes } from '../../src/entry/origin.ts'
import type { LogRecord } from '../../src/http/log.ts'
import { createMetrics } from '../../src/entry/node-metrics.ts'
import { createReadiness } from '../../src/http/readiness.ts'
import { createRevocationSync } from '../../src/revocation/index.ts'
import { createMemoryStore } from '../../src/store/memory.ts'
import {
  API,
  Browser,
  ISSUER,
  SERVICE_SECRET,
  basic,
  obtainCode,
  testConfig,
  testPasswords,
  type Harness,
} from '../unit/oauth/support.ts'

export type Fetch = (request: Request) => Promise<Response>

export interface FuzzTarget {
  origin: Fetch
  edge: Fetch
  /** Every log record of both apps; an `error` record means an unexpected failure. */
  logs: LogRecord[]
  accessToken: string
  refreshToken: string
  /** `name=value` cookies of a signed-in browser session. */
  sessionCookie: string
}

export async function buildFuzzTarget(): Promise<FuzzTarget> {
  const logs: LogRecord[] = []
  const logger = { log: (r: LogRecord) => void logs.push(r) }
  const store = createMemoryStore()
  const metrics = createMetrics({ defaultMetrics: false })
  const configText = JSON.stringify(await testConfig())
  const origin = await createOriginRoutes(
    { GATEHOUSE_CONFIG: 'gatehouse.json', GATEHOUSE_ISSUER: ISSUER },
    {
      store,
      passwords: testPasswords,
      readConfigFile: () => Promise.resolve(configText),
      logger,
      metrics,
      instrumentStore: (s) => metrics.instrumentStore(s),
    },
  )
  const revocation = createRevocationSync({ store, logger })
  const originApp = await appFromConfig(
    parseVerificationConfig({
      GATEHOUSE_ISSUER: ISSUER,
      GATEHOUSE_AUDIENCE: API,
      GATEHOUSE_JWKS: JSON.stringify(origin.keys.publicJwks()),
    }),
    {
      role: 'origin',
      logger,
      middleware: [metrics.middleware],
      revocation: { sync: revocation, store },
      routes: [
        { path: '/', app: createReadiness({ store, draining: () => false }) },
        { path: '/', app: metrics.routes },
        { path: '/', app: origin.routes },
      ],
    },
  )
  const originFetch: Fetch = async (request) => originApp.fetch(request)
  const edgeApp = await appFromConfig(
    parseVerificationConfig({
      GATEHOUSE_ISSUER: ISSUER,
      GATEHOUSE_AUDIENCE: API,
      GATEHOUSE_JWKS: JSON.stringify(origin.keys.publicJwks()),
      GATEHOUSE_ORIGIN_URL: 'http://127.0.0.1:9/',
    }),
    {
      role: 'edge',
      logger,
      fetch: (input, init) => originFetch(new Request(input, init)),
      revocation: { sync: revocation, store },
    },
  )
  const edgeFetch: Fetch = async (request) => edgeApp.fetch(request)

  const harness = {
    fetch: (input: string | URL | Request, init?: object) =>
      originFetch(new Request(input, init as RequestInit | undefined)),
  } as Harness
  const cc = await originFetch(
    new Request(`${ISSUER}/token`, {
      method: 'POST',
      headers: {
        authorization: basic('service', SERVICE_SECRET),
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: 'grant_type=client_credentials&scope=read',
    }),
  )
  const { access_token: accessToken } = (await cc.json()) as { access_token: string }
  const browser = new Browser(harness.fetch)
  const { code, verifier } = await obtainCode(harness, { browser })
  const exchanged = await originFetch(
    new Request(`${ISSUER}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        code,
        code_verifier: verifier,
        client_id: 'spa',
        redirect_uri: 'https://app.test/callback',
      }),
    }),
  )
  const { refresh_token: refreshToken } = (await exchanged.json()) as { refresh_token: string }
  if (!accessToken || !refreshToken) throw new Error('fuzz setup: no tokens')
  const sessionCookie = [...browser.cookies].map(([k, v]) => `${k}=${v}`).join('; ')
  return {
    origin: originFetch,
    edge: edgeFetch,
    logs,
    accessToken,
    refreshToken,
    sessionCookie,
  }
}
