/**
 * `npm run dev`: the whole stack on this machine (DESIGN.md, Contracts) — Redis + the Upstash bridge
 * (or the memory store, said loudly), the origin on 127.0.0.1:8788, the edge Worker under
 * `wrangler dev` on 127.0.0.1:8787, the demo API on 8790 behind the edge's gateway, and the example SPA
 * on 5173 — then prints the URLs and the demo credentials. Ports are checked before anything starts.
 * Ctrl-C (or SIGTERM) stops every child.
 *
 * Flags: --edge-port, --origin-port, --api-port, --spa-port, --memory (skip Redis).
 *
 * @example npm run dev -- --spa-port 5174
 */
import { parseArgs } from 'node:util'
import { assertPortsFree, PortsInUseError } from './dev-ports.ts'
import {
  DEFAULT_PORTS,
  StartAborted,
  startDevStack,
  type DevPorts,
  type DevStack,
} from './dev-stack.ts'

const COLORS: Record<string, string> = { origin: '36', edge: '35', redis: '33', dev: '32' }
const useColor = process.stdout.isTTY === true

function log(source: string, line: string): void {
  const tag = source.padEnd(6)
  const prefix = useColor ? `\x1b[${COLORS[source] ?? '37'}m${tag}\x1b[0m` : tag
  process.stdout.write(`${prefix} | ${line}\n`)
}

function parsePorts(): { ports: DevPorts; memory: boolean } {
  const { values } = parseArgs({
    options: {
      'edge-port': { type: 'string' },
      'origin-port': { type: 'string' },
      'api-port': { type: 'string' },
      'spa-port': { type: 'string' },
      memory: { type: 'boolean', default: false },
    },
    strict: true,
  })
  const port = (flag: string, value: string | undefined, fallback: number): number => {
    if (value === undefined) return fallback
    const n = Number(value)
    if (!/^\d+$/.test(value) || n < 1 || n > 65_535)
      throw new Error(`${flag} must be a port number`)
    return n
  }
  return {
    ports: {
      edge: port('--edge-port', values['edge-port'], DEFAULT_PORTS.edge),
      origin: port('--origin-port', values['origin-port'], DEFAULT_PORTS.origin),
      api: port('--api-port', values['api-port'], DEFAULT_PORTS.api),
      spa: port('--spa-port', values['spa-port'], DEFAULT_PORTS.spa),
    },
    memory: values.memory === true,
  }
}

function banner(stack: DevStack): string {
  const lines = [
    '',
    'Gatehouse dev stack is up.',
    '',
    `  Example SPA   ${stack.urls.spa}`,
    `  Edge (Worker) ${stack.urls.edge}   gateway: ${stack.urls.api}/* -> demo API`,
    `  Origin        ${stack.urls.origin}   discovery: ${stack.urls.origin}/.well-known/openid-configuration`,
    `  Demo API      ${stack.urls.upstream}   (echoes the X-Gatehouse-* identity headers)`,
    '',
    `  Demo user     ${stack.demo.username} / ${stack.demo.password}`,
    `  Demo client   ${stack.demo.clientId} (public, PKCE)`,
    ...stack.tenants.map(
      (t) =>
        `  Tenant        ${t.name.padEnd(8)}${t.issuer}   user ${t.username} / ${t.password} (SPA: pick "${t.name}")`,
    ),
    `  Config        ${stack.configPath}`,
    `  Store         ${stack.store === 'redis' ? 'redis-server via the Upstash REST bridge' : 'in-memory (no redis-server)'}`,
    '',
    'Press Ctrl-C to stop everything.',
    '',
  ]
  return lines.join('\n')
}

const MEMORY_WARNING = `
!!! redis-server is not installed (or --memory was given): the origin uses its IN-MEMORY store.
!!! Sessions, refresh tokens and revocations vanish when it stops, and the edge has no L2.
!!! Install Redis (e.g. \`apt install redis-server\`) to run the real Upstash adapter locally.
`

async function main(): Promise<void> {
  process.env.WRANGLER_SEND_METRICS = 'false'
  const { ports, memory } = parsePorts()
  await assertPortsFree('127.0.0.1', [
    { name: 'edge, wrangler dev', port: ports.edge, flag: '--edge-port' },
    { name: 'origin', port: ports.origin, flag: '--origin-port' },
    { name: 'demo API', port: ports.api, flag: '--api-port' },
    { name: 'example SPA', port: ports.spa, flag: '--spa-port' },
  ])
  log('dev', 'starting redis, origin, edge (wrangler dev), demo API and the SPA...')
  // Ctrl-C while starting aborts the start-up, which stops whatever already runs.
  const starting = new AbortController()
  const state: { stack?: DevStack; stopping: boolean } = { stopping: false }
  const stop = async (code: number): Promise<void> => {
    if (state.stopping) return
    state.stopping = true
    log('dev', 'stopping...')
    if (!state.stack) return starting.abort() // main() exits once start-up has unwound
    await state.stack.stop()
    process.exit(code)
  }
  process.once('SIGINT', () => void stop(0))
  process.once('SIGTERM', () => void stop(0))
  const stack = await startDevStack({
    ports,
    store: memory ? 'memory' : 'spawn',
    log,
    signal: starting.signal,
  })
  state.stack = stack
  void stack.childExited.then((name) => {
    if (state.stopping) return
    log('dev', `${name} exited unexpectedly; stopping the stack`)
    void stop(1)
  })
  if (stack.store === 'memory') process.stderr.write(MEMORY_WARNING)
  process.stdout.write(banner(stack))
}

main().catch((e: unknown) => {
  if (e instanceof StartAborted) process.exit(0)
  if (e instanceof PortsInUseError) process.stderr.write(`gatehouse dev: ${e.message}\n`)
  else process.stderr.write(`gatehouse dev: ${e instanceof Error ? e.message : String(e)}\n`)
  process.exit(1)
})
