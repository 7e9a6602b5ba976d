/**
 * `npm run bench`: every benchmark, one after the other, each in its own process (`npm run
 * bench:<name>`, so each keeps its own flags and build steps and none shares a heap or a JIT with
 * another), then one combined summary table on stdout and bench/results/summary.json.
 *
 * Each sub-benchmark prints its own tables as it goes and writes bench/results/<name>.json; this reads
 * those back. A benchmark whose npm script or file does not exist yet is listed as missing; one that
 * fails is listed as failed (a results file older than this run is never reported as current), and the
 * run goes on. Exit code 1 if any benchmark that exists failed. `--no-run` only summarises the results
 * files already there (after running sub-benchmarks one by one). bench/results/ is git-ignored, so a run
 * leaves the tree clean; `--write-docs` (`npm run bench:report`) also writes the summary table into
 * docs/benchmarks.md, the one step that changes a tracked file.
 */
import { spawn } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { workerdVersion } from './lib/http-workerd.ts'
import { markdownTable, replaceSection } from './lib/docs-section.ts'
import { describeMachine } from './lib/machine.ts'
import { renderTable } from './lib/table.ts'

interface Bench {
  name: string
  script: string
  file: string
}

const BENCHES: Bench[] = [
  { name: 'verify', script: 'bench:verify', file: 'verify.bench.ts' },
  { name: 'token', script: 'bench:token', file: 'token.bench.ts' },
  { name: 'revocation', script: 'bench:revocation', file: 'revocation.bench.ts' },
  { name: 'http', script: 'bench:http', file: 'http.bench.ts' },
  { name: 'login', script: 'bench:login', file: 'login-timing.bench.ts' },
  { name: 'dpop', script: 'bench:dpop', file: 'dpop.bench.ts' },
  { name: 'policy', script: 'bench:policy', file: 'policy.bench.ts' },
  { name: 'tenancy', script: 'bench:tenancy', file: 'tenancy.bench.ts' },
]

const ROOT = new URL('..', import.meta.url)
const RESULTS = new URL('bench/results/', ROOT)

/** One line of the combined table, in the shape the sub-benchmarks' JSON uses for ratios. */
interface Headline {
  name: string
  value: string
  target?: string
  met?: boolean
}

interface Outcome {
  name: string
  script: string
  status: 'ok' | 'failed' | 'missing'
  detail?: string
  exitCode?: number | null
  seconds?: number
  resultsFile?: string
  headlines: Headline[]
}

/** `--no-run`: run nothing, summarise the results files already in bench/results/. */
const noRun = process.argv.includes('--no-run')
/** `--write-docs`: also refresh the generated table in docs/benchmarks.md. */
const writeDocs = process.argv.includes('--write-docs')
const startedAt = Date.now()
const machine = { ...describeMachine(), workerd: await workerdVersion() }
const scripts =
  (
    JSON.parse(readFileSync(new URL('package.json', ROOT), 'utf8')) as {
      scripts?: Record<string, string>
    }
  ).scripts ?? {}

console.log(
  `npm run bench on ${machine.cpuModel}, ${machine.cores} cores, ${machine.memoryGiB} GiB, ` +
    `Node ${machine.node}, ${machine.workerd}\n`,
)

const outcomes: Outcome[] = []
for (const bench of BENCHES) {
  const base = { name: bench.name, script: bench.script, headlines: [] }
  if (scripts[bench.script] === undefined) {
    outcomes.push({ ...base, status: 'missing', detail: `no npm script ${bench.script} yet` })
    continue
  }
  if (!existsSync(new URL(`bench/${bench.file}`, ROOT))) {
    outcomes.push({ ...base, status: 'missing', detail: `bench/${bench.file} not written yet` })
    continue
  }
  const resultsUrl = new URL(`${bench.name}.json`, RESULTS)
  if (noRun) {
    // Summarise what an earlier run left, and say when it was written.
    if (!existsSync(resultsUrl)) {
      outcomes.push({ ...base, status: 'missing', detail: `no bench/results/${bench.name}.json` })
      continue
    }
    outcomes.push({
      ...base,
      status: 'ok',
      detail: `results from ${statSync(resultsUrl).mtime.toISOString()}`,
      resultsFile: `bench/results/${bench.name}.json`,
      headlines: readHeadlines(resultsUrl),
    })
    continue
  }
  console.log(`\n=== npm run ${bench.script} ${'='.repeat(60)}\n`)
  const t0 = Date.now()
  const exitCode = await runScript(bench.script)
  const seconds = Math.round((Date.now() - t0) / 100) / 10
  const fresh = existsSync(resultsUrl) && statSync(resultsUrl).mtimeMs >= t0
  if (exitCode !== 0 || !fresh) {
    outcomes.push({
      ...base,
      status: 'failed',
      exitCode,
      seconds,
      detail:
        exitCode !== 0 ? `exit code ${exitCode}` : `did not write bench/results/${bench.name}.json`,
    })
    continue
  }
  const headlines = readHeadlines(resultsUrl)
  outcomes.push({
    ...base,
    status: 'ok',
    exitCode,
    seconds,
    resultsFile: `bench/results/${bench.name}.json`,
    headlines,
  })
}

