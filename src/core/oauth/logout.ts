/**
 * RP-Initiated Logout (OpenID Connect RP-Initiated Logout 1.0 §2–§3): who may end which session.
 *
 * - `id_token_hint` must be an ID token of this issuer for a registered client (own-tokens.ts: our
 *   signature, `typ: JWT`, never an access token; expiry ignored). Its `sid` decides which session
 *   ends; `client_id`, when also given, must be its audience.
 * - A hint of the browser's own session (its `sid` and `sub` match the session cookie's) ends that
 *   session at once: the relying party proved it asks for this very session.
 * - Anything else — no hint, a hint of another session, no cookie — ends nothing yet: the user is
 *   asked (§2: "the OP MUST ask the End-User … if an id_token_hint was not provided or if the supplied
 *   ID Token does not belong to the current OP session"). Confirming ends the browser's session and
 *   the hint's, if live. A cross-site GET therefore can no longer sign anyone out.
 * - `post_logout_redirect_uri` is followed only when registered (exact match) for the client the
 *   hint names, or, after confirmation, for `client_id`; `state` is appended (§3). An invalid request
 *   is never redirected (an open redirector otherwise).
 *
 * @example
 * const outcome = await requestLogout(oauth, params, cookieSession)
 * if (outcome.kind === 'confirm') showConfirmation(await confirmations.create(outcome.pending, binding))
 */
import type { OAuthContext } from './context.ts'
import { verifyOwnIdTokenHint } from './own-tokens.ts'
import { param, repeatedParams } from './params.ts'
import type { SessionRecord } from './sessions.ts'

/** A logout the user has still to confirm. */
export interface PendingLogout {
  /** Sessions to end on confirmation: the browser's and the hint's. */
  sids: string[]
  /** The client to name on the page and to check the redirect against. */
  clientId?: string
  redirectUri?: string
  state?: string
}

export type LogoutOutcome =
  | { kind: 'fatal'; description: string }
  /** Ended now (or nothing was left to end, with a valid hint); redirect when `location` is set. */
  | { kind: 'ended'; location: string | undefined; sessionEnded: boolean }
  | { kind: 'confirm'; pending: PendingLogout }
  /** Nothing to end and nowhere to go: the signed-out page. */
  | { kind: 'done' }

/** `post_logout_redirect_uri` with `state` appended (§3). */
const locationOf = (redirectUri: string | undefined, state: string | undefined) => {
  if (redirectUri === undefined) return undefined
  const url = new URL(redirectUri)
  if (state !== undefined) url.searchParams.append('state', state)
  return url.href
}

/**
 * Validates a logout request (GET query or POST form) and either ends the browser's session at once,
 * or says what to confirm.
 *
 * @example const outcome = await requestLogout(oauth, new URL(url).searchParams, session)
 */
export async function requestLogout(
  ctx: OAuthContext,
  params: URLSearchParams,
  session: SessionRecord | undefined,
): Promise<LogoutOutcome> {
  if (repeatedParams(params).length > 0)
    return { kind: 'fatal', description: 'A request parameter is repeated.' }
  let hint: string | undefined, clientId: string | undefined, redirectUri: string | undefined
  let state: string | undefined
  try {
    hint = param(params, 'id_token_hint', 8192)
    clientId = param(params, 'client_id')
    redirectUri = param(params, 'post_logout_redirect_uri')
    state = param(params, 'state', 2048)
  } catch {
    return { kind: 'fatal', description: 'A request parameter is too long.' }
  }
  const claims = hint === undefined ? undefined : await verifyOwnIdTokenHint(ctx, hint)
  if (hint !== undefined && !claims)
    return { kind: 'fatal', description: 'The id_token_hint is not valid.' }
  if (clientId !== undefined && claims && claims.aud !== clientId)
    return { kind: 'fatal', description: 'The client_id does not match the id_token_hint.' }
  const client = ctx.clients.get(claims?.aud ?? clientId ?? '')
  if (clientId !== undefined && !client)
    return { kind: 'fatal', description: 'The client_id is not a registered client.' }
  if (redirectUri !== undefined && !client?.postLogoutRedirectUris.includes(redirectUri))
    return {
      kind: 'fatal',
      description: 'The post_logout_redirect_uri is not registered for this client.',
    }

  const hintSid = typeof claims?.['sid'] === 'string' ? claims['sid'] : undefined
  if (claims && session && hintSid === session.sid && claims.sub === session.sub) {
    const sessionEnded = await ctx.sessions.end(session.sid, 'logout')
    return { kind: 'ended', location: locationOf(redirectUri, state), sessionEnded }
  }
  const sids = [session?.sid]
  if (hintSid !== undefined && hintSid !== session?.sid && (await ctx.sessions.isActive(hintSid)))
    sids.push(hintSid)
  const live = sids.filter((s) => s !== undefined)
  // A valid hint whose session is already over: nothing to ask, the client may have its redirect.
  if (live.length === 0 && claims)
    return { kind: 'ended', location: locationOf(redirectUri, state), sessionEnded: false }
  if (live.length === 0 && redirectUri === undefined) return { kind: 'done' }
  return {
    kind: 'confirm',
    pending: {
      sids: live,
      ...(client ? { clientId: client.id } : {}),
      ...(redirectUri !== undefined ? { redirectUri } : {}),
      ...(state !== undefined ? { state } : {}),
    },
  }
}

/**
 * Ends what the user confirmed; resolves where to send the browser (undefined: the signed-out page).
 *
 * @example const { location } = await confirmLogout(oauth, pending)
 */
export async function confirmLogout(
  ctx: OAuthContext,
  pending: PendingLogout,
): Promise<{ location: string | undefined }> {
  for (const sid of pending.sids) await ctx.sessions.end(sid, 'logout')
  // Re-checked against the current config: a URI removed since the page was shown is not followed.
  const client = ctx.clients.get(pending.clientId ?? '')
  const registered =
    pending.redirectUri !== undefined &&
    client?.postLogoutRedirectUris.includes(pending.redirectUri)
  return { location: registered ? locationOf(pending.redirectUri, pending.state) : undefined }
}
