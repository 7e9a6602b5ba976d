/**
 * Loads the Project Wycheproof vectors vendored in test/vectors/wycheproof/ (source commit and licence
 * in that folder's README), so any clone runs them.
 */
import { readFileSync } from 'node:fs'

export const WYCHEPROOF_DIR = new URL('../../vectors/wycheproof/', import.meta.url)

export type WycheproofResult = 'valid' | 'invalid' | 'acceptable'

export interface WycheproofFile<G> {
  numberOfTests: number
  testGroups: G[]
}

export function loadVectors<G>(name: string): WycheproofFile<G> {
  return JSON.parse(readFileSync(new URL(name, WYCHEPROOF_DIR), 'utf8')) as WycheproofFile<G>
}

export const hexToBytes = (hex: string): Uint8Array => Uint8Array.from(Buffer.from(hex, 'hex'))