const totalSeconds = Math.round((Date.now() - startedAt) / 100) / 10
const lines: string[][] = []
for (const o of outcomes) {
  if (o.status !== 'ok') {
    lines.push([o.name, `${o.status.toUpperCase()}: ${o.detail ?? ''}`, '', '', ''])
    continue
  }
  if (o.headlines.length === 0) {
    lines.push([o.name, `no headline numbers; see ${o.resultsFile}`, '', '', ''])
  }
  for (const h of o.headlines) {
    lines.push([
      o.name,
      h.name,
      h.value,
      h.target ?? '',
      h.met === undefined ? '' : h.met ? 'yes' : 'NO',
    ])
  }
}
console.log(`\n=== summary ${'='.repeat(70)}\n`)
console.log(
  `${machine.cpuModel}, ${machine.cores} cores, ${machine.memoryGiB} GiB; Node ${machine.node} ` +
    `(V8 ${machine.v8}); ${machine.workerd}; ${machine.platform} ${machine.arch}\n`,
)
console.log(renderSummary(['benchmark', 'measure', 'value', 'target', 'met'], lines))
console.log(
  `\n${outcomes
    .map((o) => {
      const note =
        o.seconds !== undefined ? `${o.seconds} s` : o.status === 'ok' ? o.detail : undefined
      return `${o.name}: ${o.status}${note === undefined ? '' : ` (${note})`}`
    })
    .join(', ')}; total ${totalSeconds} s`,
)

mkdirSync(RESULTS, { recursive: true })
writeFileSync(
  new URL('summary.json', RESULTS),
  `${JSON.stringify(
    { benchmark: 'all', runAt: new Date(startedAt).toISOString(), totalSeconds, machine, outcomes },
    null,
    2,
  )}\n`,
)
console.log('wrote bench/results/summary.json')
if (writeDocs) {
  const when = outcomes
    .map((o) => (o.resultsFile === undefined ? undefined : resultsTime(o.resultsFile)))
    .filter((t) => t !== undefined)
    .sort()
  const source =
    `Generated by \`npm run bench:report\` from the results of \`npm run bench\` ` +
    `(${when[0] ?? '?'} to ${when.at(-1) ?? '?'}) on ${machine.cpuModel}, ${machine.cores} cores, ` +
    `${machine.memoryGiB} GiB, Node ${machine.node}, ${machine.workerd}.`
  const header = ['benchmark', 'measure', 'value', 'target', 'met']
  const align: ('l' | 'r')[] = ['l', 'l', 'r', 'l', 'l']
  replaceSection(
    new URL('docs/benchmarks.md', ROOT),
    'bench-summary',
    `${source}\n\n${markdownTable(header, lines, align)}`,
  )
  // README shows the targets only: one row each.
  const targets = lines.filter((l) => (l[4] ?? '') !== '')
  replaceSection(
    new URL('README.md', ROOT),
    'bench-targets',
    `${source}\n\n${markdownTable(header, targets, align)}`,
  )
  console.log('wrote the tables into docs/benchmarks.md and README.md')
}

/** When a results file says it was run (its `runAt`), else its modification time; minutes, UTC. */
function resultsTime(relative: string): string {
  const file = new URL(relative, ROOT)
  let at: unknown
  try {
    at = (JSON.parse(readFileSync(file, 'utf8')) as { runAt?: unknown }).runAt
  } catch {
    at = undefined
  }
  const iso = typeof at === 'string' ? at : statSync(file).mtime.toISOString()
  return `${iso.slice(0, 16).replace('T', ' ')} UTC`
}

