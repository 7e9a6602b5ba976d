/**
 * Publish-time checks of a policy set: the schema parses, every policy parses, ids are unique, and
 * the whole set validates against the schema in Cedar's strict mode. A set that fails any of these
 * is never published (publish.ts); the CLI's `validate` prints the same problems.
 *
 * A prepared set is in Cedar's JSON forms (policies and schema), which is what is published: the
 * edge reads each policy's scope from the very JSON it hands the engine, with no parsing of its own
 * (parsing 100 policies' text at the edge cost ~1 s of first-request latency; bench:policy).
 */
import {
  callEngine,
  isEngineFailure,
  type CedarModule,
  type DetailedError,
  type EngineFailure,
  type PolicyJson,
  type SchemaJson,
} from './engine.ts'
import { MAX_POLICIES, POLICY_ID } from './policy-document.ts'

/** One reason a set cannot be published, or a warning that does not stop it. */
export interface PolicyProblem {
  /** Where: `schema`, `policies` (the whole set), or a file with its line (`documents.cedar:12`). */
  where: string
  /** The policy's id, when the problem is one policy's. */
  policy?: string
  message: string
}

/** A file of policies: its name (for messages) and its Cedar text. */
export interface PolicyFile {
  name: string
  text: string
}

export interface PreparedPolicySet {
  /** The schema in Cedar's JSON schema format. */
  schema: SchemaJson<string>
  /** Policy id → the policy in Cedar's JSON policy format, in source order. */
  policies: Record<string, PolicyJson>
  /** Policy id → its Cedar text as written. */
  texts: Record<string, string>
  warnings: PolicyProblem[]
}

export type PrepareResult =
  | { ok: true; set: PreparedPolicySet }
  | { ok: false; problems: PolicyProblem[]; warnings: PolicyProblem[] }

/**
 * Splits the sources into policies named by their `@id("…")` annotation (else `policyN`, N their
 * position across all sources), and validates them against `schema`.
 *
 * @example
 * const result = preparePolicySet(loadNodeCedar(), {
 *   schema: readFileSync('schema.cedarschema', 'utf8'),
 *   sources: [{ name: 'documents.cedar', text: readFileSync('documents.cedar', 'utf8') }],
 * })
 * if (!result.ok) console.error(result.problems)
 */
