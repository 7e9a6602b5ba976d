import { describe, expect, it } from 'vitest'
import { isStoreError, type StoreError } from '../../../src/store/errors.ts'
import { createUpstashStore } from '../../../src/store/upstash.ts'
import { createUpstashTransport } from '../../../src/store/upstash-http.ts'

/**
 * The HTTP failure paths of the Upstash transport, driven by an injected fetch that answers what a
 * broken network or proxy would. (Redis semantics are tested against real Redis, not here.)
 */
const TOKEN = 'secret-token-abc123'
const URL_ = 'https://db.example.upstash.io'

function storeAnswering(respond: (request: Request) => Response | Promise<Response>) {
  const seen: Request[] = []
  const fetch = async (input: RequestInfo | URL, init?: RequestInit) => {
    const request = new Request(input, init)
    seen.push(request.clone())
    return respond(request)
  }
  return { seen, store: createUpstashStore({ url: URL_, token: TOKEN, fetch }) }
}

async function failure(promise: Promise<unknown>): Promise<StoreError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  )
  if (!isStoreError(error)) throw new Error(`expected a StoreError, got ${String(error)}`)
  // Nothing secret or identifying in any store error: not the token, URL, key or value.
  for (const secret of [TOKEN, 'db.example', 'user-key', 'user-value']) {
    expect(error.message).not.toContain(secret)
  }
  return error
}

