/**
 * A kid that begins with `-` (one base64url thumbprint in 64) reaches `keys revoke|retire` as the
 * positional it is, not as an unknown option.
 */
import { parseArgs } from 'node:util'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { dashedPositionals } from '../../../src/cli/dashed-positionals.ts'

const options = { force: { type: 'boolean' }, tenant: { type: 'string' } } as const
const parse = (args: string[]) =>
  parseArgs({
    args: dashedPositionals(args, options),
    options,
    allowPositionals: true,
    strict: true,
  })

describe('dashedPositionals', () => {
  it('keeps a kid that begins with - or -- as a positional, beside options in any order', () => {
    const kid = '--Oww_jcWkUqusCdn9IsL68yuKhccPudhCVoACf519s'
    expect(() => parseArgs({ args: [kid], options, allowPositionals: true, strict: true })).toThrow(
      /Unknown option/,
    )
    for (const args of [
      [kid, '--tenant', 'acme'],
      ['--tenant', 'acme', kid],
      ['--tenant=acme', kid, '--force'],
    ]) {
      const { values, positionals } = parse(args)
      expect(positionals).toEqual([kid])
      expect(values.tenant).toBe('acme')
    }
    expect(parse(['-x']).positionals).toEqual(['-x'])
    // Names every object inherits are not options either: `--constructor` is a kid here.
    expect(parse(['--constructor', '--toString']).positionals).toEqual([
      '--constructor',
      '--toString',
    ])
  })

  it('leaves a string option its value, even one that begins with -, and honours the user’s --', () => {
    expect(parse(['--tenant', '-acme', 'k']).values.tenant).toBe('-acme')
    expect(parse(['--', '--tenant', 'x']).positionals).toEqual(['--tenant', 'x'])
    expect(dashedPositionals(['--force'], options)).toEqual(['--force'])
  })

  it('any base64url kid comes back as the one positional, with the tenant', () => {
    // `--` alone is the end of options, for parseArgs as for every POSIX tool.
    const kid = fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/).filter((k) => k !== '--')
    fc.assert(
      fc.property(kid, fc.boolean(), (k, before) => {
        const args = before ? ['--tenant', 't1', k] : [k, '--tenant', 't1']
        const { values, positionals } = parse(args)
        expect(positionals).toEqual([k])
        expect(values.tenant).toBe('t1')
      }),
    )
  })
})
