import { createHash } from 'node:crypto'
import { Redis } from '@upstash/redis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { connectResp, type RespConnection } from '../../../scripts/lib/resp.ts'
import { startUpstashBridge } from '../../../scripts/upstash-bridge.ts'
import { startRedisServer, useRedisWithBridge, type RedisWithBridge } from '../../support/redis.ts'

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
  it('answers a missing or wrong token with 401 {"error":"Unauthorized"}', async () => {
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
      expect(await response.json()).toEqual({ error: 'Unauthorized' })
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

  it('refuses an oversized body with 413 and keeps serving', async () => {
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
          413,
          { error: expect.stringMatching(/max request size/) },
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
    await expect(client.get('k')).rejects.toThrow(/^Unauthorized/)
  })
})
