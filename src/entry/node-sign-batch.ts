/**
 * Batched JWS signatures for the Node origin: the signatures asked for during one event-loop turn are
 * made together, in one loop, at the end of that turn (`setImmediate`), on the main thread or on a
 * worker thread (the origin's choice by core count: node-crypto.ts `preferredOAuthCrypto`).
 *
 * Why (issue 15, `/token`): one ES256 signature costs ~24 µs of CPU in a tight loop but ~45 µs
 * between HTTP requests, whose code and data evict the elliptic-curve code and tables from the
 * caches; WebCrypto's thread-pool job adds ~15 µs of hand-off on top. Measured on a bare `node:http`
 * /token server here (autocannon, 10 connections, CPU per request): synchronous sign 84 µs, WebCrypto
 * 90 µs (52 on the main thread), batched on the main thread 63 µs, batched on a worker 68 µs (35 on
 * the main thread) — ~7 signatures per batch under that load, one when idle. In the built origin
 * (round 9, saturation, 10 connections) a batch held 6–7 tokens on average and 0.15–0.6 batches
 * were still in flight when the next was posted: the worker keeps up, so holding batches back until
 * it answers did not make them bigger (5.7–7.4 tokens); the hand-off costs more than it moves
 * (node-crypto.ts).
 *
 * Same keys, same algorithms, same `node:crypto.sign` as `nodeJwsSign` (node-crypto.ts); only where
 * and when it runs differs. The private key is handed to the worker as a `KeyObject` (cloned into the
 * same process; it never leaves the process). A worker that fails rejects what it had in flight (a
 * 5xx for those requests) and the next batch starts a new one.
 *
 * @example createOAuthContext({ ..., crypto: { sha256: nodeSha256, signJws: createBatchedJwsSign({ thread: true }) } })
 */
import { Worker } from 'node:worker_threads'
import type { SigningKey } from '../core/oauth/keys.ts'
import type { JwsSign } from '../core/oauth/mint.ts'
import { nodeJwsSign, preparedSignKey } from './node-crypto.ts'

export interface BatchedJwsSignOptions {
  /** Sign on a worker thread (true) or on the main thread at the end of the turn (false). */
  thread: boolean
}

interface Pending {
  key: SigningKey
  input: string
  resolve: (signature: string) => void
  reject: (err: unknown) => void
}

/** What the worker answers per signature: the base64url signature, or the error's message. */
type Outcome = { signature: string } | { error: string }

