// Wrangler and @cloudflare/vitest-plugin bundle `import x from './y.wasm'` as a CompiledWasm module:
// the default export is an already compiled WebAssembly.Module (Workers cannot compile from bytes).
declare module '*.wasm' {
  const module: WebAssembly.Module
  export default module
}
