/**
 * `readForm` on both paths: a body with a Content-Length (read whole, framed by the server's HTTP
 * parser) and one without (streamed with a running cap), in-process and over real HTTP on
 * @hono/node-server, where the declared path takes the server's direct-read fast path.
 */
import type { Server } from 'node:http'
import { request as httpRequest } from 'node:http'
import type { AddressInfo } from 'node:net'
import { serve } from '@hono/node-server'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { OAuthError } from '../../../src/core/oauth/errors.ts'
import { MAX_FORM_BYTES, readForm } from '../../../src/http/oauth/form.ts'

const FORM = 'application/x-www-form-urlencoded'

/** What readForm answered: the params as an object, or the error's status and code. */
async function outcome(request: Request): Promise<Record<string, string> | string> {
  try {
    return Object.fromEntries(await readForm(request))
  } catch (e) {
    if (e instanceof OAuthError) return `${e.status} ${e.error}`
    throw e
  }
}

const streamOf = (...chunks: string[]) =>
  new ReadableStream<Uint8Array>({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(new TextEncoder().encode(chunk))
      controller.close()
    },
  })

describe('readForm in-process', () => {
  const post = (body: BodyInit, headers: Record<string, string> = {}) =>
    new Request('https://auth.test/token', {
      method: 'POST',
      headers: { 'content-type': FORM, ...headers },
      body,
      duplex: 'half',
    } as RequestInit)

  it('reads a body with a Content-Length', async () => {
    expect(await outcome(post('a=1&b=%C3%A9'))).toEqual({ a: '1', b: 'é' })
  })

  it('refuses a body longer than the cap even when its Content-Length claims less', async () => {
    const big = `a=${'x'.repeat(MAX_FORM_BYTES)}`
    expect(await outcome(post(big, { 'content-length': '10' }))).toBe('413 invalid_request')
  })

  it('streams a body without a Content-Length, capped', async () => {
    expect(await outcome(post(streamOf('a=1', '&b=2')))).toEqual({ a: '1', b: '2' })
    const chunk = 'x'.repeat(4096)
    expect(await outcome(post(streamOf(...Array<string>(5).fill(chunk))))).toBe(
      '413 invalid_request',
    )
  })

  it('refuses invalid UTF-8 on the declared-length path', async () => {
    expect(await outcome(post(new Uint8Array([0x61, 0x3d, 0xff])))).toBe('400 invalid_request')
  })
})

describe('readForm over @hono/node-server', () => {
  let server: Server
  let port: number

  beforeAll(async () => {
    server = await new Promise<Server>((resolve) => {
      const s = serve(
        {
          fetch: async (request) => Response.json(await outcome(request)),
          port: 0,
          hostname: '127.0.0.1',
        },
        () => resolve(s as Server),
      ) as Server
    })
    port = (server.address() as AddressInfo).port
  })
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())))

  /** Sends `chunks` with a Content-Length (when `declare`) or chunked transfer coding. */
  const send = (chunks: string[], declare: boolean): Promise<unknown> =>
    new Promise((resolve, reject) => {
      const body = chunks.join('')
      const req = httpRequest(
        {
          port,
          host: '127.0.0.1',
          method: 'POST',
          path: '/token',
          headers: {
            'content-type': FORM,
            ...(declare ? { 'content-length': String(Buffer.byteLength(body)) } : {}),
          },
        },
        (res) => {
          let text = ''
          res.on('data', (d: Buffer) => (text += d.toString()))
          res.on('end', () => resolve(JSON.parse(text)))
        },
      )
      req.on('error', reject)
      for (const chunk of chunks) req.write(chunk)
      req.end()
    })

  it('reads a declared-length body', async () => {
    expect(await send(['grant_type=client_credentials', '&scope=read'], true)).toEqual({
      grant_type: 'client_credentials',
      scope: 'read',
    })
  })

  it('reads a chunked body and caps it while streaming', async () => {
    expect(await send(['a=1', '&b=2'], false)).toEqual({ a: '1', b: '2' })
    expect(await send(Array<string>(5).fill('x'.repeat(4096)), false)).toBe('413 invalid_request')
  })

  it('refuses a declared length over the cap before reading', async () => {
    expect(await send([`a=${'x'.repeat(MAX_FORM_BYTES)}`], true)).toBe('413 invalid_request')
  })
})
