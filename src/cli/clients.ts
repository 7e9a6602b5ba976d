/**
 * `gatehouse clients add`: one entry for the config's `clients` array, validated by the same schema
 * the origin uses. The command prints exactly that entry on stdout, so it composes:
 *
 *   gatehouse clients add --id svc --type confidential --audience https://api.example.com \
 *     > client.json   # and, for a confidential client, the secret once on stderr
 *   jq --slurpfile c client.json '.clients += $c' config.json
 *
 * Every client gets at least one audience: its access tokens carry `aud` = that audience, which is
 * what the edge and `/verify` check (`GATEHOUSE_AUDIENCE`). Without `--audience` the command takes
 * `GATEHOUSE_AUDIENCE` from its environment, else refuses: a token whose `aud` is the issuer itself
 * (the origin's fallback) is refused by every verifier of an API.
 *
 * Without `--grant`, a client with a redirect URI gets `authorization_code` + `refresh_token`, a
 * confidential one without `client_credentials`.
 *
 * A confidential client gets a fresh 256-bit secret; the entry keeps only its SHA-256. The secret is
 * written once, to stderr or to `--secret-file` (created 0600, never overwritten), never to stdout.
 *
 * DPoP (RFC 9449, docs/dpop.md): `--require-dpop` sets `requireDpop` (every token request must carry
 * a proof, §5.2 `dpop_bound_access_tokens`), `--dpop-nonce` sets `dpopNonce` (proofs to /token must
 * carry the server's nonce, §8). `gatehouse clients update` turns either on or off for a client of an
 * existing config (`--no-require-dpop`, `--no-dpop-nonce`) and prints the whole config.
 *
 * @example
 * gatehouse clients add --id spa --type public --redirect-uri https://app.example.com/callback \
 *   --grant authorization_code --grant refresh_token --scope openid --scope profile \
 *   --audience https://api.example.com --origin https://app.example.com
 */
import { readFile } from 'node:fs/promises'
import { parseArgs } from 'node:util'
import { hashClientSecret } from '../core/oauth/clients.ts'
import { oauthConfigSchema } from '../core/oauth/config.ts'
import { randomToken } from '../core/oauth/crypto.ts'
import { UsageError } from './keys.ts'

export interface ClientsAddResult {
  /** The entry for the config's `clients` array; what stdout shows. */
  client: Record<string, unknown>
  /** A confidential client's secret, to show once and never store in the config. */
  clientSecret?: string
  /** Where the secret goes: a file path, or undefined for stderr. */
  secretFile?: string
  /** Set when the audience came from GATEHOUSE_AUDIENCE rather than --audience. */
  audienceFromEnv?: string
}

export async function clientsAdd(
  args: string[],
  env: { GATEHOUSE_AUDIENCE?: string | undefined } = {},
): Promise<ClientsAddResult> {
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
      'secret-file': { type: 'string' },
      'require-dpop': { type: 'boolean', default: false },
      'dpop-nonce': { type: 'boolean', default: false },
    },
  })
  if (!values.id) throw new UsageError('--id is required')
  if (values.type !== 'public' && values.type !== 'confidential')
    throw new UsageError('--type must be public or confidential')
  const envAudience = env.GATEHOUSE_AUDIENCE?.trim() || undefined
  const audiences = values.audience.length > 0 ? values.audience : envAudience ? [envAudience] : []
  if (audiences.length === 0)
    throw new UsageError(
      '--audience is required: the identifier of the API the tokens are for, the value its ' +
        'verifiers check (GATEHOUSE_AUDIENCE); or set GATEHOUSE_AUDIENCE in the environment',
    )
  const confidential = values.type === 'confidential'
  if (!confidential && values['secret-file'] !== undefined)
    throw new UsageError('--secret-file is for a confidential client (a public one has no secret)')
  const clientSecret = confidential ? randomToken(32) : undefined
  // Without --grant: a client that has somewhere to send users back to signs users in (code +
  // refresh, RFC 9700 §2.1.1); a confidential one with no redirect URI is a service.
  const grants =
    values.grant.length > 0
      ? values.grant
      : confidential && values['redirect-uri'].length === 0
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
    audiences,
    // Written only when on: the schema's default is off.
    ...(values['require-dpop'] ? { requireDpop: true } : {}),
    ...(values['dpop-nonce'] ? { dpopNonce: true } : {}),
  }
  checkClientEntry(client)
  return {
    client,
    ...(clientSecret ? { clientSecret } : {}),
    ...(values['secret-file'] !== undefined ? { secretFile: values['secret-file'] } : {}),
    ...(values.audience.length === 0 && envAudience ? { audienceFromEnv: envAudience } : {}),
  }
}

