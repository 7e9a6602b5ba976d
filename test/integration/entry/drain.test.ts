/**
 * Graceful shutdown under pooled keep-alive load, against the real process started with the
 * Dockerfile's argv (as the container runs it). Clients hold one pooled connection each, as an HTTP
 * client library's keep-alive pool does, and keep using the pod after SIGTERM:
 *
 * - busy clients send back to back; once an answer says `Connection: close` the pod is going away and
 *   they move on (through the Service, to another pod);
 * - idle clients have a pooled connection open but send nothing until the process has stopped
 *   accepting, then send one request on it.
 *
 * Busy connections must be answered until the one answer that says `Connection: close`; an idle one
 * is answered the same way, or — had it sat idle for a whole second first — closed cleanly before
 * the client used it, so its request finds the listener gone (connection refused). No client may see
 * a reset or a hang-up. The process must then exit 0. GATEHOUSE_DRAIN_DELAY_SECONDS is the default 0, so the listener closes the
 * moment SIGTERM arrives, while the busy connections are in use: the case that used to reset them.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import { Agent, request } from 'node:http'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { afterEach, describe, expect, it } from 'vitest'
import { TEST_AUDIENCE, TEST_ISSUER, publicJwks, signTestToken } from '../../fixtures/keys.ts'
import { originApp } from '../../support/node-process.ts'
import { containerArgv, parseDockerfile } from '../../unit/k8s/dockerfile.ts'

const ROOT = new URL('../../../', import.meta.url).pathname
const BUSY = 24
const IDLE = 8
const WARM_REQUESTS = 3

const children: ChildProcess[] = []
afterEach(() => {
  for (const c of children.splice(0))
    if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL')
})

/** The origin as the image starts it (ENTRYPOINT, with the pinned Node for `node`). */
function startAsContainer(env: Record<string, string>) {
  const dockerfile = parseDockerfile(readFileSync(join(ROOT, 'k8s-fallback/Dockerfile'), 'utf8'))
  const [command, ...args] = containerArgv(dockerfile)
  expect(command).toBe('node')
  // In the image's WORKDIR, played by this run's built /app (test/support/global-origin-app.ts).
  const child = spawn(process.execPath, args, {
    cwd: originApp().dir,
    env: { PATH: process.env.PATH ?? '', PORT: '0', HOST: '127.0.0.1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  children.push(child)
  let stderr = ''
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()))
  const seen = new Map<string, Record<string, unknown>>()
  const waiting = new Map<string, (r: Record<string, unknown>) => void>()
  createInterface({ input: child.stdout! }).on('line', (line) => {
    const record = JSON.parse(line) as Record<string, unknown>
    const msg = String(record.msg)
    if (!seen.has(msg)) seen.set(msg, record)
    waiting.get(msg)?.(record)
  })
  const exited = once(child, 'exit').then(([code]) => code as number | null)
  const logged = (msg: string) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const record = seen.get(msg)
      if (record) return resolve(record)
      waiting.set(msg, resolve)
      void exited.then((code) => reject(new Error(`exited ${String(code)} first:\n${stderr}`)))
    })
  return { child, exited, logged }
}

interface Reply {
  status: number
  connection: string | undefined
}

function send(agent: Agent, port: number, path: string, token: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const headers = { Authorization: `Bearer ${token}` }
    const req = request({ host: '127.0.0.1', port, path, agent, headers }, (res) => {
      res.resume()
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, connection: res.headers.connection }),
      )
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end()
  })
}

describe('shutdown under pooled keep-alive load', () => {
  it('answers every pooled connection or closes it cleanly: zero resets, exit 0', async () => {
    const origin = startAsContainer({
      GATEHOUSE_ISSUER: TEST_ISSUER,
      GATEHOUSE_AUDIENCE: TEST_AUDIENCE,
      GATEHOUSE_JWKS: JSON.stringify(publicJwks()),
    })
    const { port } = (await origin.logged('listening')) as { port: number }
    const token = await signTestToken({ scope: 'read' })
    const failures: string[] = []
    const fail = (who: string, e: unknown) =>
      failures.push(`${who}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`)

    // Busy clients: one pooled connection each, requests back to back until told to go.
    let terminated = false
    let warmed = 0
    let allWarm: () => void = () => {}
    const warm = new Promise<void>((resolve) => (allWarm = resolve))
    const closedByServer: boolean[] = []
    const busy = Array.from({ length: BUSY }, async (_, i) => {
      const agent = new Agent({ keepAlive: true, maxSockets: 1 })
      let sent = 0
      try {
        for (;;) {
          const reply = await send(agent, port, i % 2 ? '/verify' : '/healthz', token)
          if (reply.status !== 200) failures.push(`busy ${i}: HTTP ${reply.status}`)
          if (++sent === WARM_REQUESTS && ++warmed === BUSY) allWarm()
          if (reply.connection === 'close') {
            closedByServer[i] = terminated
            return
          }
        }
      } catch (e) {
        fail(`busy ${i} request ${sent + 1}`, e)
        if (warmed < BUSY) allWarm()
      } finally {
        agent.destroy()
      }
    })
    await warm

    // Idle clients: a pooled connection that carried one request, then nothing until after close.
    const idleAgents = Array.from(
      { length: IDLE },
      () => new Agent({ keepAlive: true, maxSockets: 1 }),
    )
    for (const agent of idleAgents)
      expect((await send(agent, port, '/healthz', token)).status).toBe(200)

    terminated = true
    origin.child.kill('SIGTERM')
    await origin.logged('stopped accepting')
    const late = await Promise.all(
      idleAgents.map((agent, i) =>
        send(agent, port, '/verify', token).then(
          (reply) => (reply.status === 200 && reply.connection === 'close' ? 'answered' : reply),
          (e: unknown) => {
            if ((e as NodeJS.ErrnoException).code === 'ECONNREFUSED') return 'closed cleanly'
            fail(`idle ${i}`, e)
            return undefined
          },
        ),
      ),
    )
    await Promise.all(busy)
    for (const agent of idleAgents) agent.destroy()

    expect(failures).toEqual([])
    for (const outcome of late) expect(['answered', 'closed cleanly']).toContain(outcome)
    // Every busy connection was ended by an answer carrying `Connection: close` after SIGTERM.
    expect(closedByServer.filter(Boolean)).toHaveLength(BUSY)
    expect(await origin.exited).toBe(0)
  })
})
