/**
 * The Node process's configuration, complete before anything happens: the environment (the
 * variables of config-variables.ts that Node reads) and, for a minting origin, the JSON config named
 * by `GATEHOUSE_CONFIG` with the private keys of `GATEHOUSE_KEYS_FILE`, the signing keys imported and
 * checked. Every problem is collected and thrown as one `ConfigError`: a file error names the path and
 * the OS reason, a JSON error its line and column, a config field its path, a variable its rule. The
 * process exits on it before it writes anything to L2 or listens (node-server.ts).
 *
 * @example
 * const config = await loadNodeConfig(process.env) // throws ConfigError listing every problem
 */
import { readFile } from 'node:fs/promises'
import { checkVerificationConfig, type VerificationConfig } from '../core/config.ts'
import { ConfigError, type ConfigIssue } from '../core/errors.ts'
import { describeJsonError, parseJsonText } from '../core/json-text.ts'
import { parseOAuthConfig, type OAuthConfig } from '../core/oauth/config.ts'
import { loadSigningKeys, type SigningKeySet } from '../core/oauth/keys.ts'

export interface NodeConfig {
  /** Verification and process settings. `keySource` absent: the origin's own published keys. */
  verification: VerificationConfig
  /** The minting origin's config, when `GATEHOUSE_CONFIG` is set; its issuer is the final one. */
  oauth?: OAuthConfig
  /** The configured signing keys, imported (none: development's shared ephemeral key). */
  signingKeys?: SigningKeySet
  /** `NODE_ENV=production`: no memory store, no ephemeral keys. */
  production: boolean
  trustedProxyHops: number
}

export interface NodeConfigOptions {
  /** Default `fs.readFile(path, 'utf8')`. */
  readFile?: (path: string) => Promise<string>
  /** The caller brings its own store (tests): the L2 variables are then not required. */
  storeProvided?: boolean
}

const isSet = (v: unknown): v is string => typeof v === 'string' && v !== ''

/**
 * Every problem in the Node configuration, without throwing; the config when there is none.
 * `gatehouse config check` prints the problems; `loadNodeConfig` throws them.
 *
 * @example const { issues } = await checkNodeConfig(process.env)
 */
export async function checkNodeConfig(
  env: Record<string, unknown>,
  options: NodeConfigOptions = {},
): Promise<{ config?: NodeConfig; issues: ConfigIssue[] }> {
  const minting = isSet(env.GATEHOUSE_CONFIG)
  const checked = checkVerificationConfig(env, { runtime: 'node', origin: minting })
  const issues = [...checked.issues]
  const production = env.NODE_ENV === 'production'
  const read = options.readFile ?? ((path: string) => readFile(path, 'utf8'))

  let oauth: OAuthConfig | undefined
  let signingKeys: SigningKeySet | undefined
  if (minting) {
    const file = await oauthConfigFrom(env, read, issues)
    if (file) {
      oauth = file
      if (oauth.keys.length > 0) {
        try {
          signingKeys = await loadSigningKeys(oauth.keys)
        } catch (e) {
          if (!(e instanceof ConfigError)) throw e
          issues.push(...e.issues)
        }
      } else if (production) {
        issues.push({ field: 'config.keys', message: 'signing keys are required in production' })
      }
    }
  } else if (isSet(env.GATEHOUSE_KEYS_FILE)) {
    issues.push({ field: 'GATEHOUSE_KEYS_FILE', message: 'is read only with GATEHOUSE_CONFIG' })
  }
  if (production && !options.storeProvided && !isSet(env.UPSTASH_REDIS_REST_URL))
    issues.push({
      field: 'UPSTASH_REDIS_REST_URL',
      message: 'is required in production (with UPSTASH_REDIS_REST_TOKEN)',
    })

  if (issues.length > 0 || !checked.config) return { issues }
  const verification = { ...checked.config }
  if (oauth) verification.issuer = oauth.issuer
  return {
    config: {
      verification,
      ...(oauth ? { oauth } : {}),
      ...(signingKeys ? { signingKeys } : {}),
      production,
      trustedProxyHops: Number(env.GATEHOUSE_TRUSTED_PROXY_HOPS ?? 0) || 0,
    },
    issues,
  }
}

/**
 * Reads, checks and returns the Node configuration, or throws one `ConfigError` with every problem.
 *
 * @example const config = await loadNodeConfig(process.env)
 */
