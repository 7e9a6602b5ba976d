/**
 * `npm run bench:login`: does the time of a failed sign-in tell which usernames exist? (issue 21)
 *
 * The origin runs as `npm start` runs it (the compiled `dist/entry/node.js` from a fresh
 * `build:origin`, bench/lib/built-origin.ts; its own process, production scrypt parameters N = 2^17,
 * the Upstash adapter against a real redis-server behind the REST bridge). Three users are configured:
 * one hashed with the current parameters, one with older ones (N = 2^14, as a deployment that raised
 * its parameters still holds until each user signs in again), and none for the unknown names. Each
 * round posts one wrong password for each kind — unknown username, current-hash user, older-hash user —
 * in a shuffled order, one request at a time, through a real login form (CSRF token and cookie), and
 * times it from the client. Rate limits are raised so no attempt is refused for that.
 *
 * Reported: per kind, the median and quartiles; the gap is each known kind's median against the
 * unknown kind's. A timing oracle shows as a gap far outside the spread; none shows as a gap inside it.
 * Results in bench/results/login.json.
 *
 * Flags: --rounds <n> (20), --older-ln <n> (14).
 */
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { freePort } from '../scripts/dev-ports.ts'
import { originNodeOptions } from '../scripts/origin-app-dir.ts'
import { startChild, waitForHttp } from '../scripts/dev-processes.ts'
import { startDevRedis } from '../scripts/dev-redis.ts'
import { createScryptHasher } from '../src/entry/password.ts'
import { privateJwks } from '../test/fixtures/keys.ts'
import { builtOriginApp } from './lib/built-origin.ts'
import { describeMachine } from './lib/machine.ts'
import { renderTable } from './lib/table.ts'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const RESULTS = new URL('./results/login.json', import.meta.url)
const REDIRECT = 'https://app.bench/callback'

const { values: flags } = parseArgs({
  options: {
    rounds: { type: 'string', default: '20' },
    'older-ln': { type: 'string', default: '14' },
  },
})
const ROUNDS = Number(flags.rounds)
const OLDER_LN = Number(flags['older-ln'])

type Kind = 'unknown user' | 'current-hash user' | 'older-hash user'
const KINDS: Kind[] = ['unknown user', 'current-hash user', 'older-hash user']

/** Linear-interpolated quantile of sorted values. */
const quantile = (sorted: number[], q: number): number => {
  const i = (sorted.length - 1) * q
  const lo = Math.floor(i)
  const hi = Math.ceil(i)
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (i - lo)
}

/** A login form of our origin: its action, CSRF token and binding cookie, reusable after failures. */
async function loginForm(
  origin: string,
): Promise<{ action: string; csrf: string; cookie: string }> {
  const challenge = 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM'
  const query = new URLSearchParams({
    client_id: 'bench-spa',
    redirect_uri: REDIRECT,
    response_type: 'code',
    scope: 'openid',
    code_challenge: challenge,
    code_challenge_method: 'S256',
  })
  const page = await fetch(`${origin}/authorize?${query}`)
  const html = await page.text()
  const action = /<form method="post" action="([^"]+)"/.exec(html)?.[1]
  const csrf = /name="csrf_token" value="([^"]+)"/.exec(html)?.[1]
  const cookie = page.headers.getSetCookie()[0]?.split(';')[0]
  if (!action || !csrf || !cookie) throw new Error(`no login form (HTTP ${page.status})`)
  return { action: action.replace(/&amp;/g, '&'), csrf, cookie }
}

