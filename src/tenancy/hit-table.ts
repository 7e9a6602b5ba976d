/**
 * What an L1 hit needs to know about its tenant, for every tenant of one edge in one dense array
 * (docs/tenancy.md, "At the edge"). A hit must know that the tenant is still live (not changed or
 * removed) and whether its revocation filter lets the token pass without probing. Read from each
 * tenant's own objects (its entry and its revocation gate), a hit spread over many tenants touched
 * a few cache lines per tenant, far apart in the heap: a few percent of a ~300 ns hit at 64 tenants
 * (bench:tenancy). Here both answers are one number per tenant, side by side with every other
 * tenant's, so a hit over many tenants reads the same few cache lines as a hit over one.
 *
 * A tenant holds a slot while it is live; each slot is two numbers:
 * - its generation, bumped when the slot is closed (the tenant dropped), so a cached token that
 *   names a closed slot, or the same slot reused by another tenant, never passes here;
 * - its state: `SLOW` (go through the tenant's own objects: its filter must be synced first, or the
 *   tenant is gone), `PASS_ALL` (the filter holds no id: every token of the tenant passes), or the
 *   filter's epoch (a token whose probes all missed at that epoch passes).
 *
 * The table only ever says "passes" or "ask the tenant": every other answer (a revoked token, a
 * stale filter, a removed tenant) comes from the tenant's own objects on the slow path.
 *
 * @example
 * const table = new TenantHitTable()
 * const slot = table.open()
 * table.publish(slot, PASS_ALL)
 * table.passes(slot, table.generation(slot), -1) // true
 * table.close(slot) // the tenant dropped: tokens that named the slot go the slow way
 */

/** Every token of the tenant passes (its filter is current and empty). */
export const PASS_ALL = -1
/** Ask the tenant's own objects (filter to sync, or the tenant is gone). */
export const SLOW = -2

export class TenantHitTable {
  /** Slot i: generation at 2i, state at 2i + 1. */
  private words = new Float64Array(2 * 16)
  private used = 0
  private readonly free: number[] = []

  /** A slot for a tenant that just became live; its state is `SLOW` until published. */
  open(): number {
    const slot = this.free.pop() ?? this.used++
    if (2 * slot + 1 >= this.words.length) {
      const grown = new Float64Array(this.words.length * 2)
      grown.set(this.words)
      this.words = grown
    }
    this.words[2 * slot + 1] = SLOW
    return slot
  }

  /** The slot's current generation (a cached token remembers it). */
  generation(slot: number): number {
    return this.words[2 * slot] as number
  }

  /** The tenant's revocation state changed: `SLOW`, `PASS_ALL` or the filter's epoch (≥ 0). */
  publish(slot: number, state: number): void {
    this.words[2 * slot + 1] = state
  }

  /** The tenant is gone: no token naming this slot and generation passes here again. */
  close(slot: number): void {
    this.words[2 * slot] = (this.words[2 * slot] as number) + 1
    this.words[2 * slot + 1] = SLOW
    this.free.push(slot)
  }

  /**
   * True when a token of the tenant in `slot` (at `generation`), whose probes last all missed at
   * filter epoch `missedAt` (-1: never probed), passes now without reading the tenant's objects.
   */
  passes(slot: number, generation: number, missedAt: number): boolean {
    const words = this.words
    if (words[2 * slot] !== generation) return false
    const state = words[2 * slot + 1]
    return state === PASS_ALL || state === missedAt
  }

  /** Slots in use (open), for tests. */
  get size(): number {
    return this.used - this.free.length
  }
}
