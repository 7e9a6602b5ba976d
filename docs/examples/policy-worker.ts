import { Hono } from 'hono'
import { Redis } from '@upstash/redis'
import { requireAuth } from '@gatehouse/auth/middleware'
import { authorize, createPolicySets } from '@gatehouse/auth/policy'
import { loadWorkerCedar } from '@gatehouse/auth/policy/worker'

// The sets `gatehouse policies publish` writes to L2; reading them needs `get` only (as text).
const redis = new Redis({
  url: 'https://example.upstash.io',
  token: 'UPSTASH_REDIS_REST_TOKEN',
  automaticDeserialization: false,
})
const policySets = createPolicySets({
  store: { get: (key: string) => redis.get<string>(key) },
  engine: loadWorkerCedar, // instantiated on the first decision, never before
})

const app = new Hono()
app.get(
  '/documents/:id',
  requireAuth({
    issuer: 'https://auth.example.com',
    audience: 'https://api.example.com',
    jwksUrl: 'https://auth.example.com/.well-known/jwks.json',
  }),
  // Decided as Action::"GET /documents/:id" on Document::"<id>", with the verifying tenant's set.
  authorize({ policySets, resource: { type: 'Document', param: 'id' } }),
  (c) => c.json({ id: c.req.param('id') }),
)

export default app
