/**
 * The `gatehouse` command as a shell user runs it (a real process): help exits 0, stdout holds only
 * the JSON entry, so the output composes into a config the origin starts with, and a client made
 * without `--audience` gets one its verifiers accept (or the command refuses).
 */
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { oauthConfigSchema } from '../../../src/core/oauth/config.ts'
import { ROOT, startOriginProcess } from '../../support/node-process.ts'

const dir = mkdtempSync(join(tmpdir(), 'gatehouse-cli-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const ISSUER = 'https://auth.test'
const API = 'https://api.test'

function gatehouse(args: string[], env: Record<string, string> = {}) {
  const result = spawnSync(
    process.execPath,
    [
      '--experimental-strip-types',
      '--no-warnings=ExperimentalWarning',
      'src/cli/gatehouse.ts',
      ...args,
    ],
    { cwd: ROOT, env: { PATH: process.env.PATH ?? '', ...env }, encoding: 'utf8' },
  )
  return { code: result.status, stdout: result.stdout, stderr: result.stderr }
}

describe('gatehouse --help', () => {
  it.each([
    ['--help'],
    ['-h'],
    ['help'],
    ['clients', 'add', '--help'],
    ['clients', 'update', '--help'],
    ['keys', 'generate', '-h'],
  ])('%s … prints the usage on stdout and exits 0', (...args) => {
    const { code, stdout, stderr } = gatehouse(args)
    expect(code).toBe(0)
    expect(stdout).toMatch(/^usage: gatehouse /)
    expect(stderr).toBe('')
  })

  it('no command or an unknown one is a usage error (exit 2) with a hint, on stderr', () => {
    const none = gatehouse([])
    expect(none.code).toBe(2)
    expect(none.stdout).toBe('')
    expect(none.stderr).toMatch(/no command given[\s\S]*usage: gatehouse/)
    const typo = gatehouse(['client', 'add'])
    expect(typo.code).toBe(2)
    expect(typo.stderr).toContain(
      'gatehouse: "client add" is not a known command (did you mean "clients add"?)',
    )
  })
})

describe('gatehouse clients add', () => {
  it('refuses to make a client without an audience (exit 2, nothing on stdout)', () => {
    const { code, stdout, stderr } = gatehouse(['clients', 'add', '--id', 'svc'])
    expect(code).toBe(2)
    expect(stdout).toBe('')
    expect(stderr).toContain('--audience is required')
  })

  it('prints exactly a config entry; the secret only on stderr; the composed config mints tokens /verify accepts', async () => {
    const key = gatehouse(['keys', 'generate', '--status', 'active'])
    expect(key.code).toBe(0)
    // No --audience: GATEHOUSE_AUDIENCE (the one the origin's /verify checks) is the default.
    const added = gatehouse(
      ['clients', 'add', '--id', 'svc', '--type', 'confidential', '--scope', 'read'],
      { GATEHOUSE_AUDIENCE: API },
    )
    expect(added.code).toBe(0)
    const client = JSON.parse(added.stdout) as Record<string, unknown>
    expect(client).toMatchObject({ id: 'svc', type: 'confidential', audiences: [API] })
    const lines = added.stderr.trim().split('\n')
    const secret = lines.at(-1) as string
    expect(secret).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect(added.stderr).toContain('(from GATEHOUSE_AUDIENCE)')
    expect(added.stdout).not.toContain(secret)

    // Pasted as printed: the origin's own schema accepts it unchanged.
    const config = { issuer: ISSUER, keys: [JSON.parse(key.stdout)], clients: [client] }
    expect(oauthConfigSchema.safeParse(config).success).toBe(true)
    const configPath = join(dir, 'config.json')
    writeFileSync(configPath, JSON.stringify(config))
    const origin = await startOriginProcess({
      GATEHOUSE_CONFIG: configPath,
      GATEHOUSE_AUDIENCE: API,
    })
    try {
      const token = await fetch(`${origin.url}/token`, {
        method: 'POST',
        headers: {
          authorization: `Basic ${btoa(`svc:${secret}`)}`,
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: 'grant_type=client_credentials&scope=read',
      })
      expect(token.status).toBe(200)
      const { access_token } = (await token.json()) as { access_token: string }
      const verified = await fetch(`${origin.url}/verify`, {
        headers: { authorization: `Bearer ${access_token}` },
      })
      expect(verified.status).toBe(200)
      expect(await verified.json()).toMatchObject({ active: true, aud: API, client_id: 'svc' })
    } finally {
      await origin.stop()
    }
  })

  it('--secret-file writes the secret (0600) instead of stderr, and never overwrites a file', () => {
    const file = join(dir, 'svc.secret')
    const args = ['clients', 'add', '--id', 'svc', '--type', 'confidential', '--audience', API]
    const first = gatehouse([...args, '--secret-file', file])
    expect(first.code).toBe(0)
    const secret = readFileSync(file, 'utf8').trim()
    expect(secret).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect(statSync(file).mode & 0o777).toBe(0o600)
    expect(first.stderr).not.toContain(secret)
    expect(first.stdout).not.toContain(secret)

    const second = gatehouse([...args, '--secret-file', file])
    expect(second.code).toBe(1)
    expect(second.stdout).toBe('')
    expect(readFileSync(file, 'utf8').trim()).toBe(secret)
  })
})

describe('gatehouse clients update', () => {
  it('DPoP: prints the whole config with the client changed, the change on stderr; usage errors exit 2', () => {
    const config = {
      issuer: ISSUER,
      clients: [
        {
          id: 'web',
          type: 'public',
          grantTypes: ['authorization_code'],
          redirectUris: ['https://app.test/cb'],
          audiences: [API],
        },
      ],
    }
    const path = join(dir, 'update.json')
    writeFileSync(path, JSON.stringify(config))
    const args = ['clients', 'update', '--config', path, '--id', 'web']
    const on = gatehouse([...args, '--require-dpop', '--dpop-nonce'])
    expect(on.code).toBe(0)
    expect(JSON.parse(on.stdout)).toEqual({
      ...config,
      clients: [{ ...config.clients[0], requireDpop: true, dpopNonce: true }],
    })
    expect(on.stderr).toContain('client web')
    expect(on.stderr).toContain('requireDpop true, dpopNonce true')
    expect(oauthConfigSchema.safeParse(JSON.parse(on.stdout)).success).toBe(true)
    // The file itself is not touched: stdout is the new config.
    expect(JSON.parse(readFileSync(path, 'utf8'))).toEqual(config)

    const contradiction = gatehouse([...args, '--dpop-nonce', '--no-dpop-nonce'])
    expect(contradiction.code).toBe(2)
    expect(contradiction.stdout).toBe('')
    const unknown = gatehouse([...args.slice(0, 4), '--id', 'nope', '--dpop-nonce'])
    expect(unknown.code).toBe(1)
    expect(unknown.stderr).toContain('no client "nope"')
  })
})
