/** The `gatehouse` subcommands produce config entries the origin accepts. */
import { describe, expect, it } from 'vitest'
import { clientsAdd, clientsUpdate } from '../../../src/cli/clients.ts'
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

describe('gatehouse clients update (DPoP settings)', () => {
  const config = {
    issuer: 'https://auth.test',
    keys: [{ kid: 'k1' }],
    clients: [
      {
        id: 'web',
        type: 'public',
        grantTypes: ['authorization_code'],
        redirectUris: ['https://app.test/cb'],
        audiences: ['https://a.test'],
      },
      {
        id: 'svc',
        type: 'public',
        grantTypes: ['authorization_code'],
        redirectUris: ['https://app.test/cb'],
        requireDpop: true,
      },
    ],
  }
  const update = (...args: string[]) =>
    clientsUpdate(args, {}, { readFile: async () => JSON.stringify(config) })

  it('DPoP flags change that client only and leave every other member of the config as it was', async () => {
    const result = await update(
      '--config',
      'c.json',
      '--id',
      'web',
      '--require-dpop',
      '--dpop-nonce',
    )
    expect(result.client).toEqual({ ...config.clients[0], requireDpop: true, dpopNonce: true })
    expect(result.config).toEqual({
      ...config,
      clients: [{ ...config.clients[0], requireDpop: true, dpopNonce: true }, config.clients[1]],
    })
    const off = await update('--config', 'c.json', '--id', 'svc', '--no-require-dpop')
    expect(off.client).toEqual({ ...config.clients[1], requireDpop: false })
  })

  it('DPoP flags: GATEHOUSE_CONFIG is the default config file', async () => {
    const read: string[] = []
    await clientsUpdate(
      ['--id', 'web', '--dpop-nonce'],
      { GATEHOUSE_CONFIG: '/etc/gatehouse/config.json' },
      { readFile: async (path) => (read.push(path), JSON.stringify(config)) },
    )
    expect(read).toEqual(['/etc/gatehouse/config.json'])
  })

  it('DPoP flags: refuses nothing to change, contradicting flags, an unknown client, no config', async () => {
    await expect(update('--config', 'c.json', '--id', 'web')).rejects.toThrow(/nothing to change/)
    await expect(
      update('--config', 'c.json', '--id', 'web', '--require-dpop', '--no-require-dpop'),
    ).rejects.toThrow(/contradict/)
    await expect(update('--config', 'c.json', '--id', 'nope', '--dpop-nonce')).rejects.toThrow(
      /no client "nope"/,
    )
    await expect(update('--id', 'web', '--dpop-nonce')).rejects.toThrow(UsageError)
    await expect(
      clientsUpdate(
        ['--config', 'c.json', '--id', 'web', '--dpop-nonce'],
        {},
        {
          readFile: async () => '{"clients": 3}',
        },
      ),
    ).rejects.toThrow(/no "clients" array/)
  })

  it('clients add writes requireDpop and dpopNonce only when asked', async () => {
    const base = ['--id', 'svc', '--type', 'confidential', '--audience', 'https://api.test']
    const plain = (await clientsAdd(base)).client
    expect(plain).not.toHaveProperty('requireDpop')
    expect(plain).not.toHaveProperty('dpopNonce')
    const bound = (await clientsAdd([...base, '--require-dpop'])).client
    expect(bound).toMatchObject({ requireDpop: true })
    expect(bound).not.toHaveProperty('dpopNonce')
  })
})
