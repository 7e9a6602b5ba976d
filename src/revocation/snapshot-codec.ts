// The filter snapshot travels through L2's string store as base64 (Upstash's REST API carries JSON
// strings, so raw bytes would not survive). Runtime-free: btoa/atob exist in Workers and Node alike.

import { loadRevocationFilter } from './filter.ts'
import type { RevocationFilter, SbbfBackend } from './filter.ts'

const CHUNK = 0x8000 // String.fromCharCode(...args) stays far below engine argument limits

/**
 * Base64 (RFC 4648 §4, padded) of snapshot bytes.
 *
 * @example await store.set('rev:snapshot', encodeSnapshotText(filter.toSnapshot(streamId)))
 */
export function encodeSnapshotText(bytes: Uint8Array): string {
  let binary = ''
  for (let i = 0; i < bytes.length; i += CHUNK) {
    binary += String.fromCharCode(...bytes.subarray(i, i + CHUNK))
  }
  return btoa(binary)
}

/**
 * Parses stored text back into a filter. Throws on anything that is not base64 of a well-formed
 * snapshot (atob's DOMException, or RevocationSnapshotError from the strict parser).
 *
 * @example const { filter, streamId } = decodeSnapshotText(await store.get('rev:snapshot'), backend)
 */
export function decodeSnapshotText(
  text: string,
  backend?: SbbfBackend,
): { filter: RevocationFilter; streamId: string } {
  const binary = atob(text)
  const bytes = new Uint8Array(binary.length)
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i)
  return loadRevocationFilter(bytes, backend === undefined ? {} : { backend })
}
