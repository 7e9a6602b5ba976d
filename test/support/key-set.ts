/**
 * Key-set documents built from the fixture keys (test/fixtures/keys.ts), for tests of the readers
 * (the edge's key source, the Worker) that need a set in L2 without running an origin.
 */
import type { KeyRecord, KeySetDocument } from '../../src/core/published-key-set.ts'
import { publicJwk, TEST_ISSUER, type TestAlg } from '../fixtures/keys.ts'

/** A record for a fixture key, published and active from `at` (seconds) unless times are given. */
export function fixtureRecord(alg: TestAlg, times: Partial<KeyRecord> = {}): KeyRecord {
  const jwk = publicJwk(alg) as KeyRecord['jwk']
  return { kid: jwk.kid, alg: jwk.alg, jwk, createdAt: 0, publishAt: 0, activateAt: 0, ...times }
}

/**
 * @example await store.set(keySetStoreKeys(TEST_ISSUER).document, fixtureKeySet([fixtureRecord('ES256')]))
 */
export function fixtureKeySet(keys: KeyRecord[], extra: Partial<KeySetDocument> = {}): string {
  const doc: KeySetDocument = {
    format: 1,
    issuer: TEST_ISSUER,
    version: 1,
    updatedAt: 0,
    cacheSeconds: 300,
    keys,
    discovery: { issuer: TEST_ISSUER, jwks_uri: `${TEST_ISSUER}/.well-known/jwks.json` },
    ...extra,
  }
  return JSON.stringify(doc)
}
