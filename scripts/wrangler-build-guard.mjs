// The custom build step of wrangler.toml: lets `wrangler dev` (and `wrangler types`) run and refuses
// `wrangler deploy` / `wrangler versions upload` for the configurations that must never be deployed:
// the top level (no settings; a Worker deployed from it would answer every request with a 500) and
// [env.dev] (local 127.0.0.1 URLs). Plain JavaScript: wrangler runs it with whatever `node` is on
// PATH. Wrangler names its command in WRANGLER_COMMAND; anything else (or nothing) is refused.
const where =
  process.argv[2] === undefined ? 'the top level of wrangler.toml' : `[env.${process.argv[2]}]`
const command = process.env.WRANGLER_COMMAND ?? ''
// Tests and benchmarks bundle the Worker for a local workerd (`wrangler deploy --dry-run --outdir`,
// scripts/workerd.ts) and say so; nothing is uploaded.
const bundleOnly = process.env.GATEHOUSE_WRANGLER_BUNDLE_ONLY === '1'
if (command !== 'dev' && command !== 'types' && !bundleOnly) {
  console.error(
    `gatehouse: refusing \`wrangler ${command || '(unknown command)'}\` of ${where}: it holds no ` +
      'production settings. Deploy an environment of your own: ' +
      '`wrangler deploy --env production` (docs/deploy-cloudflare.md).',
  )
  process.exit(1)
}
