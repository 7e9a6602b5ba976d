/**
 * Model-based test of the whole revocation path (issue 12 item 1, issue 23 item 1): fast-check
 * interleaves revocations at the origin (retried as clients retry /revoke), requests at two edge
 * isolates, snapshot builds by two origins, isolate restarts, L2 faults on the origin's and the
 * edge's links (refused, reply lost after the write, hanging until the client's timeout, latency),
 * read-replica lag for the edge's plain reads, and stream trimming the way backends do it (to N−1,
 * N, N+1 of N, or in 100-entry blocks). Time is vitest's fake clock: every timer, `Date.now()` and
 * the store's stream ids come from it.
 *
 * Checked after every request, as it is decided:
 * - once the edge's link to L2 has answered for syncSeconds, a request that starts at t denies every
 *   revocation acknowledged before t − bound (unless the stream lost events the isolate had not
 *   read: a capacity overflow, reported as RevocationStreamGap, healed by the next snapshot);
 * - while L2 answers, a token nobody tried to revoke is never denied;
 * and at the end, with every fault healed and one snapshot build: every acknowledged revocation is
 * denied at every isolate (none is lost).
 */
import fc from 'fast-check'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { AuthError } from '../../../src/core/errors.ts'
import { createRevocationSync, type RevocationSync } from '../../../src/revocation/edge-sync.ts'
import {
  createRevocationReader,
  createRevocationWriter,
  filterItem,
  type RevocationKind,
} from '../../../src/revocation/records.ts'
import {
  createRevocationCheck,
  type RevocationCheck,
} from '../../../src/revocation/revocation-check.ts'
import {
  createSnapshotBuilder,
  type SnapshotBuilder,
} from '../../../src/revocation/snapshot-builder.ts'
import { StoreError } from '../../../src/store/errors.ts'
import { createMemoryStore } from '../../../src/store/memory.ts'
import type { Store } from '../../../src/store/types.ts'

const T0 = 1_750_000_000_000
const SYNC_MS = 2000
const TIMEOUT_MS = 1000
const BOUND_MS = SYNC_MS + TIMEOUT_MS
/** Tokens outlive every run: expiry is not what this test is about. */
const LIFETIME_SECONDS = 900
/** A client's own deadline for one L2 call (the transport's timeout). */
const CLIENT_TIMEOUT_MS = 5000

type LinkMode = 'up' | 'down' | 'lossy' | 'hang'
interface Link {
  mode: LinkMode
  latencyMs: number
  /** When this client last got a response: Upstash's sync token then covers the primary's state. */
  lastResponseAt: number
}
const healthy = (link: Link) => link.mode === 'up' && link.latencyMs <= 100

type Trim = 'N-1' | 'N' | 'N+1' | '100-blocks'
const TRIMS: Record<Trim, (maxLength: number, length: number) => number> = {
  'N-1': (n) => n - 1,
  N: (n) => n,
  'N+1': (n) => n + 1,
  '100-blocks': (n, length) => length - Math.floor((length - n) / 100) * 100,
}

interface Params {
  /** Filter size the builders start from: small ones rebuild from the records often. */
  expectedItems: number
  reloadSeconds: number
  maxStreamLength: number
  trim: Trim
  lagMs: number
  policy: 'open' | 'closed'
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))
const quietly = (p: Promise<unknown>): void => void p.catch(() => {})

interface Token {
  [claim: string]: unknown
  iss: string
  aud: string
  jti: string
  sid: string
  sub: string
  iat: number
  exp: number
}
const TOKENS: Token[] = Array.from({ length: 6 }, (_, k) => ({
  iss: 'https://issuer.test',
  aud: 'https://api.test',
  jti: `j${k}`,
  sid: `s${k % 3}`,
  sub: `u${k % 2}`,
  iat: T0 / 1000,
  exp: T0 / 1000 + LIFETIME_SECONDS,
}))
const itemsOf = (t: Token) => [
  filterItem('jti', t.jti),
  filterItem('sid', t.sid),
  filterItem('sub', t.sub),
]

interface Acked {
  item: string
  at: number
}

interface Isolate {
  sync: RevocationSync
  check: RevocationCheck
}

