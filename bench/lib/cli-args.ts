/**
 * `--name=value` flags of the bench tools (bench/cpu-per-request*.ts, bench/http.bench.ts).
 *
 * @example const base = arg('base') // --base=/tmp/perf-base → '/tmp/perf-base'
 */
export const arg = (name: string): string | undefined =>
  process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3)

/**
 * A numeric flag, `fallback` when absent; refuses anything below `min` (default: any positive
 * number) or not a number, so a typo fails at start instead of running a meaningless measurement.
 *
 * @example const RATE = numberArg('rate', 1000, 0) // 0 allowed: saturation
 */
export function numberArg(name: string, fallback: number, min = Number.MIN_VALUE): number {
  const value = Number(arg(name) ?? fallback)
  if (!(value >= min)) {
    const what = min === Number.MIN_VALUE ? 'a positive number' : `a number of at least ${min}`
    throw new Error(`--${name} must be ${what}`)
  }
  return value
}
