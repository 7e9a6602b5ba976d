/**
 * `gatehouse keys generate [--alg ES256] [--status next]`: a new private signing JWK for the config's
 * `keys` array. Rotation (DESIGN.md, Keys): add it as `next`, deploy (it is published before it signs),
 * then mark it `active` and the old one `retiring`; after the longest token lifetime, `retired`.
 *
 * @example gatehouse keys generate --alg EdDSA --status next
 */
import { parseArgs } from 'node:util'
import { SIGNING_ALGS as ALGS } from '../core/keys.ts'
import type { KeyStatus, SigningAlgorithm } from '../core/oauth/config.ts'
import { generateSigningKey } from '../core/oauth/keys.ts'

const STATUSES: readonly KeyStatus[] = ['next', 'active']

export async function keysGenerate(args: string[]): Promise<Record<string, unknown>> {
  const { values } = parseArgs({
    args,
    options: {
      alg: { type: 'string', default: 'ES256' },
      status: { type: 'string', default: 'next' },
    },
    strict: true,
  })
  const alg = values.alg as SigningAlgorithm
  const status = values.status as KeyStatus
  if (!ALGS.includes(alg)) throw new UsageError(`--alg must be one of ${ALGS.join(', ')}`)
  if (!STATUSES.includes(status)) throw new UsageError('--status must be next or active')
  return { ...(await generateSigningKey(alg, status)) }
}

export class UsageError extends Error {
  override readonly name = 'UsageError'
}
