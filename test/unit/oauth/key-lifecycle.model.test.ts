/**
 * A model of the key lifecycle across a fleet (issue 20): two origins (the real createKeyLifecycle,
 * token signer and own-token verifier) and one edge (the real published key source) share one L2,
 * on simulated time. fast-check chooses the interleaving of every L2 call (fc.scheduler), scheduled
 * steps, crashes at any point (including between taking the lease and writing the set), L2 outages,
 * L2 latency (time passes during a call, so a lease can expire under its holder), replies lost after
 * the write was applied, and a fixed clock skew per process. After every step it checks:
 *
 * - every origin has exactly one active key (once any key has activated);
 * - the key that signed a token was in L2 when the token was issued, and stays published (for the
 *   verifier whose clock runs furthest ahead) until the token expires (for the one furthest behind);
 * - no token verifies at one process while another calls its key unknown, and a live token's key is
 *   never called unknown at all (a verifier that cannot tell answers "unavailable");
 * - the set in L2 does not grow: retired keys are pruned, and no key leaves it any other way (two
 *   writers never overwrite each other's keys).
 *
 * Deterministic: a seed replays the same run on a busy machine. Nothing waits on real time or on
 * work the scheduler does not see. Signing, signature checks and key generation are synchronous
 * node:crypto calls behind scheduled steps (awaits there, as with WebCrypto or the origin's signing
 * thread, but ones fast-check orders; how many is generated, so other processes may run a long while
 * meanwhile); WebCrypto inside the code under test (key wrapping, imports) runs to completion before
 * fast-check picks its next task, and resumes through such steps too; the published key source's read
 * timeout runs on a fake clock (L2 latency is simulated time here). A run that stops making progress
 * is told without a clock: no task left to release and no WebCrypto work in flight, or more scheduled
 * steps than any run needs.
 */
import { createHash, generateKeyPairSync } from 'node:crypto'
import fc from 'fast-check'
import type { JWK } from 'jose'
import { describe, expect, it, vi } from 'vitest'
import { AuthError } from '../../../src/core/errors.ts'
import {
  createKeyLifecycle,
  type KeyLifecycle,
  type KeyLifecyclePolicy,
} from '../../../src/core/oauth/key-lifecycle.ts'
import {
  generateKeyEncryptionKey,
  importKeyEncryptionKeys,
  type KeyEncryptionKeys,
} from '../../../src/core/oauth/key-wrap.ts'
import type { SigningAlgorithm } from '../../../src/core/oauth/config.ts'
import type { SigningKeySet } from '../../../src/core/oauth/keys.ts'
import { createTokenSigner, type TokenSigner } from '../../../src/core/oauth/mint.ts'
import { ownKeySet } from '../../../src/core/oauth/own-tokens.ts'
import { OAuthError } from '../../../src/core/oauth/errors.ts'
import { createPublishedKeySource } from '../../../src/core/published-key-source.ts'
import {
  isPublishedAt,
  keySetStoreKeys,
  keyStatusAt,
  parseKeySetDocument,
} from '../../../src/core/published-key-set.ts'
import type { SignatureCheck } from '../../../src/core/signature.ts'
import { createAccessTokenVerifier, type AccessTokenVerifier } from '../../../src/core/verify.ts'
import { nodeJwsSign } from '../../../src/entry/node-crypto.ts'
import { nodeSignatureCheck } from '../../../src/entry/node-signature.ts'
import { StoreError } from '../../../src/store/errors.ts'
import { createMemoryStore } from '../../../src/store/memory.ts'
import type { Store } from '../../../src/store/types.ts'

const ISSUER = 'https://issuer.test'
const TTL = 10
const MAX_SKEW = 2
const policy: KeyLifecyclePolicy = {
  scheduled: true,
  alg: 'ES256',
  periodSeconds: 30,
  prePublishSeconds: 12,
  // At least the token lifetime plus the skew between the slowest signer and the fastest verifier.
  retainSeconds: TTL + 4 * MAX_SKEW + 2,
  cacheSeconds: 5,
  checkSeconds: 1,
}
const DOCUMENT = keySetStoreKeys(ISSUER).document
/** More scheduled steps than any run takes (a few hundred): a run past it is looping. */
const MAX_STEPS = 20_000
/** Real macrotask turns, whatever fake timers are installed. */
const nextTurn = (
  (set) => () =>
    new Promise<void>((resolve) => set(() => resolve()))
)(setImmediate)

