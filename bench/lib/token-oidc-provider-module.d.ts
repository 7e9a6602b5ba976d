/**
 * The few parts of oidc-provider (v9 ships no type declarations) the /token benchmark uses.
 * Deliberately loose: the configuration is checked by oidc-provider itself at construction.
 */
declare module 'oidc-provider' {
  import type { Server } from 'node:http'

  export default class Provider {
    constructor(issuer: string, configuration?: Record<string, unknown>)
    listen(port: number, host: string, callback?: () => void): Server
  }
}