describe('upstash transport', () => {
  it('sends the command as a JSON array with bearer auth and base64 encoding, and decodes', async () => {
    const { seen, store } = storeAnswering(() =>
      Response.json({ result: Buffer.from('vé').toString('base64') }),
    )
    expect(await store.get('user-key')).toBe('vé')
    const [request] = seen
    expect(request?.method).toBe('POST')
    expect(request?.url).toBe(`${URL_}/`)
    expect(request?.headers.get('authorization')).toBe(`Bearer ${TOKEN}`)
    expect(request?.headers.get('upstash-encoding')).toBe('base64')
    expect(await request?.json()).toEqual(['GET', 'gh:user-key'])
  })

  it('maps 401 to unauthorized, 5xx and network failure to unavailable', async () => {
    const denied = storeAnswering(() => Response.json({ error: 'Unauthorized' }, { status: 401 }))
    expect((await failure(denied.store.set('user-key', 'user-value'))).code).toBe('unauthorized')
    const down = storeAnswering(() => new Response('<html>bad gateway</html>', { status: 502 }))
    expect((await failure(down.store.get('user-key'))).code).toBe('unavailable')
    const gone = storeAnswering(() => {
      throw new TypeError(`fetch failed for ${URL_} with ${TOKEN}`)
    })
    const error = await failure(gone.store.take('user-key'))
    expect([error.code, error.operation]).toEqual(['unavailable', 'take'])
  })

  it('reports a Redis error reply as command_failed with its text, not the command', async () => {
    const { store } = storeAnswering(() =>
      Response.json(
        { error: 'WRONGTYPE Operation against a key holding the wrong kind of value' },
        { status: 400 },
      ),
    )
    const error = await failure(store.set('user-key', 'user-value'))
    expect(error.code).toBe('command_failed')
    expect(error.message).toContain('WRONGTYPE')
  })

  it('rejects answers that are not the Upstash shape as bad_response', async () => {
    const shapes = [
      () => new Response('not json', { status: 200 }),
      () => Response.json({ nothing: true }),
      () => Response.json({ result: '%%% not base64' }),
      () => Response.json({ result: { an: 'object' } }),
      () => Response.json({ result: 42 }), // GET must be a string or null
      () => new Response(null, { status: 302, headers: { location: 'https://elsewhere.example' } }),
    ]
    for (const respond of shapes) {
      const { store } = storeAnswering(respond)
      expect((await failure(store.get('user-key'))).code).toBe('bad_response')
    }
  })

  it('decodes an 8 MiB result in one pass, without growing the stack', async () => {
    const value = 'v'.repeat(8 * 1024 * 1024 - 3) + 'é' // 8 MiB of UTF-8
    const encoded = Buffer.from(value, 'utf8').toString('base64')
    const { store } = storeAnswering(() => Response.json({ result: encoded }))
    expect(await store.get('user-key')).toBe(value)
    // The same size, one character off canonical base64: a StoreError, not a RangeError.
    const broken = storeAnswering(() => Response.json({ result: `${encoded.slice(0, -4)}A=A=` }))
    expect((await failure(broken.store.get('user-key'))).code).toBe('bad_response')
    const unpadded = storeAnswering(() => Response.json({ result: encoded.slice(0, -1) }))
    expect((await failure(unpadded.store.get('user-key'))).code).toBe('bad_response')
  })

  it('turns every way a response can fail into a StoreError that names no input', async () => {
    const answers: (() => Response | Promise<Response>)[] = [
      () => new Response(new ReadableStream({ pull: (c) => c.error(new Error('user-value')) })),
      () => new Response('{"result": "user-value"', { status: 200 }),
      () => new Response('user-value', { status: 500 }),
      () => new Response('user-value', { status: 418 }),
      () =>
        Response.json(
          {
            error: "ERR unknown command 'GETX', with args beginning with: 'user-key' 'user-value'",
          },
          { status: 400 },
        ),
      () => Response.json([{ result: 'T0s=' }]),
      () => Response.json({ result: [['1-0', ['user-key']]] }),
      () => {
        throw new DOMException(`user-value ${TOKEN}`, 'NetworkError')
      },
    ]
    for (const answer of answers) {
      const { store } = storeAnswering(answer)
      await failure(store.get('user-key'))
      await failure(store.readStream('user-key', '0'))
    }
  })

  it('gives up after timeoutMs with unavailable', async () => {
    const fetch = (_input: RequestInfo | URL, init?: RequestInit) =>
      new Promise<Response>((_resolve, reject) => {
        init?.signal?.addEventListener('abort', () => reject(init.signal?.reason))
      })
    const store = createUpstashStore({ url: URL_, token: TOKEN, fetch, timeoutMs: 20 })
    const error = await failure(store.get('user-key'))
    expect(error.code).toBe('unavailable')
    expect(error.message).toContain('timed out')
    expect(await store.ping()).toBe(false)
  })

  it('echoes the read-your-writes sync token it was given', async () => {
    const { seen, store } = storeAnswering(() =>
      Response.json({ result: 'OK' }, { headers: { 'upstash-sync-token': 'sync-1' } }),
    )
    await store.set('user-key', 'user-value')
    await store.set('user-key', 'user-value')
    expect(seen.map((r) => r.headers.get('upstash-sync-token'))).toEqual([null, 'sync-1'])
  })

  it('validates url and token at construction without echoing them', () => {
    const bad: [string, string][] = [
      ['https://user:hunter2@db.example.upstash.io', TOKEN],
      ['http://db.example.upstash.io', TOKEN],
      ['https://db.example.upstash.io?token=hunter2', TOKEN],
      ['not a url hunter2', TOKEN],
      [URL_, 'hunter2 with space'],
      [URL_, 'hunter2\r\nx-injected: 1'],
      [URL_, ''],
    ]
    for (const [url, token] of bad) {
      expect(() => createUpstashTransport({ url, token })).toThrow(TypeError)
      try {
        createUpstashTransport({ url, token })
      } catch (e) {
        expect(String(e)).not.toContain('hunter2')
      }
    }
    expect(() =>
      createUpstashTransport({ url: 'http://127.0.0.1:8079', token: TOKEN }),
    ).not.toThrow()
    expect(() =>
      createUpstashTransport({ url: 'http://bridge:8079', token: TOKEN, allowHttp: true }),
    ).not.toThrow()
    expect(() => createUpstashTransport({ url: URL_, token: TOKEN, timeoutMs: 0 })).toThrow(
      RangeError,
    )
    expect(() =>
      createUpstashStore({ url: URL_, token: TOKEN, keyPrefix: 'x'.repeat(65) }),
    ).toThrow(TypeError)
  })
})
