/**
 * `gatehouse policies …` on the example set, and publish/show against real Redis through the Upstash
 * REST bridge (the production adapter): what the CLI publishes is what an edge puts in force.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { UsageError } from '../../../src/cli/keys.ts'
import { policiesCommand } from '../../../src/cli/policies.ts'
import { decide } from '../../../src/policy/decide.ts'
import { loadNodeCedar } from '../../../src/policy/engine-node.ts'
import { createPolicySets } from '../../../src/policy/policy-sets.ts'
import { PolicyStoreError } from '../../../src/policy/publish.ts'
import { createUpstashStore } from '../../../src/store/upstash.ts'
import type { Store } from '../../../src/store/types.ts'
import { useRedisWithBridge, type RedisWithBridge } from '../../support/redis.ts'

const EXAMPLES = new URL('../../../examples/policies/', import.meta.url).pathname
const SET = [
  '--schema',
  join(EXAMPLES, 'schema.cedarschema'),
  join(EXAMPLES, 'documents.cedar'),
  join(EXAMPLES, 'admin.cedar'),
]

let dir: string
let redis: RedisWithBridge
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gatehouse-policies-'))
  redis = await useRedisWithBridge()
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
  await redis.close()
})

/** An Upstash store over the run's Redis, under a key prefix of its own. */
const l2 = (): Store =>
  createUpstashStore({ url: redis.url, token: redis.token, keyPrefix: `p:${crypto.randomUUID()}:` })

describe('gatehouse policies validate and test', () => {
  it('Cedar CLI validates the example set', async () => {
    const { output, exitCode } = await policiesCommand(['validate', ...SET], {})
    expect(exitCode).toBe(0)
    expect(output).toMatchObject({ valid: true, warnings: [] })
    expect((output as { policies: string[] }).policies).toHaveLength(7)
  })

  it('Cedar CLI validate names the file and line of a policy the schema refuses', async () => {
    const bad = join(dir, 'bad.cedar')
    await writeFile(
      bad,
      '// a typo\n@id("x")\npermit (principal, action, resource) when { principal.rolez.contains("a") };\n',
    )
    const { output, exitCode } = await policiesCommand(
      ['validate', '--schema', join(EXAMPLES, 'schema.cedarschema'), bad],
      {},
    )
    expect(exitCode).toBe(1)
    expect(output).toMatchObject({
      valid: false,
      problems: [
        { where: 'bad.cedar:2', policy: 'x' },
        { where: 'bad.cedar:2', policy: 'x' },
      ],
    })
    await writeFile(bad, 'permit (principal, action, resource)\n  when { ;\n')
    const parse = await policiesCommand(
      ['validate', '--schema', join(EXAMPLES, 'schema.cedarschema'), bad],
      {},
    )
    expect(parse.output).toMatchObject({ problems: [{ where: 'bad.cedar:2' }] })
  })

  it('Cedar CLI test passes the example cases and fails a wrong expectation', async () => {
    const ok = await policiesCommand(['test', join(EXAMPLES, 'tests.json')], {})
    expect(ok.exitCode).toBe(0)
    expect(ok.output).toMatchObject({ failed: 0 })
    expect((ok.output as { passed: number }).passed).toBeGreaterThanOrEqual(9)

    const cases = join(dir, 'cases.json')
    await writeFile(
      cases,
      JSON.stringify({
        schema: join(EXAMPLES, 'schema.cedarschema'),
        policies: [join(EXAMPLES, 'documents.cedar'), join(EXAMPLES, 'admin.cedar')],
        cases: [
          {
            name: 'wrong on purpose',
            claims: { sub: 'alice' },
            action: 'GET /admin/report',
            resource: { type: 'Report', id: 'q3' },
            expect: 'allow',
          },
        ],
      }),
    )
    const failed = await policiesCommand(['test', cases], {})
    expect(failed.exitCode).toBe(1)
    expect(failed.output).toMatchObject({
      passed: 0,
      failed: 1,
      results: [{ name: 'wrong on purpose', ok: false, message: 'expected allow, got deny' }],
    })
    await writeFile(cases, '{"schema": 1}')
    await expect(policiesCommand(['test', cases], {})).rejects.toThrow(UsageError)
  })
})

describe('gatehouse policies publish and show (real Redis through Upstash REST)', () => {
  it('Cedar CLI publishes to L2 and an edge puts that version in force', async () => {
    const store = l2()
    const published = await policiesCommand(['publish', ...SET], {}, store)
    expect(published).toMatchObject({
      exitCode: 0,
      output: { ok: true, tenant: 'default', version: 1 },
    })
    const shown = (await policiesCommand(['show'], {}, store)).output as {
      version: number
      policies: Record<string, string>
      schema: string
    }
    expect(shown).toMatchObject({ tenant: 'default', version: 1 })
    // Stored in Cedar's JSON forms, shown as text.
    expect(shown.policies['suspended-users']).toMatch(/^@id\("suspended-users"\)\nforbid ?\(/)
    expect(shown.schema).toContain('entity Document')
    expect((await policiesCommand(['show', '--json'], {}, store)).output).toMatchObject({
      format: 1,
      policies: { 'suspended-users': { effect: 'forbid' } },
    })

    const sets = createPolicySets({ store, engine: loadNodeCedar })
    const decision = await decide(sets, {
      claims: { sub: 'alice', scope: 'openid' },
      tenant: 'default',
      action: 'GET /documents/:id',
      resource: { type: 'Document', id: 'welcome' },
      nowMs: Date.now(),
    })
    expect(decision).toMatchObject({
      decision: 'allow',
      version: 1,
      policies: ['documents-read-users'],
    })
  })

  it('Cedar CLI refuses an invalid set without touching the version in force', async () => {
    const store = l2()
    await policiesCommand(['publish', ...SET], {}, store)
    const bad = join(dir, 'refused.cedar')
    await writeFile(bad, 'permit (principal, action == Action::"GET /nowhere", resource);\n')
    const refused = await policiesCommand(
      ['publish', '--schema', join(EXAMPLES, 'schema.cedarschema'), bad],
      {},
      store,
    )
    expect(refused).toMatchObject({ exitCode: 1, output: { published: false } })
    expect((await policiesCommand(['show'], {}, store)).output).toMatchObject({ version: 1 })
  })

  it('Cedar CLI publish with --expect-version refuses a stale expectation; tenants are apart', async () => {
    const store = l2()
    await policiesCommand(['publish', '--expect-version', '0', ...SET], {}, store)
    await expect(
      policiesCommand(['publish', '--expect-version', '0', ...SET], {}, store),
    ).rejects.toThrow(PolicyStoreError)
    expect(
      await policiesCommand(['publish', '--expect-version', '1', ...SET], {}, store),
    ).toMatchObject({
      output: { version: 2 },
    })
    expect((await policiesCommand(['show', '--version', '1'], {}, store)).output).toMatchObject({
      version: 1,
    })
    expect(await policiesCommand(['show', '--tenant', 'acme'], {}, store)).toEqual({
      exitCode: 1,
      output: { tenant: 'acme', published: false },
    })
  })

  it('Cedar CLI needs the L2 settings to publish or show', async () => {
    await expect(policiesCommand(['show'], {})).rejects.toThrow(/UPSTASH_REDIS_REST_URL/)
    await expect(policiesCommand(['nope'], {})).rejects.toThrow(UsageError)
  })
})