/** Same rules as at start-up, so a printed entry is one the origin accepts. */
function checkClientEntry(client: Record<string, unknown>): void {
  const check = oauthConfigSchema.safeParse({ issuer: 'https://issuer.invalid', clients: [client] })
  if (check.success) return
  const problems = check.error.issues.map(
    (i) => `${i.path.slice(2).join('.') || 'client'}: ${i.message}`,
  )
  throw new UsageError(`invalid client:\n  ${problems.join('\n  ')}`)
}

export interface ClientsUpdateResult {
  /** The whole config with the client changed; what stdout shows. */
  config: Record<string, unknown>
  /** The client entry as it is now. */
  client: Record<string, unknown>
  /** The config file read. */
  configFile: string
}

/** An on/off pair of flags (`--x` / `--no-x`); undefined when neither was given. */
function toggle(on: boolean | undefined, off: boolean | undefined, name: string) {
  if (on && off) throw new UsageError(`--${name} and --no-${name} contradict each other`)
  return on ? true : off ? false : undefined
}

/**
 * `gatehouse clients update`: changes one client of the origin's JSON config (`--config`, default
 * `GATEHOUSE_CONFIG`) and returns the whole config, every other member untouched, for stdout. The
 * origin reads its config at start: the change applies once the processes restart.
 *
 * @example
 * gatehouse clients update --config config.json --id spa --require-dpop --dpop-nonce > config.new.json
 */
export async function clientsUpdate(
  args: string[],
  env: { GATEHOUSE_CONFIG?: string | undefined } = {},
  deps: { readFile?: (path: string) => Promise<string> } = {},
): Promise<ClientsUpdateResult> {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      id: { type: 'string' },
      config: { type: 'string' },
      'require-dpop': { type: 'boolean' },
      'no-require-dpop': { type: 'boolean' },
      'dpop-nonce': { type: 'boolean' },
      'no-dpop-nonce': { type: 'boolean' },
    },
  })
  if (!values.id) throw new UsageError('--id is required')
  const configFile = values.config ?? (env.GATEHOUSE_CONFIG?.trim() || undefined)
  if (configFile === undefined)
    throw new UsageError('--config is required (or GATEHOUSE_CONFIG in the environment)')
  const requireDpop = toggle(values['require-dpop'], values['no-require-dpop'], 'require-dpop')
  const dpopNonce = toggle(values['dpop-nonce'], values['no-dpop-nonce'], 'dpop-nonce')
  if (requireDpop === undefined && dpopNonce === undefined)
    throw new UsageError(
      'nothing to change: give --require-dpop, --no-require-dpop, --dpop-nonce or --no-dpop-nonce',
    )
  const text = await (deps.readFile ?? ((p: string) => readFile(p, 'utf8')))(configFile)
  let config: unknown
  try {
    config = JSON.parse(text)
  } catch {
    throw new Error(`${configFile} is not JSON`)
  }
  const clients = (config as { clients?: unknown } | null)?.clients
  if (typeof config !== 'object' || config === null || !Array.isArray(clients))
    throw new Error(`${configFile} has no "clients" array`)
  const index = clients.findIndex((c: unknown) => (c as { id?: unknown } | null)?.id === values.id)
  if (index === -1) throw new Error(`${configFile} has no client "${values.id}"`)
  const client = { ...(clients[index] as Record<string, unknown>) }
  if (requireDpop !== undefined) client.requireDpop = requireDpop
  if (dpopNonce !== undefined) client.dpopNonce = dpopNonce
  checkClientEntry(client)
  return {
    config: { ...config, clients: clients.map((c, i) => (i === index ? client : c)) },
    client,
    configFile,
  }
}