/** Every string key's values over time, so a lagging replica can answer as of an earlier time. */
function historyOf(primary: Store) {
  const versions = new Map<string, { at: number; value: string | null }[]>()
  const note = async (key: string) => {
    const list = versions.get(key) ?? []
    list.push({ at: Date.now(), value: await primary.get(key) })
    versions.set(key, list)
  }
  const recorded: Store = {
    ...primary,
    async set(key, value, options) {
      const written = await primary.set(key, value, options)
      await note(key)
      return written
    },
    async compareAndSwap(key, expected, next, options) {
      const swapped = await primary.compareAndSwap(key, expected, next, options)
      await note(key)
      return swapped
    },
    async appendToStream(stream, fields, options) {
      const id = await primary.appendToStream(stream, fields, options)
      if (options?.record) await note(options.record.key)
      return id
    },
  }
  const asOf = (key: string, at: number): string | null => {
    let value: string | null = null
    for (const v of versions.get(key) ?? []) if (v.at <= at) value = v.value
    return value
  }
  return { recorded, asOf }
}

/**
 * One client's view of L2 across a faulty link. A call checks the link when it reaches L2 (down or
 * hanging: not executed) and again when the reply comes back (no longer up: executed, reply lost).
 * With `lag`, plain GETs come from a read replica that is `lag` ms behind, except that it has caught
 * up with everything this client's last response saw (the sync token).
 */
function overLink(
  store: Store,
  link: Link,
  lag?: { ms: number; asOf: (key: string, at: number) => string | null },
): Store {
  const call =
    <A extends unknown[], R>(name: string, run: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      if (link.latencyMs > 0) await sleep(link.latencyMs / 2)
      if (link.mode === 'down') throw new StoreError('unavailable', name, 'refused')
      if (link.mode === 'hang') {
        await sleep(CLIENT_TIMEOUT_MS)
        throw new StoreError('unavailable', name, 'timed out')
      }
      const result = await run(...args)
      if (link.latencyMs > 0) await sleep(link.latencyMs / 2)
      if (link.mode !== 'up') throw new StoreError('unavailable', name, 'reply lost')
      link.lastResponseAt = Date.now()
      return result
    }
  const wrapped = {} as Record<string, unknown>
  for (const [name, method] of Object.entries(store)) {
    wrapped[name] = call(name, (method as (...a: unknown[]) => Promise<unknown>).bind(store))
  }
  if (lag) {
    wrapped.get = call('get', async (key: string) =>
      lag.asOf(key, Math.max(Date.now() - lag.ms, link.lastResponseAt)),
    )
  }
  return wrapped as unknown as Store
}

class World {
  readonly origin: Link = { mode: 'up', latencyMs: 0, lastResponseAt: 0 }
  readonly edge: Link = { mode: 'up', latencyMs: 0, lastResponseAt: 0 }
  edgeHealthySince = T0
  readonly acked: Acked[] = []
  /** Items a revocation was sent for: they may be in force even if never acknowledged. */
  readonly attempted = new Set<string>()
  readonly unacknowledged = new Map<string, () => Promise<void>>()
  readonly violations: string[] = []
  /** Requests judged against a revocation past its bound (to see the property is exercised). */
  dueChecks = 0
  readonly isolates: Isolate[]
  readonly builders: SnapshotBuilder[]
  private readonly originStore: Store
  private readonly edgeStore: Store
  private readonly params: Params
  private readonly writer
  private readonly reader

  constructor(params: Params) {
    this.params = params
    const primary = createMemoryStore({
      now: () => Date.now(),
      maxStreamLength: params.maxStreamLength,
      trimKeeps: TRIMS[params.trim],
    })
    const { recorded, asOf } = historyOf(primary)
    this.originStore = overLink(recorded, this.origin)
    this.edgeStore = overLink(recorded, this.edge, { ms: params.lagMs, asOf })
    this.writer = createRevocationWriter({
      store: this.originStore,
      maxAccessTokenLifetimeSeconds: LIFETIME_SECONDS,
    })
    this.reader = createRevocationReader({ store: this.originStore })
    this.builders = [0, 1].map(() =>
      createSnapshotBuilder({
        store: this.originStore,
        maxAccessTokenLifetimeSeconds: LIFETIME_SECONDS,
        expectedItems: params.expectedItems,
        falsePositiveRate: 0.25, // small filters: false positives exercise the L2 confirmation
      }),
    )
    this.isolates = [this.newIsolate(), this.newIsolate()]
  }

  newIsolate(): Isolate {
    const sync = createRevocationSync({
      store: this.edgeStore,
      syncSeconds: SYNC_MS / 1000,
      syncTimeoutMs: TIMEOUT_MS,
      maxStalenessSeconds: 30,
      snapshotReloadSeconds: this.params.reloadSeconds,
      initialCapacity: 4,
      policy: this.params.policy,
    })
    return { sync, check: createRevocationCheck({ sync, store: this.edgeStore }) }
  }

