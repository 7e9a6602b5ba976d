import { describe, expect, it } from 'vitest'
import {
  ConfigError,
  parseVerificationConfig,
  type ParseOptions,
} from '../../../src/core/config.ts'
import { publicJwk, publicJwks, privateJwks } from '../../fixtures/keys.ts'

const base = {
  GATEHOUSE_ISSUER: 'https://issuer.test',
  GATEHOUSE_AUDIENCE: 'https://api.test',
  GATEHOUSE_JWKS_URL: 'https://issuer.test/jwks',
}

function failure(env: Record<string, unknown>, options: ParseOptions = {}): ConfigError {
  try {
    parseVerificationConfig(env, options)
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
      upstreamMaxBodyBytes: 1024 * 1024,
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
      dpop: { maxAgeSeconds: 60, replayPolicy: 'open' },
      originTimeoutMs: 5000,
      originFailureThreshold: 5,
      originOpenSeconds: 30,
      tenancy: { enabled: false, maxTenants: 10_000 },
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
      GATEHOUSE_DPOP_MAX_AGE_SECONDS: '30',
      GATEHOUSE_DPOP_REPLAY_POLICY: 'closed',
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
      dpop: { maxAgeSeconds: 30, replayPolicy: 'closed' },
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
    expect(err.issues).toEqual([
      { field: 'GATEHOUSE_JWKS', message: 'must contain public keys only' },
    ])
    expect(err.message).not.toContain(privateJwks.ES384.d)
  })

  it('refuses inline JWKS that is not JSON or has no keys', () => {
    const noUrl = { ...base, GATEHOUSE_JWKS_URL: undefined }
    expect(failure({ ...noUrl, GATEHOUSE_JWKS: '{nope' }).fields).toEqual(['GATEHOUSE_JWKS'])
    expect(failure({ ...noUrl, GATEHOUSE_JWKS: '{"keys":[]}' }).fields).toEqual(['GATEHOUSE_JWKS'])
  })

  it('locates a JSON error in an inline JWKS by line and column, without quoting it', () => {
    const noUrl = { ...base, GATEHOUSE_JWKS_URL: undefined }
    const err = failure({
      ...noUrl,
      GATEHOUSE_JWKS: '{"keys": [\n  {"kty": "EC", "d": "SECRET"\n]}',
    })
    expect(err.message).toBe(
      'GATEHOUSE_JWKS: is not valid JSON (line 3, column 1: expected "," or "}" after a property value)',
    )
    expect(err.message).not.toContain('SECRET')
  })

  it('lets an inline GATEHOUSE_JWKS win over GATEHOUSE_JWKS_URL (a secret beside the toml URL)', () => {
    const jwks = publicJwks()
    const config = parseVerificationConfig({ ...base, GATEHOUSE_JWKS: JSON.stringify(jwks) })
    expect(config.keySource).toEqual({ kind: 'inline', jwks })
  })

  it('refuses unknown GATEHOUSE_* names with a did-you-mean hint, and ignores others', () => {
    const err = failure({
      ...base,
      GATEHOUSE_ISUER: 'https://issuer.test',
      GATEHOUSE_L1_MAX_ENTIRES: '5',
      GATEHOUSE_FROBNICATE: '1',
      GATEHOUSE_ORIGIN_SERVICE_HOST: '10.0.0.1',
      PATH: '/usr/bin',
      OTEL_RESOURCE_ATTRIBUTES: 'a=b',
    })
    expect(err.issues).toEqual([
      {
        field: 'GATEHOUSE_ISUER',
        message: 'is not a known variable (did you mean "GATEHOUSE_ISSUER"?)',
      },
      {
        field: 'GATEHOUSE_L1_MAX_ENTIRES',
        message: 'is not a known variable (did you mean "GATEHOUSE_L1_MAX_ENTRIES"?)',
      },
      { field: 'GATEHOUSE_FROBNICATE', message: 'is not a known variable' },
      {
        field: 'GATEHOUSE_ORIGIN_SERVICE_HOST',
        message:
          'is not a known variable (a Kubernetes service link? set enableServiceLinks: false)',
      },
    ])
  })

  it('accepts only the variables the runtime reads', () => {
    expect(failure({ ...base, PORT: '8080' }, { runtime: 'edge' }).issues).toEqual([
      { field: 'PORT', message: 'is read only by the Node origin, not by the edge Worker' },
    ])
    expect(
      failure({ ...base, GATEHOUSE_ORIGIN_URL: 'https://o.test' }, { runtime: 'node' }).issues,
    ).toEqual([
      {
        field: 'GATEHOUSE_ORIGIN_URL',
        message: 'is read only by the edge Worker, not by the Node origin',
      },
    ])
    expect(parseVerificationConfig({ ...base, PORT: '8080' }, { runtime: 'node' }).port).toBe(8080)
  })

  it('requires the audience only where tokens are verified', () => {
    const noAudience = { ...base, GATEHOUSE_AUDIENCE: undefined }
    expect(failure(noAudience).issues).toEqual([
      { field: 'GATEHOUSE_AUDIENCE', message: 'is required (tokens are verified here)' },
    ])
    // A minting origin: no /verify then.
    expect(parseVerificationConfig(noAudience, { origin: true }).audience).toBeUndefined()
    // ... unless it is a gateway too.
    expect(
      failure({ ...noAudience, GATEHOUSE_UPSTREAM_URL: 'https://u.test' }, { origin: true }).fields,
    ).toEqual(['GATEHOUSE_AUDIENCE'])
  })

  it('reads the OpenTelemetry variables into the tracing settings', () => {
    expect(parseVerificationConfig(base).tracing).toBeUndefined()
    expect(
      parseVerificationConfig({
        ...base,
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318/',
        OTEL_EXPORTER_OTLP_HEADERS: 'x-key=a%20b',
        OTEL_SERVICE_NAME: 'edge-eu',
      }).tracing,
    ).toEqual({
      url: 'http://127.0.0.1:4318/v1/traces',
      headers: { 'x-key': 'a b' },
      serviceName: 'edge-eu',
    })
    expect(failure({ ...base, OTEL_EXPORTER_OTLP_HEADERS: 'no-equals' }).fields).toEqual([
      'OTEL_EXPORTER_OTLP_HEADERS',
    ])
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
