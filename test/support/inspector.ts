/**
 * Reads a process's live heap through the V8 inspector: `HeapProfiler.collectGarbage` then
 * `Runtime.getHeapUsage`, so the number is what survives a full collection — the quantity a leak
 * grows — not the sawtooth of garbage between collections. Loopback only; for soak tests (a Node
 * child run with `--inspect=127.0.0.1:0`) and benchmarks (workerd with `--inspector-addr`).
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
  return openHeapProbe(url)
}

/**
 * A probe on an inspector WebSocket URL. `poke`, when given, is called until each answer is in:
 * workerd hands an inspector message to its isolate only when the isolate next has an event, so a
 * caller pokes it with a cheap request.
 *
 * @example
 * const probe = await openHeapProbe('ws://127.0.0.1:9229/main', () => fetch(`${url}/healthz`))
 */
export async function openHeapProbe(
  url: string,
  poke?: () => Promise<unknown>,
): Promise<HeapProbe> {
  const socket = new WebSocket(url)
  await new Promise<void>((resolve, reject) => {
    socket.addEventListener('open', () => resolve(), { once: true })
    socket.addEventListener('error', () => reject(new Error('inspector connection failed')), {
      once: true,
    })
  })
  let nextId = 1
  const answers = new Map<number, Record<string, unknown>>()
  socket.addEventListener('message', (event) => {
    const message = JSON.parse(String(event.data)) as {
      id?: number
      result?: Record<string, unknown>
    }
    if (message.id !== undefined) answers.set(message.id, message.result ?? {})
  })
  const call = async (method: string): Promise<Record<string, unknown>> => {
    const id = nextId++
    socket.send(JSON.stringify({ id, method }))
    const started = performance.now()
    for (;;) {
      const answer = answers.get(id)
      if (answer !== undefined) {
        answers.delete(id)
        return answer
      }
      if (performance.now() - started > DEADLINE_MS * 3) throw new Error(`${method}: no answer`)
      if (poke) await poke()
      await new Promise((resolve) => setTimeout(resolve, poke ? 20 : 5))
    }
  }
  return {
    async liveHeapBytes() {
      await call('HeapProfiler.collectGarbage')
      const usage = await call('Runtime.getHeapUsage')
      return Number(usage.usedSize)
    },
    close: () => socket.close(),
  }
}
