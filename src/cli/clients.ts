/**
 * `gatehouse clients add`: a client entry for the config's `clients` array, validated by the same
 * schema the origin uses. A confidential client gets a fresh 256-bit secret, printed once next to the
 * entry (the config keeps only its SHA-256).
 *
 * @example
 * gatehouse clients add --id spa --type public --redirect-uri https://app.example.com/callback \
 *   --grant authorization_code --grant refresh_token --scope openid --scope profile \
 *   --audience https://api.example.com --origin https://app.example.com
 */
import { parseArgs } from 'node:util'
import { hashClientSecret } from '../core/oauth/clients.ts'
import { oauthConfigSchema } from '../core/oauth/config.ts'
import { randomToken } from '../core/oauth/crypto.ts'
import { UsageError } from './keys.ts'

export async function clientsAdd(
  args: string[],
): Promise<{ client: Record<string, unknown>; clientSecret?: string }> {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      id: { type: 'string' },
      name: { type: 'string' },
      type: { type: 'string', default: 'public' },
      'redirect-uri': { type: 'string', multiple: true, default: [] },
      'post-logout-redirect-uri': { type: 'string', multiple: true, default: [] },
      origin: { type: 'string', multiple: true, default: [] },
      grant: { type: 'string', multiple: true, default: [] },
      scope: { type: 'string', multiple: true, default: [] },
      'default-scope': { type: 'string', multiple: true, default: [] },
      audience: { type: 'string', multiple: true, default: [] },
    },
  })
  if (!values.id) throw new UsageError('--id is required')
  const confidential = values.type === 'confidential'
  const clientSecret = confidential ? randomToken(32) : undefined
  const grants =
    values.grant.length > 0
      ? values.grant
      : confidential
        ? ['client_credentials']
        : ['authorization_code', 'refresh_token']
  const client: Record<string, unknown> = {
    id: values.id,
    ...(values.name ? { name: values.name } : {}),
    type: values.type,
    ...(clientSecret ? { secretHash: await hashClientSecret(clientSecret) } : {}),
    redirectUris: values['redirect-uri'],
    postLogoutRedirectUris: values['post-logout-redirect-uri'],
    allowedOrigins: values.origin,
    grantTypes: grants,
    scopes: values.scope,
    defaultScopes: values['default-scope'],
    audiences: values.audience,
  }
  // Same rules as at start-up, so a printed entry is one the origin accepts.
  const check = oauthConfigSchema.safeParse({ issuer: 'https://issuer.invalid', clients: [client] })
  if (!check.success) {
    const problems = check.error.issues.map(
      (i) => `${i.path.slice(2).join('.') || 'client'}: ${i.message}`,
    )
    throw new UsageError(`invalid client:\n  ${problems.join('\n  ')}`)
  }
  return clientSecret ? { client, clientSecret } : { client }
}
