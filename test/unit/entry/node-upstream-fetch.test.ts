/**
 * The Node origin's upstream client (src/entry/node-upstream-fetch.ts: undici's `request` behind the
 * forwarder's `UpstreamFetch`), against real `node:http` upstreams: alone, and as the gateway of an
 * origin started by `startNodeServer` (what `npm start` runs), where the forwarder's rules apply to
 * its answers.
 */
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { gzipSync } from 'node:zlib'
import { afterEach, describe, expect, it } from 'vitest'
import { startNodeServer } from '../../../src/entry/node-server.ts'
import {
  createNodeUpstreamFetch,
  headerPairs,
  type NodeUpstreamClient,
} from '../../../src/entry/node-upstream-fetch.ts'
import { silentLogger } from '../../../src/http/log.ts'
import type { UpstreamInit } from '../../../src/http/forwarder.ts'
import { publicJwks, signTestToken, TEST_AUDIENCE, TEST_ISSUER } from '../../fixtures/keys.ts'

const cleanups: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

interface Upstream {
  url: string
  /** What each request carried, in arrival order. */
  seen: { method: string; url: string; headers: IncomingHttpHeaders }[]
}

/** A real upstream answering with `respond`, closed after the test. */
async function upstream(
  respond: (res: ServerResponse, method: string, url: string) => void,
): Promise<Upstream> {
  const seen: Upstream['seen'] = []
  const server: Server = createServer((req, res) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers })
    req.resume().on('end', () => respond(res, req.method ?? '', req.url ?? ''))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  cleanups.push(
    () => new Promise<void>((resolve) => server.close(() => resolve()).closeAllConnections()),
  )
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
  }
}

function client(): NodeUpstreamClient {
  const c = createNodeUpstreamFetch()
  cleanups.push(() => c.close())
  return c
}

const init = (over: Partial<UpstreamInit> = {}): UpstreamInit => ({
  method: 'GET',
  headers: { 'x-request-id': 'r-1' },
  body: null,
  redirect: 'manual',
  signal: new AbortController().signal,
  ...over,
})

describe('createNodeUpstreamFetch', () => {
  it('answers with the status, the fields as Headers iterates them and the body', async () => {
    const up = await upstream((res) => {
      res.setHeader('Set-Cookie', ['a=1; Path=/', 'b=2; Path=/'])
      res.setHeader('Vary', ['Origin', 'Accept'])
      res.writeHead(201, { 'Content-Type': 'application/json' }).end('{"ok":true}')
    })
    const { fetch } = client()
    const answer = await fetch(
      `${up.url}/orders?x=1`,
      init({ method: 'POST', body: new TextEncoder().encode('hi') }),
    )
    expect(answer.status).toBe(201)
    expect(answer.decoded).toBe(false)
    const fields = [...answer.headers]
    expect(fields.filter(([n]) => n === 'set-cookie')).toEqual([
      ['set-cookie', 'a=1; Path=/'],
      ['set-cookie', 'b=2; Path=/'],
    ])
    expect(fields).toContainEqual(['vary', 'Origin, Accept'])
    expect(fields).toContainEqual(['content-type', 'application/json'])
    expect(new TextDecoder().decode(await answer.arrayBuffer())).toBe('{"ok":true}')
    // The request as sent: method, target, body length, the given fields, and nothing of its own
    // that fetch would add (Accept-Encoding above all: the answer is passed on as it comes).
    const [request] = up.seen
    expect(request).toMatchObject({ method: 'POST', url: '/orders?x=1' })
    expect(request?.headers['x-request-id']).toBe('r-1')
    expect(request?.headers['content-length']).toBe('2')
    for (const name of ['accept-encoding', 'user-agent', 'accept', 'sec-fetch-mode'])
      expect(request?.headers[name]).toBeUndefined()
  })

  it('gives HEAD, 204 and 304 answers a null body, and the next call is answered', async () => {
    const up = await upstream((res, method, url) => {
      if (url === '/none') res.writeHead(204).end()
      else if (url === '/same') res.writeHead(304, { ETag: '"1"' }).end()
      else
        res
          .writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': '5' })
          .end(method === 'HEAD' ? undefined : 'hello')
    })
    const { fetch } = client()
    for (const [method, path] of [
      ['HEAD', '/'],
      ['GET', '/none'],
      ['GET', '/same'],
      ['HEAD', '/'],
      ['GET', '/'],
    ] as const) {
      const answer = await fetch(`${up.url}${path}`, init({ method }))
      if (method === 'GET' && path === '/') {
        expect(answer.body).not.toBeNull()
        expect(new TextDecoder().decode(await answer.arrayBuffer())).toBe('hello')
      } else expect(answer.body).toBeNull()
    }
  })

  it('returns a redirect as it is, never following it', async () => {
    const up = await upstream((res, _m, url) => {
      if (url === '/old') res.writeHead(302, { Location: '/new' }).end()
      else res.writeHead(200).end('followed')
    })
    const answer = await client().fetch(`${up.url}/old`, init())
    expect(answer.status).toBe(302)
    expect([...answer.headers]).toContainEqual(['location', '/new'])
    expect(up.seen.map((r) => r.url)).toEqual(['/old'])
  })

  it('reads a 64 KiB body whole after its body was looked at, as the forwarder does', async () => {
    // 65,536 bytes: the longest answer the forwarder reads whole, and a web stream's queue limit.
    const bytes = Buffer.alloc(65_536, 0x61)
    const up = await upstream((res) =>
      res.writeHead(200, { 'Content-Length': String(bytes.length) }).end(bytes),
    )
    const answer = await client().fetch(`${up.url}/64k`, init())
    expect(answer.body).not.toBeNull()
    expect(Buffer.from(await answer.arrayBuffer()).equals(bytes)).toBe(true)
  })

  it('streams a large body as a web stream', async () => {
    const big = 'x'.repeat(300_000)
    const up = await upstream((res) => res.writeHead(200).end(big))
    const answer = await client().fetch(`${up.url}/big`, init())
    expect(answer.body).not.toBeNull()
    const text = await new Response(answer.body).text()
    expect(text).toBe(big)
  })

  it('rejects when the signal aborts before the answer and while its body is read', async () => {
    let release: (() => void) | undefined
    const up = await upstream((res, _m, url) => {
      if (url === '/slow-head') release = () => res.writeHead(200).end('late')
      else {
        res.writeHead(200, { 'Content-Length': '10' })
        res.write('12345') // and never the rest
      }
    })
    const { fetch } = client()
    const early = new AbortController()
    const pending = fetch(`${up.url}/slow-head`, init({ signal: early.signal }))
    await expect.poll(() => up.seen.length).toBe(1)
    early.abort()
    await expect(pending).rejects.toThrow()
    release?.()

    const late = new AbortController()
    const answer = await fetch(`${up.url}/slow-body`, init({ signal: late.signal }))
    const reading = answer.arrayBuffer()
    late.abort()
    await expect(reading).rejects.toThrow()
  })

  it('rejects when nothing listens', async () => {
    const up = await upstream((res) => res.end())
    const { url } = up
    await cleanups.pop()?.() // the upstream's server, closed
    await expect(client().fetch(`${url}/`, init())).rejects.toThrow()
  })
})

