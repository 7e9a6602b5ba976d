// Binary snapshot of a revocation filter, the form in which the origin ships it to the edge. All
// numbers little-endian:
//
//   offset size
//        0    4  magic "GHSB" (Gatehouse split-block)
//        4    1  format version, 1
//        5    1  hash function, 1 = XXH64 seed 0 of the id's UTF-8 bytes
//        6    2  reserved, 0
//        8    4  u32 block count, 1 ..= MAX_BLOCKS
//       12    4  u32 number of ids inserted (duplicates counted; saturates)
//       16    8  u64 Redis stream id, milliseconds part
//       24    8  u64 Redis stream id, sequence part
//       32  32n  the n blocks, exactly as src/revocation/filter-layout.ts lays them out
//
// The parser is strict: any byte sequence other than a well-formed snapshot is rejected with a
// RevocationSnapshotError before a single block is read, so hostile bytes cannot size memory or
// index outside it.

import { BLOCK_BYTES, MAX_BLOCKS } from './filter-layout.ts'

export const SNAPSHOT_HEADER_BYTES = 32
const MAGIC = 0x42534847 // "GHSB" read as a little-endian u32
const VERSION = 1
const HASH_XXH64 = 1
const U64_MAX = (1n << 64n) - 1n

/** A snapshot or stream id that is not well formed. Its message never echoes the input bytes. */
export class RevocationSnapshotError extends Error {
  readonly code = 'ERR_REVOCATION_SNAPSHOT'
  override readonly name = 'RevocationSnapshotError'
}

/** The parts of a parsed snapshot; `blocks` is a view into the snapshot, not a copy. */
export interface ParsedSnapshot {
  readonly numBlocks: number
  readonly numIds: number
  readonly streamId: string
  readonly blocks: Uint8Array
}

const STREAM_ID = /^(\d{1,20})-(\d{1,20})$/

/**
 * Splits a Redis stream id (`<milliseconds>-<sequence>`, both u64) into its two numbers.
 *
 * @example
 * parseStreamId('1700000000000-3') // [1700000000000n, 3n]
 */
export function parseStreamId(streamId: string): [bigint, bigint] {
  const match = STREAM_ID.exec(streamId)
  const ms = match?.[1] === undefined ? undefined : BigInt(match[1])
  const seq = match?.[2] === undefined ? undefined : BigInt(match[2])
  if (ms === undefined || seq === undefined || ms > U64_MAX || seq > U64_MAX) {
    throw new RevocationSnapshotError(
      'stream id must be "<milliseconds>-<sequence>" with u64 parts',
    )
  }
  return [ms, seq]
}

/**
 * Builds a snapshot from a filter's block bytes.
 *
 * @example
 * const bytes = encodeSnapshot(filterBlocks, 12, '1700000000000-0')
 */
export function encodeSnapshot(blocks: Uint8Array, numIds: number, streamId: string): Uint8Array {
  const [ms, seq] = parseStreamId(streamId)
  const out = new Uint8Array(SNAPSHOT_HEADER_BYTES + blocks.byteLength)
  const view = new DataView(out.buffer)
  view.setUint32(0, MAGIC, true)
  view.setUint8(4, VERSION)
  view.setUint8(5, HASH_XXH64)
  view.setUint32(8, blocks.byteLength / BLOCK_BYTES, true)
  view.setUint32(12, Math.min(numIds, 0xffffffff), true)
  view.setBigUint64(16, ms, true)
  view.setBigUint64(24, seq, true)
  out.set(blocks, SNAPSHOT_HEADER_BYTES)
  return out
}

/**
 * Validates a snapshot and returns its parts. Throws RevocationSnapshotError on anything else: wrong
 * type, short or long input, bad magic, unknown version or hash, non-zero reserved bytes, a block
 * count of 0 or above MAX_BLOCKS, or a length that does not match the block count.
 *
 * @example
 * const { numBlocks, streamId, blocks } = parseSnapshot(bytesFromOrigin)
 */
export function parseSnapshot(snapshot: Uint8Array): ParsedSnapshot {
  if (!(snapshot instanceof Uint8Array)) {
    throw new RevocationSnapshotError('revocation snapshot must be a Uint8Array')
  }
  if (snapshot.byteLength < SNAPSHOT_HEADER_BYTES + BLOCK_BYTES) {
    throw new RevocationSnapshotError('revocation snapshot is shorter than a header and one block')
  }
  const view = new DataView(snapshot.buffer, snapshot.byteOffset, snapshot.byteLength)
  if (view.getUint32(0, true) !== MAGIC) {
    throw new RevocationSnapshotError('revocation snapshot has a bad magic number')
  }
  if (view.getUint8(4) !== VERSION) {
    throw new RevocationSnapshotError('revocation snapshot has an unsupported version')
  }
  if (view.getUint8(5) !== HASH_XXH64) {
    throw new RevocationSnapshotError('revocation snapshot uses an unsupported hash function')
  }
  if (view.getUint16(6, true) !== 0) {
    throw new RevocationSnapshotError('revocation snapshot has non-zero reserved bytes')
  }
  const numBlocks = view.getUint32(8, true)
  if (numBlocks === 0 || numBlocks > MAX_BLOCKS) {
    throw new RevocationSnapshotError(`revocation snapshot block count must be 1..${MAX_BLOCKS}`)
  }
  if (snapshot.byteLength !== SNAPSHOT_HEADER_BYTES + numBlocks * BLOCK_BYTES) {
    throw new RevocationSnapshotError('revocation snapshot length does not match its block count')
  }
  return {
    numBlocks,
    numIds: view.getUint32(12, true),
    streamId: `${view.getBigUint64(16, true)}-${view.getBigUint64(24, true)}`,
    blocks: snapshot.subarray(SNAPSHOT_HEADER_BYTES),
  }
}
