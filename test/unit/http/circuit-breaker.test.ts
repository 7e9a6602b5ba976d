import { describe, expect, it } from 'vitest'
import { createCircuitBreaker, type Admission } from '../../../src/http/circuit-breaker.ts'

function clock(start = 1_000_000) {
  let t = start
  return { now: () => t, advance: (ms: number) => void (t += ms) }
}

const fail = (b: ReturnType<typeof createCircuitBreaker>, times: number) => {
  for (let i = 0; i < times; i++) b.record(b.admit(), false)
}

describe('createCircuitBreaker', () => {
  it('rejects bad options at construction', () => {
    expect(() => createCircuitBreaker({ failureThreshold: 0 })).toThrow(/failureThreshold/)
    expect(() => createCircuitBreaker({ failureThreshold: 1.5 })).toThrow(/failureThreshold/)
    expect(() => createCircuitBreaker({ openSeconds: -1 })).toThrow(/openSeconds/)
    expect(() => createCircuitBreaker({ openSeconds: Number.NaN })).toThrow(/openSeconds/)
    expect(() => createCircuitBreaker({ probeLeaseSeconds: 0 })).toThrow(/probeLeaseSeconds/)
  })

  it('opens after N consecutive failures and refuses with the seconds until the probe', () => {
    const c = clock()
    const b = createCircuitBreaker({ failureThreshold: 3, openSeconds: 30, now: c.now })
    fail(b, 2)
    expect(b.state).toBe('closed')
    expect(b.admit()).toMatchObject({ allowed: true, probe: false })
    fail(b, 1)
    expect(b.state).toBe('open')
    expect(b.admit()).toEqual({ allowed: false, retryAfterSeconds: 30 })
    c.advance(10_500)
    expect(b.admit()).toEqual({ allowed: false, retryAfterSeconds: 20 })
    c.advance(19_000)
    // Never "Retry-After: 0" while still open.
    expect(b.admit()).toEqual({ allowed: false, retryAfterSeconds: 1 })
  })

  it('counts consecutive failures only: a success resets the count', () => {
    const b = createCircuitBreaker({ failureThreshold: 3 })
    fail(b, 2)
    b.record(b.admit(), true)
    fail(b, 2)
    expect(b.state).toBe('closed')
    fail(b, 1)
    expect(b.state).toBe('open')
  })

  it('lets exactly one probe through when half-open; its success closes the breaker', () => {
    const c = clock()
    const b = createCircuitBreaker({ failureThreshold: 1, openSeconds: 5, now: c.now })
    fail(b, 1)
    c.advance(5000)
    expect(b.state).toBe('half-open')
    const probe = b.admit()
    expect(probe).toMatchObject({ allowed: true, probe: true })
    const other = b.admit()
    expect(other.allowed).toBe(false)
    b.record(probe, true)
    expect(b.state).toBe('closed')
    expect(b.admit()).toMatchObject({ allowed: true, probe: false })
  })

  it('re-opens for the full period when the probe fails', () => {
    const c = clock()
    const b = createCircuitBreaker({ failureThreshold: 1, openSeconds: 5, now: c.now })
    fail(b, 1)
    c.advance(7000)
    const probe = b.admit()
    c.advance(1000)
    b.record(probe, false)
    expect(b.state).toBe('open')
    expect(b.admit()).toEqual({ allowed: false, retryAfterSeconds: 5 })
  })

  it('hands out a new probe when the previous one was lost or released', () => {
    const c = clock()
    const b = createCircuitBreaker({
      failureThreshold: 1,
      openSeconds: 5,
      probeLeaseSeconds: 3,
      now: c.now,
    })
    fail(b, 1)
    c.advance(5000)
    const lost = b.admit()
    expect(lost).toMatchObject({ allowed: true, probe: true })
    c.advance(1000)
    expect(b.admit()).toEqual({ allowed: false, retryAfterSeconds: 2 })
    c.advance(2000)
    const second = b.admit()
    expect(second).toMatchObject({ allowed: true, probe: true })
    b.release(second)
    expect(b.admit()).toMatchObject({ allowed: true, probe: true })
  })

  it('ignores late results of calls admitted before it opened', () => {
    const c = clock()
    const b = createCircuitBreaker({ failureThreshold: 2, openSeconds: 5, now: c.now })
    const early: Admission = b.admit()
    fail(b, 2)
    b.record(early, true)
    expect(b.state).toBe('open')
    c.advance(5000)
    b.record(early, false)
    expect(b.state).toBe('half-open')
  })

  it('does not let calls that failed during an outage reopen it once a probe has closed it', () => {
    const c = clock()
    const b = createCircuitBreaker({ failureThreshold: 2, openSeconds: 5, now: c.now })
    const inFlight = [b.admit(), b.admit(), b.admit()]
    fail(b, 2)
    expect(b.state).toBe('open')
    c.advance(5000)
    b.record(b.admit(), true)
    expect(b.state).toBe('closed')
    // The calls admitted before the outage time out now: stale evidence, not counted.
    for (const admission of inFlight) b.record(admission, false)
    expect(b.state).toBe('closed')
    // Fresh failures still count.
    fail(b, 2)
    expect(b.state).toBe('open')
  })
})
