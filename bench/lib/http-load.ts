/**
 * The load side of `npm run bench:http`: autocannon against a route on loopback with a fixed number of
 * connections. A row with one token sends prebuilt request bytes (the cheapest client, which matters:
 * client and server share the cores); a row with a new token per request rebuilds each request
 * through `setupRequest` (those rows are bound by the server's signature check, not the client).
 *
 * A row is measured as several timed slices (`measureSlice`) that the caller interleaves with other
 * rows' slices, then pooled (`summarise`): a burst of load from another process on this shared machine
 * then hits every row alike instead of one row's whole run.
 *
 * Latencies come from autocannon's per-response event in fractional milliseconds (its own histogram
 * has a 1 ms floor, too coarse for loopback). The server's CPU use over each slice is read from /proc:
 * a server well below one core means something else (the client, which shares the cores, or another
 * process) was the bottleneck.
 */
import autocannon from 'autocannon'
import { cpuSeconds } from './http-process.ts'

export interface LoadOptions {
  /** `http://127.0.0.1:<port>` */
  origin: string
  /** The path of every request, or a source of a new one per request. */
  path: string | (() => string)
  /** The bearer token of every request, or a source of a new one per request. */
  token: string | (() => string)
  connections: number
  /** The server process, for its CPU time. */
  pid: number
}

/** One timed slice of a row. */
export interface LoadSlice {
  latenciesMs: number[]
  wallSeconds: number
  serverCpuSeconds: number
  errors: number
  non200: number
}

export interface LoadResult {
  requestsPerSec: number
  p50Ms: number
  p99Ms: number
  meanMs: number
  requests: number
  /** Socket errors and timeouts. */
  errors: number
  /** Responses with a status other than 200. */
  non200: number
  /** Server CPU seconds per wall second over the timed slices (1.0 = one core busy). */
  serverCpu: number
}

function requestsFor(options: LoadOptions): autocannon.Request[] {
  const { path, token } = options
  if (typeof token === 'string' && typeof path === 'string') {
    // A fixed request: autocannon builds its bytes once and resends them.
    return [{ method: 'GET', path, headers: { authorization: `Bearer ${token}` } }]
  }
  return [
    {
      method: 'GET',
      path: typeof path === 'string' ? path : '/',
      // Rebuilt for every request. A new headers object: autocannon shares the template between
      // connections.
      setupRequest: (request) => ({
        ...request,
        ...(typeof path === 'string' ? {} : { path: path() }),
        headers: {
          ...request.headers,
          authorization: `Bearer ${typeof token === 'string' ? token : token()}`,
        },
      }),
    },
  ]
}

/** Load whose results are dropped: JIT, connection pools and caches settle first. */
export async function warmUp(options: LoadOptions, seconds: number): Promise<void> {
  await autocannon({
    url: options.origin,
    connections: options.connections,
    requests: requestsFor(options),
    duration: seconds,
  })
}

/**
 * One timed slice of `seconds`.
 *
 * @example
 * const slice = await measureSlice({ origin, path: '/noop', token: () => hot, connections: 10, pid }, 1)
 */
export async function measureSlice(options: LoadOptions, seconds: number): Promise<LoadSlice> {
  const latenciesMs: number[] = []
  let non200 = 0
  const cpu0 = cpuSeconds(options.pid)
  const t0 = performance.now()
  // The callback form: its typings return the instance, which emits each response.
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(
      {
        url: options.origin,
        connections: options.connections,
        requests: requestsFor(options),
        duration: seconds,
      },
      (err, res) => (err ? reject(err as Error) : resolve(res)),
    )
    instance.on('response', (_client, statusCode, _bytes, responseTime) => {
      latenciesMs.push(responseTime)
      if (statusCode !== 200) non200++
    })
  })
  return {
    latenciesMs,
    wallSeconds: (performance.now() - t0) / 1000,
    serverCpuSeconds: cpuSeconds(options.pid) - cpu0,
    errors: result.errors + result.timeouts,
    non200,
  }
}

/** Pools a row's slices: requests/s over the summed wall time, percentiles over every response. */
export function summarise(slices: readonly LoadSlice[]): LoadResult {
  const latencies = slices.flatMap((s) => s.latenciesMs).sort((a, b) => a - b)
  const wall = slices.reduce((n, s) => n + s.wallSeconds, 0)
  const at = (q: number) =>
    latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN
  return {
    requestsPerSec: latencies.length / wall,
    p50Ms: at(0.5),
    p99Ms: at(0.99),
    meanMs: latencies.reduce((n, v) => n + v, 0) / latencies.length,
    requests: latencies.length,
    errors: slices.reduce((n, s) => n + s.errors, 0),
    non200: slices.reduce((n, s) => n + s.non200, 0),
    serverCpu: slices.reduce((n, s) => n + s.serverCpuSeconds, 0) / wall,
  }
}