export async function loadNodeConfig(
  env: Record<string, unknown>,
  options: NodeConfigOptions = {},
): Promise<NodeConfig> {
  const { config, issues } = await checkNodeConfig(env, options)
  if (!config) throw new ConfigError(issues)
  return config
}

/** The JSON text of `path`, or an issue naming the path and the OS reason. */
async function readText(
  field: string,
  path: string,
  read: (path: string) => Promise<string>,
  issues: ConfigIssue[],
): Promise<string | undefined> {
  try {
    return await read(path)
  } catch (e) {
    issues.push({ field, message: `cannot read ${path}: ${fileErrorReason(e)}` })
    return undefined
  }
}

/**
 * The OS reason of a failed file read, e.g. `no such file or directory (ENOENT)`.
 *
 * @example fileErrorReason(await readFile(p).catch((e) => e)) // 'permission denied (EACCES)'
 */
export function fileErrorReason(e: unknown): string {
  const code = (e as { code?: unknown } | null)?.code
  // Node's message is `ENOENT: no such file or directory, open '<path>'`: keep the reason only.
  const reason = e instanceof Error ? /^[A-Z]+: ([^,]+)/.exec(e.message)?.[1] : undefined
  return `${reason ?? 'unreadable'}${typeof code === 'string' ? ` (${code})` : ''}`
}

/** Parses JSON text; a syntax error becomes an issue with the path, line and column. */
function jsonOf(field: string, path: string, text: string, issues: ConfigIssue[]): unknown {
  const parsed = parseJsonText(text)
  if (parsed.ok) return parsed.value
  issues.push({ field, message: `${path} is not valid JSON (${describeJsonError(parsed)})` })
  return undefined
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v)

/** The config file, with the keys file's keys and `GATEHOUSE_ISSUER` applied, validated. */
async function oauthConfigFrom(
  env: Record<string, unknown>,
  read: (path: string) => Promise<string>,
  issues: ConfigIssue[],
): Promise<OAuthConfig | undefined> {
  const path = env.GATEHOUSE_CONFIG as string
  const text = await readText('GATEHOUSE_CONFIG', path, read, issues)
  let raw = text === undefined ? undefined : jsonOf('GATEHOUSE_CONFIG', path, text, issues)
  if (text !== undefined && raw !== undefined && !isObject(raw)) {
    issues.push({ field: 'GATEHOUSE_CONFIG', message: `${path} must hold a JSON object` })
    raw = undefined
  }
  // Private signing keys may live in their own file (a Kubernetes Secret) so the JSON config can
  // be a ConfigMap: `{"keys": [private JWKs with kid, alg, status]}`, validated by the same schema.
  let fileKeys: unknown[] | undefined
  if (isSet(env.GATEHOUSE_KEYS_FILE)) {
    const keysPath = env.GATEHOUSE_KEYS_FILE
    const keysText = await readText('GATEHOUSE_KEYS_FILE', keysPath, read, issues)
    const doc =
      keysText === undefined ? undefined : jsonOf('GATEHOUSE_KEYS_FILE', keysPath, keysText, issues)
    if (keysText !== undefined && doc !== undefined) {
      if (isObject(doc) && Array.isArray(doc.keys)) fileKeys = doc.keys
      else
        issues.push({
          field: 'GATEHOUSE_KEYS_FILE',
          message: `${keysPath} must be {"keys": [private JWKs with kid, alg, status]}`,
        })
    }
    if (isObject(raw) && Array.isArray(raw.keys) && raw.keys.length > 0)
      issues.push({
        field: 'GATEHOUSE_KEYS_FILE',
        message: 'the config file declares keys too: keep them in one place',
      })
  }
  if (!isObject(raw)) return undefined
  const merged = {
    ...raw,
    ...(fileKeys ? { keys: fileKeys } : {}),
    ...(isSet(env.GATEHOUSE_ISSUER) ? { issuer: env.GATEHOUSE_ISSUER } : {}),
  }
  try {
    return parseOAuthConfig(merged)
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e
    // The issuer came from the environment: name the variable the operator set.
    const fromEnv = isSet(env.GATEHOUSE_ISSUER)
    issues.push(
      ...e.issues.map((i) =>
        fromEnv && i.field === 'config.issuer' ? { ...i, field: 'GATEHOUSE_ISSUER' } : i,
      ),
    )
    return undefined
  }
}
