/**
 * Authorization server metadata: OIDC Discovery 1.0 §3 (`/.well-known/openid-configuration`) and
 * RFC 8414 §2 (`/.well-known/oauth-authorization-server`), one document for both. Every URL is built
 * from the configured issuer (never the Host header), so a client that starts from discovery alone
 * finds every endpoint.
 *
 * @example const metadata = discoveryDocument(oauth) // { issuer, token_endpoint, ... }
 */
import { DPOP_ALGS } from '../dpop.ts'
import type { OAuthContext } from './context.ts'
import { ENDPOINTS, endpointUrl } from './endpoints.ts'
import { SCOPE_CLAIMS } from './userinfo.ts'

export function discoveryDocument(ctx: OAuthContext): Record<string, unknown> {
  const published = ctx.keys.all
  const active = published.find((k) => k.status === 'active')
  return {
    ...discoveryMetadata(ctx),
    id_token_signing_alg_values_supported: active ? [active.alg] : [],
    // RFC 9068 §2.1 signing algorithms for the access tokens themselves.
    access_token_signing_alg_values_supported: [...new Set(published.map((k) => k.alg))],
  }
}

/**
 * The metadata that comes from the config alone, without the signing-algorithm members: what the
 * origin publishes with the key set in L2, where those members are derived from the keys
 * (src/core/published-key-set.ts, `discoveryAt`).
 *
 * @example const metadata = discoveryMetadata(oauth)
 */
export function discoveryMetadata(ctx: OAuthContext): Record<string, unknown> {
  const url = (path: string): string => endpointUrl(ctx.issuer, path)
  const scopes = new Set(['openid', ...ctx.clients.all().flatMap((c) => c.scopes)])
  return {
    issuer: ctx.issuer,
    authorization_endpoint: url(ENDPOINTS.authorize),
    token_endpoint: url(ENDPOINTS.token),
    jwks_uri: url(ENDPOINTS.jwks),
    userinfo_endpoint: url(ENDPOINTS.userinfo),
    revocation_endpoint: url(ENDPOINTS.revoke),
    introspection_endpoint: url(ENDPOINTS.introspect),
    end_session_endpoint: url(ENDPOINTS.logout),
    scopes_supported: [...scopes],
    response_types_supported: ['code'],
    response_modes_supported: ['query'],
    grant_types_supported: ['authorization_code', 'refresh_token', 'client_credentials'],
    subject_types_supported: ['public'],
    token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'none'],
    revocation_endpoint_auth_methods_supported: [
      'client_secret_basic',
      'client_secret_post',
      'none',
    ],
    introspection_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
    code_challenge_methods_supported: ['S256'],
    // RFC 9449 §5.1: the proof algorithms /token, /userinfo and the edge accept.
    dpop_signing_alg_values_supported: [...DPOP_ALGS],
    // RFC 9207 §3.
    authorization_response_iss_parameter_supported: true,
    prompt_values_supported: ['none', 'login', 'consent', 'select_account'],
    claims_supported: [
      'sub',
      'iss',
      'aud',
      'exp',
      'iat',
      'auth_time',
      'nonce',
      'sid',
      'at_hash',
      ...Object.values(SCOPE_CLAIMS).flat(),
    ],
    claims_parameter_supported: false,
    request_parameter_supported: false,
    request_uri_parameter_supported: false,
    frontchannel_logout_supported: false,
    // OIDC Back-Channel Logout 1.0 §2.1: logout tokens carry `sid` whenever the session is known.
    backchannel_logout_supported: true,
    backchannel_logout_session_supported: true,
  }
}
