declare namespace Cloudflare {
  interface GlobalProps {
    // eslint-disable-next-line @typescript-eslint/consistent-type-imports -- ambient declaration
    mainModule: typeof import('../../src/entry/worker.ts')
  }
  /** The [vars] of wrangler.test.toml. */
  interface Env {
    GATEHOUSE_ISSUER: string
    GATEHOUSE_AUDIENCE: string
    GATEHOUSE_CLOCK_LEEWAY_SECONDS: string
    GATEHOUSE_LOG_LEVEL: string
    GATEHOUSE_JWKS: { keys: object[] }
  }
}