type Verdict = 'ok' | 'unknown' | 'unavailable' | 'invalid'
interface Op {
  who: 0 | 1 | 2 // origin 0, origin 1, the edge (verify only)
  what: 'tick' | 'mint' | 'verify'
  token: number
}
type Action =
  | { kind: 'advance'; seconds: number }
  | { kind: 'l2'; down: boolean }
  | { kind: 'round'; ops: Op[]; crash: 0 | 1 | null }

const op: fc.Arbitrary<Op> = fc.record({
  who: fc.constantFrom(0, 1, 2),
  what: fc.constantFrom('tick', 'tick', 'mint', 'mint', 'verify', 'verify', 'verify'),
  token: fc.nat(),
})
const action: fc.Arbitrary<Action> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('advance'),
      seconds: fc.integer({ min: 1, max: 25 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('l2'), down: fc.boolean() }) },
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('round'),
      ops: fc.array(op, { minLength: 1, maxLength: 6 }),
      crash: fc.oneof({ weight: 6, arbitrary: fc.constant(null) }, fc.constantFrom(0, 1)),
    }),
  },
) as fc.Arbitrary<Action>
const faults = fc.record({
  skews: fc.tuple(...[0, 1, 2].map(() => fc.integer({ min: -MAX_SKEW, max: MAX_SKEW }))),
  /** Seconds that pass during an L2 call, used in turn. */
  delays: fc.array(fc.constantFrom(0, 0, 0, 0, 0, 1, 2), { minLength: 1, maxLength: 20 }),
  /** Whether a call's reply is lost after the store applied it, used in turn. */
  lost: fc.array(
    fc.integer({ min: 0, max: 9 }).map((n) => n === 0),
    { minLength: 1, maxLength: 20 },
  ),
  /**
   * Scheduled steps a piece of real work (a signature, a key generation, a WebCrypto call) takes,
   * used in turn: other processes run meanwhile, as they do while work waits on a thread.
   */
  work: fc.array(
    fc.oneof(
      { weight: 3, arbitrary: fc.integer({ min: 1, max: 3 }) },
      fc.integer({ min: 10, max: 40 }),
    ),
    { minLength: 1, maxLength: 20 },
  ),
})

interface Minted {
  token: string
  kid: string
  /** True time the token was signed, and its true expiry. */
  signedAt: number
  expiresAt: number
}

/**
 * WebCrypto as the code under test calls it (key wrapping is AES-GCM on libuv's thread pool; key
 * imports), each call the platform's own: counted while in flight, so the scheduler can wait for it,
 * and resumed through `after`'s scheduled step, so fast-check orders what runs meanwhile.
 */
function instrumentWebCrypto(): {
  inFlight: () => number
  after: (step: ((label: string) => Promise<unknown>) | undefined) => void
  restore: () => void
} {
  const subtle = globalThis.crypto.subtle as unknown as Record<string, unknown>
  const names = Object.getOwnPropertyNames(Object.getPrototypeOf(subtle)).filter(
    (name) => name !== 'constructor' && typeof subtle[name] === 'function',
  )
  let inFlight = 0
  let after: ((label: string) => Promise<unknown>) | undefined
  const done = () => {
    inFlight--
  }
  for (const name of names) {
    const original = subtle[name] as (...args: unknown[]) => Promise<unknown>
    Object.defineProperty(subtle, name, {
      configurable: true,
      writable: true,
      value: (...args: unknown[]) => {
        const result = original.apply(subtle, args)
        inFlight++
        result.then(done, done)
        const step = after
        return step === undefined ? result : result.finally(() => step(`${name} done`))
      },
    })
  }
  return {
    inFlight: () => inFlight,
    after: (step) => {
      after = step
    },
    restore: () => names.forEach((name) => delete subtle[name]),
  }
}

