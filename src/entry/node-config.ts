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
import { fileMode, fileModeProblems } from './node-secret-files.ts'

export interface NodeConfig {
  /** Verification and process settings. `keySource` absent: the origin's own published keys. */
  verification: VerificationConfig
  /** The minting origin's config, when `GATEHOUSE_CONFIG` is set; its issuer is the final one. */
  oauth?: OAuthConfig
  /** The configured signing keys, imported (none: development's shared ephemeral key). */
  signingKeys?: SigningKeySet
  /** `NODE_ENV=production`: no memory store, no development key-encryption key. */
  production: boolean
  trustedProxyHops: number
  /** Problems that do not stop the process (a world-readable secret file); the caller logs them. */
  warnings: ConfigIssue[]
}

export interface NodeConfigOptions {
  /** Default `fs.readFile(path, 'utf8')`. */
  readFile?: (path: string) => Promise<string>
  /** The caller brings its own store (tests): the L2 variables are then not required. */
  storeProvided?: boolean
  /** Default: the mode `fs.stat` reports (node-secret-files.ts checks it). */
  fileMode?: (path: string) => Promise<number | undefined>
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
): Promise<{ config?: NodeConfig; issues: ConfigIssue[]; warnings: ConfigIssue[] }> {
  const minting = isSet(env.GATEHOUSE_CONFIG)
  const checked = checkVerificationConfig(env, { runtime: 'node', origin: minting })
  const issues = [...checked.issues]
  const warnings: ConfigIssue[] = []
  const production = env.NODE_ENV === 'production'
  const readText = options.readFile ?? ((path: string) => readFile(path, 'utf8'))
  const modeOf = options.fileMode ?? fileMode
  const files: Files = {
    read: readText,
    async checkMode(field, path, doc) {
      const { issue, warning } = fileModeProblems(field, await modeOf(path), doc)
      if (issue) issues.push(issue)
      if (warning) warnings.push(warning)
    },
  }

  let oauth: OAuthConfig | undefined
  let signingKeys: SigningKeySet | undefined
  if (minting) {
    const file = await oauthConfigFrom(env, files, issues)
    if (file) {
      oauth = file
      if (oauth.keys.length > 0) {
        try {
          signingKeys = await loadSigningKeys(oauth.keys)
        } catch (e) {
          if (!(e instanceof ConfigError)) throw e
          issues.push(...e.issues)
        }
      }
      // docs/keys.md: the key set in L2 holds private keys only wrapped under this key.
      if (production && oauth.keyEncryptionKeys.length === 0)
        issues.push({
          field: 'config.keyEncryptionKeys',
          message:
            'is required in production (in GATEHOUSE_KEYS_FILE): signing keys are kept in L2 encrypted under it; gatehouse keys generate-kek',
        })
    }
  } else if (isSet(env.GATEHOUSE_KEYS_FILE)) {
    issues.push({ field: 'GATEHOUSE_KEYS_FILE', message: 'is read only with GATEHOUSE_CONFIG' })
  }
  if (production && !options.storeProvided && !isSet(env.UPSTASH_REDIS_REST_URL))
    issues.push({
      field: 'UPSTASH_REDIS_REST_URL',
      message: 'is required in production (with UPSTASH_REDIS_REST_TOKEN)',
    })

  if (issues.length > 0 || !checked.config) return { issues, warnings }
  const verification = { ...checked.config }
  if (oauth) verification.issuer = oauth.issuer
  return {
    config: {
      verification,
      ...(oauth ? { oauth } : {}),
      ...(signingKeys ? { signingKeys } : {}),
      production,
      trustedProxyHops: Number(env.GATEHOUSE_TRUSTED_PROXY_HOPS ?? 0) || 0,
      warnings,
    },
    issues,
    warnings,
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

/** How the files are read, and where their modes are checked (node-secret-files.ts). */
interface Files {
  read(path: string): Promise<string>
  checkMode(field: string, path: string, doc: unknown): Promise<void>
}

/** The JSON text of `path`, or an issue naming the path and the OS reason. */
async function readText(
  field: string,
  path: string,
  files: Files,
  issues: ConfigIssue[],
): Promise<string | undefined> {
  try {
    return await files.read(path)
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

/** The members a keys file may hold (both arrays, both optional); undefined for anything else. */
function keysFileMembers(doc: unknown): Record<string, unknown> | undefined {
  if (!isObject(doc)) return undefined
  const names = Object.keys(doc)
  const allowed = ['keys', 'keyEncryptionKeys']
  if (names.some((n) => !allowed.includes(n) || !Array.isArray(doc[n]))) return undefined
  return doc
}

/** The config file, with the keys file's keys and `GATEHOUSE_ISSUER` applied, validated. */
async function oauthConfigFrom(
  env: Record<string, unknown>,
  files: Files,
  issues: ConfigIssue[],
): Promise<OAuthConfig | undefined> {
  const path = env.GATEHOUSE_CONFIG as string
  const text = await readText('GATEHOUSE_CONFIG', path, files, issues)
  let raw = text === undefined ? undefined : jsonOf('GATEHOUSE_CONFIG', path, text, issues)
  if (text !== undefined) await files.checkMode('GATEHOUSE_CONFIG', path, raw)
  if (text !== undefined && raw !== undefined && !isObject(raw)) {
    issues.push({ field: 'GATEHOUSE_CONFIG', message: `${path} must hold a JSON object` })
    raw = undefined
  }
  // Private signing keys and the key-encryption keys may live in their own file (a Kubernetes
  // Secret) so the JSON config can be a ConfigMap: `{"keyEncryptionKeys": [...], "keys": [...]}`,
  // both optional, validated by the same schema.
  let fileKeys: Record<string, unknown> | undefined
  if (isSet(env.GATEHOUSE_KEYS_FILE)) {
    const keysPath = env.GATEHOUSE_KEYS_FILE
    const keysText = await readText('GATEHOUSE_KEYS_FILE', keysPath, files, issues)
    const doc =
      keysText === undefined ? undefined : jsonOf('GATEHOUSE_KEYS_FILE', keysPath, keysText, issues)
    if (keysText !== undefined) await files.checkMode('GATEHOUSE_KEYS_FILE', keysPath, doc)
    if (keysText !== undefined && doc !== undefined) {
      fileKeys = keysFileMembers(doc)
      if (!fileKeys)
        issues.push({
          field: 'GATEHOUSE_KEYS_FILE',
          message: `${keysPath} must be {"keyEncryptionKeys": [...], "keys": [...]} (both optional)`,
        })
    }
    const inline = (name: string) =>
      isObject(raw) && Array.isArray(raw[name]) && raw[name].length > 0
    if (inline('keys') || inline('keyEncryptionKeys'))
      issues.push({
        field: 'GATEHOUSE_KEYS_FILE',
        message: 'the config file declares keys too: keep them in one place',
      })
  }
  if (!isObject(raw)) return undefined
  const merged = {
    ...raw,
    ...fileKeys,
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
