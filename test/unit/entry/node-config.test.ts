/**
 * The Node origin's whole configuration, checked before anything happens: the environment, the
 * config file and the keys file, every problem at once, each naming the variable or field, a file's
 * path and OS reason, a JSON error's line and column, never a value.
 */
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ConfigError } from '../../../src/core/errors.ts'
import { checkNodeConfig, loadNodeConfig } from '../../../src/entry/node-config.ts'
import { API, testConfig } from '../oauth/support.ts'

let dir: string
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gatehouse-node-config-'))
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

const files = (entries: Record<string, string>) => async (path: string) => {
  const text = entries[path]
  if (text === undefined)
    throw Object.assign(new Error(`ENOENT: no such file or directory, open '${path}'`), {
      code: 'ENOENT',
    })
  return text
}

const problems = async (env: Record<string, unknown>, read = files({})) =>
  (await checkNodeConfig(env, { readFile: read })).issues

describe('loadNodeConfig', () => {
  it('reads a minting origin: the file’s issuer, no audience needed, its own keys', async () => {
    const config = await testConfig()
    const loaded = await loadNodeConfig(
      { GATEHOUSE_CONFIG: 'c.json', PORT: '0' },
      { readFile: files({ 'c.json': JSON.stringify(config) }) },
    )
    expect(loaded.oauth?.issuer).toBe(config.issuer)
    expect(loaded.verification.issuer).toBe(config.issuer)
    expect(loaded.verification.audience).toBeUndefined()
    expect(loaded.verification.keySource).toBeUndefined()
    expect(loaded.signingKeys?.active.kid).toBeDefined()
  })

  it('lets GATEHOUSE_ISSUER override the file, and names the variable when it is bad', async () => {
    const read = files({ 'c.json': JSON.stringify(await testConfig()) })
    const loaded = await loadNodeConfig(
      { GATEHOUSE_CONFIG: 'c.json', GATEHOUSE_ISSUER: 'http://127.0.0.1:8788' },
      { readFile: read },
    )
    expect(loaded.oauth?.issuer).toBe('http://127.0.0.1:8788')
    expect(
      await problems({ GATEHOUSE_CONFIG: 'c.json', GATEHOUSE_ISSUER: 'http://auth.example' }, read),
    ).toEqual([expect.objectContaining({ field: 'GATEHOUSE_ISSUER' })])
  })

  it('names a missing or unreadable file with its path and the OS reason', async () => {
    const real = await checkNodeConfig({ GATEHOUSE_CONFIG: join(dir, 'missing.json') })
    expect(real.issues).toEqual([
      {
        field: 'GATEHOUSE_CONFIG',
        message: `cannot read ${join(dir, 'missing.json')}: no such file or directory (ENOENT)`,
      },
    ])
    const isDir = await checkNodeConfig({ GATEHOUSE_CONFIG: dir })
    expect(isDir.issues[0]?.message).toMatch(
      /^cannot read .*: illegal operation on a directory \(EISDIR\)$/,
    )
    if (process.getuid?.() !== 0) {
      const locked = join(dir, 'locked.json')
      await writeFile(locked, '{}')
      await chmod(locked, 0o000)
      expect((await checkNodeConfig({ GATEHOUSE_CONFIG: locked })).issues[0]?.message).toMatch(
        /permission denied \(EACCES\)$/,
      )
    }
  })

  it('locates a JSON error by line and column and never quotes the file', async () => {
    const text = '{\n  "issuer": "https://auth.test",\n  "keys": [{ "d": "PRIVATE" }\n}'
    expect(await problems({ GATEHOUSE_CONFIG: 'c.json' }, files({ 'c.json': text }))).toEqual([
      {
        field: 'GATEHOUSE_CONFIG',
        message:
          'c.json is not valid JSON (line 4, column 1: expected "," or "]" after an array element)',
      },
    ])
  })

  it('reads private keys from GATEHOUSE_KEYS_FILE, and refuses keys in both places', async () => {
    const config = await testConfig()
    const { keys, ...withoutKeys } = config
    const read = files({
      'c.json': JSON.stringify(withoutKeys),
      'k.json': JSON.stringify({ keys }),
      'both.json': JSON.stringify(config),
      'bad.json': JSON.stringify([1]),
    })
    const loaded = await loadNodeConfig(
      { GATEHOUSE_CONFIG: 'c.json', GATEHOUSE_KEYS_FILE: 'k.json' },
      { readFile: read },
    )
    expect(loaded.signingKeys?.all.length).toBe(keys?.length)
    expect(
      await problems({ GATEHOUSE_CONFIG: 'both.json', GATEHOUSE_KEYS_FILE: 'k.json' }, read),
    ).toEqual([
      {
        field: 'GATEHOUSE_KEYS_FILE',
        message: 'the config file declares keys too: keep them in one place',
      },
    ])
    expect(
      await problems({ GATEHOUSE_CONFIG: 'c.json', GATEHOUSE_KEYS_FILE: 'bad.json' }, read),
    ).toEqual([
      {
        field: 'GATEHOUSE_KEYS_FILE',
        message: 'bad.json must be {"keyEncryptionKeys": [...], "keys": [...]} (both optional)',
      },
    ])
  })

  it('reports every problem at once: variables, the file and production rules', async () => {
    const config = await testConfig()
    const read = files({
      'c.json': JSON.stringify({
        ...config,
        keys: [],
        tokens: { accessTokenTtlSeconds: 5 },
        isuer: 'x',
      }),
    })
    const issues = await problems(
      {
        GATEHOUSE_CONFIG: 'c.json',
        NODE_ENV: 'production',
        PORT: '70000',
        GATEHOUSE_ISUER: 'x',
        GATEHOUSE_TRUSTED_PROXY_HOPS: '9',
      },
      read,
    )
    expect(issues.map((i) => i.field).sort()).toEqual(
      [
        'GATEHOUSE_ISUER',
        'GATEHOUSE_TRUSTED_PROXY_HOPS',
        'PORT',
        'UPSTASH_REDIS_REST_URL',
        'config',
        'config.tokens.accessTokenTtlSeconds',
      ].sort(),
    )
    expect(issues).toContainEqual({
      field: 'config',
      message: 'has an unknown field "isuer" (did you mean "issuer"?)',
    })
    await expect(loadNodeConfig({ PORT: 'x' })).rejects.toBeInstanceOf(ConfigError)
  })

  it('needs the audience and a key source only where tokens are verified', async () => {
    expect(await problems({ GATEHOUSE_ISSUER: 'https://issuer.test' })).toEqual([
      { field: 'GATEHOUSE_AUDIENCE', message: 'is required (tokens are verified here)' },
      {
        field: 'GATEHOUSE_JWKS_URL',
        message: 'one of GATEHOUSE_JWKS_URL or GATEHOUSE_JWKS is required',
      },
    ])
    const read = files({ 'c.json': JSON.stringify(await testConfig()) })
    expect(await problems({ GATEHOUSE_CONFIG: 'c.json' }, read)).toEqual([])
    expect(
      await problems(
        { GATEHOUSE_CONFIG: 'c.json', GATEHOUSE_UPSTREAM_URL: 'https://u.test' },
        read,
      ),
    ).toEqual([
      {
        field: 'GATEHOUSE_AUDIENCE',
        message: 'is required with GATEHOUSE_UPSTREAM_URL (the gateway verifies)',
      },
    ])
    expect(await problems({ GATEHOUSE_CONFIG: 'c.json', GATEHOUSE_AUDIENCE: API }, read)).toEqual(
      [],
    )
  })
})
