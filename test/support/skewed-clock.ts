/**
 * Preloaded into a test process (`node --import <this file>`) to run its wall clock
 * `TEST_CLOCK_SKEW_MS` milliseconds off (not a GATEHOUSE_* name: those must be known config) (negative: behind), as a machine with a drifting
 * clock would: `Date.now()` and `new Date()` move, `performance.now()` (monotonic) does not. The
 * fleet rotation test runs one origin behind the other, so for a moment after every activation one
 * origin signs with a key the other still sees as `next`: issue 20's staggered promote.
 *
 * Not imported by tests themselves (it would replace their `Date`): pass its path.
 *
 * @example
 * const nodeArgs = ['--import', new URL('../support/skewed-clock.ts', import.meta.url).pathname]
 * await startOriginProcess({ ...env, TEST_CLOCK_SKEW_MS: '-2000' }, { nodeArgs })
 */
const skew = Number(process.env.TEST_CLOCK_SKEW_MS ?? '0')
if (!Number.isFinite(skew)) throw new TypeError('TEST_CLOCK_SKEW_MS must be a number')

const RealDate = Date
class SkewedDate extends RealDate {
  constructor(...args: ConstructorParameters<typeof Date> | []) {
    if (args.length === 0) super(RealDate.now() + skew)
    else super(...(args as ConstructorParameters<typeof Date>))
  }

  static override now(): number {
    return RealDate.now() + skew
  }
}
globalThis.Date = SkewedDate as DateConstructor

export {}
