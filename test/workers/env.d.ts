declare namespace Cloudflare {
  interface GlobalProps {
    // eslint-disable-next-line @typescript-eslint/consistent-type-imports -- ambient declaration
    mainModule: typeof import('../../src/entry/worker.ts')
  }
}
