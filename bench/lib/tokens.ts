/**
 * Token pools for the benchmarks, signed before any timing starts so signing never counts.
 * Claims are a realistic RFC 9068 access token (~600–900 bytes depending on the algorithm).
 */
import {
  signTestToken,
  TEST_AUDIENCE,
  TEST_ISSUER,
  type TestAlg,
} from '../../test/fixtures/keys.ts'

export { TEST_AUDIENCE, TEST_ISSUER }

/** `count` distinct tokens (distinct jti, sid and signature), valid for 15 minutes. */
export async function signPool(alg: TestAlg, count: number): Promise<string[]> {
  const tokens: string[] = []
  for (let i = 0; i < count; i++) {
    tokens.push(
      await signTestToken(
        {
          sub: `user-${i}`,
          scope: 'openid profile email offline_access orders:read orders:write invoices:read',
          sid: crypto.randomUUID(),
          auth_time: Math.floor(Date.now() / 1000) - 60,
          acr: 'urn:gatehouse:acr:pwd',
          amr: ['pwd'],
        },
        { alg, lifetimeSeconds: 900 },
      ),
    )
  }
  return tokens
}

/**
 * `count` distinct string objects with the same content as `token`, as if each had just been read
 * from a request header: none carries a cached V8 string hash, so no design gets a free ride.
 */
export function freshCopies(token: string, count: number): string[] {
  const bytes = Buffer.from(token, 'latin1')
  return Array.from({ length: count }, () => bytes.toString('latin1'))
}

/** Cycles through `items`, one per call. */
export function cycle<T>(items: readonly T[]): () => T {
  let i = 0
  return () => {
    const item = items[i] as T
    i = i + 1 === items.length ? 0 : i + 1
    return item
  }
}
