/**
 * Cedar in `npm run dev`: publishes the example policy set (examples/policies/) to the stack's L2 for
 * the default tenant, and the gateway route table that puts two demo API routes under it. The demo
 * user may read a document and is denied the admin report (it has no admin role).
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { loadNodeCedar } from '../src/policy/engine-node.ts'
import { publishPolicySet } from '../src/policy/publish.ts'
import { createUpstashStore } from '../src/store/upstash.ts'

const EXAMPLES = new URL('../examples/policies/', import.meta.url).pathname

/** GATEHOUSE_POLICY_ROUTES of the dev edge: paths under the gateway's /api. */
export const DEMO_POLICY_ROUTES = {
  routes: [
    { method: 'GET', path: '/documents/:id', resource: { type: 'Document', param: 'id' } },
    { method: 'GET', path: '/admin/report', resource: { type: 'Report', id: 'quarterly' } },
  ],
}

/**
 * Publishes the example set; resolves its version.
 *
 * @example const version = await publishExamplePolicies({ url, token })
 */
export async function publishExamplePolicies(l2: { url: string; token: string }): Promise<number> {
  const read = (name: string) => readFile(join(EXAMPLES, name), 'utf8')
  const result = await publishPolicySet(createUpstashStore(l2), loadNodeCedar(), {
    tenant: 'default',
    schema: await read('schema.cedarschema'),
    sources: await Promise.all(
      ['documents.cedar', 'admin.cedar'].map(async (name) => ({ name, text: await read(name) })),
    ),
  })
  if (!result.ok)
    throw new Error(`examples/policies/ does not validate: ${result.problems[0]?.message}`)
  return result.version
}
