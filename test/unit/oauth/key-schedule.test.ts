/**
 * The key schedule's rules as pure document transformations: what is due when, and what the
 * operator's rotate / retire / revoke do and refuse.
 */
import { describe, expect, it } from 'vitest'
import {
  dueSteps,
  KeyScheduleError,
  minimumLeadSeconds,
  pruneKeys,
  retireKey,
  revokeKey,
  rotateKeys,
  scheduleKey,
  type RotationPolicy,
} from '../../../src/core/oauth/key-schedule.ts'
import {
  activeKeyAt,
  keyStatusAt,
  type KeyRecord,
  type KeySetDocument,
} from '../../../src/core/published-key-set.ts'
import { SKEW_ALLOWANCE_SECONDS as SKEW } from '../../../src/core/oauth/key-lifecycle-config.ts'
import { publicJwk, type TestAlg } from '../../fixtures/keys.ts'

const policy: RotationPolicy = {
  alg: 'ES256',
  periodSeconds: 1000,
  prePublishSeconds: 200,
  retainSeconds: 100,
  cacheSeconds: 10,
}

let counter = 0
const record = (times: { publishAt: number; activateAt: number }, alg: TestAlg = 'ES256') => {
  const jwk = { ...publicJwk(alg), kid: `k${++counter}` } as KeyRecord['jwk']
  return { kid: jwk.kid, alg: jwk.alg, jwk, createdAt: times.publishAt, ...times } as KeyRecord
}
const empty: KeySetDocument = {
  format: 1,
  issuer: 'https://issuer.test',
  version: 1,
  updatedAt: 0,
  cacheSeconds: 10,
  keys: [],
}

/** Applies what is due at `t`, as the lease holder would. */
const step = (doc: KeySetDocument, t: number): KeySetDocument => {
  const due = dueSteps(doc, t, policy)
  let next = pruneKeys(doc, due.prune)
  if (due.create) next = scheduleKey(next, record(due.create), t, policy)
  return next
}

describe('dueSteps', () => {
  it('creates a key that signs at once when nothing signs, dated back by the skew allowance', () => {
    // Dated back, so a process whose clock runs behind sees it active too, not "next".
    const atOnce = { publishAt: 50 - SKEW, activateAt: 50 - SKEW }
    expect(dueSteps(undefined, 50, policy)).toEqual({ create: atOnce, prune: [] })
    expect(dueSteps(empty, 50, policy).create).toEqual(atOnce)
  })

  it('publishes the successor prePublishSeconds before the period ends, once', () => {
    let doc = step(empty, SKEW) // the first key activates at 0
    expect(dueSteps(doc, 799, policy)).toEqual({ prune: [] })
    expect(dueSteps(doc, 800, policy).create).toEqual({ publishAt: 800, activateAt: 1000 })
    doc = step(doc, 800)
    expect(dueSteps(doc, 800, policy)).toEqual({ prune: [] })
    expect(dueSteps(doc, 1500, policy).create).toBeUndefined()
    // The predecessor leaves the JWKS retainSeconds after the successor activates, then is pruned.
    expect(doc.keys[0]!.retireAt).toBe(1100)
    expect(dueSteps(doc, 1100, policy).prune).toEqual([doc.keys[0]!.kid])
  })

  it('when every origin was down past the boundary, the lead is never cut short', () => {
    const doc = step(empty, SKEW)
    expect(dueSteps(doc, 5000, policy).create).toEqual({ publishAt: 5000, activateAt: 5200 })
    expect(activeKeyAt(doc, 5000)?.kid).toBe(doc.keys[0]!.kid) // the old key still signs meanwhile
  })

  it('over many periods: one active key at every second, every key published before it signs', () => {
    let doc = empty
    const publishedAt = new Map<string, number>()
    for (let t = 0; t < 10_000; t += 7) {
      doc = step(doc, t)
      for (const k of doc.keys) if (!publishedAt.has(k.kid)) publishedAt.set(k.kid, t)
      const active = doc.keys.filter((k) => keyStatusAt(doc, k, t) === 'active')
      expect(active).toHaveLength(1)
      if (t > 0) expect(t - publishedAt.get(active[0]!.kid)!).toBeGreaterThanOrEqual(0)
      expect(doc.keys.length).toBeLessThanOrEqual(3) // pruned: no growth over time
    }
  })
})