  setEdge(mode: LinkMode, latencyMs: number): void {
    const was = healthy(this.edge)
    Object.assign(this.edge, { mode, latencyMs })
    if (!was && healthy(this.edge)) this.edgeHealthySince = Date.now()
    if (!healthy(this.edge)) this.edgeHealthySince = Infinity
  }

  /** The origin's /revoke (or /logout, or an admin's subject revocation), as the OAuth core runs it. */
  revoke(kind: RevocationKind, id: string): void {
    const item = filterItem(kind, id)
    this.attempted.add(item)
    const attempt = async () => {
      // On a retry the core finds the record and answers 200 without writing (RFC 7009 §2.2): safe
      // only because record and event are one atomic step.
      const exists = kind !== 'sub' && (await this.reader.read(kind, id)) !== null
      if (!exists) {
        if (kind === 'jti') await this.writer.revokeToken(id, T0 / 1000 + LIFETIME_SECONDS)
        else if (kind === 'sid') await this.writer.revokeSession(id)
        else await this.writer.revokeSubject(id)
      }
      this.acked.push({ item, at: Date.now() })
      this.unacknowledged.delete(item)
    }
    this.unacknowledged.set(item, attempt)
    quietly(attempt())
  }

  retry(): void {
    for (const attempt of this.unacknowledged.values()) quietly(attempt())
  }

  build(which: number): void {
    quietly(this.builders[which]!.run())
  }

  /** A request at an isolate; resolves its outcome once decided, after judging it. */
  request(which: number, tokenIndex: number): Promise<string> {
    const isolate = this.isolates[which]!
    const token = TOKENS[tokenIndex]!
    const startedAt = Date.now()
    isolate.sync.maybeSync(quietly)
    return (
      Promise.resolve()
        // The same claims object every time, as an L1 cache hit hands it over (the per-token memo).
        .then(() => isolate.check({ header: { alg: 'ES256' }, claims: token }))
        .then(
          () => 'allowed',
          (e: unknown) => (e instanceof AuthError ? e.code : `threw ${String(e)}`),
        )
        .then((outcome) => {
          this.judge(isolate, token, startedAt, outcome)
          return outcome
        })
    )
  }

  private judge(isolate: Isolate, token: Token, startedAt: number, outcome: string): void {
    const items = itemsOf(token)
    const answering = healthy(this.edge) && startedAt >= this.edgeHealthySince + SYNC_MS
    if (!answering) return
    // The isolate says it cannot prove its filter complete (the stream lost events it had not read,
    // and no snapshot covers them yet): it may deny nothing it has not read, or reject everything
    // under policy closed. The final check, after a snapshot build, covers these revocations.
    if (isolate.sync.status().lastError === 'RevocationStreamGap') return
    const due = this.acked.filter((r) => items.includes(r.item) && r.at + BOUND_MS <= startedAt)
    const where = `token ${token.jti} at +${startedAt - T0} ms`
    if (due.length > 0) this.dueChecks++
    if (due.length > 0 && outcome !== 'token_revoked') {
      this.violations.push(
        `${where}: ${outcome}, but ${due[0]!.item} was acknowledged at +${due[0]!.at - T0} ms`,
      )
    }
    if (!items.some((i) => this.attempted.has(i)) && outcome !== 'allowed') {
      this.violations.push(`${where}: ${outcome}, never revoked`)
    }
    if (!['allowed', 'token_revoked'].includes(outcome)) {
      this.violations.push(`${where}: ${outcome} while L2 answers`)
    }
  }
}

type Command = fc.AsyncCommand<object, World>
const cmd = (label: string, run: (w: World) => void | Promise<void>): Command => ({
  check: () => true,
  async run(_model, world) {
    await run(world)
    if (world.violations.length > 0) throw new Error(world.violations.join('\n'))
  },
  toString: () => label,
})

const linkChange = fc.record({
  mode: fc.constantFrom<LinkMode>('up', 'up', 'up', 'down', 'lossy', 'lossy', 'hang'),
  latencyMs: fc.constantFrom(0, 0, 20, 80, 400, 1500),
})

