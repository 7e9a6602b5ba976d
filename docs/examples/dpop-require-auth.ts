import { Hono } from 'hono'
import { Redis } from '@upstash/redis'
import { createDpopGuard, requireAuth } from '@gatehouse/auth/middleware'

const redis = new Redis({ url: 'https://example.upstash.io', token: 'UPSTASH_REDIS_REST_TOKEN' })
// The one operation the replay cache needs: an atomic set-if-absent with a TTL.
const store = {
  set: async (key: string, value: string, o: { ttlSeconds: number; ifAbsent: true }) =>
    (await redis.set(key, value, { nx: true, px: Math.ceil(o.ttlSeconds * 1000) })) === 'OK',
}
const dpop = createDpopGuard({ store, replayPolicy: 'open' })

const app = new Hono()
app.use(
  '/orders/*',
  requireAuth({
    issuer: 'https://auth.example.com',
    audience: 'https://api.example.com',
    jwksUrl: 'https://auth.example.com/.well-known/jwks.json',
    dpop,
  }),
)

export default app
