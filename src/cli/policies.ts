/**
 * `gatehouse policies validate|test|publish|show`: Cedar policy sets (docs/policy.md).
 *
 *   gatehouse policies validate --schema S FILE...            parse + validate against the schema
 *   gatehouse policies test CASES.json                        run request → decision cases
 *   gatehouse policies publish --schema S [--tenant T] [--expect-version N] FILE...
 *   gatehouse policies show [--tenant T] [--version N] [--json]   (--json: the document as stored)
 *
 * publish and show talk to L2 (UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN). Each prints one
 * JSON value; a set that does not validate, a failing case or a refused publish exit with 1.
 *
 * @example gatehouse policies publish --schema schema.cedarschema documents.cedar admin.cedar
 */
import { readFile } from 'node:fs/promises'
import { basename, dirname, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { loadNodeCedar } from '../policy/engine-node.ts'
import { DEFAULT_TENANT } from '../policy/policy-document.ts'
import { preparePolicySet, type PolicyFile } from '../policy/prepare.ts'
import { publishPolicySet, readPolicySet } from '../policy/publish.ts'
import { policyTestFileSchema, runPolicyTests } from '../policy/test-cases.ts'
import { createUpstashStore } from '../store/upstash.ts'
import type { Store } from '../store/types.ts'
import { UsageError } from './keys.ts'

export interface CommandResult {
  output: unknown
  exitCode: 0 | 1
}

type Env = Record<string, string | undefined>

const USAGE = `usage:
  gatehouse policies validate --schema SCHEMA FILE...
  gatehouse policies test CASES.json
  gatehouse policies publish --schema SCHEMA [--tenant T] [--expect-version N] FILE...
  gatehouse policies show [--tenant T] [--version N] [--json]`

/**
 * Runs one `policies` subcommand. `store` replaces the Upstash store built from `env` (tests).
 *
 * @example const { output, exitCode } = await policiesCommand(['show'], process.env)
 */
export async function policiesCommand(
  args: string[],
  env: Env,
  store?: Store,
): Promise<CommandResult> {
  const [action, ...rest] = args
  if (action === 'validate') return validate(rest)
  if (action === 'test') return test(rest)
  if (action === 'publish') return publish(rest, storeFrom(env, store))
  if (action === 'show') return show(rest, storeFrom(env, store))
  throw new UsageError(USAGE)
}

async function validate(args: string[]): Promise<CommandResult> {
  const { schema, files } = await readSet(args)
  const result = preparePolicySet(loadNodeCedar(), { schema, sources: files })
  return result.ok
    ? {
        output: {
          valid: true,
          policies: Object.keys(result.set.policies),
          warnings: result.set.warnings,
        },
        exitCode: 0,
      }
    : {
        output: { valid: false, problems: result.problems, warnings: result.warnings },
        exitCode: 1,
      }
}

async function test(args: string[]): Promise<CommandResult> {
  const { positionals } = parseArgs({ args, allowPositionals: true, strict: true })
  if (positionals.length !== 1) throw new UsageError('usage: gatehouse policies test CASES.json')
  const path = resolve(positionals[0] as string)
  let json: unknown
  try {
    json = JSON.parse(await readFile(path, 'utf8'))
  } catch (e) {
    throw new UsageError(`${path}: ${(e as Error).message}`)
  }
  const parsed = policyTestFileSchema.safeParse(json)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    throw new UsageError(`${basename(path)}: ${issue?.path.join('.')}: ${issue?.message}`)
  }
  const dir = dirname(path)
  const run = runPolicyTests(loadNodeCedar(), {
    schema: await readFile(resolve(dir, parsed.data.schema), 'utf8'),
    files: await readFiles(parsed.data.policies.map((p) => resolve(dir, p))),
    cases: parsed.data.cases,
    time: parsed.data.time,
  })
  if (!run.ok) return { output: { valid: false, problems: run.problems }, exitCode: 1 }
  return {
    output: { passed: run.passed, failed: run.failed, results: run.results },
    exitCode: run.failed > 0 ? 1 : 0,
  }
}

async function publish(args: string[], store: Store): Promise<CommandResult> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    strict: true,
    options: {
      schema: { type: 'string' },
      tenant: { type: 'string', default: DEFAULT_TENANT },
      'expect-version': { type: 'string' },
    },
  })
  const expected = values['expect-version']
  if (expected !== undefined && !/^\d{1,15}$/.test(expected)) {
    throw new UsageError('--expect-version must be a version number (0: none published yet)')
  }
  const { schema, files } = await readSet([
    ...(values.schema === undefined ? [] : ['--schema', values.schema]),
    ...positionals,
  ])
  const result = await publishPolicySet(store, loadNodeCedar(), {
    tenant: values.tenant,
    schema,
    sources: files,
    ...(expected === undefined ? {} : { expectedVersion: Number(expected) }),
  })
  return result.ok
    ? { output: result, exitCode: 0 }
    : {
        output: { published: false, problems: result.problems, warnings: result.warnings },
        exitCode: 1,
      }
}

async function show(args: string[], store: Store): Promise<CommandResult> {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      tenant: { type: 'string', default: DEFAULT_TENANT },
      version: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  })
  if (values.version !== undefined && !/^\d{1,15}$/.test(values.version)) {
    throw new UsageError('--version must be a version number')
  }
  const version = values.version === undefined ? undefined : Number(values.version)
  const document = await readPolicySet(store, values.tenant, version)
  if (!document) {
    return {
      output: { tenant: values.tenant, published: false, ...(version ? { version } : {}) },
      exitCode: 1,
    }
  }
  if (values.json) return { output: document, exitCode: 0 }
  // L2 holds Cedar's JSON forms; people read the text form.
  const engine = loadNodeCedar()
  const schema = engine.schemaToText(document.schema)
  const policies = Object.fromEntries(
    Object.entries(document.policies).map(([id, policy]) => {
      const text = engine.policyToText(policy)
      return [id, text.type === 'success' ? text.text : policy]
    }),
  )
  return {
    output: {
      tenant: document.tenant,
      version: document.version,
      publishedAt: document.publishedAt,
      schema: schema.type === 'success' ? schema.text : document.schema,
      policies,
    },
    exitCode: 0,
  }
}

/** `--schema S FILE...` → the schema text and the policy files. */
async function readSet(args: string[]): Promise<{ schema: string; files: PolicyFile[] }> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    strict: true,
    options: { schema: { type: 'string' } },
  })
  if (values.schema === undefined || positionals.length === 0) {
    throw new UsageError('give --schema SCHEMA and at least one policy file')
  }
  const [schema] = await readFiles([resolve(values.schema)])
  return {
    schema: (schema as PolicyFile).text,
    files: await readFiles(positionals.map((p) => resolve(p))),
  }
}

async function readFiles(paths: string[]): Promise<PolicyFile[]> {
  return Promise.all(
    paths.map(async (path) => {
      try {
        return { name: basename(path), text: await readFile(path, 'utf8') }
      } catch (e) {
        throw new UsageError(`cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`)
      }
    }),
  )
}

function storeFrom(env: Env, store: Store | undefined): Store {
  if (store) return store
  const url = env.UPSTASH_REDIS_REST_URL
  const token = env.UPSTASH_REDIS_REST_TOKEN
  if (!url || !token) {
    throw new UsageError('set UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN (the edge’s L2)')
  }
  return createUpstashStore({ url, token })
}
