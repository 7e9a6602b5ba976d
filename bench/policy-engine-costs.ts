/**
 * What one `statefulIsAuthorized` call of the Cedar engine costs, piece by piece, on Node (the same
 * package and .wasm as the Worker's; docs/policy.md, "Cost at the edge", says how close workerd is):
 * the fixed cost of a call, the principal entity, set attributes and their members, policies in the
 * pre-parsed set, and how the cost falls as V8 moves the engine from Liftoff to TurboFan.
 *
 *   node --no-maglev --experimental-strip-types bench/policy-engine-costs.ts
 *   node --no-maglev --liftoff-only --experimental-strip-types bench/policy-engine-costs.ts
 *   node --no-maglev --no-liftoff --experimental-strip-types bench/policy-engine-costs.ts
 *   node --no-maglev --experimental-strip-types bench/policy-engine-costs.ts tier-up
 *
 * `tier-up` times a fresh process from its first call on, in steps (V8 tiers up per function for
 * the whole module, so this only means something before any other call).
 * Process CPU time per call (`process.cpuUsage`, median of 15 batches after 8,000 warm-up calls),
 * which a busy machine disturbs less than wall time. Not part of `npm run bench`.
 */
import type * as Cedar from '@cedar-policy/cedar-wasm/nodejs'
import { loadNodeCedar } from '../src/policy/engine-node.ts'
import type { EntityJson } from '../src/policy/engine.ts'
import { renderTable } from './lib/table.ts'
import { BENCH_SCHEMA, benchPolicies } from './policy-fixtures.ts'

// The whole module: `preparseSchema` is not among the functions src/policy uses.
const engine = loadNodeCedar() as unknown as typeof Cedar
const principal = { type: 'User', id: 'user-3' }
const action = { type: 'Action', id: 'PATCH /r0/:id' }
const resource = { type: 'Document', id: 'res-3' }

const preparse = (id: string, policies: Record<string, string>) => {
  const answer = engine.preparsePolicySet(id, { staticPolicies: policies })
  if (answer.type !== 'success') throw new Error(`${id} does not parse`)
}
const all = benchPolicies('scoped')
const ofRoute = (i: number) =>
  Object.fromEntries(Object.entries(all).filter(([id]) => id.startsWith(`r${i}-`)))
preparse('empty', {})
preparse('route-4', ofRoute(3))
preparse(
  'route-user-3',
  Object.fromEntries(Object.entries(ofRoute(3)).filter(([id]) => !id.endsWith('-service'))),
)
preparse('all-100', all)
// The same 100 from Cedar's JSON form, as compiled-set.ts pre-parses them (L2 holds JSON).
const allJson = Object.fromEntries(
  Object.entries(all).map(([id, text]) => {
    const json = engine.policyToJson(text)
    if (json.type !== 'success') throw new Error(`${id} has no JSON form`)
    return [id, json.json]
  }),
)
if (engine.preparsePolicySet('all-100-json', { staticPolicies: allJson }).type !== 'success') {
  throw new Error('all-100-json does not parse')
}
if (engine.preparseSchema('bench', BENCH_SCHEMA).type !== 'success') throw new Error('schema')

const call =
  (
    set: string,
    attrs: EntityJson['attrs'] | undefined,
    context: Record<string, unknown> = {},
    schema = false,
  ) =>
  () =>
    engine.statefulIsAuthorized({
      principal,
      action,
      resource,
      context: context as never,
      entities: attrs === undefined ? [] : [{ uid: principal, attrs, parents: [] }],
      preparsedPolicySetId: set,
      ...(schema ? { preparsedSchemaName: 'bench', validateRequest: false } : {}),
    })

function cpuUsPerCall(fn: () => unknown, calls = 30_000): number {
  for (let i = 0; i < 8000; i++) fn()
  const batch = calls / 15
  const samples: number[] = []
  for (let round = 0; round < 15; round++) {
    const t0 = process.cpuUsage()
    for (let i = 0; i < batch; i++) fn()
    const d = process.cpuUsage(t0)
    samples.push((d.user + d.system) / batch)
  }
  return samples.sort((a, b) => a - b)[7] as number
}

