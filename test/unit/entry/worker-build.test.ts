/**
 * The Worker builds for workerd without `nodejs_compat` (issue 13): wrangler bundles
 * src/entry/worker.ts from the real wrangler.toml, and the bundle imports no `node:*` module. The
 * lint rule in eslint.config.js keeps Node-only imports out of what the Worker can reach; this is
 * the build that proves it.
 */
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { wranglerProject } from '../deploy/wrangler-project.ts'

const ROOT = new URL('../../../', import.meta.url).pathname

describe('the Worker build', () => {
  it('needs no nodejs_compat and bundles no node:* import', async () => {
    for (const toml of ['wrangler.toml', 'test/workers/wrangler.test.toml']) {
      expect(await readFile(join(ROOT, toml), 'utf8'), toml).not.toMatch(
        /^compatibility_flags.*nodejs_compat/m,
      )
    }
    const out = await mkdtemp(join(tmpdir(), 'gatehouse-worker-build-'))
    // wrangler.toml refuses to deploy its top level and [env.dev] (a build guard): bundle an
    // environment of its own, added to a copy of the project as an operator would.
    const project = wranglerProject('[env.build-check]\nbuild = { command = "" }\n')
    try {
      const child = spawn(
        join(ROOT, 'node_modules/.bin/wrangler'),
        ['deploy', '--dry-run', '--env', 'build-check', '--outdir', out],
        {
          cwd: project.dir,
          env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CI: 'true' },
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      )
      let output = ''
      child.stdout.on('data', (d: Buffer) => (output += d.toString()))
      child.stderr.on('data', (d: Buffer) => (output += d.toString()))
      const [code] = await once(child, 'exit')
      expect(code, output).toBe(0)
      const bundle = await readFile(join(out, 'worker.js'), 'utf8')
      expect(bundle).not.toMatch(/from\s*["']node:|import\(\s*["']node:|require\(\s*["']node:/)
    } finally {
      project.close()
      await rm(out, { recursive: true, force: true })
    }
  })
})