/** An ES256 signing key made synchronously, its kid the RFC 7638 thumbprint (as generateSigningKey). */
function newSigningJwk(alg: SigningAlgorithm): JWK & { kid: string; alg: SigningAlgorithm } {
  if (alg !== 'ES256') throw new Error(`the model generates ES256 keys only, not ${alg}`)
  const jwk = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({
    format: 'jwk',
  }) as JWK
  const members = JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y })
  return { ...jwk, kid: createHash('sha256').update(members).digest('base64url'), alg }
}

async function runModel(
  s: fc.Scheduler,
  actions: Action[],
  f: { skews: number[]; delays: number[]; lost: boolean[]; work: number[] },
  keks: KeyEncryptionKeys,
  webCrypto: Pick<ReturnType<typeof instrumentWebCrypto>, 'after'>,
) {
  let T = 1_000_000 // true time, seconds
  let l2Down = false
  const memory = createMemoryStore({ now: () => T * 1000 })
  let d = 0
  let l = 0
  const violations: string[] = []
  const fail = (what: string) => violations.push(`t=${T}: ${what}`)
  /** One interleaving point: fast-check decides when it resumes. */
  const step = (label: string) => s.schedule(Promise.resolve(), label)
  let w = 0
  /** Real work: a few interleaving points in a row (`f.work`). */
  const work = async (label: string) => {
    for (let n = f.work[w++ % f.work.length]!; n > 0; n--) await step(label)
  }
  webCrypto.after(work)
  // The awaits WebCrypto would add, without the thread pool: node:crypto behind a scheduled step.
  const sign = (key: Parameters<typeof nodeJwsSign>[0], input: string) =>
    work('sign').then(() => nodeJwsSign(key, input))
  const checkSignature: SignatureCheck = (key, data, signature) =>
    work('check signature').then(() => nodeSignatureCheck(key, data, signature))
  const generateKey = (alg: SigningAlgorithm) => work('generate key').then(() => newSigningJwk(alg))

  /** The store as one process sees it: every call an interleaving point, faults injected. */
  const storeFor = (proc: { dead: boolean }): Store =>
    new Proxy(memory, {
      get(target, name: keyof Store) {
        const fn = target[name] as (...args: unknown[]) => Promise<unknown>
        return async (...args: unknown[]) => {
          await step(`call ${name}`)
          if (proc.dead || l2Down) throw new StoreError('unavailable', name, 'unreachable')
          T += f.delays[d++ % f.delays.length]!
          const result = await fn.apply(target, args)
          await step(`reply ${name}`)
          if (proc.dead || f.lost[l++ % f.lost.length])
            throw new StoreError('unavailable', name, 'reply lost')
          return result
        }
      },
    })
  const sleep = (ms: number) =>
    step('sleep').then(() => {
      T += ms / 1000
    })

  interface Origin {
    dead: boolean
    started: boolean
    keys: KeyLifecycle
    signer: TokenSigner
    verifier: AccessTokenVerifier
    clock: () => number
    /** True time of the last signature, and whether its key was active by this origin's clock. */
    signed?: { at: number; kid: string }
  }
  let generation = 0
  const spawn = (i: 0 | 1): Origin => {
    const proc = { dead: false }
    const clock = () => (T + f.skews[i]!) * 1000
    const keys = createKeyLifecycle({
      store: storeFor(proc),
      issuer: ISSUER,
      keks,
      policy,
      clock,
      sleep,
      generateKey,
      holder: `origin-${i}-${++generation}`,
    })
    const origin: Origin = Object.assign(proc, {
      started: false,
      keys,
      clock,
      verifier: createAccessTokenVerifier({
        issuer: ISSUER,
        audience: () => true,
        keys: ownKeySet(keys),
        now: clock,
        checkSignature,
      }),
    }) as Origin
    // The signer's view of the keys, instrumented: the key it is handed must be active right then.
    const signing: SigningKeySet = {
      get active() {
        return keys.active
      },
      get all() {
        return keys.all
      },
      get cacheSeconds() {
        return keys.cacheSeconds
      },
      publicJwks: () => keys.publicJwks(),
      verificationKey: (kid) => keys.verificationKey(kid),
      async signingKey() {
        const key = await keys.signingKey()
        const doc = keys.document()!
        const record = doc.keys.find((k) => k.kid === key.kid)!
        if (keyStatusAt(doc, record, clock() / 1000) !== 'active')
          fail(`origin ${i} signs with ${key.kid}, not active by its clock`)
        origin.signed = { at: T, kid: key.kid }
        return key
      },
    }
    origin.signer = createTokenSigner({
      issuer: ISSUER,
      keys: signing,
      accessTokenTtlSeconds: TTL,
      idTokenTtlSeconds: TTL,
      clock,
      sign,
    })
    return origin
  }
  const origins: [Origin, Origin] = [spawn(0), spawn(1)]
  const edgeClock = () => (T + f.skews[2]!) * 1000
  const edgeStore = storeFor({ dead: false })
  const edge = createAccessTokenVerifier({
    issuer: ISSUER,
    audience: () => true,
    now: edgeClock,
    checkSignature,
    keys: createPublishedKeySource({
      issuer: ISSUER,
      read: () => edgeStore.get(DOCUMENT),
      now: edgeClock,
      refreshSeconds: policy.cacheSeconds,
      timeoutMs: 60_000,
    }),
  })
  const minted: Minted[] = []
  const truth = async () => parseKeySetDocument(await memory.get(DOCUMENT))
  let previous: Awaited<ReturnType<typeof truth>>

  const start = async (o: Origin) => {
    try {
      await o.keys.start()
      o.started = !o.dead
    } catch {
      // L2 down or a crash during start: tried again on its next tick
    }
  }

  async function mint(o: Origin, i: number) {
    if (!o.started) return
    let token
    try {
      ;({ token } = await o.signer.accessToken({ sub: 'u', clientId: 'c', scope: 's', aud: 'a' }))
    } catch (e) {
      if (e instanceof OAuthError) return // cannot mint now (L2 unread too long): allowed
      throw e
    }
    const { at, kid } = o.signed!
    const inL2 = (await truth())?.keys.find((k) => k.kid === kid)
    if (!inL2 || inL2.revokedAt !== undefined) fail(`origin ${i} signed with ${kid}, not in L2`)
    minted.push({ token, kid, signedAt: at, expiresAt: at + TTL })
  }

  async function verify(verifier: AccessTokenVerifier, m: Minted): Promise<Verdict> {
    try {
      await verifier.verify(m.token)
      return 'ok'
    } catch (e) {
      if (!(e instanceof AuthError)) throw e
      if (e.code === 'kid_unknown') return 'unknown'
      if (e.code === 'jwks_unavailable') return 'unavailable'
      return 'invalid'
    }
  }

  async function check() {
    const doc = await truth()
    for (const [i, o] of origins.entries()) {
      if (!o.started || o.dead) continue
      const status = o.keys.status()
      const active = status.keys.filter((k) => k.status === 'active')
      if (active.length !== 1) fail(`origin ${i} has ${active.length} active keys`)
    }
    if (doc && doc.keys.length > 5) fail(`the set holds ${doc.keys.length} keys`)
    for (const gone of previous?.keys.filter((k) => !doc?.keys.some((n) => n.kid === k.kid)) ?? [])
      if (gone.retireAt === undefined || gone.retireAt > T + MAX_SKEW)
        fail(`${gone.kid} left the set without being retired`)
    previous = doc
    for (const m of minted) {
      // Live for the verifier furthest behind: published for the one furthest ahead.
      if (T - MAX_SKEW >= m.expiresAt) continue
      const record = doc?.keys.find((k) => k.kid === m.kid)
      if (!record || !isPublishedAt(record, T + MAX_SKEW))
        fail(`${m.kid} left the JWKS while a token it signed is live`)
    }
  }

  await Promise.all(origins.map((o) => s.waitFor(start(o))))
  await check()
  for (const a of actions) {
    if (a.kind === 'advance') T += a.seconds
    else if (a.kind === 'l2') l2Down = a.down
    else {
      const verdicts = new Map<Minted, { who: number; verdict: Verdict; now: number }[]>()
      const tasks = a.ops.map(async ({ who, what, token }) => {
        const o = who === 2 ? undefined : origins[who]
        if (what === 'tick' && o) return o.started ? o.keys.tick() : start(o)
        if (what === 'mint' && o) return mint(o, who)
        if (minted.length === 0) return
        // Mostly recent tokens: those are the ones whose keys are in flux.
        const m = minted[minted.length - 1 - (token % Math.min(4, minted.length))]!
        const verifier = o ? (o.started ? o.verifier : undefined) : edge
        if (!verifier) return
        const verdict = await verify(verifier, m)
        const now = (o ? o.clock() : edgeClock()) / 1000
        verdicts.set(m, [...(verdicts.get(m) ?? []), { who, verdict, now }])
      })
      if (a.crash !== null) {
        const i = a.crash
        tasks.push(
          step(`crash ${i}`).then(async () => {
            origins[i].dead = true
            origins[i] = spawn(i)
            await start(origins[i])
          }),
        )
      }
      await s.waitFor(Promise.all(tasks))
      for (const [m, list] of verdicts) {
        const says = new Set(list.map((v) => v.verdict))
        if (says.has('ok') && says.has('unknown'))
          fail(`${m.kid}: verified at one process, unknown at another ${JSON.stringify(list)}`)
        for (const v of list)
          if (v.verdict === 'unknown' && v.now < m.expiresAt - MAX_SKEW)
            fail(`${m.kid}: a live token's key called unknown by ${v.who}`)
      }
    }
    await check()
  }
  return { violations, minted: minted.length, versions: (await truth())?.version ?? 0 }
}

