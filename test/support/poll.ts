/**
 * Waiting on a condition with a deadline — the only way tests here wait for another process. Polls
 * every `intervalMs`; throws with `what` once the deadline passes.
 *
 * @example await until(() => logs.some((l) => l.error === 'origin_circuit_open'), 10_000, 'breaker open')
 */
export async function until(
  condition: () => boolean | Promise<boolean>,
  deadlineMs: number,
  what: string,
  intervalMs = 25,
): Promise<number> {
  const start = performance.now()
  for (;;) {
    if (await condition()) return performance.now() - start
    if (performance.now() - start > deadlineMs)
      throw new Error(`timed out after ${deadlineMs} ms waiting for: ${what}`)
    await new Promise((resolve) => setTimeout(resolve, intervalMs))
  }
}
