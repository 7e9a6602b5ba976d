/**
 * Permissions of the files an origin trusts (docs/keys.md, "Secret files"), through the origin's
 * config loader: writable by group or others is refused, world-readable with secrets is a warning;
 * the keys file carries the key-encryption keys and the first signing keys.
 */
import { chmod, mkdtemp, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { generateKeyEncryptionKey } from '../../../src/core/oauth/key-wrap.ts'
import { checkNodeConfig } from '../../../src/entry/node-config.ts'
import { holdsSecrets } from '../../../src/entry/node-secret-files.ts'
import { writePrivateFile } from '../../../scripts/dev-config.ts'
import { privateJwks } from '../../fixtures/keys.ts'

let dir: string
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gatehouse-secret-files-'))
})
afterAll(() => rm(dir, { recursive: true, force: true }))

async function file(name: string, content: unknown, mode: number): Promise<string> {
  const path = join(dir, name)
  await writeFile(path, JSON.stringify(content))
  await chmod(path, mode)
  return path
}

const config = { issuer: 'https://a.test' }
const keysDoc = {
  keyEncryptionKeys: [generateKeyEncryptionKey('kek')],
  keys: [{ ...privateJwks.ES256, status: 'active' }],
}
const check = (configPath: string, keysPath?: string) =>
  checkNodeConfig({
    GATEHOUSE_CONFIG: configPath,
    ...(keysPath ? { GATEHOUSE_KEYS_FILE: keysPath } : {}),
  })

describe('secret files', () => {
  it('refuses a config or keys file that group or others can write, naming the variable', async () => {
    const writable = await check(await file('config-0664.json', config, 0o664))
    expect(writable.issues).toContainEqual({
      field: 'GATEHOUSE_CONFIG',
      message: expect.stringMatching(/writable by group or others \(mode 664\)/),
    })
    const safe = await file('config-0644.json', config, 0o644)
    const keys = await check(safe, await file('keys-0606.json', keysDoc, 0o606))
    expect(keys.issues.map((i) => i.field)).toEqual(['GATEHOUSE_KEYS_FILE'])
  })

  it('warns about a world-readable file holding secrets; merges the keys file', async () => {
    const safe = await file('config.json', config, 0o644)
    const loud = await check(safe, await file('keys-0644.json', keysDoc, 0o644))
    expect(loud.issues).toEqual([])
    expect(loud.config?.oauth?.keyEncryptionKeys).toHaveLength(1)
    expect(loud.warnings).toEqual([
      { field: 'GATEHOUSE_KEYS_FILE', message: expect.stringMatching(/mode 644/) },
    ])
    const quiet = await check(safe, await file('keys-0640.json', keysDoc, 0o640))
    expect(quiet.warnings).toEqual([])
  })

  it('counts private keys, key-encryption keys and password hashes as secrets; public keys not', () => {
    expect(holdsSecrets({ keys: [privateJwks.ES256] })).toBe(true)
    expect(holdsSecrets({ keyEncryptionKeys: [generateKeyEncryptionKey('k')] })).toBe(true)
    expect(holdsSecrets({ users: [{ passwordHash: '$scrypt$…' }] })).toBe(true)
    const publicOnly = Object.fromEntries(
      Object.entries(privateJwks.ES256).filter(([name]) => name !== 'd'),
    )
    expect(holdsSecrets({ keys: [publicOnly], clients: [{ secretHash: 'sha256:x' }] })).toBe(false)
  })

  it('keeps keys in one place, and refuses members a keys file does not hold', async () => {
    const both = await file('both.json', { ...config, keys: keysDoc.keys }, 0o600)
    const keys = await file('keys.json', keysDoc, 0o600)
    expect((await check(both, keys)).issues.map((i) => i.message)).toContainEqual(
      expect.stringMatching(/keep them in one place/),
    )
    const odd = await file('odd-keys.json', { ...keysDoc, users: [] }, 0o600)
    expect((await check(await file('c.json', config, 0o600), odd)).issues).toEqual([
      { field: 'GATEHOUSE_KEYS_FILE', message: expect.stringMatching(/must be/) },
    ])
  })

  it('production needs a key-encryption key', async () => {
    const path = await file('prod.json', config, 0o600)
    const { issues } = await checkNodeConfig({
      GATEHOUSE_CONFIG: path,
      NODE_ENV: 'production',
      UPSTASH_REDIS_REST_URL: 'https://l2.test',
      UPSTASH_REDIS_REST_TOKEN: 't',
    })
    expect(issues.map((i) => i.field)).toContain('config.keyEncryptionKeys')
  })

  it('the dev stack rewrites a file it reuses at 0600 (writeFile keeps an existing mode)', async () => {
    const path = await file('edge.env', {}, 0o644)
    await writePrivateFile(path, 'UPSTASH_REDIS_REST_TOKEN=t\n')
    expect((await stat(path)).mode & 0o777).toBe(0o600)
  })
})