function readHeadlines(file: URL): Headline[] {
  try {
    return headlinesOf(JSON.parse(readFileSync(file, 'utf8')))
  } catch {
    return [{ name: `${file.pathname.split('/').pop() ?? ''} is not valid JSON`, value: '' }]
  }
}

/** `npm run <script>` with our stdout/stderr; resolves to its exit code. */
function runScript(script: string): Promise<number | null> {
  return new Promise((resolve) => {
    const child = spawn('npm', ['run', '--silent', script], {
      cwd: new URL('.', ROOT).pathname,
      stdio: ['ignore', 'inherit', 'inherit'],
    })
    child.once('error', () => resolve(null))
    child.once('exit', (code) => resolve(code))
  })
}

/**
 * The headline numbers of one results file. Understands the shapes our benchmarks write: a `summary`
 * or `ratios` array of `{ name, value, target?, met? }`, and a `targets` object of booleans (or of
 * `{ value, target, met }`), else a `rows` array with a rate per row. Anything else yields no lines,
 * and the table points at the file.
 */
function headlinesOf(json: unknown): Headline[] {
  const out: Headline[] = []
  const record = (json ?? {}) as Record<string, unknown>
  const list = Array.isArray(record.summary)
    ? record.summary
    : Array.isArray(record.ratios)
      ? record.ratios
      : []
  for (const item of list as Record<string, unknown>[]) {
    if (typeof item?.name !== 'string') continue
    out.push({
      name: item.name,
      value: formatValue(item.value),
      ...(typeof item.target === 'string' ? { target: item.target } : {}),
      ...(typeof item.met === 'boolean' ? { met: item.met } : {}),
    })
  }
  const targets = record.targets
  if (out.length === 0 && typeof targets === 'object' && targets !== null) {
    for (const [name, t] of Object.entries(targets)) {
      if (typeof t === 'boolean') out.push({ name: `target: ${name}`, value: '', met: t })
      else if (typeof t === 'object' && t !== null) {
        const v = t as Record<string, unknown>
        out.push({
          name,
          value: formatValue(v.value),
          ...(typeof v.target === 'string' ? { target: v.target } : {}),
          ...(typeof v.met === 'boolean' ? { met: v.met } : {}),
        })
      }
    }
  }
  // Last resort: rows with a rate (e.g. bench:token's `requestsPerSec` per server), and any `vs…` ratio.
  if (out.length === 0 && Array.isArray(record.rows)) {
    for (const row of record.rows as Record<string, unknown>[]) {
      const rate = row?.requestsPerSec ?? row?.opsPerSec
      if (typeof row?.name !== 'string' || typeof rate !== 'number') continue
      const unit = row.requestsPerSec === undefined ? 'ops/s' : 'req/s'
      const vs = Object.entries(row)
        .filter(([k, v]) => /^vs[A-Z]/.test(k) && typeof v === 'number')
        .map(([k, v]) => `, ${k} ${(v as number).toFixed(2)}`)
        .join('')
      out.push({ name: `${row.name}, ${unit}${vs}`, value: formatValue(rate) })
    }
  }
  return out
}

function formatValue(value: unknown): string {
  if (typeof value === 'number') {
    return Math.abs(value) >= 100 ? Math.round(value).toLocaleString('en-US') : value.toFixed(2)
  }
  return typeof value === 'string' ? value : ''
}

/** Like `renderTable`, but the measure column left-aligned too: it is text. */
function renderSummary(header: string[], rows: string[][]): string {
  const table = renderTable(header, rows).split('\n')
  const width = Math.max(header[1]?.length ?? 0, ...rows.map((r) => (r[1] ?? '').length))
  const firstWidth = Math.max(header[0]?.length ?? 0, ...rows.map((r) => (r[0] ?? '').length))
  return table
    .map((line, i) => {
      const cells = i === 0 ? header : i === 1 ? undefined : rows[i - 2]
      if (cells === undefined) return line
      const rest = line.slice(firstWidth + 2 + width)
      return `${(cells[0] ?? '').padEnd(firstWidth)}  ${(cells[1] ?? '').padEnd(width)}${rest}`
    })
    .join('\n')
}
