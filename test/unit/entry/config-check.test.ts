/**
 * `gatehouse config check`: the repository's wrangler.toml passes; a Worker's vars or a Node
 * environment with problems lists every one of them, exits 1, and never prints a value.
 */
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { configCheck } from '../../../src/cli/config-check.ts'
import { publicJwks } from '../../fixtures/keys.ts'

const ROOT = new URL('../../../', import.meta.url).pathname
let dir: string
let toml: string

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gatehouse-config-check-'))
  toml = join(dir, 'wrangler.toml')
  await writeFile(
    toml,
    `name = "edge"
main = "src/entry/worker.ts"

[vars]
GATEHOUSE_ISSUER = "https://auth.example.com"
GATEHOUSE_AUDIENCE = "https://api.example.com"
GATEHOUSE_JWKS_URL = "https://auth.example.com/.well-known/jwks.json"
UPSTASH_REDIS_REST_URL = "https://eu1.upstash.io"

[env.production.vars]
GATEHOUSE_ISSUER = "https://auth.example.com"
GATEHOUSE_AUDIANCE = "https://api.example.com"
GATEHOUSE_CLOCK_LEEWAY_SECONDS = "600"
PORT = "8080"
`,
  )
})
afterAll(() => rm(dir, { recursive: true, force: true }))

describe('gatehouse config check', () => {
  it('passes the repository’s wrangler.toml (its local [env.dev]; the top level holds no vars)', async () => {
    const report = await configCheck(
      ['--wrangler', join(ROOT, 'wrangler.toml'), '--env', 'dev'],
      {},
    )
    expect(report).toEqual({
      ok: true,
      checked: `${join(ROOT, 'wrangler.toml')} [env.dev]`,
      problems: [],
    })
  })

  it('takes secrets by name and --var values over the toml, as wrangler deploy does', async () => {
    // The token is a secret: only its presence is known. The inline key set set by --var wins
    // over the toml's URL.
    expect(
      await configCheck(['--wrangler', toml, '--secret', 'UPSTASH_REDIS_REST_TOKEN'], {}),
    ).toMatchObject({ ok: true })
    expect(
      await configCheck(
        [
          '--wrangler',
          toml,
          '--secret',
          'UPSTASH_REDIS_REST_TOKEN',
          '--var',
          `GATEHOUSE_JWKS:${JSON.stringify(publicJwks())}`,
        ],
        {},
      ),
    ).toMatchObject({ ok: true })
    expect((await configCheck(['--wrangler', toml], {})).problems).toEqual([
      {
        field: 'UPSTASH_REDIS_REST_TOKEN',
        message: 'UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN go together',
      },
    ])
  })

  it('lists every problem of an environment (whose vars are not inherited)', async () => {
    const report = await configCheck(['--wrangler', toml, '--env', 'production'], {})
    expect(report.ok).toBe(false)
    expect(report.checked).toBe(`${toml} [env.production]`)
    expect(report.problems).toEqual([
      {
        field: 'GATEHOUSE_AUDIANCE',
        message: 'is not a known variable (did you mean "GATEHOUSE_AUDIENCE"?)',
      },
      { field: 'PORT', message: 'is read only by the Node origin, not by the edge Worker' },
      { field: 'GATEHOUSE_CLOCK_LEEWAY_SECONDS', message: 'must be an integer between 0 and 60' },
      { field: 'GATEHOUSE_AUDIENCE', message: 'is required (tokens are verified here)' },
      {
        field: 'GATEHOUSE_JWKS_URL',
        message: 'one of GATEHOUSE_JWKS_URL or GATEHOUSE_JWKS is required',
      },
    ])
  })

  it('checks the Node environment and its files, exits 1, prints no value', async () => {
    const child = spawn(
      process.execPath,
      [
        '--experimental-strip-types',
        '--no-warnings=ExperimentalWarning',
        'src/cli/gatehouse.ts',
        'config',
        'check',
      ],
      {
        cwd: ROOT,
        env: {
          PATH: process.env.PATH ?? '',
          GATEHOUSE_CONFIG: join(dir, 'missing.json'),
          UPSTASH_REDIS_REST_URL: 'http://10.0.0.1:8079',
          UPSTASH_REDIS_REST_TOKEN: 'not a token with spaces',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    )
    let stderr = ''
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    const [code] = await once(child, 'exit')
    expect(code).toBe(1)
    expect(stderr.split('\n').filter(Boolean)).toEqual([
      'gatehouse: the Node environment: 3 problems',
      '  UPSTASH_REDIS_REST_URL: must use https (http only for localhost, 127.0.0.0/8, [::1])',
      '  UPSTASH_REDIS_REST_TOKEN: must be a token without whitespace',
      `  GATEHOUSE_CONFIG: cannot read ${join(dir, 'missing.json')}: no such file or directory (ENOENT)`,
    ])
    expect(stderr).not.toContain('not a token')
  })
})