describe('operator steps', () => {
  const running = () => step(step(empty, SKEW), 800) // k-active (signs), k-next (activates at 1000)

  it('rotate moves the next key up, no sooner than the minimum lead after it was published', () => {
    const doc = running()
    const next = doc.keys[1]!
    const earliest = next.publishAt + minimumLeadSeconds(policy)
    const rotated = rotateKeys(doc, 810, earliest, policy, undefined)
    expect(rotated.kid).toBe(next.kid)
    expect(activeKeyAt(rotated.doc, earliest)?.kid).toBe(next.kid)
    expect(() => rotateKeys(doc, 805, 805, policy, undefined)).toThrow(KeyScheduleError)
  })

  it('rotate to another algorithm replaces the unused next key', () => {
    const doc = running()
    const fresh = record({ publishAt: 810, activateAt: 830 }, 'EdDSA')
    const rotated = rotateKeys(doc, 810, 830, { ...policy, alg: 'EdDSA' }, fresh)
    expect(rotated.doc.keys.map((k) => k.kid)).toEqual([doc.keys[0]!.kid, fresh.kid])
    expect(rotated.doc.keys[0]!.retireAt).toBe(830 + policy.retainSeconds)
  })

  it('retire refuses the active key, and a retiring key while its tokens can be live', () => {
    const doc = step(running(), 1000)
    const [old, current] = doc.keys
    const options = { tokenLifetimeSeconds: 60, force: false }
    expect(() => retireKey(doc, current!.kid, 1010, options, policy)).toThrow(/active key/)
    expect(() => retireKey(doc, old!.kid, 1010, options, policy)).toThrow(/50 s more/)
    const forced = retireKey(doc, old!.kid, 1010, { ...options, force: true }, policy)
    expect(forced.liveUntil).toBe(1060)
    expect(keyStatusAt(forced.doc, forced.doc.keys[0]!, 1010)).toBe('retired')
    const later = retireKey(doc, old!.kid, 1060, options, policy)
    expect(keyStatusAt(later.doc, later.doc.keys[0]!, 1060)).toBe('retired')
  })

  it('retire drops a next key outright (it never signed)', () => {
    const doc = running()
    const { doc: after } = retireKey(
      doc,
      doc.keys[1]!.kid,
      810,
      { tokenLifetimeSeconds: 60, force: false },
      policy,
    )
    expect(after.keys.map((k) => k.kid)).toEqual([doc.keys[0]!.kid])
    expect(after.keys[0]!.retireAt).toBeUndefined()
  })

  it('revoke of the active key: the next key signs from the same second', () => {
    const doc = running()
    const result = revokeKey(doc, doc.keys[0]!.kid, 850, undefined, policy)
    expect(result).toMatchObject({ wasActive: true, signing: doc.keys[1]!.kid })
    expect(activeKeyAt(result.doc, 850)?.kid).toBe(doc.keys[1]!.kid)
    expect(keyStatusAt(result.doc, result.doc.keys[0]!, 850)).toBe('revoked')
  })

  it('revoke of the only key needs a replacement, which signs at once', () => {
    const doc = step(empty, SKEW)
    expect(() => revokeKey(doc, doc.keys[0]!.kid, 10, undefined, policy)).toThrow(/replacement/)
    const replacement = record({ publishAt: 0, activateAt: 0 })
    const result = revokeKey(doc, doc.keys[0]!.kid, 10, replacement, policy)
    expect(activeKeyAt(result.doc, 10)?.kid).toBe(replacement.kid)
    expect(result.doc.keys[1]).toMatchObject({ publishAt: 10, activateAt: 10 })
  })

  it('a next key revoked before it activated supersedes nothing', () => {
    const doc = running()
    const { doc: after } = revokeKey(doc, doc.keys[1]!.kid, 850, undefined, policy)
    expect(after.keys[0]!.retireAt).toBeUndefined()
    expect(activeKeyAt(after, 2000)?.kid).toBe(doc.keys[0]!.kid)
    expect(dueSteps(after, 850, policy).create).toEqual({ publishAt: 850, activateAt: 1050 })
  })
})
