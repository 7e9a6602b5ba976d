import { createHash } from 'node:crypto'
import { Redis } from '@upstash/redis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { connectResp, type RespConnection } from '../../../scripts/lib/resp.ts'
import { startUpstashBridge } from '../../../scripts/upstash-bridge.ts'
import {
  startRedisServer,
  startRedisWithBridge,
  useRedisWithBridge,
  type RedisWithBridge,
} from '../../support/redis.ts'

/** The bridge speaks the Upstash REST protocol over real redis-server: raw HTTP and the real client. */
let env: RedisWithBridge
let redis: RespConnection
beforeAll(async () => {
  env = await useRedisWithBridge()
  redis = await connectResp({ port: env.redisPort })
})
afterAll(async () => {
  await redis.close()
  await env.close()
})

const unique = (): string => `bridge-test:${crypto.randomUUID()}`

async function post(path: string, body: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(`${env.url}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${env.token}`, ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  })
  return { status: response.status, body: (await response.json()) as unknown }
}

describe('upstash bridge: auth and hostile input', () => {
  it("answers a missing or wrong token with 401 and Upstash's WRONGPASS text", async () => {
    for (const authorization of [
      undefined,
      'Bearer wrong',
      `Basic ${env.token}`,
      `Bearer ${env.token}x`,
    ]) {
      const response = await fetch(env.url, {
        method: 'POST',
        headers: authorization ? { authorization } : {},
        body: '["PING"]',
      })
      expect(response.status).toBe(401)
      expect(await response.json()).toEqual({ error: 'WRONGPASS invalid or missing auth token' })
    }
  })

  it('refuses other methods and paths in the Upstash error shape', async () => {
    const get = await fetch(env.url, { headers: { authorization: `Bearer ${env.token}` } })
    expect([get.status, await get.json()]).toEqual([405, { error: expect.stringMatching(/^ERR/) }])
    expect(await post('/nowhere', ['PING'])).toEqual({
      status: 404,
      body: { error: 'ERR unknown endpoint' },
    })
  })

  it.each([
    ['bad JSON', '["SET", "k"'],
    ['an object', { command: 'PING' }],
    ['an empty array', []],
    ['a nested object argument', ['SET', 'k', { v: 1 }]],
    ['a null argument', ['GET', null]],
    ['deeply nested arrays', '['.repeat(100_000) + ']'.repeat(100_000)],
    ['a connection-state command', ['SUBSCRIBE', 'ch']],
    ['a blocking command', ['BLPOP', 'k', '0']],
    ['a blocking stream read', ['XREAD', 'BLOCK', '0', 'STREAMS', 's', '$']],
  ])('answers %s with 400 {"error"}', async (_name, body) => {
    const { status, body: json } = await post('/', body)
    expect(status).toBe(400)
    expect(json).toEqual({ error: expect.stringMatching(/^ERR /) })
  })

  it('rejects a pipeline that is not an array of commands', async () => {
    for (const body of [['PING'], [], [['PING'], 'x'], 'null']) {
      expect((await post('/pipeline', body)).status).toBe(400)
    }
  })

  it('answers a refused command inside a pipeline in place, running the others', async () => {
    const key = unique()
    const { status, body } = await post('/pipeline', [
      ['SET', key, 'a'],
      ['SUBSCRIBE', 'ch'],
      [{ not: 'an argument' }],
      ['GET', key],
    ])
    expect(status).toBe(200)
    expect(body).toEqual([
      { result: 'OK' },
      { error: 'ERR SUBSCRIBE is not supported over REST' },
      { error: expect.stringMatching(/^ERR /) },
      { result: 'a' },
    ])
  })

  it("refuses a key over 32 KB with Upstash's error, alone or in a pipeline", async () => {
    const long = 'k'.repeat(32 * 1024 + 1)
    expect(await post('/', ['SET', long, 'v'])).toEqual({
      status: 400,
      body: { error: 'ERR max key size exceeded. Limit: 32768 bytes, Actual: 32769 bytes' },
    })
    const { body } = await post('/pipeline', [['GET', long], ['PING']])
    expect(body).toEqual([
      { error: expect.stringMatching(/^ERR max key size/) },
      { result: 'PONG' },
    ])
    expect((await post('/', ['SET', 'k'.repeat(32 * 1024), 'v'])).status).toBe(200)
    await redis.call('DEL', 'k'.repeat(32 * 1024))
  })

  it('refuses an oversized body with 400 "ERR max request size exceeded", as Upstash does', async () => {
    const small = await startUpstashBridge({
      redisPort: env.redisPort,
      token: 't',
      maxBodyBytes: 1024,
    })
    try {
      const big = JSON.stringify(['SET', unique(), 'x'.repeat(64 * 1024)])
      for (const attempt of [1, 2]) {
        const response = await fetch(small.url, {
          method: 'POST',
          headers: { authorization: 'Bearer t' },
          body: big,
        })
        expect([attempt, response.status, await response.json()]).toEqual([
          attempt,
          400,
          { error: 'ERR max request size exceeded' },
        ])
      }
      const ok = await fetch(small.url, {
        method: 'POST',
        headers: { authorization: 'Bearer t' },
        body: '["PING"]',
      })
      expect(await ok.json()).toEqual({ result: 'PONG' })
    } finally {
      await small.close()
    }
  })

  it('answers 500 {"error"} when redis goes away, and stays up', async () => {
    const own = await startRedisServer()
    const bridge = await startUpstashBridge({ redisPort: own.port, token: 't', poolSize: 1 })
    try {
      const call = (token: string) =>
        fetch(bridge.url, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}` },
          body: '["PING"]',
        })
      expect((await call('t')).status).toBe(200)
      await own.close()
      const down = await call('t')
      expect([down.status, await down.json()]).toEqual([500, { error: 'ERR redis unavailable' }])
      expect((await call('wrong')).status).toBe(401)
    } finally {
      await bridge.close()
      await own.close()
    }
  })

  it('refuses to start without redis, naming the address and not the token', async () => {
    // Port 1 on loopback: nothing listens there.
    await expect(startUpstashBridge({ redisPort: 1, token: 'hunter2' })).rejects.toThrow(
      /^redis-server is not reachable at 127\.0\.0\.1:1$/,
    )
  })
})

describe('upstash bridge: results', () => {
  it('returns {"result"} per RESP type and a Redis error as 400 {"error"}', async () => {
    const key = unique()
    expect(await post('/', ['SET', key, 'héllo'])).toEqual({ status: 200, body: { result: 'OK' } })
    expect(await post('/', ['GET', key])).toEqual({ status: 200, body: { result: 'héllo' } })
    expect(await post('/', ['GET', unique()])).toEqual({ status: 200, body: { result: null } })
    expect(await post('/', ['INCR', unique()])).toEqual({ status: 200, body: { result: 1 } })
    expect(await post('/', ['MGET', key, unique()])).toEqual({
      status: 200,
      body: { result: ['héllo', null] },
    })
    expect(await post('/', ['INCR', key])).toEqual({
      status: 400,
      body: { error: 'ERR value is not an integer or out of range' },
    })
    expect(await post('/', ['INCR'])).toEqual({
      status: 400,
      body: { error: "ERR wrong number of arguments for 'incr' command" },
    })
    // Numbers and booleans are sent as arguments by @upstash/redis.
    expect(await post('/', ['SET', key, 5, 'EX', 100])).toEqual({
      status: 200,
      body: { result: 'OK' },
    })
    expect(await redis.call('TTL', key)).toBeGreaterThan(90)
  })

  it('base64-encodes every string except a top-level OK when asked', async () => {
    const key = unique()
    const b64 = { 'upstash-encoding': 'base64' }
    const enc = (s: string) => Buffer.from(s).toString('base64')
    expect((await post('/', ['SET', key, 'OK'], b64)).body).toEqual({ result: 'OK' })
    expect((await post('/', ['GET', key], b64)).body).toEqual({ result: enc('OK') })
    expect((await post('/', ['PING'], b64)).body).toEqual({ result: enc('PONG') })
    expect((await post('/', ['ECHO', '日本'], b64)).body).toEqual({ result: enc('日本') })
    expect((await post('/', ['MGET', key, unique()], b64)).body).toEqual({
      result: [enc('OK'), null],
    })
    expect((await post('/', ['EXISTS', key], b64)).body).toEqual({ result: 1 })
    expect(
      (
        await post(
          '/pipeline',
          [
            ['SET', key, 'v'],
            ['GET', key],
          ],
          b64,
        )
      ).body,
    ).toEqual([{ result: 'OK' }, { result: enc('v') }])
  })

  it('runs a pipeline in order, an error entry not stopping the rest', async () => {
    const key = unique()
    const { status, body } = await post('/pipeline', [
      ['SET', key, 'a'],
      ['INCR', key],
      ['APPEND', key, 'b'],
      ['GET', key],
    ])
    expect(status).toBe(200)
    expect(body).toEqual([
      { result: 'OK' },
      { error: 'ERR value is not an integer or out of range' },
      { result: 2 },
      { result: 'ab' },
    ])
  })

  it('multi-exec aborts the whole transaction on a queue-time error; a pipeline does not', async () => {
    const viaMulti = unique()
    const aborted = await post('/multi-exec', [['SET', viaMulti, '1'], ['SET']])
    expect(aborted.status).toBe(400)
    expect(aborted.body).toEqual({ error: expect.stringMatching(/^EXECABORT/) })
    expect(await redis.call('GET', viaMulti)).toBeNull()

    const viaPipeline = unique()
    await post('/pipeline', [['SET', viaPipeline, '1'], ['SET']])
    expect((await redis.call('GET', viaPipeline))?.toString()).toBe('1')
  })

  it('multi-exec returns per-command results, runtime errors in place', async () => {
    const key = unique()
    const { status, body } = await post('/multi-exec', [
      ['SET', key, 'x'],
      ['INCR', key],
      ['GET', key],
    ])
    expect(status).toBe(200)
    expect(body).toEqual([
      { result: 'OK' },
      { error: 'ERR value is not an integer or out of range' },
      { result: 'x' },
    ])
  })

  // Redis tends to run one connection's pipelined batch contiguously anyway, so this alone cannot
  // prove MULTI is used (the EXECABORT test above does); it guards the pool and reply ordering.
  it('multi-exec results stay consecutive under concurrent requests over the pool', async () => {
    const key = unique()
    const transactions = Array.from({ length: 40 }, () =>
      post('/multi-exec', [
        ['INCR', key],
        ['INCR', key],
        ['INCR', key],
      ]),
    )
    for (const { body } of await Promise.all(transactions)) {
      const [a, b, c] = (body as { result: number }[]).map((entry) => entry.result)
      expect([b! - a!, c! - b!]).toEqual([1, 1])
    }
    expect(Number(await redis.call('GET', key))).toBe(120)
  })
})

describe('upstash bridge: the real @upstash/redis client', () => {
  it('runs scripts with Upstash-only shebang flags, and finds them by the original SHA1', async () => {
    const script = `#!lua flags=allow-key-locking\nreturn ARGV[1] .. '${crypto.randomUUID()}'`
    const { body } = await post('/', ['EVAL', script, 0, 'hi'])
    expect(body).toEqual({ result: expect.stringMatching(/^hi/) })
    const sha = createHash('sha1').update(script).digest('hex')
    expect((await post('/', ['EVALSHA', sha, 0, 'again'])).body).toEqual({
      result: expect.stringMatching(/^again/),
    })
  })

  it('works with its defaults (base64 responses, JSON values, pipelines, transactions, scripts)', async () => {
    const client = new Redis({ url: env.url, token: env.token, enableTelemetry: false })
    const key = unique()
    await client.set(key, { name: 'ünï 👩🏽‍💻', n: 1 }, { ex: 60 })
    expect(await client.get(key)).toEqual({ name: 'ünï 👩🏽‍💻', n: 1 })
    expect(await client.ttl(key)).toBeGreaterThan(50)
    const [, count] = await client.pipeline().set(`${key}:c`, 5).incr(`${key}:c`).exec()
    expect(count).toBe(6)
    const [, got] = await client.multi().set(`${key}:m`, 'plain').get(`${key}:m`).exec()
    expect(got).toBe('plain')
    const script = client.createScript<number>('return redis.call("INCRBY", KEYS[1], ARGV[1])')
    expect(await script.exec([`${key}:s`], ['7'])).toBe(7)
    expect(await client.xadd(`${key}:x`, '*', { jti: 'abc' })).toMatch(/^\d+-\d+$/)
    await expect(client.incr(key)).rejects.toThrow(/not an integer/)
  })

  it('reports a wrong token as the client would against Upstash', async () => {
    const client = new Redis({ url: env.url, token: 'wrong', enableTelemetry: false })
    await expect(client.get('k')).rejects.toThrow(/^WRONGPASS invalid or missing auth token/)
  })
})

describe('upstash bridge: what Upstash does that stock Redis does not', () => {
  it('sends a sync token on every response, moving on with each write', async () => {
    const key = unique()
    const tokens: string[] = []
    for (const [path, body] of [
      ['/', ['SET', key, '1']],
      ['/', ['GET', key]],
      [
        '/pipeline',
        [
          ['INCR', key],
          ['GET', key],
        ],
      ],
      ['/multi-exec', [['INCR', key]]],
      ['/', ['INCR', 'not-a-number-' + key, 'x']],
    ] as const) {
      const response = await fetch(`${env.url}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${env.token}` },
        body: JSON.stringify(body),
      })
      tokens.push(response.headers.get('upstash-sync-token') ?? 'missing')
    }
    expect(tokens).not.toContain('missing')
    const [afterSet, afterGet, afterPipeline, afterMulti] = tokens.map(Number)
    expect(afterGet).toBe(afterSet)
    expect(afterPipeline).toBeGreaterThan(afterGet!)
    expect(afterMulti).toBeGreaterThan(afterPipeline!)
  })

  it('trims MAXLEN ~ N to N − 1, where stock Redis keeps whole 100-entry nodes', async () => {
    const viaXadd = unique()
    for (let i = 0; i < 300; i++) await redis.call('XADD', viaXadd, '*', 'i', String(i))
    await post('/', ['XADD', viaXadd, 'MAXLEN', '~', '30', '*', 'i', 'last'])
    expect(await redis.call('XLEN', viaXadd)).toBe(29)
    const viaXtrim = unique()
    for (let i = 0; i < 1000; i++) await redis.call('XADD', viaXtrim, '*', 'i', String(i))
    expect(await post('/', ['XTRIM', viaXtrim, 'MAXLEN', '~', '30', 'LIMIT', '500'])).toEqual({
      status: 200,
      body: { result: 971 },
    })
    expect(await redis.call('XLEN', viaXtrim)).toBe(29)
    // Exact trims are Redis's own; stock Redis alone would have kept 100 of 1000 above.
    const plain = unique()
    for (let i = 0; i < 1000; i++) await redis.call('XADD', plain, '*', 'i', String(i))
    await redis.call('XTRIM', plain, 'MAXLEN', '~', '30')
    expect(await redis.call('XLEN', plain)).toBe(100)
    await redis.call('DEL', viaXadd, viaXtrim, plain)
  })

  it('confines a script flagged allow-key-locking to its KEYS, as Upstash does', async () => {
    const [declared, other] = [unique(), unique()]
    const flagged = (body: string) => `#!lua flags=allow-key-locking\n${body} -- ${unique()}`
    const touchesOther = flagged(`return redis.call('SET', '${other}', 'x')`)
    const refused = await post('/', ['EVAL', touchesOther, 1, declared])
    expect(refused.status).toBe(400)
    expect(refused.body).toEqual({ error: expect.stringMatching(/allow-key-locking/) })
    expect(await redis.call('GET', other)).toBeNull()
    // Declared keys are fine; so is the same body sent by its SHA1.
    const ok = flagged(`redis.call('SET', KEYS[1], ARGV[1]) return redis.call('GET', KEYS[1])`)
    expect((await post('/', ['EVAL', ok, 1, declared, 'v'])).body).toEqual({ result: 'v' })
    const sha = createHash('sha1').update(touchesOther).digest('hex')
    expect((await post('/', ['EVALSHA', sha, 1, declared])).status).toBe(400)
    // Database-wide commands are refused; an unflagged script may still touch anything.
    const wide = flagged(`return redis.call('DBSIZE')`)
    expect((await post('/', ['EVAL', wide, 0])).status).toBe(400)
    const unflagged = `return redis.call('SET', '${other}', 'y') -- ${unique()}`
    expect((await post('/', ['EVAL', unflagged, 0])).body).toEqual({ result: 'OK' })
    // The pool's connections are back to the default user afterwards.
    expect((await post('/', ['GET', other])).body).toEqual({ result: 'y' })
    await redis.call('DEL', declared, other)
  })
})

