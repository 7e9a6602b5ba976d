/** The `gatehouse` subcommands produce config entries the origin accepts. */
import { describe, expect, it } from 'vitest'
import { clientsAdd } from '../../../src/cli/clients.ts'
import { keysGenerate, keysGenerateKek, UsageError } from '../../../src/cli/keys.ts'
import { usersAdd } from '../../../src/cli/users.ts'
import { createClientRegistry } from '../../../src/core/oauth/clients.ts'
import { parseOAuthConfig, type SigningKeyConfig } from '../../../src/core/oauth/config.ts'
import { loadSigningKeys } from '../../../src/core/oauth/keys.ts'
import { testPasswords } from './support.ts'

describe('gatehouse keys generate', () => {
  it('prints a private JWK with kid, alg and status that loads as a signing key', async () => {
    const jwk = (await keysGenerate(['--alg', 'EdDSA', '--status', 'active'])) as SigningKeyConfig
    expect(jwk).toMatchObject({ kty: 'OKP', crv: 'Ed25519', alg: 'EdDSA', status: 'active' })
    expect(typeof jwk['d']).toBe('string')
    const keys = await loadSigningKeys([jwk])
    expect(keys.active.kid).toBe(jwk.kid)
  })

  it('makes an active key when none exists, so a config with one generated key starts', async () => {
    const jwk = (await keysGenerate([])) as SigningKeyConfig
    expect(jwk.status).toBe('active')
    expect(parseOAuthConfig({ issuer: 'https://auth.test', keys: [jwk] }).keys).toHaveLength(1)
    const config = JSON.stringify({ keys: [jwk] })
    const second = await keysGenerate(['--config', 'c.json'], { readFile: async () => config })
    expect(second['status']).toBe('next')
  })

  it('refuses unknown algorithms', async () => {
    await expect(keysGenerate(['--alg', 'HS256'])).rejects.toThrow(UsageError)
  })

  it('generate-kek prints a 256-bit oct key the config accepts', () => {
    const kek = keysGenerateKek(['--kid', 'kek-1'])
    expect(kek).toMatchObject({ kty: 'oct', kid: 'kek-1', alg: 'A256GCM' })
    const config = parseOAuthConfig({ issuer: 'https://auth.test', keyEncryptionKeys: [kek] })
    expect(config.keyEncryptionKeys[0]!.k).toHaveLength(43)
  })
})

describe('gatehouse clients add', () => {
  it('a confidential client: the printed secret authenticates against the printed hash', async () => {
    const { client, clientSecret } = await clientsAdd([
      '--id',
      'svc',
      '--type',
      'confidential',
      '--scope',
      'read',
      '--audience',
      'https://api.test',
    ])
    const config = parseOAuthConfig({ issuer: 'https://auth.test', clients: [client] })
    const registry = createClientRegistry(config.clients)
    await expect(
      registry.authenticate({
        method: 'client_secret_basic',
        clientId: 'svc',
        clientSecret: clientSecret!,
      }),
    ).resolves.toMatchObject({ id: 'svc' })
    expect(JSON.stringify(client)).not.toContain(clientSecret!)
  })

  it('defaults the grants by what the client is: sign-in with a redirect URI, else a service', async () => {
    const add = async (...args: string[]) =>
      (await clientsAdd([...args, '--audience', 'https://api.test'])).client['grantTypes']
    const signIn = ['authorization_code', 'refresh_token']
    expect(await add('--id', 'spa', '--redirect-uri', 'https://app.test/cb')).toEqual(signIn)
    expect(
      await add('--id', 'web', '--type', 'confidential', '--redirect-uri', 'https://app.test/cb'),
    ).toEqual(signIn)
    expect(await add('--id', 'svc', '--type', 'confidential')).toEqual(['client_credentials'])
    expect(
      await add(
        '--id',
        'web',
        '--type',
        'confidential',
        '--redirect-uri',
        'https://app.test/cb',
        '--grant',
        'client_credentials',
      ),
    ).toEqual(['client_credentials'])
  })

  it('refuses an entry the origin would refuse', async () => {
    await expect(
      clientsAdd([
        '--id',
        'spa',
        '--redirect-uri',
        'http://evil.test/cb',
        '--audience',
        'https://api.test',
      ]),
    ).rejects.toThrow(/redirectUris/)
  })
})

describe('gatehouse users add', () => {
  it('hashes the password read from stdin; never from argv', async () => {
    const user = await usersAdd(
      ['--username', 'bob', '--email', 'b@x.test'],
      async () => 'a long password',
      testPasswords,
    )
    expect(await testPasswords.verify('a long password', user['passwordHash'] as string)).toBe(true)
    expect(
      parseOAuthConfig({ issuer: 'https://auth.test', users: [user] }).users[0]!.username,
    ).toBe('bob')
    await expect(
      usersAdd(['--username', 'bob', '--password', 'x'], async () => 'p', testPasswords),
    ).rejects.toThrow()
    await expect(
      usersAdd(['--username', 'bob'], async () => 'short', testPasswords),
    ).rejects.toThrow(UsageError)
  })
})