async function main(): Promise<void> {
  const machine = describeMachine()
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-bench-login-'))
  const stops: (() => Promise<void> | void)[] = [
    () => rmSync(dir, { recursive: true, force: true }),
  ]
  try {
    const redis = await startDevRedis({ cwd: ROOT, log: () => {} })
    if (!redis) throw new Error('bench:login needs redis-server (the L2 read is part of the path)')
    stops.push(() => redis.stop())
    const current = createScryptHasher()
    const older = createScryptHasher({ ln: OLDER_LN })
    const password = 'correct horse battery staple'
    const configPath = join(dir, 'gatehouse.json')
    writeFileSync(
      configPath,
      JSON.stringify({
        issuer: 'http://127.0.0.1',
        keys: [{ ...privateJwks.ES256, status: 'active' }],
        rateLimits: {
          loginPerIp: { limit: 100_000, windowSeconds: 60 },
          loginPerUsername: { limit: 100_000, windowSeconds: 60 },
        },
        clients: [
          {
            id: 'bench-spa',
            type: 'public',
            redirectUris: [REDIRECT],
            grantTypes: ['authorization_code'],
            scopes: ['openid'],
          },
        ],
        users: [
          { sub: 'u-current', username: 'carol', passwordHash: await current.hash(password) },
          { sub: 'u-older', username: 'olga', passwordHash: await older.hash(password) },
        ],
      }),
    )
    const port = await freePort()
    const origin = `http://127.0.0.1:${port}`
    const child = startChild(
      'origin',
      process.execPath,
      // What `npm start` and the image run (bench/lib/built-origin.ts).
      [...originNodeOptions(), builtOriginApp().entry],
      {
        cwd: builtOriginApp().dir,
        log: () => {},
        env: {
          PATH: process.env.PATH,
          PORT: String(port),
          HOST: '127.0.0.1',
          GATEHOUSE_CONFIG: configPath,
          GATEHOUSE_ISSUER: origin,
          GATEHOUSE_AUDIENCE: origin,
          GATEHOUSE_LOG_LEVEL: 'warn',
          UPSTASH_REDIS_REST_URL: redis.url,
          UPSTASH_REDIS_REST_TOKEN: redis.token,
        },
      },
    )
    stops.push(() => child.stop())
    await waitForHttp(`${origin}/healthz`, { child, timeoutMs: 30_000 })

    const forms = new Map<Kind, Awaited<ReturnType<typeof loginForm>>>()
    for (const kind of KINDS) forms.set(kind, await loginForm(origin))
    const username = (kind: Kind, i: number) =>
      kind === 'unknown user' ? `nobody-${i}` : kind === 'current-hash user' ? 'carol' : 'olga'
    const attempt = async (kind: Kind, i: number): Promise<number> => {
      const form = forms.get(kind)!
      const body = new URLSearchParams({
        csrf_token: form.csrf,
        username: username(kind, i),
        password: 'wrong password',
      })
      const t0 = performance.now()
      const response = await fetch(form.action, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: form.cookie },
        body,
      })
      await response.arrayBuffer()
      const ms = performance.now() - t0
      if (response.status !== 400) throw new Error(`${kind}: expected 400, got ${response.status}`)
      return ms
    }

    // Warm-up (first scrypt allocations, JIT, connections): one of each, dropped.
    for (const kind of KINDS) await attempt(kind, -1)
    const samples = new Map<Kind, number[]>(KINDS.map((k) => [k, []]))
    for (let round = 0; round < ROUNDS; round++) {
      const order = [...KINDS].sort(() => Math.random() - 0.5)
      for (const kind of order) samples.get(kind)!.push(await attempt(kind, round))
    }

    const stats = KINDS.map((kind) => {
      const sorted = [...samples.get(kind)!].sort((a, b) => a - b)
      return {
        kind,
        n: sorted.length,
        p25: quantile(sorted, 0.25),
        median: quantile(sorted, 0.5),
        p75: quantile(sorted, 0.75),
      }
    })
    const unknown = stats[0]!
    const rows = stats.map((s) => [
      s.kind,
      String(s.n),
      s.p25.toFixed(0),
      s.median.toFixed(0),
      s.p75.toFixed(0),
      s === unknown ? '—' : `${(((s.median - unknown.median) / unknown.median) * 100).toFixed(1)}%`,
    ])
    console.log(
      `\nFailed sign-in, wrong password, ${ROUNDS} rounds, one request at a time (ms, client-side)\n`,
    )
    console.log(
      renderTable(['username', 'n', 'p25', 'median', 'p75', 'gap vs unknown (median)'], rows),
    )
    const iqr = unknown.p75 - unknown.p25
    const worst = Math.max(...stats.map((s) => Math.abs(s.median - unknown.median)))
    console.log(
      `\nlargest median gap ${worst.toFixed(0)} ms; the unknown user's own spread (p75 − p25) ${iqr.toFixed(0)} ms`,
    )
    mkdirSync(new URL('.', RESULTS), { recursive: true })
    writeFileSync(
      RESULTS,
      `${JSON.stringify(
        {
          benchmark: 'login timing',
          date: new Date().toISOString(),
          machine,
          settings: { rounds: ROUNDS, currentLn: 17, olderLn: OLDER_LN },
          stats,
          summary: stats.slice(1).map((s) => ({
            name: `failed sign-in, ${s.kind} vs unknown user (median)`,
            value: `${(((s.median - unknown.median) / unknown.median) * 100).toFixed(1)}% (${s.median.toFixed(0)} vs ${unknown.median.toFixed(0)} ms)`,
          })),
        },
        null,
        2,
      )}\n`,
    )
  } finally {
    for (const stop of stops.reverse()) await stop()
  }
}

await main()
