/**
 * What a request costs the server in the kernel: system calls by kind, context switches, CPU
 * migrations and task-clock per answered request, and requests per `epoll_wait` wake-up, counted by
 * `perf stat` (kernel tracepoints, all threads of the server process) over a slice of load, for the
 * bench Node origin's rows and the bare Hono peers' rows of `npm run bench:http` (issue 15, round 9:
 * why ours amortises less with load than bare Hono does).
 *
 * Also per thread (from /proc: `main` is the event loop's thread) user and system CPU and voluntary
 * and involuntary context switches, and the load generator's own CPU (`client`: this process).
 *
 * Rows as in bench/cpu-per-request.ts; `--rate=<req/s>` (0 = saturation, the default),
 * `--seconds=<s>` per slice (default 4), `--rounds=<n>` interleaved (default 2; the median is
 * printed), `--rows=noop` keeps rows whose id contains one of the words, `--base=<dir>` adds the base
 * checkout's origin rows, `--pin` runs the load generator on CPU 0 and every server on CPU 1 (so
 * the two stop preempting each other; other processes still share both). Needs `perf` with
 * tracepoint access (root or perf_event_paranoid ≤ 1) and, for `--pin`, `taskset`.
 *
 * @example node --experimental-strip-types bench/cpu-per-request-syscalls.ts --rows=noop --rate=0
 */
import { spawn } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import autocannon from 'autocannon'
import { arg, numberArg } from './lib/cli-args.ts'
import { startCpuRowServers } from './lib/http-cpu-rows.ts'
import type { ServerProcess } from './lib/http-process.ts'
import { signEs256Token } from './lib/http-tokens.ts'
import { renderTable } from './lib/table.ts'

const RATE = numberArg('rate', 0, 0)
const SECONDS = numberArg('seconds', 4)
const ROUNDS = numberArg('rounds', 2)
const rowFilter = arg('rows')?.split(',')
const base = arg('base')
/** `--pin`: the load generator (this process) on CPU 0, every server (all its threads) on CPU 1. */
const PIN = process.argv.includes('--pin')
const here = new URL('..', import.meta.url).pathname

/** The counters, by perf event name; printed per answered request. */
const SYSCALLS = [
  'epoll_wait',
  'epoll_pwait',
  'epoll_ctl',
  'read',
  'readv',
  'write',
  'writev',
  'futex',
  'mprotect',
  'madvise',
  'mmap',
  'munmap',
  'getpid',
  'timerfd_settime',
]
const EVENTS = [
  'task-clock',
  'context-switches',
  'cpu-migrations',
  'raw_syscalls:sys_enter',
  ...SYSCALLS.map((s) => `syscalls:sys_enter_${s}`),
]

const token = signEs256Token(0)

/** `perf stat` on every thread of `pid` while `seconds` of load run; counts by event name. */
function perfStat(pid: number, seconds: number): Promise<Map<string, number>> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      'perf',
      [
        'stat',
        '-x',
        ',',
        '-p',
        String(pid),
        '-e',
        EVENTS.join(','),
        '--',
        'sleep',
        String(seconds),
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    )
    let out = ''
    child.stderr.on('data', (d: Buffer) => (out += String(d)))
    child.once('error', reject)
    child.once('exit', () => {
      const counts = new Map<string, number>()
      for (const line of out.split('\n')) {
        const [value, , event] = line.split(',')
        if (event !== undefined && value !== undefined) counts.set(event, Number(value))
      }
      resolve(counts)
    })
  })
}

/**
 * Per thread of `pid` (by name, threads of one name summed): CPU ticks (utime + stime), voluntary and
 * involuntary context switches (/proc/<pid>/task/<tid>/stat and status).
 */
function threadCounters(pid: number): Map<string, number> {
  const counters = new Map<string, number>()
  const add = (key: string, value: number) => counters.set(key, (counters.get(key) ?? 0) + value)
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8')
      const name =
        tid === String(pid)
          ? 'main'
          : stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')).replace(/[0-9]+$/, 'N')
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      add(`${name} user µs`, Number(fields[11]) * 10_000)
      add(`${name} sys µs`, Number(fields[12]) * 10_000)
      const status = readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8')
      add(`${name} vol cs`, Number(/^voluntary_ctxt_switches:\s+(\d+)/m.exec(status)?.[1]))
      add(`${name} invol cs`, Number(/^nonvoluntary_ctxt_switches:\s+(\d+)/m.exec(status)?.[1]))
    } catch {
      // a thread that ended while read
    }
  }
  return counters
}

