/**
 * `npm start`: the origin on Node 22. Reads `process.env` (the only place that does), exits 1 with the
 * offending variable named on a bad config, and on SIGTERM/SIGINT stops accepting, lets in-flight
 * requests finish and exits 0 (1 if they had to be dropped after GATEHOUSE_SHUTDOWN_TIMEOUT_SECONDS).
 */
import { applyMemoryPolicies } from './node-heap.ts'
import type { NodeServer } from './node-server.ts'

// First, before the app's modules load: may replace the process with itself (node-heap.ts).
applyMemoryPolicies()
const [{ ConfigError }, { redactTokens }, { startNodeServer }] = await Promise.all([
  import('../core/config.ts'),
  import('../http/log.ts'),
  import('./node-server.ts'),
])

let server: NodeServer
try {
  server = await startNodeServer(process.env)
} catch (err) {
  if (err instanceof ConfigError) {
    console.error(`gatehouse: invalid configuration\n${err.message}`)
  } else {
    const detail = err instanceof Error ? `${err.name}: ${redactTokens(err.message)}` : typeof err
    console.error(`gatehouse: failed to start: ${detail}`)
  }
  process.exit(1)
}

let stopping = false
const stop = async (signal: string) => {
  if (stopping) return
  stopping = true
  console.log(
    JSON.stringify({ time: new Date().toISOString(), level: 'info', msg: 'stopping', signal }),
  )
  const clean = await server.shutdown()
  process.exit(clean ? 0 : 1)
}
process.once('SIGTERM', () => void stop('SIGTERM'))
process.once('SIGINT', () => void stop('SIGINT'))
