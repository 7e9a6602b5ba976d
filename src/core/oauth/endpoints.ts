/** Endpoint paths, relative to the issuer (so an issuer with a path prefix works unchanged). */
export const ENDPOINTS = {
  authorize: '/authorize',
  login: '/login',
  token: '/token',
  revoke: '/revoke',
  introspect: '/introspect',
  userinfo: '/userinfo',
  logout: '/logout',
  jwks: '/.well-known/jwks.json',
  openidConfiguration: '/.well-known/openid-configuration',
} as const

/** The absolute URL of an endpoint, built from the configured issuer — never from the Host header. */
export const endpointUrl = (issuer: string, path: string): string => `${issuer}${path}`