async function slice(server: ServerProcess, path: string, seconds: number) {
  const load = autocannon({
    url: `http://127.0.0.1:${server.port}${path}`,
    connections: 10,
    ...(RATE > 0 ? { overallRate: RATE } : {}),
    duration: seconds + 1,
    headers: { authorization: `Bearer ${token}` },
  })
  // Counted from 0.5 s in, for `seconds`, so the count covers steady load only; requests scaled to
  // the counted share of the run.
  await new Promise((r) => setTimeout(r, 500))
  const threads0 = threadCounters(server.pid)
  const client0 = process.cpuUsage()
  const counts = await perfStat(server.pid, seconds)
  const client = process.cpuUsage(client0)
  counts.set('client user µs', client.user)
  counts.set('client sys µs', client.system)
  for (const [key, value] of threadCounters(server.pid))
    counts.set(key, value - (threads0.get(key) ?? 0))
  const result = await load
  if (result.non2xx > 0 || result.errors > 0) throw new Error(`${server.name} ${path}: errors`)
  const requests = (result['2xx'] * seconds) / (seconds + 1)
  return { counts, requests }
}

const pin = (pid: number, cpu: number) =>
  new Promise((resolve) =>
    spawn('taskset', ['-a', '-p', '-c', String(cpu), String(pid)], { stdio: 'ignore' }).once(
      'exit',
      resolve,
    ),
  )

const servers = new Map<string, ServerProcess>()
try {
  const started = await startCpuRowServers(servers, {
    here,
    ...(base !== undefined ? { base } : {}),
    ...(rowFilter !== undefined ? { rowFilter } : {}),
  })
  if (PIN) {
    await pin(process.pid, 0)
    for (const server of servers.values()) await pin(server.pid, 1)
  }
  const rows = started.rows.map((s) => ({ ...s, samples: [] as Map<string, number>[] }))
  for (const row of rows) {
    const server = servers.get(row.server) as ServerProcess
    await autocannon({ url: `http://127.0.0.1:${server.port}${row.path}`, duration: 2 })
  }
  for (let round = 0; round < ROUNDS; round++) {
    process.stdout.write(`round ${round + 1}/${ROUNDS}\n`)
    for (const row of rows) {
      const { counts, requests } = await slice(
        servers.get(row.server) as ServerProcess,
        row.path,
        SECONDS,
      )
      const perRequest = new Map<string, number>([['req/s', requests / SECONDS]])
      for (const [event, value] of counts) perRequest.set(event, value / requests)
      const waits =
        (counts.get('syscalls:sys_enter_epoll_wait') ?? 0) +
        (counts.get('syscalls:sys_enter_epoll_pwait') ?? 0)
      perRequest.set('req/wake-up', waits > 0 ? requests / waits : 0)
      row.samples.push(perRequest)
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0
  const threadColumns = [
    ...new Set(rows.flatMap((r) => r.samples.flatMap((s) => [...s.keys()]))),
  ].filter((k) => / (user µs|sys µs|vol cs|invol cs)$/.test(k))
  const columns = [
    'req/s',
    'req/wake-up',
    'task-clock',
    'context-switches',
    'cpu-migrations',
    'raw_syscalls:sys_enter',
    ...SYSCALLS.map((s) => `syscalls:sys_enter_${s}`),
    ...threadColumns.sort(),
  ]
  const short = (c: string) =>
    c
      .replace('syscalls:sys_enter_', '')
      .replace('raw_syscalls:sys_enter', 'all syscalls')
      .replace('task-clock', 'task-clock µs')
  console.log(
    `\n${RATE > 0 ? `${RATE} req/s offered` : 'saturation'}, per answered request, median of ${ROUNDS}\n`,
  )
  console.log(
    renderTable(
      ['per request', ...rows.map((r) => r.id)],
      columns.map((c) => [
        short(c),
        ...rows.map((r) => {
          const v = median(r.samples.map((s) => s.get(c) ?? 0))
          // task-clock is in ms: µs per request.
          return c === 'task-clock' ? (v * 1000).toFixed(1) : v >= 100 ? v.toFixed(0) : v.toFixed(3)
        }),
      ]),
    ),
  )
} finally {
  for (const server of [...servers.values()].reverse()) await server.stop()
}
