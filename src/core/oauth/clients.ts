/**
 * Registered clients and client authentication at the token, revocation and introspection endpoints
 * (RFC 6749 §2.3). Confidential clients prove a secret with `client_secret_basic` or
 * `client_secret_post`; the config holds only `sha256:` of the secret, compared in constant time.
 * Public clients authenticate with `none` (their `client_id` only) and may not present a secret.
 *
 * @example
 * const clients = createClientRegistry(config.clients) // or, on Node, { sha256: nodeSha256 }
 * const client = await clients.authenticate({ method: 'client_secret_basic', clientId, clientSecret })
 */
import type { ClientAuthMethod, ClientConfig } from './config.ts'
import { sha256, timingSafeEqual, type Sha256 } from './crypto.ts'
import { OAuthError } from './errors.ts'

export interface ClientCredentials {
  method: ClientAuthMethod
  clientId: string
  clientSecret?: string | undefined
}

export interface ClientRegistry {
  get(clientId: string): ClientConfig | undefined
  /** Resolves the client or throws `invalid_client` (RFC 6749 §5.2). */
  authenticate(credentials: ClientCredentials): Promise<ClientConfig>
  /** Every client's allowed browser origins (CORS for SPAs). */
  isAllowedOrigin(origin: string): boolean
  all(): readonly ClientConfig[]
}

const invalidClient = (): OAuthError =>
  // One description for unknown client, wrong secret and wrong method: nothing to enumerate.
  new OAuthError('invalid_client', 'Client authentication failed.')

/** `sha256:<base64url>`, the stored form of a client secret. */
export async function hashClientSecret(secret: string): Promise<string> {
  return `sha256:${await sha256(secret)}`
}

export interface ClientRegistryOptions {
  /** The digest of presented secrets. Default WebCrypto; the Node entry injects `nodeSha256`. */
  sha256?: Sha256
}

export function createClientRegistry(
  clients: readonly ClientConfig[],
  options: ClientRegistryOptions = {},
): ClientRegistry {
  const digest = options.sha256 ?? sha256
  if (typeof digest !== 'function') throw new TypeError('sha256 must be a function')
  const byId = new Map(clients.map((c) => [c.id, c]))
  const origins = new Set(clients.flatMap((c) => c.allowedOrigins))
  return {
    get: (id) => byId.get(id),
    all: () => clients,
    isAllowedOrigin: (origin) => origins.has(origin),
    async authenticate({ method, clientId, clientSecret }) {
      const client = byId.get(clientId)
      // Hash even for an unknown client so both paths cost the same.
      const presented =
        clientSecret === undefined ? undefined : `sha256:${await digest(clientSecret)}`
      if (!client) throw invalidClient()
      if (client.type === 'public') {
        if (method !== 'none' || clientSecret !== undefined) throw invalidClient()
        return client
      }
      if (method === 'none' || presented === undefined || !client.secretHash) throw invalidClient()
      if (client.tokenEndpointAuthMethod && client.tokenEndpointAuthMethod !== method)
        throw invalidClient()
      if (!timingSafeEqual(presented, client.secretHash)) throw invalidClient()
      return client
    },
  }
}
