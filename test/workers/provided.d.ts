/** `inject('workersL2')` in the workers tests; set by test/support/workers-l2.ts (globalSetup). */
export {}

declare module 'vitest' {
  export interface ProvidedContext {
    workersL2: {
      url: string
      token: string
      /** Nothing listens here: the origin is down. */
      deadOriginUrl: string
    }
  }
}
