/**
 * OAuth calls over real HTTP against an edge or origin base URL, for chaos, soak and tracing tests:
 * client_credentials, the SPA's authorization-code + PKCE sign-in (one password login, then codes
 * from the session cookie), refresh, revoke and /verify. Each call has a client-side deadline so a
 * hang is an observed outcome (status 0), never a stuck test.
 */
import { createHash, randomBytes } from 'node:crypto'
import {
  Browser,
  ISSUER,
  SERVICE_SECRET,
  SPA_REDIRECT,
  USER,
  basic,
} from '../unit/oauth/support.ts'

/** What one HTTP exchange produced. `status` 0: no answer before the client deadline (or refused). */
export interface Outcome {
  op: string
  status: number
  /** RFC 6749 §5.2 / RFC 6750 `error` of a JSON error body. */
  error?: string
  retryAfter: string | null
  /** `performance.now()` at the start, and the duration, in ms. */
  at: number
  ms: number
}

/** Traffic's client deadline: an answer later than this is recorded as no answer (status 0). */
export const CLIENT_DEADLINE_MS = 15_000
/**
 * For set-up calls that must succeed (a sign-in runs scrypt at the production cost, seconds on a
 * busy machine): a hang guard only, below the suites' hook timeouts.
 */
export const SETUP_DEADLINE_MS = 120_000

const FORM = { 'content-type': 'application/x-www-form-urlencoded' }

/** Sends one request with a client deadline (default the traffic's); reads JSON bodies; never throws. */
export async function exchange(
  op: string,
  url: string,
  init: RequestInit = {},
  deadlineMs = CLIENT_DEADLINE_MS,
): Promise<{ outcome: Outcome; body: Record<string, unknown> | undefined }> {
  const at = performance.now()
  try {
    const response = await fetch(url, {
      ...init,
      redirect: 'manual',
      signal: AbortSignal.timeout(deadlineMs),
    })
    const text = await response.text()
    let body: Record<string, unknown> | undefined
    try {
      body = JSON.parse(text) as Record<string, unknown>
    } catch {
      body = undefined
    }
    const outcome: Outcome = {
      op,
      status: response.status,
      retryAfter: response.headers.get('retry-after'),
      at,
      ms: performance.now() - at,
    }
    if (typeof body?.error === 'string') outcome.error = body.error
    return { outcome, body }
  } catch (err) {
    const name = err instanceof Error ? err.name : 'error'
    return {
      outcome: { op, status: 0, error: name, retryAfter: null, at, ms: performance.now() - at },
      body: undefined,
    }
  }
}

export const clientCredentials = (base: string, deadlineMs = CLIENT_DEADLINE_MS) =>
  exchange(
    'token',
    `${base}/token`,
    {
      method: 'POST',
      headers: { ...FORM, authorization: basic('service', SERVICE_SECRET) },
      body: 'grant_type=client_credentials&scope=read',
    },
    deadlineMs,
  )

export const refreshGrant = (base: string, refreshToken: string) =>
  exchange('refresh', `${base}/token`, {
    method: 'POST',
    headers: FORM,
    body: new URLSearchParams({
      grant_type: 'refresh_token',
      refresh_token: refreshToken,
      client_id: 'spa',
    }).toString(),
  })

/** RFC 7009 revocation of an access token by the confidential client that holds it. */
export const revokeToken = (base: string, token: string) =>
  exchange('revoke', `${base}/revoke`, {
    method: 'POST',
    headers: { ...FORM, authorization: basic('service', SERVICE_SECRET) },
    body: new URLSearchParams({ token, token_type_hint: 'access_token' }).toString(),
  })

export const verifyToken = (base: string, token: string, headers: Record<string, string> = {}) =>
  exchange('verify', `${base}/verify`, {
    headers: { ...headers, authorization: `Bearer ${token}` },
  })

/**
 * A browser whose requests to the issuer's URLs (absolute or relative) go to `base`, each with a
 * hang guard (default SETUP_DEADLINE_MS: it signs in, set-up that must not fail on a busy machine).
 */
export function browserFor(base: string, deadlineMs = SETUP_DEADLINE_MS): Browser {
  return new Browser((input, init) => {
    const raw = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url
    const url = raw.startsWith(ISSUER)
      ? base + raw.slice(ISSUER.length)
      : raw.startsWith('/')
        ? base + raw
        : raw
    return fetch(url, { ...(init as RequestInit), signal: AbortSignal.timeout(deadlineMs) })
  })
}

const b64url = (bytes: Buffer): string => bytes.toString('base64url')

/**
 * One SPA sign-in: /authorize (with the browser's session, or the login form once), the code, then
 * the code exchange. Throws on any non-success: call it while the stack is healthy.
 *
 * @example const { refreshToken } = await signInSpa(edge.url, browserFor(edge.url))
 */
export async function signInSpa(
  base: string,
  browser: Browser,
): Promise<{ accessToken: string; refreshToken: string }> {
  const verifier = b64url(randomBytes(32))
  const challenge = b64url(createHash('sha256').update(verifier).digest())
  const query = new URLSearchParams({
    client_id: 'spa',
    redirect_uri: SPA_REDIRECT,
    response_type: 'code',
    scope: 'openid read',
    state: 'chaos',
    code_challenge: challenge,
    code_challenge_method: 'S256',
  })
  let response = await browser.request(`${ISSUER}/authorize?${query}`)
  if (response.status === 200)
    response = await browser.submitLogin(await response.text(), USER.username, USER.password)
  const location = response.headers.get('location')
  const code = location ? new URL(location).searchParams.get('code') : null
  if (!code) throw new Error(`sign-in: no code (HTTP ${response.status})`)
  const { outcome, body } = await exchange(
    'code',
    `${base}/token`,
    {
      method: 'POST',
      headers: FORM,
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        code,
        redirect_uri: SPA_REDIRECT,
        code_verifier: verifier,
        client_id: 'spa',
      }).toString(),
    },
    SETUP_DEADLINE_MS,
  )
  if (
    outcome.status !== 200 ||
    typeof body?.access_token !== 'string' ||
    typeof body.refresh_token !== 'string'
  )
    throw new Error(`sign-in: code exchange answered ${outcome.status} ${outcome.error ?? ''}`)
  return { accessToken: body.access_token, refreshToken: body.refresh_token }
}

/** The `jti` of a compact JWS access token (no verification: for bookkeeping only). */
export function jtiOf(token: string): string {
  const payload = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()) as {
    jti?: unknown
  }
  if (typeof payload.jti !== 'string') throw new Error('token has no jti')
  return payload.jti
}
