/**
 * Policy tests: a file of requests with the decision each must get, run against a policy set before
 * it is published (`gatehouse policies test`). A case is decided exactly as the edge decides it
 * (the same request model, the same compiled set), without L2.
 *
 *   { "schema": "schema.cedarschema", "policies": ["documents.cedar"],
 *     "cases": [{ "name": "a reader reads", "claims": { "sub": "alice" },
 *                 "action": "GET /documents/:id", "resource": { "type": "Document", "id": "42" },
 *                 "expect": "allow", "policies": ["documents-read-users"] }] }
 *
 * Optional per case: `ip`, `params`, `time` (ISO 8601 or epoch seconds; default the file's `time`,
 * else 2030-01-01T00:00:00Z, so a run is reproducible), `tenant`. `policies`, when given, must equal
 * the determining policies (in any order).
 */
import { z } from 'zod'
import { compilePolicySet } from './compiled-set.ts'
import { createDecisionCache } from './decision-cache.ts'
import type { CedarModule } from './engine.ts'
import { DEFAULT_TENANT, TENANT_ID } from './policy-document.ts'
import { preparePolicySet, type PolicyFile, type PolicyProblem } from './prepare.ts'
import { buildCedarRequest } from './request.ts'

const DEFAULT_TIME = '2030-01-01T00:00:00Z'
const time = z.union([z.iso.datetime({ offset: true }), z.number().int().nonnegative()])

const caseSchema = z.strictObject({
  name: z.string().min(1),
  claims: z.record(z.string(), z.unknown()),
  action: z.string().min(1),
  resource: z.strictObject({ type: z.string().min(1), id: z.string() }),
  ip: z.string().optional(),
  params: z.record(z.string(), z.string()).optional(),
  time: time.optional(),
  tenant: z.string().regex(TENANT_ID).optional(),
  expect: z.enum(['allow', 'deny']),
  policies: z.array(z.string()).optional(),
})

/** The cases file: where the set is (paths relative to the file) and the cases. */
export const policyTestFileSchema = z.strictObject({
  schema: z.string().min(1),
  policies: z.array(z.string().min(1)).min(1),
  time: time.optional(),
  cases: z.array(caseSchema).min(1),
})

export type PolicyTestFile = z.infer<typeof policyTestFileSchema>
export type PolicyTestCase = z.infer<typeof caseSchema>

export interface PolicyTestResult {
  name: string
  ok: boolean
  expected: 'allow' | 'deny'
  actual: 'allow' | 'deny'
  /** The determining policies of the actual decision. */
  policies: string[]
  /** Why it failed, when it did. */
  message?: string
}

export type PolicyTestRun =
  | { ok: true; passed: number; failed: number; results: PolicyTestResult[] }
  | { ok: false; problems: PolicyProblem[] }

/**
 * Runs the cases against the set made of `schema` and `files`; `{ ok: false }` when the set itself
 * does not validate (then no case ran).
 *
 * @example
 * const run = runPolicyTests(loadNodeCedar(), { schema, files, cases: file.cases })
 * if (run.ok && run.failed > 0) process.exitCode = 1
 */
export function runPolicyTests(
  engine: CedarModule,
  input: {
    schema: string
    files: PolicyFile[]
    cases: PolicyTestCase[]
    time?: string | number | undefined
  },
): PolicyTestRun {
  const prepared = preparePolicySet(engine, { schema: input.schema, sources: input.files })
  if (!prepared.ok) return { ok: false, problems: prepared.problems }
  const compiled = compilePolicySet(
    engine,
    {
      format: 1,
      tenant: DEFAULT_TENANT,
      version: 1,
      publishedAt: new Date(0).toISOString(),
      schema: prepared.set.schema,
      policies: prepared.set.policies,
    },
    { slot: `policy-tests-${crypto.randomUUID()}`, cache: createDecisionCache({ maxEntries: 0 }) },
  )
  if (!compiled.ok)
    return { ok: false, problems: [{ where: 'policies', message: compiled.reason }] }

  const results = input.cases.map((c): PolicyTestResult => {
    const when = c.time ?? input.time ?? DEFAULT_TIME
    const built = buildCedarRequest({
      claims: c.claims,
      tenant: c.tenant ?? DEFAULT_TENANT,
      action: c.action,
      resource: c.resource,
      clientIp: c.ip,
      nowMs: typeof when === 'number' ? when * 1000 : Date.parse(when),
      ...(c.params ? { params: c.params } : {}),
    })
    const decision = built.ok
      ? compiled.set.decide(built.request)
      : { decision: 'deny' as const, policies: [] as string[], errors: [built.reason] }
    const policies = [...decision.policies].sort()
    const base = { name: c.name, expected: c.expect, actual: decision.decision, policies }
    if (decision.decision !== c.expect) {
      const errors = decision.errors.length > 0 ? ` (errors: ${decision.errors.join(', ')})` : ''
      return {
        ...base,
        ok: false,
        message: `expected ${c.expect}, got ${decision.decision}${errors}`,
      }
    }
    if (c.policies && JSON.stringify([...c.policies].sort()) !== JSON.stringify(policies)) {
      return {
        ...base,
        ok: false,
        message: `expected determining policies [${c.policies.join(', ')}]`,
      }
    }
    return { ...base, ok: true }
  })
  const failed = results.filter((r) => !r.ok).length
  return { ok: true, passed: results.length - failed, failed, results }
}
