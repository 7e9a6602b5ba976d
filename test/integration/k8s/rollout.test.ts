/**
 * Zero-downtime rollout, proven on the real process: the origin is started exactly as the container
 * would start it — the Dockerfile's argv, the rendered production Deployment's env (Secret values from
 * a real redis-server behind the Upstash bridge, files where the volumes would mount them, the
 * ConfigMap's JSON config), with one change: PORT=0 so parallel runs never collide. Then the test
 * plays the cluster: steady keep-alive traffic (/healthz, /token, /verify), SIGTERM as the kubelet
 * sends it, an endpoint controller that stops routing once /readyz fails, and SIGKILL at the end of
 * the grace period. No request may fail and the process must exit 0 before SIGKILL.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { Agent, request } from 'node:http'
import { tmpdir } from 'node:os'
import { join, posix } from 'node:path'
import { createInterface } from 'node:readline'
import type { IContainer, IPodSpec } from 'kubernetes-models/v1'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { hashClientSecret } from '../../../src/core/oauth/clients.ts'
import { privateJwks } from '../../fixtures/keys.ts'
import { generateKeyEncryptionKey } from '../../../src/core/oauth/key-wrap.ts'
import { originApp } from '../../support/node-process.ts'
import { startRedisWithBridge, type RedisWithBridge } from '../../support/redis.ts'
import { containerArgv, parseDockerfile } from '../../unit/k8s/dockerfile.ts'
import type { Manifest } from '../../unit/k8s/kustomize.ts'
import { preStopSeconds } from '../../unit/k8s/policy.ts'
import { ROOT, originContainer, originDeployment, render } from '../../unit/k8s/support.ts'

const CLIENT_SECRET = 'rollout-test-secret-with-enough-entropy-0123456789'

let redis: RedisWithBridge
const children: ChildProcess[] = []
const dirs: string[] = []
// Our own redis: the origin writes its JWKS under fixed keys, which must not meet other test files'.
beforeAll(async () => {
  redis = await startRedisWithBridge()
})
afterAll(() => redis.close())
afterEach(() => {
  for (const c of children.splice(0))
    if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL')
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

interface Pod {
  argv: string[]
  env: Record<string, string>
  container: IContainer
  pod: IPodSpec
}

/**
 * What the kubelet would run for the rendered Deployment: the image's argv and ENV, the container's
 * env (secretKeyRef from `secrets`, paths under a volume mount moved to a temp dir holding what the
 * volume would hold), PORT=0.
 */
function podFromManifests(
  manifests: Manifest[],
  secrets: Record<string, string>,
  editConfig: (json: string) => string,
): Pod {
  const dockerfile = parseDockerfile(readFileSync(join(ROOT, 'k8s-fallback/Dockerfile'), 'utf8'))
  const container = originContainer(manifests)
  const pod = originDeployment(manifests).spec?.template.spec as IPodSpec
  const root = mkdtempSync(join(tmpdir(), 'gatehouse-pod-'))
  dirs.push(root)
  const secret = (name: string, key: string): string => {
    const v = secrets[`${name}/${key}`]
    if (v === undefined) throw new Error(`test has no value for Secret ${name} key ${key}`)
    return v
  }
  const mounts: [string, string][] = []
  for (const mount of container.volumeMounts ?? []) {
    const volume = pod.volumes?.find((v) => v.name === mount.name)
    const dir = join(root, mount.name)
    mkdirSync(dir)
    mounts.push([mount.mountPath, dir])
    if (volume?.configMap) {
      const cm = manifests.find(
        (m) => m.kind === 'ConfigMap' && m.metadata.name === volume.configMap?.name,
      )
      for (const [key, value] of Object.entries((cm?.data ?? {}) as Record<string, string>))
        writeFileSync(join(dir, key), key.endsWith('.json') ? editConfig(value) : value)
    } else if (volume?.secret) {
      for (const item of volume.secret.items ?? [])
        writeFileSync(join(dir, item.path), secret(volume.secret.secretName ?? '', item.key))
    }
  }
  const remap = (value: string): string => {
    const hit = mounts.find(([path]) => value.startsWith(`${path}/`))
    return hit ? join(hit[1], posix.relative(hit[0], value)) : value
  }
  const env: Record<string, string> = {}
  const runtime = dockerfile.stages.at(-1)
  for (const e of runtime?.instructions.filter((i) => i.op === 'ENV') ?? []) {
    const [name, value] = e.args.split('=', 2)
    env[name as string] = value ?? ''
  }
  for (const e of container.env ?? []) {
    const ref = e.valueFrom?.secretKeyRef
    if (ref) env[e.name] = secret(ref.name ?? '', ref.key)
    else if (e.value !== undefined) env[e.name] = remap(e.value)
    else throw new Error(`env ${e.name}: unsupported source`)
  }
  env.PORT = '0'
  return { argv: containerArgv(dockerfile), env, container, pod }
}

