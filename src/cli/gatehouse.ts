/**
 * The `gatehouse` command. Each subcommand prints one JSON value to stdout, to merge into the config:
 *
 *   gatehouse keys generate [--alg ES256|ES384|EdDSA|RS256|PS256] [--status active|next] [--config FILE]
 *   gatehouse keys generate-kek [--kid KID]
 *   gatehouse keys list | rotate [--alg A] [--activate-in S] | retire KID [--force] | revoke KID
 *   gatehouse clients add --id ID [--type public|confidential] [--redirect-uri URI]... [--grant G]...
 *                         [--scope S]... [--audience URI]... [--origin ORIGIN]... [--post-logout-redirect-uri URI]...
 *   gatehouse users add --username NAME [--sub ID] [--name NAME] [--email EMAIL]   (password on stdin)
 *   gatehouse users revoke SUB    (writes a per-subject not-before to L2; edges enforce it within 3 s)
 *   gatehouse config check [--env-file F] | --wrangler wrangler.toml [--env E] [--var N:V]... [--secret N]...
 *                                  (every problem on stderr, exit 1; config-check.ts)
 *   gatehouse tenants add|update|list|show|remove|export|delete|admin-secret   (tenants.ts)
 *
 * Run with `node --experimental-strip-types src/cli/gatehouse.ts ...`. Exit codes: 0 ok, 2 usage.
 */
import { createInterface } from 'node:readline'
import { createScryptHasher } from '../entry/password.ts'
import { clientsAdd } from './clients.ts'
import { configCheck, formatReport } from './config-check.ts'
import { keysCommand, UsageError } from './keys.ts'
import { usersAdd } from './users.ts'
import { usersRevoke } from './revoke.ts'
import { tenants, TENANTS_USAGE } from './tenants.ts'

const USAGE = `usage:
  gatehouse keys generate [--alg ES256] [--status active|next] [--config FILE]
  gatehouse keys generate-kek [--kid KID]
  gatehouse keys list                                   (the key set in L2; needs the origin's env)
  gatehouse keys rotate [--alg ALG] [--activate-in SECONDS]
  gatehouse keys retire KID [--force]
  gatehouse keys revoke KID                             (compromise: out at once, edges refuse it)
  gatehouse clients add --id ID [--type public|confidential] [--redirect-uri URI]... [--grant G]...
                        [--scope S]... [--default-scope S]... [--audience URI]... [--origin ORIGIN]...
                        [--post-logout-redirect-uri URI]... [--name NAME]
  gatehouse users add --username NAME [--sub ID] [--name NAME] [--email EMAIL]  (password on stdin)
  gatehouse users revoke SUB   (every token and session of SUB; needs UPSTASH_REDIS_REST_URL/TOKEN)
  gatehouse config check [--env-file FILE]   (the Node origin's environment and config files)
  gatehouse config check --wrangler wrangler.toml [--env NAME] [--var NAME:VALUE]... [--secret NAME]...
${TENANTS_USAGE}`

/** Reads one line from stdin; on a terminal, prompts on stderr and mutes the echo. */
async function readPassword(): Promise<string> {
  const tty = process.stdin.isTTY === true
  const rl = createInterface({
    input: process.stdin,
    output: tty ? process.stderr : undefined,
    terminal: tty,
  })
  if (tty) {
    process.stderr.write('Password: ')
    // Mute everything readline would echo while the password is typed.
    ;(rl as unknown as { _writeToOutput: (s: string) => void })._writeToOutput = () => {}
  }
  try {
    for await (const line of rl) return line
    return ''
  } finally {
    rl.close()
    if (tty) process.stderr.write('\n')
  }
}

async function main(argv: string[]): Promise<unknown> {
  const [group, action, ...rest] = argv
  if (group === 'config' && action === 'check') {
    const report = await configCheck(rest, process.env)
    if (!report.ok) {
      console.error(formatReport(report))
      process.exit(1)
    }
    console.error(formatReport(report))
    return { ok: true, checked: report.checked }
  }
  const keys = group === 'keys' ? keysCommand(action, rest, process.env) : undefined
  if (keys) return keys
  if (group === 'clients' && action === 'add') return clientsAdd(rest)
  if (group === 'users' && action === 'add')
    return usersAdd(rest, readPassword, createScryptHasher())
  if (group === 'users' && action === 'revoke') return usersRevoke(rest, process.env)
  if (group === 'tenants' && action !== undefined)
    return tenants([action, ...rest], { env: process.env })
  throw new UsageError(USAGE)
}

try {
  const out = await main(process.argv.slice(2))
  // undefined: the command printed its own output (tenants export).
  if (out !== undefined) process.stdout.write(`${JSON.stringify(out, null, 2)}\n`)
} catch (e) {
  const usage =
    e instanceof UsageError ||
    (e instanceof Error && 'code' in e && String(e.code).startsWith('ERR_PARSE_ARGS'))
  console.error(`gatehouse: ${e instanceof Error ? e.message : String(e)}`)
  process.exit(usage ? 2 : 1)
}