export function preparePolicySet(
  engine: CedarModule,
  input: { schema: string | Record<string, unknown>; sources: PolicyFile[] },
): PrepareResult {
  const problems: PolicyProblem[] = []
  const schemaAnswer = callEngine(() => engine.checkParseSchema(input.schema as never))
  if (isEngineFailure(schemaAnswer)) return engineBroke(schemaAnswer)
  if (schemaAnswer.type === 'failure') {
    for (const error of schemaAnswer.errors)
      problems.push({ where: 'schema', message: text(error) })
  }

  const policies: Record<string, string> = {}
  const jsonPolicies: Record<string, PolicyJson> = {}
  const located = new Map<string, string>()
  let position = 0
  for (const source of input.sources) {
    const parts = callEngine(() => engine.policySetTextToParts(source.text))
    if (isEngineFailure(parts)) return engineBroke(parts)
    if (parts.type === 'failure') {
      for (const error of parts.errors) {
        const offset = error.sourceLocations?.[0]?.start
        problems.push({ where: at(source, offset), message: text(error) })
      }
      continue
    }
    if (parts.policy_templates.length > 0) {
      problems.push({ where: source.name, message: 'policy templates are not supported' })
    }
    for (const { policy, offset } of inSourceOrder(source.text, parts.policies)) {
      const where = at(source, offset)
      const index = position++
      const json = callEngine(() => engine.policyToJson(policy))
      if (isEngineFailure(json)) return engineBroke(json)
      if (json.type === 'failure') {
        for (const error of json.errors) problems.push({ where, message: text(error) })
        continue
      }
      const id = json.json.annotations?.id ?? `policy${index}`
      if (!POLICY_ID.test(id)) {
        problems.push({ where, message: `@id must match ${POLICY_ID.source}` })
      } else if (hasInexactLong(json.json)) {
        // The set is published and evaluated in its JSON form, where a Long is a JavaScript number:
        // one outside ±(2^53 − 1) would silently become another number than the one validated.
        problems.push({
          where,
          policy: id,
          message: `a Long literal outside ±${Number.MAX_SAFE_INTEGER} is not supported`,
        })
      } else if (Object.hasOwn(policies, id)) {
        problems.push({ where, message: `duplicate policy id "${id}"` })
      } else {
        policies[id] = policy
        jsonPolicies[id] = json.json
        located.set(id, where)
      }
    }
  }
  if (position > MAX_POLICIES) {
    problems.push({ where: 'policies', message: `at most ${MAX_POLICIES} policies` })
  }
  if (problems.length > 0) return { ok: false, problems, warnings: [] }

  const answer = callEngine(() =>
    engine.validate({
      schema: input.schema as never,
      policies: { staticPolicies: policies },
      validationSettings: { mode: 'strict' },
    }),
  )
  if (isEngineFailure(answer)) return engineBroke(answer)
  if (answer.type === 'failure') {
    return {
      ok: false,
      problems: answer.errors.map((e) => ({ where: 'policies', message: text(e) })),
      warnings: answer.warnings.map((e) => ({ where: 'policies', message: text(e) })),
    }
  }
  const ofPolicy = (id: string, error: DetailedError): PolicyProblem => ({
    where: located.get(id) ?? 'policies',
    policy: id,
    message: text(error),
  })
  const warnings = [
    ...answer.validationWarnings.map((w) => ofPolicy(w.policyId, w.error)),
    ...answer.otherWarnings.map((w) => ({ where: 'policies', message: text(w) })),
  ]
  if (answer.validationErrors.length > 0) {
    return {
      ok: false,
      problems: answer.validationErrors.map((e) => ofPolicy(e.policyId, e.error)),
      warnings,
    }
  }
  const schema = callEngine(() => engine.schemaToJson(input.schema as never))
  if (isEngineFailure(schema)) return engineBroke(schema)
  if (schema.type === 'failure') {
    return {
      ok: false,
      problems: schema.errors.map((e) => ({ where: 'schema', message: text(e) })),
      warnings,
    }
  }
  return {
    ok: true,
    set: { schema: schema.json, policies: jsonPolicies, texts: policies, warnings },
  }
}

function engineBroke(failure: EngineFailure): PrepareResult {
  return {
    ok: false,
    problems: [{ where: 'engine', message: `the Cedar engine failed (${failure.errorName})` }],
    warnings: [],
  }
}

function text(error: DetailedError): string {
  return error.help ? `${error.message} (${error.help})` : error.message
}

/**
 * The parts with their offsets, in source order: Cedar returns them sorted by its own ids
 * (`policy0, policy1, policy10, …`), and `policyN` names must follow the source.
 */
function inSourceOrder(
  source: string,
  parts: string[],
): { policy: string; offset: number | undefined }[] {
  const claimed = new Set<number>()
  const located = parts.map((policy) => {
    let offset = source.indexOf(policy)
    while (offset >= 0 && claimed.has(offset)) offset = source.indexOf(policy, offset + 1)
    if (offset >= 0) claimed.add(offset)
    return { policy, offset: offset < 0 ? undefined : offset }
  })
  return located.sort((a, b) => (a.offset ?? Infinity) - (b.offset ?? Infinity))
}

/** `name:line` for an offset into the source, else the name. */
function at(source: PolicyFile, offset: number | undefined): string {
  if (offset === undefined) return source.name
  let line = 1
  for (let i = 0; i < offset && i < source.text.length; i++) if (source.text[i] === '\n') line++
  return `${source.name}:${line}`
}

/**
 * Whether a policy's JSON form holds a number that is not a safe integer (a Long literal the JSON
 * form cannot carry exactly: the engine's own `policyToJson` already rounded it).
 *
 * @example hasInexactLong({ Value: 9007199254740992 }) // true
 */
function hasInexactLong(value: unknown): boolean {
  if (typeof value === 'number') return !Number.isSafeInteger(value)
  if (typeof value !== 'object' || value === null) return false
  for (const item of Array.isArray(value) ? value : Object.values(value))
    if (hasInexactLong(item)) return true
  return false
}
