import { Redis } from '@upstash/redis'
import { createUpstashTransport, type UpstashHttpOptions } from './upstash-http.ts'

/**
 * An `@upstash/redis` client over our transport, for libraries that take one (`@upstash/ratelimit`):
 * same timeout, injected fetch and redacted errors as the Store, none of the package's silent retries.
 * It keeps the package's default JSON deserialization, which those libraries expect; the Store itself
 * does not use it.
 *
 * @example
 * const limiter = new Ratelimit({ redis: createUpstashRedis({ url, token }), limiter: Ratelimit.fixedWindow(10, '60 s') })
 */
export function createUpstashRedis(options: UpstashHttpOptions): Redis {
  return new Redis(createUpstashTransport(options))
}
