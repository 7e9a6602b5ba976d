/**
 * wrangler.toml as an operator meets it: `wrangler deploy` of the top level or of [env.dev] (local
 * URLs) is refused; the environments docs/deploy-cloudflare.md tells you to add deploy with exactly
 * their own variables, after `gatehouse config check` passed, and a bad value stops the deploy; `npm
 * run dev:worker` starts offline without trying to fetch `Request.cf`. All offline: `--dry-run`
 * bundles and stops before any API call.
 */
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { freePort } from '../../../scripts/dev-ports.ts'
import { until } from '../../support/poll.ts'
import { ROOT, wrangler, wranglerProject } from './wrangler-project.ts'

const dir = mkdtempSync(join(tmpdir(), 'gatehouse-wrangler-out-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
const DOCS_ENVIRONMENTS = readFileSync(
  join(ROOT, 'docs/examples/wrangler-environments.toml'),
  'utf8',
)

describe('wrangler.toml', () => {
  it('keeps local URLs in [env.dev] only; the top level holds no variables', () => {
    let section = ''
    const local: string[] = []
    for (const line of readFileSync(join(ROOT, 'wrangler.toml'), 'utf8').split('\n')) {
      if (/^\s*\[/.test(line)) section = line.trim()
      if (/127\.0\.0\.1|localhost/.test(line) && !line.trim().startsWith('#')) local.push(section)
    }
    expect(local.length).toBeGreaterThan(0)
    expect(local.every((s) => s.startsWith('[env.dev'))).toBe(true)
    expect(readFileSync(join(ROOT, 'wrangler.toml'), 'utf8')).not.toMatch(/^\[vars\]/m)
  })

  it('refuses `wrangler deploy` of the top level and of [env.dev]', () => {
    const top = wrangler(['deploy', '--dry-run', '--outdir', join(dir, 'top')], ROOT)
    expect(top.code).not.toBe(0)
    expect(top.output).toContain('gatehouse: refusing `wrangler deploy` of the top level')
    const dev = wrangler(
      ['deploy', '--dry-run', '--env', 'dev', '--outdir', join(dir, 'dev')],
      ROOT,
    )
    expect(dev.code).not.toBe(0)
    expect(dev.output).toContain('gatehouse: refusing `wrangler deploy` of [env.dev]')
  })

  it('deploys the environments of docs/examples/wrangler-environments.toml, config-checked, with their own variables', () => {
    const project = wranglerProject(DOCS_ENVIRONMENTS)
    try {
      for (const [name, issuer] of [
        ['production', 'https://auth.example.com'],
        ['staging', 'https://auth.staging.example.com'],
      ] as const) {
        const out = join(dir, `out-${name}`)
        const result = wrangler(
          ['deploy', '--dry-run', '--env', name, '--outdir', out],
          project.dir,
        )
        expect(result.code, result.output).toBe(0)
        expect(result.output).toContain(`[env.${name}]: configuration OK`)
        expect(result.output).toContain(`env.GATEHOUSE_ISSUER ("${issuer}")`)
        expect(result.output).not.toMatch(/127\.0\.0\.1|localhost/)
      }
    } finally {
      project.close()
    }
  })

  it('stops the deploy of an environment whose variables the config check refuses', () => {
    const project = wranglerProject(
      DOCS_ENVIRONMENTS.replace(
        'GATEHOUSE_JWKS_URL = "https://origin.example.com/.well-known/jwks.json"',
        'GATEHOUSE_JWKS_URL = "http://origin.example.com/.well-known/jwks.json"',
      ),
    )
    try {
      const out = join(dir, 'out-bad')
      const result = wrangler(
        ['deploy', '--dry-run', '--env', 'production', '--outdir', out],
        project.dir,
      )
      expect(result.code).not.toBe(0)
      expect(result.output).toContain('GATEHOUSE_JWKS_URL: must use https')
      expect(result.output).not.toContain('Total Upload')
    } finally {
      project.close()
    }
  })
})

describe('npm run dev:worker', () => {
  it('starts offline without trying to fetch Request.cf', async () => {
    const script = (
      JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
        scripts: Record<string, string>
      }
    ).scripts['dev:worker'] as string
    // The script's own environment assignments and wrangler arguments, on free ports.
    const words = script.split(/\s+/)
    const assignments = Object.fromEntries(
      words.filter((w) => /^[A-Z_]+=/.test(w)).map((w) => w.split('=') as [string, string]),
    )
    const args = words.slice(words.indexOf('wrangler') + 1)
    const port = await freePort()
    args[args.indexOf('--port') + 1] = String(port)
    // As in a developer's shell: vitest's NODE_ENV=test makes miniflare skip the fetch by itself.
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      PATH: `${join(ROOT, 'node_modules/.bin')}:${process.env.PATH ?? ''}`,
      WRANGLER_SEND_METRICS: 'false',
      ...assignments,
      // A proxy that refuses every connection: "offline" for anything wrangler would fetch, and an
      // empty cache, so no Request.cf fetched by an earlier run hides a fetch.
      HTTPS_PROXY: 'http://127.0.0.1:9',
      MINIFLARE_CACHE_DIR: join(dir, 'miniflare-cache'),
    }
    delete env.NODE_ENV
    const child = spawn(
      process.execPath,
      [
        join(ROOT, 'node_modules/wrangler/bin/wrangler.js'),
        ...args,
        '--inspector-port',
        String(await freePort()),
        '--show-interactive-dev-session=false',
      ],
      { cwd: ROOT, env },
    )
    let output = ''
    child.stdout.on('data', (d: Buffer) => (output += d.toString()))
    child.stderr.on('data', (d: Buffer) => (output += d.toString()))
    try {
      await until(() => output.includes('Ready on'), 60_000, `wrangler dev ready:\n${output}`)
      const health = await fetch(`http://127.0.0.1:${port}/healthz`)
      expect(health.status).toBe(200)
      expect(output).toContain('env.GATEHOUSE_ISSUER ("http://127.0.0.1:8788")')
      expect(output).not.toMatch(/Request\.cf|ECONNREFUSED/)
    } finally {
      child.kill('SIGTERM')
      await once(child, 'exit')
    }
  })
})
