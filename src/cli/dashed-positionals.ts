/**
 * Arguments for `node:util` `parseArgs` where a positional may begin with `-`: a kid is base64url
 * (RFC 7638 thumbprints: one in 64 begins with `-`), and `parseArgs` reads `-Xy…` or `--Xy…` as an
 * unknown option ("Unknown option '--Oww…'") unless it comes after `--`. Every argument that starts
 * with `-` but names none of `options` is moved behind a `--`, with the other positionals, in order;
 * a string option keeps its value (`--tenant=acme`). A user's own `--` still ends the options (so a
 * kid that is exactly `--` is given as `-- --`).
 *
 * @example
 * dashedPositionals(['--Oww_j', '--tenant', 'acme'], { tenant: { type: 'string' } })
 * // ['--tenant=acme', '--', '--Oww_j']
 */
export function dashedPositionals(
  args: readonly string[],
  options: Readonly<Record<string, { type: 'string' | 'boolean' }>>,
): string[] {
  const named: string[] = []
  const positionals: string[] = []
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string
    if (arg === '--') {
      positionals.push(...args.slice(i + 1))
      break
    }
    if (!arg.startsWith('-') || arg === '-') {
      positionals.push(arg)
      continue
    }
    const name = arg.startsWith('--') ? (arg.slice(2).split('=')[0] as string) : undefined
    // Own keys only: `--constructor` names no option even though every object has that property.
    const option = name !== undefined && Object.hasOwn(options, name) ? options[name] : undefined
    if (option === undefined) {
      positionals.push(arg)
      continue
    }
    // `--tenant acme`: the value is the next argument, whatever it looks like (joined with `=`, which
    // parseArgs takes even when the value begins with `-`).
    if (option.type === 'string' && !arg.includes('=') && i + 1 < args.length) {
      named.push(`${arg}=${args[++i] as string}`)
    } else named.push(arg)
  }
  return positionals.length === 0 ? named : [...named, '--', ...positionals]
}
