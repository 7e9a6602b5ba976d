/**
 * The `npm run dev` stack and a Chromium for one e2e test file: registers the vitest hooks that start
 * the stack (scripts/dev-stack.ts) on free ports over the run's redis + Upstash bridge, launch
 * Chromium, give each test a fresh browser context, and stop it all. The stack's log is kept; its
 * tail is printed when the start fails, and the lines of a failed test when it fails.
 *
 * @example
 * const e2e = useE2eStack('tenancy')
 * it('signs in', async () => { const page = await e2e.context.newPage(); ... e2e.stack.urls.spa ... })
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Browser, BrowserContext } from 'playwright-core'
import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest'
import { freePort } from '../../scripts/dev-ports.ts'
import { startDevStack, type DevStack, type DevStackOptions } from '../../scripts/dev-stack.ts'
import { useRedisWithBridge, type RedisWithBridge } from '../support/redis.ts'
import { launchChromium } from './browser.ts'

export interface E2eStack {
  stack: DevStack
  browser: Browser
  /** This test's browser context (cookies, storage), new for each test. */
  context: BrowserContext
  /** Every line the stack's processes logged, `source | line`. */
  logs: string[]
  /** Adds a line to `logs`: hand it to extra processes a test starts beside the stack. */
  log: (source: string, line: string) => void
  /** The stack's config directory (`edge.env`, `origin.env`, ...), removed after the file. */
  configDir: string
}

export function useE2eStack(name: string, options: Pick<DevStackOptions, 'tokens'> = {}): E2eStack {
  const logs: string[] = []
  const e2e = { logs, log: (source, line) => void logs.push(`${source} | ${line}`) } as E2eStack
  let redis: RedisWithBridge | undefined

  beforeAll(async () => {
    redis = await useRedisWithBridge()
    e2e.configDir = await mkdtemp(join(tmpdir(), `gatehouse-e2e-${name}-`))
    const [edge, origin, api, spa] = [
      await freePort(),
      await freePort(),
      await freePort(),
      await freePort(),
    ]
    try {
      e2e.stack = await startDevStack({
        ports: { edge, origin, api, spa },
        store: { url: redis.url, token: redis.token },
        configDir: e2e.configDir,
        scrypt: { ln: 12 }, // cheap hashing for the demo users; production uses N = 2^17
        log: e2e.log,
        ...options,
      })
    } catch (e) {
      console.error(e2e.logs.slice(-40).join('\n'))
      throw e
    }
    e2e.browser = await launchChromium()
  })

  afterAll(async () => {
    await e2e.browser?.close()
    await e2e.stack?.stop()
    await redis?.close()
    if (e2e.configDir) await rm(e2e.configDir, { recursive: true, force: true })
  })

  beforeEach(async ({ onTestFailed }) => {
    e2e.context = await e2e.browser.newContext()
    e2e.context.setDefaultTimeout(30_000) // generous: a busy machine slows Chromium down
    // A failed test prints what the stack logged while it ran (its access and error lines, tokens
    // redacted by the services' own loggers), so a status seen only on a busy CI host can be traced.
    const from = logs.length
    onTestFailed(() => {
      const lines = logs.slice(from)
      console.error(`stack log during the failed test (${lines.length} lines, last 80):`)
      console.error(lines.slice(-80).join('\n'))
    })
  })
  afterEach(async () => {
    await e2e.context.close()
  })

  return e2e
}
