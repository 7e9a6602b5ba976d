/**
 * Request ids made for requests without a sane `X-Request-Id` (request-id.ts): UUID-shaped (RFC 9562
 * version 8), distinct, one random prefix per process, the counter not readable from the ids.
 */
import { describe, expect, it } from 'vitest'
import { newRequestId } from '../../../src/http/request-id.ts'

const V8_UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

describe('newRequestId', () => {
  it('makes distinct UUID-shaped ids (version 8, RFC 9562 variant)', () => {
    const ids = Array.from({ length: 20_000 }, () => newRequestId())
    for (const id of ids) expect(id).toMatch(V8_UUID)
    expect(new Set(ids).size).toBe(ids.length)
  })

  it('shares one random prefix in a process and scrambles the counter part', () => {
    const ids = Array.from({ length: 256 }, () => newRequestId())
    expect(new Set(ids.map((id) => id.slice(0, 28))).size).toBe(1)
    // A plain counter would leave consecutive tails one apart; the bijection spreads them.
    const tails = ids.map((id) => Number.parseInt(id.slice(28), 16))
    const steps = tails.slice(1).map((tail, i) => Math.abs(tail - (tails[i] as number)))
    expect(steps.filter((step) => step === 1).length).toBeLessThan(8)
  })
})
