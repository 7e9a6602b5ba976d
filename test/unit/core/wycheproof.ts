/**
 * Loads Project Wycheproof vectors from /work/shared/vectors/wycheproof (never copied into the repo,
 * see that folder's README). Resolved from this file: test/unit/core → repo root → ../shared.
 */
import { readFileSync } from 'node:fs'

export const WYCHEPROOF_DIR = new URL('../../../../shared/vectors/wycheproof/', import.meta.url)

export type WycheproofResult = 'valid' | 'invalid' | 'acceptable'

export interface WycheproofFile<G> {
  numberOfTests: number
  testGroups: G[]
}

export function loadVectors<G>(name: string): WycheproofFile<G> {
  return JSON.parse(readFileSync(new URL(name, WYCHEPROOF_DIR), 'utf8')) as WycheproofFile<G>
}

export const hexToBytes = (hex: string): Uint8Array => Uint8Array.from(Buffer.from(hex, 'hex'))