if (process.argv[2] === 'tier-up') {
  tierUp()
} else {
  table()
}

function table(): void {
  // The bench's user on route 3 as compiled-set.ts sends it: the members its policies test for.
  const benchUser = { roles: ['role-3'], amr: ['mfa'], groups: ['team-3'] }
  // Everything request.ts builds, uncut (a schema needs the whole context).
  const fullUser = {
    scope: ['openid', 'profile', 'api:read'],
    roles: ['role-3', 'role-21', 'member'],
    groups: ['team-3'],
    amr: ['pwd', 'mfa'],
    tenant: 'default',
    clientId: 'bench-spa',
  }
  const fullContext = {
    time: 1_900_000_003,
    dpopBound: false,
    params: { id: 'res-3' },
    ip: { __extn: { fn: 'ip', arg: '10.0.0.1' } },
  }
  const rows: [string, () => unknown][] = [
    ['call with nothing to decide (no policy, entity or context)', call('empty', undefined)],
    ['+ principal entity, no attributes', call('empty', {})],
    ['+ 3 boolean attributes', call('empty', { a: true, b: false, c: true })],
    ['+ 3 empty set attributes', call('empty', { a: [], b: [], c: [] })],
    ['+ 3 set attributes of 1 member', call('empty', { a: ['x'], b: ['y'], c: ['z'] })],
    [
      '+ 3 set attributes of 2 members',
      call('empty', { a: ['x', 'y'], b: ['y', 'z'], c: ['z', 'x'] }),
    ],
    ['context of 1 boolean (no entity)', call('empty', undefined, { dpopBound: false })],
    [
      'context with an ipaddr (no entity)',
      call('empty', undefined, { ip: { __extn: { fn: 'ip', arg: '10.0.0.1' } } }),
    ],
    ['the bench user, no policy', call('empty', benchUser, { dpopBound: false })],
    [
      'the bench user, the route slice for a User (3 policies)',
      call('route-user-3', benchUser, { dpopBound: false }),
    ],
    [
      "the bench user, the route's 4 policies (Client one too)",
      call('route-4', benchUser, { dpopBound: false }),
    ],
    ['the bench user, all 100 policies', call('all-100', benchUser, { dpopBound: false })],
    [
      'the same, the 100 pre-parsed from JSON, not text',
      call('all-100-json', benchUser, { dpopBound: false }),
    ],
    ['every attribute and context value, 4 policies', call('route-4', fullUser, fullContext)],
    ['the same with the pre-parsed schema', call('route-4', fullUser, fullContext, true)],
  ]
  const flags = process.execArgv.filter((a) => a.startsWith('--') && !a.includes('strip-types'))
  console.log(
    `engine ${engine.getCedarVersion()}, Node ${process.version}, flags ${flags.join(' ') || '(none)'}\n`,
  )
  console.log(
    renderTable(
      ['statefulIsAuthorized', 'CPU µs/call'],
      rows.map(([name, fn]) => [name, cpuUsPerCall(fn).toFixed(1)]),
    ),
  )
}

function tierUp(): void {
  // From the first call of the process on.
  preparse('tier-up', ofRoute(7))
  const fresh = call(
    'tier-up',
    { roles: ['role-7'], amr: [], groups: ['team-0'] },
    { dpopBound: true },
  )
  const steps: string[] = []
  let done = 0
  for (const n of [100, 400, 500, 1000, 1000, 2000, 2000, 2000, 4000, 4000]) {
    const t0 = process.cpuUsage()
    for (let i = 0; i < n; i++) fresh()
    const d = process.cpuUsage(t0)
    done += n
    steps.push(`${Math.round((d.user + d.system) / n)} µs by call ${done}`)
  }
  console.log(`\nCPU per call from the first call on (tier-up): ${steps.join(', ')}`)
}
