/**
 * The origin config's `keyRotation` and `keyEncryptionKeys` sections (docs/keys.md): the schedule of
 * the key lifecycle and the key-encryption keys under which private signing keys are stored in L2.
 * Parsed with the rest of the config (config.ts); kept here so the lifecycle's rules live in one file.
 *
 * Defaults and why (docs/keys.md has the full argument):
 * - `periodSeconds` 30 days: a key signs for a month. Cloudflare Access rotates every 6 weeks; ours is
 *   shorter because a rotation costs nothing here (no restart, no operator) and a shorter period
 *   bounds what a silently leaked key can sign.
 * - `prePublishSeconds` 7 days: a key is in the JWKS a week before it signs, Cloudflare's overlap.
 *   Our edges need only twice `cacheSeconds`; the week covers third-party verifiers that cache JWKS
 *   for hours or days, and lets an edge cut off from L2 for up to a week keep verifying new tokens.
 * - `retainSeconds` 1 day: a superseded key stays published a day after it stops signing; the floor
 *   is the longest token lifetime + 120 s (leeway and clock skew), and the day covers ID tokens
 *   that come back as `id_token_hint` at logout.
 * - `cacheSeconds` 300: `max-age` of the JWKS and discovery, and the longest a verifier is assumed to
 *   keep a key set (edges re-read L2 every 60 s; GATEHOUSE_JWKS_REFRESH_SECONDS defaults to 300).
 * - `checkSeconds` 10: how often every origin re-reads the key set (the bound for a change to reach
 *   every origin) and, when a step is due, tries the lease.
 */
import { z } from 'zod'
import { SIGNING_ALGS } from '../keys.ts'
import type { SigningAlg } from '../types.ts'

const DAY = 86_400
const seconds = (min: number, max: number, fallback: number) =>
  z.number().int().min(min).max(max).default(fallback)

export const keyRotationSchema = z
  .object({
    /** false: no scheduled steps (rotation only through `gatehouse keys rotate`). */
    scheduled: z.boolean().default(true),
    /** Algorithm of the keys the schedule generates. */
    alg: z.enum(SIGNING_ALGS as [SigningAlg, ...SigningAlg[]]).default('ES256'),
    periodSeconds: seconds(2, 366 * DAY, 30 * DAY),
    prePublishSeconds: seconds(2, 90 * DAY, 7 * DAY),
    retainSeconds: seconds(1, 90 * DAY, DAY),
    cacheSeconds: seconds(1, DAY, 300),
    checkSeconds: seconds(1, 3600, 10),
  })
  .strict()
  .superRefine((r, ctx) => {
    // A key must be in every cache before it signs: a cache refreshed just before publication
    // serves the old set for up to cacheSeconds more.
    if (r.prePublishSeconds < 2 * r.cacheSeconds)
      ctx.addIssue({
        code: 'custom',
        path: ['prePublishSeconds'],
        message: 'must be at least twice cacheSeconds',
      })
    // An origin that has not read the set for half the lead stops minting (it could miss a
    // successor); it reads every checkSeconds, and catches up before signing once two are overdue.
    if (r.prePublishSeconds < 4 * r.checkSeconds)
      ctx.addIssue({
        code: 'custom',
        path: ['prePublishSeconds'],
        message: 'must be at least four times checkSeconds',
      })
    if (r.prePublishSeconds >= r.periodSeconds)
      ctx.addIssue({
        code: 'custom',
        path: ['prePublishSeconds'],
        message: 'must be shorter than periodSeconds',
      })
  })

export type KeyRotationConfig = z.output<typeof keyRotationSchema>

/**
 * A key-encryption key as an RFC 7518 §6.4 `oct` JWK of 256 bits (`gatehouse keys generate-kek`).
 * The first one listed wraps new keys; every one listed unwraps (KEK rotation: add the new one first,
 * drop the old one after one rotation period plus the retention).
 */
export const keyEncryptionKeySchema = z
  .object({
    kty: z.literal('oct'),
    kid: z.string().regex(/^[\x21-\x7e]{1,128}$/, 'must be 1-128 printable ASCII characters'),
    k: z.string().regex(/^[A-Za-z0-9_-]{43}$/, 'must be 256 bits, base64url (43 characters)'),
    alg: z.literal('A256GCM').optional(),
    use: z.literal('enc').optional(),
  })
  .strict()

export type KeyEncryptionKeyConfig = z.output<typeof keyEncryptionKeySchema>

/** Extra clock skew between any two machines the retention floor covers, on top of the leeway. */
export const SKEW_ALLOWANCE_SECONDS = 60
/** The verifiers' largest clock leeway (GATEHOUSE_CLOCK_LEEWAY_SECONDS is at most 60). */
export const MAX_LEEWAY_SECONDS = 60

/**
 * The longest a token can be accepted after it was signed: its lifetime, the verifiers' leeway and
 * the skew allowance. A retiring key stays published at least this long.
 *
 * @example tokenLifetimeBound({ accessTokenTtlSeconds: 600, idTokenTtlSeconds: 600 }) // 720
 */
export const tokenLifetimeBound = (tokens: {
  accessTokenTtlSeconds: number
  idTokenTtlSeconds: number
}): number =>
  Math.max(tokens.accessTokenTtlSeconds, tokens.idTokenTtlSeconds) +
  MAX_LEEWAY_SECONDS +
  SKEW_ALLOWANCE_SECONDS
