/**
 * What a published policy set is in L2, and where it lives. Per tenant (the default tenant until
 * tenancy lands), two kinds of keys:
 *
 *   t:{tenant}:policy:head                 the version in force: {"version":N,"key":"…","history":[…]}
 *   t:{tenant}:policy:v:{version}:{nonce}  one published version: the schema and the policies
 *
 * A publish writes a new version document under a fresh key, then swaps the head with one
 * compare-and-swap: readers see the old version or the new one, never a mix, and two racing
 * publishers cannot both win. The head keeps the last few versions' keys so `gatehouse policies show
 * --version N` can read them; older documents are deleted.
 */
import { z } from 'zod'
import { DEFAULT_TENANT, TENANT_ID } from '../core/policy-routes.ts'
import type { PolicyJson, SchemaJson } from './engine.ts'

export { DEFAULT_TENANT, TENANT_ID }
/** Versions kept readable after they leave force (the head's history). */
export const HISTORY_LENGTH = 10
/** Upper bounds on one published set, so one document stays one small L2 value. */
export const MAX_POLICIES = 10_000
export const MAX_DOCUMENT_BYTES = 512 * 1024
/** A policy id: the `@id("…")` annotation, or `policyN` (its position) as Cedar names it. */
export const POLICY_ID = /^[\w.:/-]{1,128}$/

/**
 * The L2 key of a tenant's head. Throws a `TypeError` on an invalid tenant id.
 *
 * @example policyHeadKey('default') // 't:default:policy:head'
 */
export function policyHeadKey(tenant: string): string {
  assertTenant(tenant)
  return `t:${tenant}:policy:head`
}

/**
 * The L2 key of one version's document; `nonce` makes every publish attempt's key its own.
 *
 * @example policyVersionKey('default', 3, 'k2f9') // 't:default:policy:v:3:k2f9'
 */
export function policyVersionKey(tenant: string, version: number, nonce: string): string {
  assertTenant(tenant)
  return `t:${tenant}:policy:v:${version}:${nonce}`
}

export function assertTenant(tenant: unknown): asserts tenant is string {
  if (typeof tenant !== 'string' || !TENANT_ID.test(tenant)) {
    throw new TypeError('tenant must be 1-63 characters of a-z, 0-9 and inner hyphens')
  }
}

const version = z.number().int().min(1).max(Number.MAX_SAFE_INTEGER)

const headSchema = z.object({
  version,
  key: z.string().min(1).max(1024),
  publishedAt: z.string().max(64),
  history: z.array(z.object({ version, key: z.string().min(1).max(1024) })).max(HISTORY_LENGTH),
})

/** The head: which version is in force, and where the recent ones are. */
export type PolicyHead = z.infer<typeof headSchema>

const documentSchema = z.object({
  format: z.literal(1),
  tenant: z.string().regex(TENANT_ID),
  version,
  publishedAt: z.string().max(64),
  /** The Cedar schema in its JSON format (the engine checks the shape). */
  schema: z.record(z.string(), z.unknown()),
  /** Policy id → the policy in Cedar's JSON policy format (the engine checks the shape). */
  policies: z
    .record(z.string().regex(POLICY_ID), z.record(z.string(), z.unknown()))
    .refine((p) => Object.keys(p).length <= MAX_POLICIES, `at most ${MAX_POLICIES} policies`),
})

/**
 * One published version of a tenant's policy set, in Cedar's JSON forms: the edge reads each
 * policy's scope from the same JSON it gives the engine, so what it slices is what is evaluated.
 */
export interface PolicyDocument {
  format: 1
  tenant: string
  version: number
  publishedAt: string
  schema: SchemaJson<string>
  policies: Record<string, PolicyJson>
}

/**
 * Parses a head read from L2; `undefined` when it is not a head (hand-edited, another format).
 *
 * @example parsePolicyHead(await store.get(policyHeadKey('default')))
 */
export function parsePolicyHead(text: string): PolicyHead | undefined {
  return parseJson(text, headSchema)
}

/**
 * Parses a version document read from L2; `undefined` when it is not one.
 *
 * @example parsePolicyDocument(await store.get(head.key))
 */
export function parsePolicyDocument(text: string): PolicyDocument | undefined {
  // The shapes of the schema and policies are the engine's to check (a bad one fails to compile).
  return parseJson(text, documentSchema) as PolicyDocument | undefined
}

function parseJson<T>(text: string, schema: z.ZodType<T>): T | undefined {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return undefined
  }
  const parsed = schema.safeParse(value)
  return parsed.success ? parsed.data : undefined
}
