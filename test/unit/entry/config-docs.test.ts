/**
 * docs/configuration.md's variable table is the list in src/core/config-variables.ts, row for row
 * (regenerate with `node --experimental-strip-types scripts/config-reference.ts`), and every variable
 * the code reads is on that list.
 */
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { DOC, END, START, referenceRows } from '../../../scripts/config-reference.ts'
import { VARIABLE_NAMES } from '../../../src/core/config-variables.ts'

const cells = (line: string): string[] =>
  line
    .slice(1, -1)
    .split(/(?<!\\)\|/)
    .map((c) => c.trim().replace(/\\\|/g, '|'))

describe('docs/configuration.md', () => {
  it('lists every variable, with the default and meaning of the one list', () => {
    const doc = readFileSync(DOC, 'utf8')
    const block = doc.slice(doc.indexOf(START) + START.length, doc.indexOf(END))
    const rows = block
      .split('\n')
      .filter((l) => l.startsWith('|'))
      .slice(2)
      .map(cells)
    expect(rows).toEqual(referenceRows())
  })

  it('names no GATEHOUSE_ variable elsewhere in the docs that the list does not have', () => {
    // Deliberate examples: a misspelling, and a name Kubernetes service links inject.
    const known = new Set<string>([...VARIABLE_NAMES, 'GATEHOUSE_ISUER', 'GATEHOUSE_ORIGIN_PORT'])
    for (const file of [
      'configuration',
      'deploy-cloudflare',
      'deploy-kubernetes',
      'security',
      'library',
      'operations',
      'origin',
      'verification',
    ]) {
      const text = readFileSync(new URL(`../../../docs/${file}.md`, import.meta.url), 'utf8')
      for (const [name] of text.matchAll(/GATEHOUSE_[A-Z0-9_]*[A-Z0-9]/g))
        expect(known.has(name) || name === 'GATEHOUSE_ORIGIN_PORT', `${file}.md: ${name}`).toBe(
          true,
        )
    }
  })
})