function start(p: Pod) {
  const [command, ...args] = p.argv
  expect(command).toBe('node')
  // In the image's WORKDIR, played by this run's built /app (test/support/global-origin-app.ts).
  const child = spawn(process.execPath, args, {
    cwd: originApp().dir,
    env: p.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  children.push(child)
  let output = ''
  let stderr = ''
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()))
  const listening = new Promise<number>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      output += `${line}\n`
      try {
        const record = JSON.parse(line) as { msg?: string; port?: number }
        if (record.msg === 'listening' && typeof record.port === 'number') resolve(record.port)
      } catch {
        // Not JSON: kept in `output` for the assertions.
      }
    })
    child.once('close', (code) =>
      reject(new Error(`origin exited ${String(code)} before listening:\n${stderr}`)),
    )
  })
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>
  return { child, listening, exited, logs: () => output + stderr }
}

interface Reply {
  status: number
  connection: string | undefined
  body: string
}

function send(
  agent: Agent,
  port: number,
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: string,
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, agent, headers }, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => (text += chunk))
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, connection: res.headers.connection, body: text }),
      )
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end(body)
  })
}

// One key-encryption key for every origin this file starts, as one Secret serves a Deployment.
const KEK = generateKeyEncryptionKey('rollout-kek')

const secrets = () => ({
  'gatehouse-origin-secrets/upstash-redis-rest-url': redis.url,
  'gatehouse-origin-secrets/upstash-redis-rest-token': redis.token,
  'gatehouse-origin-secrets/signing-keys.json': JSON.stringify({
    // Production keeps private keys in L2 only wrapped under this key (docs/keys.md).
    keyEncryptionKeys: [KEK],
    keys: [{ ...privateJwks.ES256, use: undefined, status: 'active' }],
  }),
})

/** The ConfigMap's config with the secret of its machine client replaced by one the test knows. */
async function withKnownClientSecret(): Promise<{
  edit: (json: string) => string
  clientId: string
}> {
  const hash = await hashClientSecret(CLIENT_SECRET)
  let clientId = ''
  const edit = (json: string) => {
    const config = JSON.parse(json) as {
      clients: { id: string; grantTypes: string[]; secretHash?: string }[]
    }
    const client = config.clients.find((c) => c.grantTypes.includes('client_credentials'))
    if (!client) throw new Error('the ConfigMap config has no client_credentials client')
    client.secretHash = hash
    clientId = client.id
    return JSON.stringify(config)
  }
  edit(readProductionConfig())
  return { edit, clientId }
}

const readProductionConfig = () =>
  (render('production').find((m) => m.kind === 'ConfigMap')?.data as Record<string, string>)[
    'config.json'
  ] as string