describe('upstash bridge: replica lag', () => {
  let lagging: RedisWithBridge
  beforeAll(async () => {
    lagging = await startRedisWithBridge({ replicaLagMs: 50 })
  })
  afterAll(() => lagging?.close())

  const call = async (body: unknown, syncToken?: string) => {
    const response = await fetch(lagging.url, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${lagging.token}`,
        ...(syncToken ? { 'upstash-sync-token': syncToken } : {}),
      },
      body: JSON.stringify(body),
    })
    return {
      body: (await response.json()) as unknown,
      token: response.headers.get('upstash-sync-token') ?? '',
    }
  }

  it("serves a read without the writer's token from the lagging replica, with it from a caught-up one", async () => {
    const key = unique()
    lagging.replicaLink!.hold() // the replica falls behind until released
    const { token } = await call(['SET', key, 'fresh'])
    expect((await call(['GET', key])).body).toEqual({ result: null }) // another client: stale
    const reading = call(['GET', key], token) // the writer: waits for the replica to catch up
    lagging.replicaLink!.release()
    expect((await reading).body).toEqual({ result: 'fresh' })
  })

  it('runs writes and scripts on the primary whatever the replica has seen', async () => {
    const key = unique()
    lagging.replicaLink!.hold()
    try {
      await call(['SET', key, '1'])
      expect((await call(['INCR', key])).body).toEqual({ result: 2 })
      const script = `return redis.call('GET', KEYS[1]) -- ${unique()}`
      expect((await call(['EVAL', script, 1, key])).body).toEqual({ result: '2' })
    } finally {
      lagging.replicaLink!.release()
    }
  })
})
