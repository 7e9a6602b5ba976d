/**
 * Writes generated text between two marker comments of a Markdown file, so `npm run bench:report` can
 * refresh the results table in docs/benchmarks.md from bench/results/ (which git ignores: a bench run
 * leaves the tree clean; only the explicit report command changes a tracked file).
 */
import { readFileSync, writeFileSync } from 'node:fs'

/**
 * Replaces whatever lies between `<!-- <name>:start -->` and `<!-- <name>:end -->` with `content`.
 * Throws when the markers are missing, so a renamed section fails loudly instead of writing nothing.
 *
 * @example replaceSection(new URL('docs/benchmarks.md', root), 'bench-summary', table)
 */
export function replaceSection(file: URL, name: string, content: string): void {
  const text = readFileSync(file, 'utf8')
  const start = `<!-- ${name}:start -->`
  const end = `<!-- ${name}:end -->`
  const from = text.indexOf(start)
  const to = text.indexOf(end)
  if (from === -1 || to < from) throw new Error(`${file.pathname}: no ${start} … ${end} section`)
  const next = `${text.slice(0, from + start.length)}\n${content.trim()}\n${text.slice(to)}`
  writeFileSync(file, next)
}

/** A Markdown table; cells have their `|` escaped. */
export function markdownTable(header: string[], rows: string[][], align: ('l' | 'r')[]): string {
  const cell = (s: string) => s.replaceAll('|', '\\|')
  const line = (cells: string[]) => `| ${cells.map(cell).join(' | ')} |`
  const rule = `| ${align.map((a) => (a === 'r' ? '--:' : '---')).join(' | ')} |`
  return [line(header), rule, ...rows.map(line)].join('\n')
}
