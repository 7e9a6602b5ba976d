/**
 * The benchmark worker for the workerd half of `npm run bench:verify`. It runs N ops of one row per
 * request; the driver times requests from outside, because inside workerd `performance.now()` and
 * `Date.now()` do not advance while code runs without I/O (a Spectre mitigation). Each `/run`
 * response reports whether the clock moved, so the driver can say so.
 *
 * POST /setup  { pools: { ES256: string[], ... }, jwks }  → { rows: string[] }
 * GET  /run?row=<id>&n=<ops>                             → { n, clockAdvancedMs }
 */
import { importJWK, jwtVerify } from 'jose'
import { createCachedVerifier } from '../../src/cache/cached-verifier.ts'
import { createTokenCache } from '../../src/cache/token-cache.ts'
import { createStaticKeySet } from '../../src/core/jwks.ts'
import { createAccessTokenVerifier } from '../../src/core/verify.ts'

type Alg = 'ES256' | 'EdDSA' | 'RS256'
interface Setup {
  pools: Record<Alg, string[]>
  jwks: { keys: (JsonWebKey & { kid: string; alg: Alg })[] }
  issuer: string
  audience: string
}

const IMPORT: Record<Alg, EcKeyImportParams | RsaHashedImportParams | Algorithm> = {
  ES256: { name: 'ECDSA', namedCurve: 'P-256' },
  EdDSA: { name: 'Ed25519' },
  RS256: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
}
const VERIFY: Record<Alg, AlgorithmIdentifier | EcdsaParams> = {
  ES256: { name: 'ECDSA', hash: 'SHA-256' },
  EdDSA: { name: 'Ed25519' },
  RS256: { name: 'RSASSA-PKCS1-v1_5' },
}

let rows = new Map<string, () => Promise<unknown>>()

function cycle<T>(items: readonly T[]): () => T {
  let i = 0
  return () => {
    const item = items[i] as T
    i = i + 1 === items.length ? 0 : i + 1
    return item
  }
}

function base64urlBytes(text: string): Uint8Array<ArrayBuffer> {
  const binary = atob(text.replace(/-/g, '+').replace(/_/g, '/'))
  return Uint8Array.from(binary, (c) => c.charCodeAt(0))
}

async function setup(body: Setup): Promise<string[]> {
  const keys = await createStaticKeySet(body.jwks)
  const verifier = createAccessTokenVerifier({ issuer: body.issuer, audience: body.audience, keys })
  const next = new Map<string, () => Promise<unknown>>()
  for (const alg of Object.keys(body.pools) as Alg[]) {
    const tokens = body.pools[alg]
    const jwk = body.jwks.keys.find((k) => k.alg === alg) as JsonWebKey
    const cryptoKey = await crypto.subtle.importKey('jwk', jwk, IMPORT[alg], false, ['verify'])
    const joseKey = await importJWK(jwk as Parameters<typeof importJWK>[0], alg)
    const bare = cycle(
      tokens.map((t) => {
        const dot = t.lastIndexOf('.')
        return {
          data: new TextEncoder().encode(t.slice(0, dot)),
          signature: base64urlBytes(t.slice(dot + 1)),
        }
      }),
    )
    const token = cycle(tokens)
    next.set(`bare-webcrypto-${alg}`, async () => {
      const { data, signature } = bare()
      if (!(await crypto.subtle.verify(VERIFY[alg], cryptoKey, signature, data))) {
        throw new Error('bare verify failed')
      }
    })
    next.set(`ours-cold-webcrypto-${alg}`, () => verifier.verify(token()))
    next.set(`jose-${alg}`, () =>
      jwtVerify(token(), joseKey, {
        issuer: body.issuer,
        audience: body.audience,
        algorithms: [alg],
        typ: 'at+jwt',
      }),
    )
    if (alg === 'ES256') {
      const l1 = createCachedVerifier(verifier, createTokenCache())
      const hot = tokens[0] as string
      // A distinct string object per op, as each request would read it from its header.
      const copies = cycle(
        Array.from({ length: 4096 }, (_, i) => (i + hot).slice(String(i).length)),
      )
      next.set('ours-l1-hit-ES256', () => l1.verify(copies()))
    }
  }
  rows = next
  return [...rows.keys()]
}

export default {
  async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url)
    if (url.pathname === '/setup' && request.method === 'POST') {
      return Response.json({ rows: await setup((await request.json()) as Setup) })
    }
    if (url.pathname === '/run') {
      const n = Number(url.searchParams.get('n') ?? '0')
      const op = rows.get(url.searchParams.get('row') ?? '')
      if (op === undefined || !Number.isSafeInteger(n) || n < 0) {
        return new Response('unknown row', { status: 404 })
      }
      const before = performance.now()
      let last: unknown
      for (let i = 0; i < n; i++) last = await op()
      if (n > 0 && url.searchParams.get('row')?.startsWith('bare') !== true) {
        const sub = last as { claims?: { sub?: unknown }; payload?: { sub?: unknown } }
        if (typeof (sub.claims?.sub ?? sub.payload?.sub) !== 'string')
          throw new Error('not verified')
      }
      return Response.json({ n, clockAdvancedMs: performance.now() - before })
    }
    return new Response('not found', { status: 404 })
  },
}
