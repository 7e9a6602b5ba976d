// Runs the snapshot builder on a timer at the origin (Node). Workers have no timers across requests,
// so the edge never builds; it only loads (./edge-sync.ts).

import type { RevocationLogger, SnapshotBuilder } from './snapshot-builder.ts'

export interface SnapshotSchedule {
  /** Stops the timer and resolves after a run in progress has finished. */
  stop(): Promise<void>
}

/**
 * Runs `builder.run()` now and then every `intervalSeconds`, never two at once (a slow run makes the
 * next tick a no-op). Failures are logged by name only (a store error message can quote a URL) and
 * retried at the next tick. The timer is unref'd so it never keeps a stopping process alive.
 *
 * @example
 * const schedule = startSnapshotSchedule({ builder, intervalSeconds: 5, logger })
 * process.once('SIGTERM', () => void schedule.stop())
 */
export function startSnapshotSchedule(options: {
  builder: SnapshotBuilder
  intervalSeconds: number
  logger?: RevocationLogger
}): SnapshotSchedule {
  const { builder, intervalSeconds, logger } = options
  if (!(intervalSeconds >= 1 && intervalSeconds <= 3600)) {
    throw new RangeError('intervalSeconds must be between 1 and 3600')
  }
  let running: Promise<void> | undefined
  const tick = () => {
    if (running !== undefined) return
    running = builder
      .run()
      .then(
        (result) => {
          if (result.written) {
            logger?.log({
              level: 'debug',
              msg: 'revocation snapshot published',
              streamId: result.streamId,
              entries: result.entries,
              bytes: result.bytes,
            })
          }
        },
        (error: unknown) => {
          logger?.log({
            level: 'warn',
            msg: 'revocation snapshot build failed',
            errorName: error instanceof Error ? error.name : typeof error,
          })
        },
      )
      .finally(() => {
        running = undefined
      })
  }
  tick()
  const timer = setInterval(tick, intervalSeconds * 1000)
  ;(timer as { unref?: () => void }).unref?.()
  return {
    async stop() {
      clearInterval(timer)
      await running
    },
  }
}
