/**
 * Reads a child process's live heap through the V8 inspector (the process runs with
 * `--inspect=127.0.0.1:0`): `HeapProfiler.collectGarbage` then `Runtime.getHeapUsage`, so the number is
 * what survives a full collection — the quantity a leak grows — not the sawtooth of garbage between
 * collections. Loopback only; for soak tests.
 */

export interface HeapProbe {
  /** Forces a full GC in the process and resolves its used heap in bytes. */
  liveHeapBytes(): Promise<number>
  close(): void
}

const DEADLINE_MS = 10_000

/**
 * @example
 * const probe = await connectInspector(() => origin.stderr())
 * const bytes = await probe.liveHeapBytes()
 */
export async function connectInspector(stderr: () => string): Promise<HeapProbe> {
  const started = performance.now()
  let url: string | undefined
  while (!(url = /ws:\/\/127\.0\.0\.1:\d+\/[\w-]+/.exec(stderr())?.[0])) {
    if (performance.now() - started > DEADLINE_MS) throw new Error('no inspector URL on stderr')
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  const socket = new WebSocket(url)
  await new Promise<void>((resolve, reject) => {
    socket.addEventListener('open', () => resolve(), { once: true })
    socket.addEventListener('error', () => reject(new Error('inspector connection failed')), {
      once: true,
    })
  })
  let nextId = 1
  const waiting = new Map<number, (result: Record<string, unknown>) => void>()
  socket.addEventListener('message', (event) => {
    const message = JSON.parse(String(event.data)) as {
      id?: number
      result?: Record<string, unknown>
    }
    if (message.id !== undefined) waiting.get(message.id)?.(message.result ?? {})
  })
  const call = (method: string): Promise<Record<string, unknown>> =>
    new Promise((resolve, reject) => {
      const id = nextId++
      const timer = setTimeout(() => reject(new Error(`${method}: no answer`)), DEADLINE_MS)
      waiting.set(id, (result) => {
        clearTimeout(timer)
        waiting.delete(id)
        resolve(result)
      })
      socket.send(JSON.stringify({ id, method }))
    })
  return {
    async liveHeapBytes() {
      await call('HeapProfiler.collectGarbage')
      const usage = await call('Runtime.getHeapUsage')
      return Number(usage.usedSize)
    },
    close: () => socket.close(),
  }
}
