/**
 * The Cloudflare Worker entry (role `edge`). Config comes from the Worker's bindings ([vars] in
 * wrangler.toml, secrets). The verifier, key set and L1 cache are built once per isolate, lazily on the
 * first request (bindings are not available before one), and rebuilt only when the config changes.
 * A bad config answers every request with a generic 500 and logs the variable names once.
 */
import type { ExecutionContext, Hono } from 'hono'
import { ConfigError, VERIFICATION_ENV_NAMES, parseVerificationConfig } from '../core/config.ts'
import { createJsonLogger, redactTokens } from '../http/log.ts'
import type { GatehouseEnv } from '../http/types.ts'
import { appFromConfig } from './app-from-config.ts'

type Bindings = Record<string, unknown>

interface Built {
  fingerprint: string
  app: Hono<GatehouseEnv> | undefined
}

let built: Built | undefined
let builtForEnv: Bindings | undefined

/** The config-relevant bindings as one string; env objects may differ per request, values rarely. */
const fingerprintOf = (env: Bindings): string =>
  JSON.stringify(VERIFICATION_ENV_NAMES.map((name) => env[name] ?? null))

async function appFor(env: Bindings): Promise<Hono<GatehouseEnv> | undefined> {
  if (built !== undefined && env === builtForEnv) return built.app
  const fingerprint = fingerprintOf(env)
  if (built?.fingerprint === fingerprint) {
    builtForEnv = env
    return built.app
  }
  let app: Hono<GatehouseEnv> | undefined
  try {
    const config = parseVerificationConfig(env)
    app = await appFromConfig(config, {
      role: 'edge',
      logger: createJsonLogger({ level: config.logLevel }),
    })
  } catch (err) {
    // Names of the bad variables and the rules they broke; never their values.
    createJsonLogger().log({
      level: 'error',
      msg: 'invalid configuration',
      ...(err instanceof ConfigError
        ? { fields: err.fields, detail: err.message }
        : err instanceof Error
          ? { errorName: err.name, detail: redactTokens(err.message) }
          : { errorName: typeof err }),
    })
  }
  built = { fingerprint, app }
  builtForEnv = env
  return app
}

export default {
  async fetch(request: Request, env: Bindings, ctx?: ExecutionContext): Promise<Response> {
    const app = await appFor(env ?? {})
    if (app === undefined) {
      return Response.json(
        { error: 'server_error', error_description: 'the service is misconfigured' },
        { status: 500, headers: { 'Cache-Control': 'no-store' } },
      )
    }
    return app.fetch(request, env, ctx)
  },
}