// Each shutdown waits out the Deployment's drain delay (GATEHOUSE_DRAIN_DELAY_SECONDS) for real.
describe('origin as the production Deployment runs it', () => {
  it('starts, and every probe path answers 200', async () => {
    const { edit } = await withKnownClientSecret()
    const pod = podFromManifests(render('production'), secrets(), edit)
    const origin = start(pod)
    const port = await origin.listening
    const agent = new Agent({ keepAlive: true })
    try {
      for (const probe of [
        pod.container.startupProbe,
        pod.container.livenessProbe,
        pod.container.readinessProbe,
      ]) {
        const path = probe?.httpGet?.path as string
        expect((await send(agent, port, 'GET', path)).status, path).toBe(200)
      }
    } finally {
      agent.destroy()
    }
    origin.child.kill('SIGTERM')
    expect(await origin.exited).toEqual([0, null])
  })

  it('refuses to start when the Secret holds no signing keys, naming the variable', async () => {
    const pod = podFromManifests(
      render('production'),
      { ...secrets(), 'gatehouse-origin-secrets/signing-keys.json': '{"keys":[]}' },
      (json) => json,
    )
    const origin = start(pod)
    await expect(origin.listening).rejects.toThrow(/keys/)
    expect((await origin.exited)[0]).toBe(1)
  })

  it('drains on SIGTERM with zero failed requests: readiness fails first, in-flight work completes, exit 0', async () => {
    const manifests = render('production')
    const { edit, clientId } = await withKnownClientSecret()
    const pod = podFromManifests(manifests, secrets(), edit)
    const origin = start(pod)
    const port = await origin.listening
    const readinessPath = pod.container.readinessProbe?.httpGet?.path as string
    const basic = `Basic ${Buffer.from(`${clientId}:${CLIENT_SECRET}`).toString('base64')}`
    const form = { 'Content-Type': 'application/x-www-form-urlencoded', Authorization: basic }

    const WORKERS = 6
    const WARM_CYCLES = 40
    const agent = new Agent({ keepAlive: true, maxSockets: WORKERS })
    const failures: string[] = []
    const tokens: string[] = []
    let cycles = 0
    let inFlight = 0
    let routing = true // the Service still routes to this pod
    let terminated = false
    let notReadySeen = false
    let answeredAfterNotReady = 0
    let closeHeaders = 0
    let warm: () => void = () => {}
    const warmedUp = new Promise<void>((resolve) => (warm = resolve))
    // A failure also ends the warm-up, so the test reports it instead of timing out.
    const fail = (message: string): void => {
      failures.push(message)
      warm()
    }

    const attempt = async (
      what: string,
      call: () => Promise<Reply>,
      ok: (r: Reply) => boolean = (r) => r.status === 200,
    ): Promise<Reply | undefined> => {
      inFlight++
      try {
        const reply = await call()
        if (!ok(reply)) fail(`${what}: HTTP ${reply.status} ${reply.body.slice(0, 120)}`)
        if (notReadySeen) answeredAfterNotReady++
        if (terminated && reply.connection === 'close') closeHeaders++
        return reply
      } catch (e) {
        fail(`${what}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`)
        return undefined
      } finally {
        inFlight--
      }
    }

    const worker = async (): Promise<void> => {
      while (routing) {
        await attempt('GET /healthz', () => send(agent, port, 'GET', '/healthz'))
        if (!routing) break
        const minted = await attempt('POST /token', () =>
          send(agent, port, 'POST', '/token', form, 'grant_type=client_credentials'),
        )
        const token =
          minted?.status === 200
            ? (JSON.parse(minted.body) as { access_token: string }).access_token
            : undefined
        if (!token || !routing) continue
        tokens.push(token)
        await attempt('GET /verify', () =>
          send(agent, port, 'GET', '/verify', { Authorization: `Bearer ${token}` }),
        )
        if (++cycles === WARM_CYCLES) warm()
      }
    }

    const workers = Array.from({ length: WORKERS }, () => worker())
    await warmedUp
    expect(failures).toEqual([])
    expect((await send(agent, port, 'GET', readinessPath)).status).toBe(200)

    // The kubelet: SIGTERM (the preStop sleep ran before it), SIGKILL when the grace period is over.
    const inFlightAtSigterm = inFlight
    terminated = true
    origin.child.kill('SIGTERM')
    const graceMs =
      ((pod.pod.terminationGracePeriodSeconds ?? 30) - preStopSeconds(pod.container)) * 1000
    const kill = setTimeout(() => origin.child.kill('SIGKILL'), graceMs)

    // The endpoint controller: probes readiness on its own connection; stops routing once it fails.
    const probe = new Agent({ keepAlive: true, maxSockets: 1 })
    while (!notReadySeen) {
      const reply = await attempt(
        'readiness probe',
        () => send(probe, port, 'GET', readinessPath),
        (r) => r.status === 200 || (r.status === 503 && r.body.includes('draining')),
      )
      if (!reply || reply.status !== 200) notReadySeen = true
    }
    routing = false
    await Promise.all(workers)
    const [code, signal] = await origin.exited
    clearTimeout(kill)
    agent.destroy()
    probe.destroy()

    expect(failures).toEqual([])
    expect(notReadySeen).toBe(true)
    expect(inFlightAtSigterm).toBeGreaterThan(0)
    expect(answeredAfterNotReady).toBeGreaterThan(0)
    expect(closeHeaders).toBeGreaterThan(0)
    expect({ code, signal }).toEqual({ code: 0, signal: null })
    const logs = origin.logs()
    for (const token of tokens.slice(0, 20)) expect(logs).not.toContain(token.split('.')[2])
    expect(logs).not.toContain(CLIENT_SECRET)
  })
})
