/** The L2 store: one interface, two adapters (upstash for production, memory for development). */
export type {
  AppendOptions,
  CompareAndSwapOptions,
  SetOptions,
  Store,
  StreamEntry,
} from './types.ts'
export { isStoreError, StoreError, type StoreErrorCode } from './errors.ts'
export { createMemoryStore, type MemoryStoreOptions } from './memory.ts'
export { createUpstashStore, type UpstashStoreOptions } from './upstash.ts'
export type { UpstashHttpOptions } from './upstash-http.ts'
export { getJson, setJson } from './json.ts'
