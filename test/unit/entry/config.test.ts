import { describe, expect, it } from 'vitest'
import { ConfigError, parseVerificationConfig } from '../../../src/core/config.ts'
import { publicJwk, publicJwks, privateJwks } from '../../fixtures/keys.ts'

const base = {
  GATEHOUSE_ISSUER: 'https://issuer.test',
  GATEHOUSE_AUDIENCE: 'https://api.test',
  GATEHOUSE_JWKS_URL: 'https://issuer.test/jwks',
}

function failure(env: Record<string, unknown>): ConfigError {
  try {
    parseVerificationConfig(env)
  } catch (err) {
    if (err instanceof ConfigError) return err
    throw err
  }
  throw new Error('expected a ConfigError')
}

describe('parseVerificationConfig', () => {
  it('applies the documented defaults', () => {
    expect(parseVerificationConfig(base)).toEqual({
      issuer: 'https://issuer.test',
      audience: 'https://api.test',
      keySource: { kind: 'url', url: 'https://issuer.test/jwks' },
      clockLeewaySeconds: 0,
      l1MaxEntries: 10_000,
      logLevel: 'info',
      upstreamScopes: [],
      upstreamTimeoutMs: 30_000,
      forwardAuthorization: false,
      port: 8788,
      shutdownTimeoutSeconds: 10,
      drainDelaySeconds: 0,
      revocation: {
        syncSeconds: 2,
        syncTimeoutMs: 1000,
        maxStalenessSeconds: 30,
        policy: 'open',
        snapshotSeconds: 5,
      },
      originTimeoutMs: 5000,
      originFailureThreshold: 5,
      originOpenSeconds: 30,
    })
  })

  it('reads every variable', () => {
    const config = parseVerificationConfig({
      ...base,
      GATEHOUSE_CLOCK_LEEWAY_SECONDS: '0',
      GATEHOUSE_L1_MAX_ENTRIES: '0',
      GATEHOUSE_LOG_LEVEL: 'silent',
      GATEHOUSE_UPSTREAM_URL: 'http://orders.internal:8080/v1',
      GATEHOUSE_UPSTREAM_SCOPES: 'orders:read  orders:write',
      GATEHOUSE_UPSTREAM_TIMEOUT_MS: 5000,
      GATEHOUSE_FORWARD_AUTHORIZATION: true,
      GATEHOUSE_JWKS_REFRESH_SECONDS: '600',
      GATEHOUSE_JWKS_TIMEOUT_MS: '2000',
      GATEHOUSE_SHUTDOWN_TIMEOUT_SECONDS: '3',
      PORT: '0',
      HOST: '127.0.0.1',
      UNRELATED: 'ignored',
    })
    expect(config).toMatchObject({
      clockLeewaySeconds: 0,
      l1MaxEntries: 0,
      logLevel: 'silent',
      upstreamUrl: 'http://orders.internal:8080/v1',
      upstreamScopes: ['orders:read', 'orders:write'],
      upstreamTimeoutMs: 5000,
      forwardAuthorization: true,
      jwksRefreshSeconds: 600,
      jwksTimeoutMs: 2000,
      shutdownTimeoutSeconds: 3,
      port: 0,
      host: '127.0.0.1',
    })
  })

  it('treats an empty string as unset', () => {
    expect(
      parseVerificationConfig({ ...base, PORT: '', GATEHOUSE_UPSTREAM_URL: '' }),
    ).toMatchObject({
      port: 8788,
    })
  })

  it('accepts an inline JWKS as JSON text (Node) or an object (Worker [vars])', () => {
    const jwks = publicJwks()
    const noUrl = { ...base, GATEHOUSE_JWKS_URL: undefined }
    const fromText = parseVerificationConfig({ ...noUrl, GATEHOUSE_JWKS: JSON.stringify(jwks) })
    const fromObject = parseVerificationConfig({ ...noUrl, GATEHOUSE_JWKS: jwks })
    expect(fromText.keySource).toEqual({ kind: 'inline', jwks })
    expect(fromObject.keySource).toEqual({ kind: 'inline', jwks })
  })

  const bad: [string, Record<string, unknown>, string][] = [
    [
      'leeway too big',
      { GATEHOUSE_CLOCK_LEEWAY_SECONDS: '61' },
      'GATEHOUSE_CLOCK_LEEWAY_SECONDS: must be an integer between 0 and 60',
    ],
    [
      'leeway not a number',
      { GATEHOUSE_CLOCK_LEEWAY_SECONDS: '1e1' },
      'GATEHOUSE_CLOCK_LEEWAY_SECONDS: must be an integer between 0 and 60',
    ],
    ['negative port', { PORT: '-1' }, 'PORT: must be an integer between 0 and 65535'],
    ['issuer missing', { GATEHOUSE_ISSUER: undefined }, 'GATEHOUSE_ISSUER: is required'],
    [
      'audience with spaces',
      { GATEHOUSE_AUDIENCE: ' api ' },
      'GATEHOUSE_AUDIENCE: must be a non-empty string',
    ],
    [
      'plain-http JWKS URL',
      { GATEHOUSE_JWKS_URL: 'http://issuer.test/jwks' },
      'GATEHOUSE_JWKS_URL: must use https',
    ],
    [
      'JWKS URL not a URL',
      { GATEHOUSE_JWKS_URL: 'issuer.test' },
      'GATEHOUSE_JWKS_URL: must be an absolute http(s) URL',
    ],
    [
      'both key sources',
      { GATEHOUSE_JWKS: JSON.stringify(publicJwks()) },
      'GATEHOUSE_JWKS: set only one',
    ],
    [
      'no key source',
      { GATEHOUSE_JWKS_URL: undefined },
      'GATEHOUSE_JWKS_URL: one of GATEHOUSE_JWKS_URL or GATEHOUSE_JWKS is required',
    ],
    [
      'upstream with query',
      { GATEHOUSE_UPSTREAM_URL: 'https://u.test/?a=1' },
      'GATEHOUSE_UPSTREAM_URL: must not contain a query string',
    ],
    [
      'upstream with credentials',
      { GATEHOUSE_UPSTREAM_URL: 'https://u:p@u.test/' },
      'GATEHOUSE_UPSTREAM_URL: must not contain credentials',
    ],
    [
      'bad boolean',
      { GATEHOUSE_FORWARD_AUTHORIZATION: 'yes' },
      'GATEHOUSE_FORWARD_AUTHORIZATION: must be "true" or "false"',
    ],
    ['bad log level', { GATEHOUSE_LOG_LEVEL: 'loud' }, 'GATEHOUSE_LOG_LEVEL: must be one of'],
    [
      'bad scope',
      { GATEHOUSE_UPSTREAM_SCOPES: 'a"b' },
      'GATEHOUSE_UPSTREAM_SCOPES: must be space-separated scope tokens',
    ],
  ]
  for (const [name, patch, message] of bad) {
    it(`names the variable for ${name}`, () => {
      const err = failure({ ...base, ...patch })
      expect(err.message).toContain(message)
      expect(err.fields).toContain(message.split(':')[0])
    })
  }

  it('refuses an inline JWKS with a private key and never echoes key material', () => {
    const noUrl = { ...base, GATEHOUSE_JWKS_URL: undefined }
    const err = failure({
      ...noUrl,
      GATEHOUSE_JWKS: { keys: [publicJwk('ES256'), privateJwks.ES384] },
    })
    expect(err.message).toBe('GATEHOUSE_JWKS: must contain public keys only')
    expect(err.message).not.toContain(privateJwks.ES384.d)
  })

  it('refuses inline JWKS that is not JSON or has no keys', () => {
    const noUrl = { ...base, GATEHOUSE_JWKS_URL: undefined }
    expect(failure({ ...noUrl, GATEHOUSE_JWKS: '{nope' }).fields).toEqual(['GATEHOUSE_JWKS'])
    expect(failure({ ...noUrl, GATEHOUSE_JWKS: '{"keys":[]}' }).fields).toEqual(['GATEHOUSE_JWKS'])
  })

  it('reads the L2 store, origin and revocation settings, and checks they fit together', () => {
    const config = parseVerificationConfig({
      ...base,
      UPSTASH_REDIS_REST_URL: 'http://127.0.0.1:8079',
      UPSTASH_REDIS_REST_TOKEN: 'dev-token',
      GATEHOUSE_ORIGIN_URL: 'https://origin.internal',
      GATEHOUSE_REVOCATION_POLICY: 'closed',
      GATEHOUSE_REVOCATION_SYNC_SECONDS: '5',
      GATEHOUSE_REVOCATION_MAX_STALENESS_SECONDS: '60',
    })
    expect(config.upstash).toEqual({ url: 'http://127.0.0.1:8079', token: 'dev-token' })
    expect(config.originUrl).toBe('https://origin.internal')
    expect(config.revocation).toMatchObject({
      policy: 'closed',
      syncSeconds: 5,
      maxStalenessSeconds: 60,
    })

    const half = failure({ ...base, UPSTASH_REDIS_REST_URL: 'http://127.0.0.1:8079' })
    expect(half.fields).toEqual(['UPSTASH_REDIS_REST_TOKEN'])
    const token = 'secret token with spaces'
    const badToken = failure({
      ...base,
      UPSTASH_REDIS_REST_URL: 'http://127.0.0.1:8079',
      UPSTASH_REDIS_REST_TOKEN: token,
    })
    expect(badToken.message).not.toContain(token)
    expect(failure({ ...base, GATEHOUSE_REVOCATION_POLICY: 'maybe' }).fields).toEqual([
      'GATEHOUSE_REVOCATION_POLICY',
    ])
    // Staleness below sync + timeout would flip to the policy between two routine syncs.
    expect(
      failure({
        ...base,
        GATEHOUSE_REVOCATION_SYNC_SECONDS: '10',
        GATEHOUSE_REVOCATION_MAX_STALENESS_SECONDS: '10',
      }).fields,
    ).toEqual(['GATEHOUSE_REVOCATION_MAX_STALENESS_SECONDS'])
    expect(failure({ ...base, GATEHOUSE_ORIGIN_URL: 'http://origin.example' }).fields).toEqual([
      'GATEHOUSE_ORIGIN_URL',
    ])
  })

  it('reports every bad variable at once, one per line', () => {
    const err = failure({ ...base, PORT: 'x', GATEHOUSE_L1_MAX_ENTRIES: '-5' })
    expect(err.fields.sort()).toEqual(['GATEHOUSE_L1_MAX_ENTRIES', 'PORT'])
    expect(err.message.split('\n')).toHaveLength(2)
  })
})
