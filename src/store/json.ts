import type { ZodType } from 'zod'
import { StoreError } from './errors.ts'
import type { SetOptions, Store } from './types.ts'

/**
 * Read a JSON value, validated with a zod schema when one is given. Absent keys give `null`; a value
 * that is not JSON or fails the schema is a `StoreError('invalid_value')` naming only the failing
 * paths, never the stored content (it may hold secrets).
 *
 * @example
 * const client = await getJson(store, `client:${id}`, clientSchema) // Client | null
 */
export async function getJson<T>(store: Store, key: string, schema: ZodType<T>): Promise<T | null>
export async function getJson(store: Store, key: string): Promise<unknown>
export async function getJson<T>(store: Store, key: string, schema?: ZodType<T>): Promise<unknown> {
  const raw = await store.get(key)
  if (raw === null) return null
  let value: unknown
  try {
    value = JSON.parse(raw)
  } catch {
    throw new StoreError('invalid_value', 'getJson', 'stored value is not JSON')
  }
  if (!schema) return value
  const parsed = schema.safeParse(value)
  if (!parsed.success) {
    const paths = parsed.error.issues.map((issue) => issue.path.map(String).join('.') || '(root)')
    throw new StoreError(
      'invalid_value',
      'getJson',
      `stored value fails its schema at ${paths.join(', ')}`,
    )
  }
  return parsed.data
}

/**
 * Write a value as JSON; same options and result as `Store.set`.
 *
 * @example
 * await setJson(store, `session:${sid}`, { sub, createdAt }, { ttlSeconds: 3600 })
 */
export async function setJson(
  store: Store,
  key: string,
  value: unknown,
  options?: SetOptions,
): Promise<boolean> {
  const text = JSON.stringify(value)
  if (typeof text !== 'string') throw new TypeError('value is not representable as JSON')
  return store.set(key, text, options)
}
