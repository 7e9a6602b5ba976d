#!/usr/bin/env node
/**
 * The `gatehouse` command (the package's bin; in this repository `npm run gatehouse -- …`). Each
 * command prints one JSON value on stdout — the entry to add to the origin's config, or the result —
 * and nothing else there, so its output can be piped or redirected; notes and a confidential
 * client's secret go to stderr. `--help` anywhere prints the usage on stdout and exits 0.
 *
 * Exit codes: 0 ok (and `--help`), 1 the command failed, 2 usage error.
 *
 * @example gatehouse clients add --id svc --type confidential --audience https://api.example.com > svc.json
 */
import { writeFile } from 'node:fs/promises'
import { createInterface } from 'node:readline'
import { unknownNameMessage } from '../core/did-you-mean.ts'
import { createScryptHasher } from '../entry/password.ts'
import { clientsAdd, clientsUpdate } from './clients.ts'
import { configCheck, formatReport } from './config-check.ts'
import { keysCommand, UsageError } from './keys.ts'
import { policiesCommand } from './policies.ts'
import { usersRevoke } from './revoke.ts'
import { tenants } from './tenants.ts'
import { usersAdd } from './users.ts'

/** What a command hands back: the JSON for stdout (if any), lines for stderr, the exit code (0). */
interface CommandOutput {
  stdout?: unknown
  notes?: string[]
  exitCode?: number
}

interface Command {
  name: string
  usage: string
  summary: string
  run(args: string[]): Promise<CommandOutput>
}

/** `keys <verb>` (keys.ts; the L2 verbs read the origin's environment, docs/keys.md). */
const keys = (verb: string, options: string, summary: string): Command => ({
  name: `keys ${verb}`,
  usage: `keys ${verb}${options ? ` ${options}` : ''}`,
  summary,
  run: async (args) => ({ stdout: await keysCommand(verb, args, process.env) }),
})

/** `tenants <verb>` (tenants.ts, docs/tenancy.md; needs the origin's L2). */
const tenant = (verb: string, options: string, summary: string): Command => ({
  name: `tenants ${verb}`,
  usage: `tenants ${verb}${options ? ` ${options}` : ''}`,
  summary,
  // undefined for `export`, which writes its own lines.
  run: async (args) => ({ stdout: await tenants([verb, ...args], { env: process.env }) }),
})

/** `policies <verb>` (policies.ts, docs/policy.md; publish and show need the origin's L2). */
const policies = (verb: string, options: string, summary: string): Command => ({
  name: `policies ${verb}`,
  usage: `policies ${verb}${options ? ` ${options}` : ''}`,
  summary,
  run: async (args) => {
    const { output, exitCode } = await policiesCommand([verb, ...args], process.env)
    return { stdout: output, exitCode }
  },
})

