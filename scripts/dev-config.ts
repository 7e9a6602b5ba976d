/**
 * The origin's config for `npm run dev`: a fresh key-encryption key and ES256 signing key (the code
 * behind `gatehouse keys generate-kek` and `gatehouse keys generate`), the demo SPA client (public,
 * PKCE, redirect and allowed origin = the SPA) and a demo user with an scrypt hash (the code behind
 * `gatehouse users add`). Written to `.dev/` with mode 0600, since it holds a private key; that
 * folder is for local development only.
 */
import { chmod, mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { OAuthConfigInput } from '../src/core/oauth/config.ts'
import { parseOAuthConfig } from '../src/core/oauth/config.ts'
import { generateSigningKey } from '../src/core/oauth/keys.ts'
import { generateKeyEncryptionKey } from '../src/core/oauth/key-wrap.ts'
import { createScryptHasher, type ScryptParameters } from '../src/entry/password.ts'

export const DEMO_CLIENT_ID = 'demo-spa'
export const DEMO_USER = {
  username: 'demo',
  // A published development credential: the stack listens on loopback only.
  password: 'gatehouse-demo',
  sub: 'demo-user',
} as const

export interface DevConfigOptions {
  dir: string
  /** The origin's URL; it is the issuer. */
  issuer: string
  /** Origin of the SPA, e.g. http://127.0.0.1:5173 */
  spaOrigin: string
  /** The `aud` of tokens for the gateway (the edge's GATEHOUSE_AUDIENCE). */
  apiAudience: string
  tokens?: OAuthConfigInput['tokens']
  /** scrypt cost for the demo user; default the production parameters (tests pass cheaper ones). */
  scrypt?: ScryptParameters
}

/**
 * Writes the config and returns its path. It is validated with the origin's own schema first, so a
 * mistake here fails in the dev script, not in the origin's log.
 *
 * @example const path = await writeDevConfig({ dir: '.dev', issuer, spaOrigin, apiAudience })
 */
export async function writeDevConfig(options: DevConfigOptions): Promise<string> {
  const passwordHash = await createScryptHasher(options.scrypt).hash(DEMO_USER.password)
  const config: OAuthConfigInput = {
    issuer: options.issuer,
    // A fresh key-encryption key and first signing key per run: the dev store is throwaway too.
    keyEncryptionKeys: [generateKeyEncryptionKey('development')],
    keys: [await generateSigningKey('ES256', 'active')],
    tokens: { accessTokenTtlSeconds: 300, ...options.tokens },
    clients: [
      demoSpaClient({
        id: DEMO_CLIENT_ID,
        name: 'Gatehouse demo SPA',
        spaOrigin: options.spaOrigin,
        audience: options.apiAudience,
      }),
    ],
    users: [
      {
        sub: DEMO_USER.sub,
        username: DEMO_USER.username,
        passwordHash,
        claims: {
          name: 'Dana Demo',
          preferred_username: DEMO_USER.username,
          email: 'demo@example.test',
          email_verified: true,
        },
      },
    ],
  }
  parseOAuthConfig(config)
  await mkdir(options.dir, { recursive: true })
  const path = join(options.dir, 'gatehouse.dev.json')
  await writePrivateFile(path, `${JSON.stringify(config, null, 2)}\n`)
  return path
}

/**
 * The example SPA as a client of an issuer: public, PKCE, its callback and origin, one audience.
 *
 * @example demoSpaClient({ id: 'demo-spa', name: 'Demo', spaOrigin, audience: apiAudience })
 */
export function demoSpaClient(options: {
  id: string
  name: string
  spaOrigin: string
  audience: string
}): NonNullable<OAuthConfigInput['clients']>[number] {
  return {
    id: options.id,
    name: options.name,
    type: 'public',
    tokenEndpointAuthMethod: 'none',
    redirectUris: [`${options.spaOrigin}/callback`],
    postLogoutRedirectUris: [`${options.spaOrigin}/`],
    allowedOrigins: [options.spaOrigin],
    grantTypes: ['authorization_code', 'refresh_token'],
    scopes: ['openid', 'profile', 'email'],
    audiences: [options.audience],
    defaultAudience: options.audience,
  }
}

/**
 * Writes a file only its owner may read or write (0600). `writeFile`'s `mode` applies only when it
 * creates the file, so a file left from an earlier run (e.g. 0644) is chmod-ed too.
 *
 * @example await writePrivateFile('.dev/edge.env', 'UPSTASH_REDIS_REST_TOKEN=…\n')
 */
export async function writePrivateFile(path: string, content: string): Promise<void> {
  await writeFile(path, content, { mode: 0o600 })
  await chmod(path, 0o600)
}
