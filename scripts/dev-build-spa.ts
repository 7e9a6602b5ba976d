/**
 * `npm run build:spa`: bundles the example SPA into dist/spa (index.html, main.js, style.css)
 * plus a config.json for the default `npm run dev` ports. Serve the folder with any static server
 * that falls back to index.html for /callback, and edit config.json for your issuer and API.
 */
import { join } from 'node:path'
import { writeFile } from 'node:fs/promises'
import { DEMO_CLIENT_ID } from './dev-config.ts'
import { REPO_ROOT, buildSpa, type SpaConfig } from './dev-spa.ts'
import { DEFAULT_PORTS } from './dev-stack.ts'

const outdir = join(REPO_ROOT, 'dist', 'spa')
await buildSpa({ outdir, minify: true })
const spa = `http://127.0.0.1:${DEFAULT_PORTS.spa}`
const config: SpaConfig = {
  issuer: `http://127.0.0.1:${DEFAULT_PORTS.origin}`,
  clientId: DEMO_CLIENT_ID,
  redirectUri: `${spa}/callback`,
  postLogoutRedirectUri: `${spa}/`,
  apiUrl: `http://127.0.0.1:${DEFAULT_PORTS.edge}/api`,
}
await writeFile(join(outdir, 'config.json'), `${JSON.stringify(config, null, 2)}\n`)
console.log(`example SPA written to ${outdir}`)
