/**
 * The `iss` a token names, read only to pick the tenant whose verifier then decides (edge-tenants.ts).
 * Not a parse the verifier relies on: that tenant's verifier parses the whole token strictly itself
 * (unique member names, header rules, RFC 8725) and requires its `iss` to be exactly the tenant's
 * issuer (RFC 9068 §4 step 3), under one of the tenant's own keys. So where this lenient read and the
 * strict parse could disagree (a duplicated `iss`, say), the token is refused, never accepted for
 * another tenant. Reading the payload alone, with the runtime's JSON.parse, costs ~1.4 µs here where
 * the full strict parse of header, payload and signature cost ~4 µs, which the verifier then repeated.
 *
 * @example tokenIssuer(token) // 'https://auth.example.com/t/acme' | undefined
 */
import { decodeBase64UrlView } from '../core/base64url.ts'
import { AuthError } from '../core/errors.ts'
import { DEFAULT_MAX_TOKEN_LENGTH, splitCompactJws } from '../core/jws.ts'

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

const malformed = () => new AuthError('token_malformed', 'payload is not a JSON object')

/**
 * The token's `iss` if it is a string, else undefined; throws `AuthError` (`token_too_large`,
 * `token_malformed`) for what is no compact JWS with a JSON-object payload, never anything else.
 *
 * @example const iss = tokenIssuer(token)
 */
export function tokenIssuer(token: string): string | undefined {
  const [dot1, dot2] = splitCompactJws(token, DEFAULT_MAX_TOKEN_LENGTH)
  const bytes = decodeBase64UrlView(token, dot1 + 1, dot2)
  if (bytes === undefined) throw malformed()
  let claims: unknown
  try {
    claims = JSON.parse(utf8.decode(bytes))
  } catch {
    throw malformed()
  }
  if (typeof claims !== 'object' || claims === null) throw malformed()
  const iss = (claims as { iss?: unknown }).iss
  return typeof iss === 'string' ? iss : undefined
}
