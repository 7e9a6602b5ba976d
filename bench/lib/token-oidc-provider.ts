/**
 * node-oidc-provider (panva, v9) configured for the /token benchmark: one confidential client with the
 * client_credentials grant (client_secret_basic), and the resource-indicators feature returning
 * RFC 9068-style JWT access tokens signed with ES256 for the default resource — the same grant and
 * token shape Gatehouse issues. Run as its own process so it does not share an event loop with the
 * load generator:
 *
 *   node --experimental-strip-types bench/lib/token-oidc-provider.ts <port>
 *
 * It prints `listening <port>` once it accepts connections.
 */
import { realpathSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import Provider from 'oidc-provider'
import { privateJwks } from '../../test/fixtures/keys.ts'

export const OP_CLIENT_ID = 'bench-service'
export const OP_CLIENT_SECRET = 'bench-secret-0123456789abcdefghijklmnopqrstuvwxyz-op'
export const OP_AUDIENCE = 'https://api.test'

export function createBenchProvider(issuer: string): Provider {
  return new Provider(issuer, {
    clients: [
      {
        client_id: OP_CLIENT_ID,
        client_secret: OP_CLIENT_SECRET,
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
        token_endpoint_auth_method: 'client_secret_basic',
        // The only key is ES256; the default (RS256) would make the client metadata invalid.
        id_token_signed_response_alg: 'ES256',
        scope: 'read write',
      },
    ],
    jwks: { keys: [privateJwks.ES256] },
    // Fixed cookie keys silence the development warning; no cookies are set on this grant.
    cookies: { keys: ['bench-cookie-key-0123456789abcdef'] },
    scopes: ['read', 'write'],
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => OP_AUDIENCE,
        useGrantedResource: () => true,
        getResourceServerInfo: () => ({
          scope: 'read write',
          audience: OP_AUDIENCE,
          accessTokenTTL: 600,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'ES256' } },
        }),
      },
    },
  })
}

const invokedDirectly = (): boolean => {
  try {
    return realpathSync(process.argv[1] ?? '') === realpathSync(fileURLToPath(import.meta.url))
  } catch {
    return false
  }
}

if (invokedDirectly()) {
  const port = Number(process.argv[2] ?? 0)
  const provider = createBenchProvider(`http://127.0.0.1:${port}`)
  const server = provider.listen(port, '127.0.0.1', () => console.log(`listening ${port}`))
  const stop = () => server.close(() => process.exit(0))
  process.once('SIGTERM', stop)
  process.once('SIGINT', stop)
}
