/** The config schema: defaults, and errors that name the field path without echoing values. */
import { describe, expect, it } from 'vitest'
import { ConfigError, parseOAuthConfig } from '../../../src/core/oauth/config.ts'
import { privateJwks } from '../../fixtures/keys.ts'
import { testConfig } from './support.ts'

const errorOf = (input: unknown): string => {
  try {
    parseOAuthConfig(input)
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError)
    return (e as Error).message
  }
  throw new Error('expected a ConfigError')
}

describe('parseOAuthConfig', () => {
  it('fills documented defaults', async () => {
    const config = parseOAuthConfig(await testConfig())
    expect(config.tokens).toEqual({
      accessTokenTtlSeconds: 600,
      idTokenTtlSeconds: 600,
      refreshTokenTtlSeconds: 2_592_000,
      refreshGraceSeconds: 10,
      authorizationCodeTtlSeconds: 60,
      sessionTtlSeconds: 28_800,
      loginRequestTtlSeconds: 600,
    })
    expect(config.rateLimits.loginPerIp).toEqual({ limit: 30, windowSeconds: 60 })
    expect(config.clients[0]!.defaultScopes).toEqual([])
  })

  it('names the field path of each problem', async () => {
    const base = await testConfig()
    const message = errorOf({
      ...base,
      issuer: 'http://auth.example.com',
      tokens: { accessTokenTtlSeconds: 3600 },
      clients: [
        { ...base.clients![0]!, redirectUris: ['https://ok.test/cb', 'http://evil.test/cb'] },
      ],
    })
    expect(message).toContain('config.issuer:')
    expect(message).toContain('config.tokens.accessTokenTtlSeconds:')
    expect(message).toContain('config.clients[0].redirectUris[1]:')
  })

  it.each([
    [
      'public client with client_credentials',
      { type: 'public', grantTypes: ['client_credentials'] },
      'config.clients[0].grantTypes',
    ],
    [
      'confidential client without secret',
      { type: 'confidential', secretHash: undefined },
      'config.clients[0].secretHash',
    ],
    [
      'public client with a secret',
      { secretHash: `sha256:${'A'.repeat(43)}` },
      'config.clients[0].secretHash',
    ],
    ['unknown field', { redirect_uris: [] }, 'config.clients[0]'],
    [
      'redirect URI with fragment',
      { redirectUris: ['https://a.test/cb#x'] },
      'config.clients[0].redirectUris[0]',
    ],
    [
      'default scope not allowed',
      { defaultScopes: ['admin'] },
      'config.clients[0].defaultScopes[0]',
    ],
  ])('%s', async (_name, patch, path) => {
    const base = await testConfig()
    expect(errorOf({ ...base, clients: [{ ...base.clients![0]!, ...patch }] })).toContain(path)
  })

  it('requires exactly one active key and unique kids', async () => {
    const base = await testConfig()
    const two = [
      { ...privateJwks.ES256, status: 'active' },
      { ...privateJwks.EdDSA, status: 'active' },
    ]
    expect(errorOf({ ...base, keys: two })).toContain(
      'config.keys: exactly one key must be "active"',
    )
    const dup = [
      { ...privateJwks.ES256, status: 'active' },
      { ...privateJwks.ES256, status: 'next' },
    ]
    expect(errorOf({ ...base, keys: dup })).toContain('config.keys[1].kid: duplicate')
  })

  it('keeps the key schedule one an origin can follow', async () => {
    const base = await testConfig()
    const schedule = (keyRotation: Record<string, number>) => errorOf({ ...base, keyRotation })
    expect(schedule({ cacheSeconds: 300, prePublishSeconds: 500 })).toContain(
      'config.keyRotation.prePublishSeconds: must be at least twice cacheSeconds',
    )
    // Reads every 10 s, stops minting 2 s after a missed read: it would refuse between reads.
    expect(schedule({ cacheSeconds: 2, prePublishSeconds: 4 })).toContain(
      'config.keyRotation.prePublishSeconds: must be at least four times checkSeconds',
    )
    expect(() =>
      parseOAuthConfig({
        ...base,
        keyRotation: { cacheSeconds: 2, prePublishSeconds: 4, checkSeconds: 1 },
      }),
    ).not.toThrow()
  })

  it('never echoes a value (a private key member or a hash) in the message', async () => {
    const base = await testConfig()
    const message = errorOf({
      ...base,
      keys: [{ ...privateJwks.ES256, alg: 'HS256', status: 'active' }],
    })
    expect(message).toContain('config.keys[0].alg')
    expect(message).not.toContain(privateJwks.ES256.d)
  })
})
