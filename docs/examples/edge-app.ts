import { buildVerifier, createApp, createJsonLogger } from '@gatehouse/auth'

// The same app Gatehouse runs at the edge: /verify, discovery and JWKS, and a gateway under /api/.
const verifier = await buildVerifier({
  issuer: 'https://auth.example.com',
  audience: 'https://api.example.com',
  keySource: { kind: 'url', url: 'https://auth.example.com/.well-known/jwks.json' },
})

export default createApp({
  role: 'edge',
  verifier,
  logger: createJsonLogger({ level: 'warn' }),
  gateway: { url: 'https://orders.internal.example.com/v1' },
})