const COMMANDS: Command[] = [
  keys(
    'generate',
    '[--alg ES256|ES384|EdDSA|RS256|PS256] [--status active|next] [--config FILE]',
    `A private signing JWK for the config's "keys" array (optional: the origins create the first key
in L2). Active unless --config names a config that already has an active key (then next).`,
  ),
  keys(
    'generate-kek',
    '[--kid KID]',
    'A key-encryption key for the keys file\'s "keyEncryptionKeys" (docs/keys.md).',
  ),
  keys(
    'list',
    '[--tenant ID]',
    `The key set in L2, every key's status and times. Needs the origin's environment. Each L2 verb
takes --tenant ID: that tenant's key set instead of the default issuer's (docs/tenancy.md).`,
  ),
  keys(
    'rotate',
    '[--alg ALG] [--activate-in SECONDS] [--tenant ID]',
    "A new key signs after the lead (default: twice the verifiers' cache lifetime).",
  ),
  keys(
    'retire',
    'KID [--force] [--tenant ID]',
    'Out of the JWKS; refused while its tokens can still be live.',
  ),
  keys(
    'revoke',
    'KID [--tenant ID]',
    'A compromised key: out at once, every edge refuses its tokens.',
  ),
  {
    name: 'clients add',
    usage: `clients add --id ID --audience URI... [--type public|confidential] [--name NAME]
      [--redirect-uri URI]... [--post-logout-redirect-uri URI]... [--origin ORIGIN]...
      [--grant G]... [--scope S]... [--default-scope S]... [--secret-file PATH]
      [--require-dpop] [--dpop-nonce]`,
    summary: `A client for the config's "clients" array. --audience is the API its tokens are for (the
GATEHOUSE_AUDIENCE verifiers check); without it GATEHOUSE_AUDIENCE from the environment is used.
A confidential client's secret is shown once on stderr, or written to --secret-file (mode 0600).
--require-dpop: every token request needs a DPoP proof; --dpop-nonce: with the server's nonce.`,
    run: async (args) => {
      const result = await clientsAdd(args, process.env)
      const notes: string[] = []
      if (result.audienceFromEnv !== undefined)
        notes.push(`audience ${result.audienceFromEnv} (from GATEHOUSE_AUDIENCE)`)
      if (result.clientSecret !== undefined && result.secretFile !== undefined) {
        // 'wx': never overwrite an existing file (it may hold another client's secret).
        await writeFile(result.secretFile, `${result.clientSecret}\n`, { flag: 'wx', mode: 0o600 })
        notes.push(`client secret written to ${result.secretFile}; the config keeps only its hash`)
      } else if (result.clientSecret !== undefined) {
        notes.push(
          'client secret (shown this once; the config keeps only its hash):',
          result.clientSecret,
        )
      }
      return { stdout: result.client, notes }
    },
  },
  {
    name: 'clients update',
    usage: `clients update --id ID [--config FILE] [--require-dpop | --no-require-dpop]
      [--dpop-nonce | --no-dpop-nonce]`,
    summary: `Turns a client's DPoP settings on or off in the origin's config (--config, default
GATEHOUSE_CONFIG) and prints the whole config; every other member is left as it was. The origin
reads its config at start: restart it to apply.`,
    run: async (args) => {
      const result = await clientsUpdate(args, process.env)
      return {
        stdout: result.config,
        notes: [
          `client ${String(result.client['id'])} in ${result.configFile}: requireDpop ${result.client['requireDpop'] === true}, dpopNonce ${result.client['dpopNonce'] === true}; restart the origin to apply`,
        ],
      }
    },
  },
  {
    name: 'users add',
    usage: 'users add --username NAME [--sub ID] [--name NAME] [--email EMAIL]',
    summary: `A user for the config's "users" array. The password is read from stdin (first line), or
prompted for without echo on a terminal; never from the command line.`,
    run: async (args) => ({ stdout: await usersAdd(args, readPassword, createScryptHasher()) }),
  },
  {
    name: 'config check',
    usage: `config check [--env-file FILE]
      config check --wrangler wrangler.toml [--env NAME] [--var NAME:VALUE]... [--secret NAME]...`,
    summary: `Validates a configuration as the service will at start and prints every problem at once
(names and rules, never values), exit 1 when there is one: the Node origin's environment and the
files it names, or a Worker's [vars] / [env.NAME.vars] with the secrets that will be set.`,
    run: async (args) => {
      const report = await configCheck(args, process.env)
      return {
        notes: [formatReport(report)],
        ...(report.ok ? { stdout: { ok: true, checked: report.checked } } : { exitCode: 1 }),
      }
    },
  },
  {
    name: 'users revoke',
    usage: 'users revoke SUB',
    summary: `Ends every token and session of SUB at every edge within the revocation bound. Needs the
origin's L2: UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN.`,
    run: async (args) => ({ stdout: await usersRevoke(args, process.env) }),
  },
  tenant('add', 'FILE|-', 'Adds a tenant from its definition (JSON; see docs/tenancy.md).'),
  tenant('update', 'FILE|-', "Replaces a tenant's definition."),
  tenant('list', '', 'Every tenant.'),
  tenant('show', 'ID', "One tenant's definition."),
  tenant('remove', 'ID', 'Takes a tenant out of service (its data stays until `tenants delete`).'),
  tenant('export', 'ID', 'Every key of the tenant, JSON lines on stdout.'),
  tenant('delete', 'ID --yes', 'Erases every key of the tenant.'),
  tenant('admin-secret', '', 'A new admin credential for the tenant admin API.'),
  policies(
    'validate',
    '--schema SCHEMA FILE...',
    'Parses a Cedar policy set and validates it against the schema (docs/policy.md).',
  ),
  policies('test', 'CASES.json', 'Runs request → expected decision cases against a policy set.'),
  policies(
    'publish',
    '--schema SCHEMA [--tenant T] [--expect-version N] FILE...',
    `Validates and publishes a tenant's policy set to L2 as the next version (atomic). Needs the
origin's L2: UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN.`,
  ),
  policies(
    'show',
    '[--tenant T] [--version N] [--json]',
    "A tenant's policy set in L2 (the head by default); --json: the document as stored.",
  ),
]

const NAMES = COMMANDS.map((c) => c.name)

const indent = (text: string, by: string): string => text.replaceAll('\n', `\n${by}`)

const USAGE = `usage: gatehouse <command> [options]

${COMMANDS.map((c) => `  gatehouse ${indent(c.usage, '  ')}\n      ${indent(c.summary, '      ')}`).join('\n\n')}

Each command prints one JSON value on stdout (docs/origin.md shows how to merge it into the
config). gatehouse --help, gatehouse <command> --help: this text.`

const commandUsage = (c: Command): string => `usage: gatehouse ${c.usage}\n\n${c.summary}\n`

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

const wantsHelp = (argv: string[]): boolean =>
  argv.some((a) => a === '--help' || a === '-h') || argv[0] === 'help'

/** Runs argv; returns the exit code. */
async function main(argv: string[]): Promise<number> {
  const command = COMMANDS.find((c) => argv.slice(0, 2).join(' ') === c.name)
  if (wantsHelp(argv)) {
    process.stdout.write(command ? commandUsage(command) : `${USAGE}\n`)
    return 0
  }
  if (command === undefined) {
    const given = argv.slice(0, 2).join(' ')
    const problem = given
      ? `"${given}" ${unknownNameMessage(given, NAMES, 'command')}`
      : 'no command given'
    process.stderr.write(`gatehouse: ${problem}\n\n${USAGE}\n`)
    return 2
  }
  try {
    const output = await command.run(argv.slice(2))
    for (const note of output.notes ?? []) process.stderr.write(`${note}\n`)
    if (output.stdout !== undefined)
      process.stdout.write(`${JSON.stringify(output.stdout, null, 2)}\n`)
    return output.exitCode ?? 0
  } catch (e) {
    const usage =
      e instanceof UsageError ||
      (e instanceof Error && 'code' in e && String(e.code).startsWith('ERR_PARSE_ARGS'))
    process.stderr.write(
      `gatehouse ${command.name}: ${e instanceof Error ? e.message : String(e)}\n`,
    )
    if (usage) process.stderr.write(`\n${commandUsage(command)}`)
    return usage ? 2 : 1
  }
}

process.exitCode = await main(process.argv.slice(2))