describe('headerPairs', () => {
  it('gives one pair per field, Set-Cookie one pair per cookie, and skips undefined', () => {
    expect([
      ...headerPairs({
        'set-cookie': ['a=1', 'b=2'],
        vary: ['a', 'b'],
        etag: '"1"',
        gone: undefined,
      }),
    ]).toEqual([
      ['set-cookie', 'a=1'],
      ['set-cookie', 'b=2'],
      ['vary', 'a, b'],
      ['etag', '"1"'],
    ])
  })
})

describe('the Node gateway on this client', () => {
  async function gateway(upstreamUrl: string) {
    const server = await startNodeServer(
      {
        PORT: '0',
        HOST: '127.0.0.1',
        GATEHOUSE_ISSUER: TEST_ISSUER,
        GATEHOUSE_AUDIENCE: TEST_AUDIENCE,
        GATEHOUSE_JWKS: JSON.stringify(publicJwks()),
        GATEHOUSE_UPSTREAM_URL: upstreamUrl,
      },
      { logger: silentLogger },
    )
    cleanups.push(() => server.shutdown())
    const token = await signTestToken({ scope: 'read' })
    return {
      base: `http://127.0.0.1:${server.port}`,
      headers: { Authorization: `Bearer ${token}` },
    }
  }

  it('passes an encoded answer on as it came, with its Content-Encoding and Content-Length', async () => {
    const plain = JSON.stringify({ orders: Array.from({ length: 50 }, (_, i) => ({ id: i })) })
    const packed = gzipSync(plain)
    const up = await upstream((res) =>
      res
        .writeHead(200, {
          'Content-Type': 'application/json',
          'Content-Encoding': 'gzip',
          'Content-Length': String(packed.length),
          'Keep-Alive': 'timeout=5',
          Connection: 'keep-alive, X-Hop',
          'X-Hop': 'dropped',
        })
        .end(packed),
    )
    const { base, headers } = await gateway(up.url)
    // fetch decodes as a browser would: what arrives is the upstream's own encoding, whole.
    const res = await fetch(`${base}/api/orders`, { headers })
    expect(res.status).toBe(200)
    expect(res.headers.get('content-encoding')).toBe('gzip')
    expect(res.headers.get('content-length')).toBe(String(packed.length))
    // RFC 9110 §7.6.1: hop-by-hop fields, and those the upstream's Connection names, stay here.
    expect(res.headers.get('x-hop')).toBeNull()
    expect(await res.text()).toBe(plain)
    expect(up.seen[0]?.headers['accept-encoding']).toBeUndefined()
  })

  it('passes on answers read whole and streamed, at and past the 64 KiB line', async () => {
    const up = await upstream((res, _m, url) => {
      const bytes = Buffer.alloc(Number(url.slice('/orders/'.length)), 0x62)
      res.writeHead(200, { 'Content-Length': String(bytes.length) }).end(bytes)
    })
    const { base, headers } = await gateway(up.url)
    for (const size of [65_535, 65_536, 65_537, 300_000]) {
      const res = await fetch(`${base}/api/orders/${size}`, { headers })
      expect(res.status).toBe(200)
      expect((await res.arrayBuffer()).byteLength).toBe(size)
    }
  })

  it('answers 503 temporarily_unavailable when the upstream cannot be reached', async () => {
    const up = await upstream((res) => res.end())
    const { url } = up
    await cleanups.pop()?.()
    const { base, headers } = await gateway(url)
    const res = await fetch(`${base}/api/orders`, { headers })
    expect(res.status).toBe(503)
    expect(await res.json()).toMatchObject({ error: 'temporarily_unavailable' })
  })
})