const commands = fc.oneof(
  {
    weight: 4,
    arbitrary: fc
      .record({ kind: fc.constantFrom<RevocationKind>('jti', 'sid', 'sub'), n: fc.nat(6) })
      .map(({ kind, n }) => {
        const id = kind === 'jti' ? `j${n}` : kind === 'sid' ? `s${n % 4}` : `u${n % 3}`
        return cmd(`revoke ${kind}:${id}`, (w) => w.revoke(kind, id))
      }),
  },
  {
    weight: 6,
    arbitrary: fc
      .record({ isolate: fc.nat(1), token: fc.nat(TOKENS.length - 1) })
      .map(({ isolate, token }) =>
        cmd(`request ${isolate} j${token}`, (w) => quietly(w.request(isolate, token))),
      ),
  },
  {
    weight: 5,
    arbitrary: fc
      .integer({ min: 0, max: 2500 })
      .map((ms) => cmd(`advance ${ms}`, async () => void (await vi.advanceTimersByTimeAsync(ms)))),
  },
  {
    weight: 2,
    arbitrary: linkChange.map((l) =>
      cmd(`edge link ${l.mode} ${l.latencyMs}`, (w) => w.setEdge(l.mode, l.latencyMs)),
    ),
  },
  {
    weight: 2,
    arbitrary: linkChange.map((l) =>
      cmd(`origin link ${l.mode} ${l.latencyMs}`, (w) => void Object.assign(w.origin, l)),
    ),
  },
  {
    weight: 1,
    arbitrary: fc
      .nat(1)
      .map((i) => cmd(`restart isolate ${i}`, (w) => void (w.isolates[i] = w.newIsolate()))),
  },
  {
    weight: 2,
    arbitrary: fc.nat(1).map((i) => cmd(`build snapshot at origin ${i}`, (w) => w.build(i))),
  },
  { weight: 1, arbitrary: fc.constant(cmd('retry unacknowledged revocations', (w) => w.retry())) },
)

const params = fc.record<Params>({
  expectedItems: fc.constantFrom(4, 256),
  reloadSeconds: fc.constantFrom(4, 30),
  // Mostly a stream long enough for the edges to keep up; sometimes one that loses events first.
  maxStreamLength: fc.oneof(fc.integer({ min: 2, max: 30 }), fc.constant(10_000)),
  trim: fc.constantFrom<Trim>('N-1', 'N', 'N+1', '100-blocks'),
  lagMs: fc.constantFrom(0, 50, 500, 2500),
  policy: fc.constantFrom('open', 'closed'),
})

/**
 * Heals everything and lets every revocation be acknowledged. Then, before any snapshot build: once
 * L2 has answered for syncSeconds, every request is judged (the bound). Then one snapshot build, and
 * every acknowledged revocation must be denied at every isolate, gap or not: none is lost.
 */
async function noRevocationLost(world: World): Promise<void> {
  Object.assign(world.origin, { mode: 'up', latencyMs: 0 })
  world.setEdge('up', 0)
  await vi.advanceTimersByTimeAsync(CLIENT_TIMEOUT_MS + 1000) // hung calls give up
  for (let i = 0; i < 3 && world.unacknowledged.size > 0; i++) {
    world.retry()
    await vi.advanceTimersByTimeAsync(10)
  }
  expect([...world.unacknowledged.keys()]).toEqual([])
  await vi.advanceTimersByTimeAsync(BOUND_MS + SYNC_MS)
  for (const i of world.isolates.keys()) {
    for (const k of TOKENS.keys()) await world.request(i, k)
  }
  expect(world.violations).toEqual([])
  await world.builders[0]!.run()
  await vi.advanceTimersByTimeAsync(2500 + SYNC_MS + 1) // past the replica lag and syncSeconds
  for (const i of world.isolates.keys()) {
    for (const [k, token] of TOKENS.entries()) {
      const outcome = await world.request(i, k)
      const revoked = world.acked.some((r) => itemsOf(token).includes(r.item))
      if (revoked)
        expect(`isolate ${i} j${k}: ${outcome}`).toBe(`isolate ${i} j${k}: token_revoked`)
    }
  }
  expect(world.violations).toEqual([])
}

describe('revocation model: no acknowledged revocation is lost, each is enforced within the bound', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] })
  })
  afterEach(() => {
    vi.useRealTimers()
  })

  it('holds under faults, lag, restarts, rebuilds and every way of trimming', async () => {
    const runs = Number(process.env.MODEL_RUNS ?? 150)
    let judged = 0
    await fc.assert(
      fc.asyncProperty(
        params,
        fc.commands([commands], { maxCommands: 120, size: 'large' }),
        async (p, cmds) => {
          vi.clearAllTimers()
          vi.setSystemTime(T0)
          const world = new World(p)
          await fc.asyncModelRun(() => ({ model: {}, real: world }), cmds)
          await noRevocationLost(world)
          judged += world.dueChecks
        },
      ),
      { numRuns: runs },
    )
    // Not vacuous: requests were judged against revocations past their bound, many per run.
    expect(judged).toBeGreaterThan(runs * 5)
  }, 300_000) // a deadline, not a speed check: ~3 s on an idle machine
})
