/**
 * `gatehouse config check`: validates a configuration the way the service will at start, and prints
 * every problem at once (one `NAME: rule` line each, never a value) with a non-zero exit, so a deploy
 * can run it first:
 *
 *   gatehouse config check                       the Node origin: this environment and the files it names
 *   gatehouse config check --env-file .env       the same, with the variables of .env over the environment
 *   gatehouse config check --wrangler wrangler.toml [--env production] [--var NAME:VALUE]... [--secret NAME]...
 *                                                a Worker: the toml's [vars] (or [env.NAME.vars], which
 *                                                wrangler does not inherit), `--var` values over them as
 *                                                `wrangler deploy --var` would, and the names of secrets
 *                                                that are set (`wrangler secret put`; values unseen)
 *
 * @example gatehouse config check --wrangler wrangler.toml --env production --secret UPSTASH_REDIS_REST_TOKEN && wrangler deploy --env production
 */
import { readFile } from 'node:fs/promises'
import { parseArgs, parseEnv } from 'node:util'
import { parse as parseToml } from 'smol-toml'
import { checkVerificationConfig } from '../core/config.ts'
import { VARIABLES, type VariableName } from '../core/config-variables.ts'
import type { ConfigIssue } from '../core/errors.ts'
import { checkNodeConfig, fileErrorReason } from '../entry/node-config.ts'
import { UsageError } from './keys.ts'

export interface CheckReport {
  ok: boolean
  /** What was checked, e.g. `wrangler.toml [env.production]` or `the Node environment`. */
  checked: string
  problems: ConfigIssue[]
}

/**
 * Runs the check for `args`; `env` is the process environment (the Node origin's).
 *
 * @example const report = await configCheck(['--wrangler', 'wrangler.toml'], process.env)
 */
export async function configCheck(
  args: string[],
  env: Record<string, string | undefined>,
): Promise<CheckReport> {
  const { values } = parseArgs({
    args,
    options: {
      wrangler: { type: 'string' },
      env: { type: 'string' },
      var: { type: 'string', multiple: true, default: [] },
      secret: { type: 'string', multiple: true, default: [] },
      'env-file': { type: 'string' },
    },
    strict: true,
  })
  if (values.wrangler === undefined) {
    if (values.env !== undefined || values.var.length > 0 || values.secret.length > 0)
      throw new UsageError('--env, --var and --secret go with --wrangler')
    return checkNode(env, values['env-file'])
  }
  if (values['env-file'] !== undefined) throw new UsageError('--env-file is for the Node origin')
  return checkWorker(values.wrangler, values.env, values.var, values.secret)
}

async function checkNode(
  env: Record<string, string | undefined>,
  envFile: string | undefined,
): Promise<CheckReport> {
  let merged: Record<string, unknown> = { ...env }
  if (envFile !== undefined) {
    const text = await readOrProblem(envFile)
    if (typeof text !== 'string') return { ok: false, checked: envFile, problems: [text] }
    merged = { ...merged, ...parseEnv(text) }
  }
  const { issues } = await checkNodeConfig(merged)
  return {
    ok: issues.length === 0,
    checked: envFile === undefined ? 'the Node environment' : `the Node environment + ${envFile}`,
    problems: issues,
  }
}

async function checkWorker(
  path: string,
  envName: string | undefined,
  overrides: string[],
  secrets: string[],
): Promise<CheckReport> {
  const checked = envName === undefined ? path : `${path} [env.${envName}]`
  const text = await readOrProblem(path)
  if (typeof text !== 'string') return { ok: false, checked, problems: [text] }
  let toml: Record<string, unknown>
  try {
    toml = parseToml(text) as Record<string, unknown>
  } catch (e) {
    const at = e as { line?: number; column?: number }
    const where = at.line === undefined ? '' : ` (line ${at.line}, column ${at.column ?? 0})`
    return { ok: false, checked, problems: [{ field: path, message: `is not valid TOML${where}` }] }
  }
  const problems: ConfigIssue[] = []
  const environments = (toml.env ?? {}) as Record<string, { vars?: Record<string, unknown> }>
  if (envName !== undefined && environments[envName] === undefined)
    problems.push({ field: path, message: `has no [env.${envName}]` })
  // wrangler: [vars] are not inherited by environments; an environment has only its own.
  const vars = {
    ...((envName === undefined ? toml.vars : environments[envName]?.vars) ?? {}),
  } as Record<string, unknown>
  for (const pair of overrides) {
    const colon = pair.indexOf(':')
    if (colon <= 0) throw new UsageError('--var takes NAME:VALUE')
    vars[pair.slice(0, colon)] = pair.slice(colon + 1)
  }
  // A secret's value is not known here: its presence counts (pairs, key sources), its rule cannot.
  const unseen = new Set(secrets)
  for (const name of unseen) vars[name] = 'secret-value-not-seen'
  const { issues } = checkVerificationConfig(vars, { runtime: 'edge' })
  problems.push(
    ...issues.filter((i) => !(unseen.has(i.field) && i.field in VARIABLES && isRuleIssue(i))),
  )
  return { ok: problems.length === 0, checked, problems }
}

/** A problem with the value itself, not its presence or its name. */
const isRuleIssue = (i: ConfigIssue): boolean =>
  VARIABLES[i.field as VariableName] !== undefined &&
  !/^is read only by|^is not a known|go together|is required/.test(i.message)

async function readOrProblem(path: string): Promise<string | ConfigIssue> {
  try {
    return await readFile(path, 'utf8')
  } catch (e) {
    return { field: path, message: `cannot be read: ${fileErrorReason(e)}` }
  }
}

/** The report as the CLI prints it: problems on stderr, one per line. */
export function formatReport(report: CheckReport): string {
  if (report.ok) return `gatehouse: ${report.checked}: configuration OK`
  const n = report.problems.length
  return [
    `gatehouse: ${report.checked}: ${n} problem${n === 1 ? '' : 's'}`,
    ...report.problems.map((p) => `  ${p.field}: ${p.message}`),
  ].join('\n')
}
