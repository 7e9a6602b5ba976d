/**
 * Fixtures of the Cedar suites, runtime-neutral: the example policy set (examples/policies/, read as
 * text so workerd needs no file system), tokens' claims, and an L2 store that can be taken away.
 */
import adminPolicies from '../../examples/policies/admin.cedar?raw'
import documentPolicies from '../../examples/policies/documents.cedar?raw'
import exampleSchema from '../../examples/policies/schema.cedarschema?raw'
import type { CedarModule } from '../../src/policy/engine.ts'
import type { PolicyFile } from '../../src/policy/prepare.ts'
import { publishPolicySet } from '../../src/policy/publish.ts'
import type { Store } from '../../src/store/types.ts'

export { exampleSchema }

export const exampleFiles: PolicyFile[] = [
  { name: 'documents.cedar', text: documentPolicies },
  { name: 'admin.cedar', text: adminPolicies },
]

/** Seconds; every decision of the suites happens at T0 unless a test moves its clock. */
export const T0 = 1_900_000_000

/** Verified claims of a user's access token (RFC 9068 §2.2), with overrides. */
export function userClaims(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    iss: 'https://issuer.test',
    aud: 'https://api.test',
    sub: 'alice',
    exp: T0 + 300,
    iat: T0,
    client_id: 'demo-spa',
    scope: 'openid profile',
    ...extra,
  }
}

/** A store whose reads and writes fail while `down` is true, as an unreachable Upstash does. */
export function interruptible(inner: Store): { store: Store; down: boolean } {
  const control = { down: false, store: inner }
  const guard =
    <A extends unknown[], R>(fn: (...args: A) => Promise<R>) =>
    (...args: A): Promise<R> =>
      control.down ? Promise.reject(new TypeError('fetch failed')) : fn(...args)
  control.store = {
    ...inner,
    get: guard((k: string) => inner.get(k)),
    set: guard((k: string, v: string, o?: Parameters<Store['set']>[2]) => inner.set(k, v, o)),
    compareAndSwap: guard((k: string, e: string | null, n: string | null) =>
      inner.compareAndSwap(k, e, n),
    ),
    delete: guard((...keys: string[]) => inner.delete(...keys)),
  }
  return control
}

/**
 * Publishes a set under the example schema for `tenant` (default: the example policies for the
 * default tenant); throws if it does not validate.
 */
export async function publishExamples(
  store: Store,
  engine: CedarModule,
  tenant = 'default',
  sources: PolicyFile[] = exampleFiles,
): Promise<number> {
  const result = await publishPolicySet(store, engine, { tenant, schema: exampleSchema, sources })
  if (!result.ok) throw new Error(JSON.stringify(result.problems))
  return result.version
}