/**
 * The worker's code, CommonJS evaluated as a string (`eval: true`): no file to resolve, so it runs the
 * same from `src/` (type stripping), from the built `dist/` and under the test runner. Messages:
 * `{ keys: [[id, hash, keyInput]] , batch: [[id, input]] }` in, one outcome per item out, in order.
 */
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads')
const { sign } = require('node:crypto')
const keys = new Map()
parentPort.on('message', ({ keys: added, dropped, batch }) => {
  for (const [id, hash, key] of added) keys.set(id, { hash, key })
  for (const id of dropped) keys.delete(id)
  const out = new Array(batch.length)
  for (let i = 0; i < batch.length; i++) {
    const [id, input] = batch[i]
    try {
      const entry = keys.get(id)
      if (entry === undefined) throw new Error('unknown signing key')
      out[i] = { signature: sign(entry.hash, Buffer.from(input, 'latin1'), entry.key).toString('base64url') }
    } catch (err) {
      out[i] = { error: err instanceof Error ? err.message : 'signing failed' }
    }
  }
  parentPort.postMessage(out)
})
`

/**
 * The worker holds strings for one batch at a time: a small young generation keeps its share of the
 * origin's memory small (V8's default semi-space would let it grow by ~16 MiB under load).
 */
const WORKER_LIMITS = { maxYoungGenerationSizeMb: 2, maxOldGenerationSizeMb: 32 }

/**
 * A `JwsSign` that batches per event-loop turn (see the file comment). Answers with a promise.
 *
 * @example const sign = createBatchedJwsSign({ thread: availableParallelism() >= 3 })
 */
export function createBatchedJwsSign(options: BatchedJwsSignOptions): JwsSign {
  let queue: Pending[] = []
  let worker: Worker | undefined
  /** Batches posted to the worker, oldest first: it answers them in order. */
  const inFlight: Pending[][] = []
  /** Each key's id in the worker; the ids of collected keys are dropped from it with a later batch. */
  const keyIds = new WeakMap<CryptoKey, number>()
  let nextKeyId = 1
  let dropped: number[] = []
  const collected = new FinalizationRegistry<number>((id) => dropped.push(id))
  /** The keys the current worker holds (a new worker holds none). */
  let sent = new WeakSet<CryptoKey>()

  const fail = (err: unknown) => {
    worker = undefined
    for (const batch of inFlight.splice(0)) for (const item of batch) item.reject(err)
  }

  const startWorker = (): Worker => {
    const started = new Worker(WORKER_SOURCE, { eval: true, resourceLimits: WORKER_LIMITS })
    started.on('message', (outcomes: Outcome[]) => {
      const batch = inFlight.shift() ?? []
      // Idle: the worker must not keep the process alive.
      if (inFlight.length === 0) started.unref()
      for (let i = 0; i < batch.length; i++) {
        const outcome = outcomes[i]
        const item = batch[i] as Pending
        if (outcome !== undefined && 'signature' in outcome) item.resolve(outcome.signature)
        else item.reject(new Error(outcome?.error ?? 'signing failed'))
      }
    })
    started.on('error', fail)
    started.on('exit', () => {
      if (worker === started) fail(new Error('the signing worker stopped'))
    })
    sent = new WeakSet()
    dropped = []
    return started
  }

  /** The key's id in the worker; its hash and key input added to `added` if the worker lacks it. */
  const workerKeyId = (
    key: SigningKey,
    added: Map<CryptoKey, [number, string | null, unknown]>,
  ) => {
    let id = keyIds.get(key.privateKey)
    if (id === undefined) {
      id = nextKeyId++
      keyIds.set(key.privateKey, id)
      collected.register(key.privateKey, id)
    }
    if (!sent.has(key.privateKey) && !added.has(key.privateKey)) {
      const prepared = preparedSignKey(key)
      added.set(key.privateKey, [id, prepared.hash, prepared.key])
    }
    return id
  }

  const postToWorker = (batch: Pending[]) => {
    const target = (worker ??= startWorker())
    const added = new Map<CryptoKey, [number, string | null, unknown]>()
    const items: [number, string][] = []
    const posted: Pending[] = []
    for (const item of batch) {
      try {
        items.push([workerKeyId(item.key, added), item.input])
        posted.push(item)
      } catch (err) {
        // A key node:crypto cannot sign with fails its own request only.
        item.reject(err)
      }
    }
    if (posted.length === 0) return
    target.postMessage({ keys: [...added.values()], dropped, batch: items })
    dropped = []
    for (const key of added.keys()) sent.add(key)
    if (inFlight.length === 0) target.ref()
    inFlight.push(posted)
  }

  const signHere = (batch: Pending[]) => {
    for (const item of batch) {
      try {
        item.resolve(nodeJwsSign(item.key, item.input) as string)
      } catch (err) {
        item.reject(err)
      }
    }
  }

  const flush = () => {
    const batch = queue
    queue = []
    if (!options.thread) return signHere(batch)
    try {
      postToWorker(batch)
    } catch (err) {
      // No worker could be started, or the batch could not be handed over: it fails like a sign.
      for (const item of batch) item.reject(err)
    }
  }

  return (key, input) =>
    new Promise<string>((resolve, reject) => {
      if (queue.length === 0) setImmediate(flush)
      queue.push({ key, input, resolve, reject })
    })
}