/**
 * Rejects once nothing can move while the run is pending: no task for fast-check to release and no
 * WebCrypto work in flight at two quiet points in a row (every microtask run). With no real timers
 * in play (fake ones), nothing else could ever wake the run.
 */
async function stall(
  s: fc.Scheduler,
  webCrypto: { inFlight: () => number },
  running: () => boolean,
): Promise<never> {
  let quiet = 0
  while (running()) {
    await nextTurn()
    quiet = s.count() === 0 && webCrypto.inFlight() === 0 ? quiet + 1 : 0
    if (quiet >= 2 && running()) {
      const last = s.report().slice(-6)
      throw new Error(`run stuck after: ${last.map((r) => r.label).join(', ')}`)
    }
  }
  return new Promise<never>(() => {})
}

describe('key lifecycle model', () => {
  it('holds its invariants under interleavings, crashes, L2 faults and clock skew', async () => {
    const keks = await importKeyEncryptionKeys([generateKeyEncryptionKey('kek')])
    const webCrypto = instrumentWebCrypto()
    // The published key source's read timeout (60 s: L2 latency is simulated time here) must never
    // fire because the machine is slow.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
    let steps = 0
    // Before each task fast-check releases, the work the code started on its own (key wrapping)
    // finishes: the tasks waiting when it picks are then the same on any machine, at any load.
    const act = async (release: () => Promise<void>) => {
      do {
        await nextTurn()
      } while (webCrypto.inFlight() > 0)
      if (++steps > MAX_STEPS) throw new Error(`run still going after ${MAX_STEPS} steps`)
      await release()
    }
    let rotations = 0
    let tokens = 0
    try {
      await fc.assert(
        fc.asyncProperty(
          fc.scheduler({ act }),
          fc.array(action, { minLength: 20, maxLength: 80 }),
          faults,
          async (s, actions, f) => {
            steps = 0
            let running = true
            const run = runModel(s, actions, f, keks, webCrypto).finally(() => {
              running = false
            })
            // A run that stops making progress fails at once, naming its last scheduled tasks.
            const result = await Promise.race([run, stall(s, webCrypto, () => running)])
            rotations += result.versions
            tokens += result.minted
            expect(result.violations).toEqual([])
          },
        ),
        { numRuns: 100, endOnFailure: true },
      )
    } finally {
      webCrypto.after(undefined)
      vi.useRealTimers()
      webCrypto.restore()
    }
    // The runs did exercise the lifecycle: many set versions and tokens in total.
    expect(rotations).toBeGreaterThan(100)
    expect(tokens).toBeGreaterThan(150)
  }, 300_000)
})
