/**
 * "Did you mean" hints for unknown names (a misspelled variable, an unknown option or config field):
 * the closest known name by edit distance, when it is close enough to be a typo.
 *
 * @example suggestName('GATEHOUSE_ISUER', ['GATEHOUSE_ISSUER', 'PORT']) // 'GATEHOUSE_ISSUER'
 */
import { distance } from 'fastest-levenshtein'

/** The known name closest to `name`, if at most a third of it (and at least 1 edit) differs. */
export function suggestName(name: string, known: Iterable<string>): string | undefined {
  const limit = Math.max(1, Math.floor(name.length / 3))
  let best: string | undefined
  let bestDistance = Infinity
  for (const candidate of known) {
    const d = distance(name.toUpperCase(), candidate.toUpperCase())
    if (d < bestDistance) {
      best = candidate
      bestDistance = d
    }
  }
  return bestDistance <= limit ? best : undefined
}

/**
 * The message for an unknown name: `is not a known <what>` plus the hint when there is one.
 *
 * @example unknownNameMessage('audiance', ['audience'], 'option') // 'is not a known option (did you mean "audience"?)'
 */
export function unknownNameMessage(name: string, known: Iterable<string>, what: string): string {
  const hint = suggestName(name, known)
  return `is not a known ${what}${hint === undefined ? '' : ` (did you mean "${hint}"?)`}`
}
