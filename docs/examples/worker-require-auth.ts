import { Hono } from 'hono'
import { requireAuth } from '@gatehouse/auth/middleware'

const app = new Hono()

app.use(
  '/orders/*',
  requireAuth({
    issuer: 'https://auth.example.com',
    audience: 'https://api.example.com',
    jwksUrl: 'https://auth.example.com/.well-known/jwks.json',
    scopes: ['orders:read'],
  }),
)
// c.get('auth') is the verified token, typed without new Hono<...>() (docs/library.md, "Types").
app.get('/orders/mine', (c) => c.json({ owner: c.get('auth').claims.sub }))

export default app
