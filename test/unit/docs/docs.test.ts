/**
 * The docs cannot rot silently: every code example in README.md and docs/ (TypeScript, JavaScript,
 * TOML) is a file under docs/examples/ that `npm run typecheck` and test/package check and run, and
 * the block must equal its file; every link stays inside the repository and points at a file (and a
 * heading) that exists.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { describe, expect, it } from 'vitest'

const ROOT = new URL('../../../', import.meta.url).pathname
const EXAMPLES = join(ROOT, 'docs/examples')
/** Languages whose blocks must be checked files. */
const CHECKED = new Set(['ts', 'typescript', 'tsx', 'js', 'javascript', 'mjs', 'toml'])
const MARKER = /^<!-- example: (\S+) -->$/

function markdownFiles(): string[] {
  const docs = readdirSync(join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => join(ROOT, 'docs', f))
  const readmes = ['README.md', 'k8s-fallback/README.md', 'examples/spa/README.md']
    .map((f) => join(ROOT, f))
    .filter((f) => existsSync(f))
  return [...readmes, ...docs]
}

interface Block {
  file: string
  line: number
  lang: string
  code: string
  /** The `<!-- example: path -->` line right before the fence, if any. */
  marker: string | undefined
}

function codeBlocks(file: string): Block[] {
  const lines = readFileSync(file, 'utf8').split('\n')
  const blocks: Block[] = []
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\S*)\s*$/.exec(lines[i] as string)
    if (!open) continue
    const end = lines.findIndex((l, j) => j > i && l.startsWith('```'))
    let before = i - 1
    while (before >= 0 && (lines[before] as string).trim() === '') before--
    blocks.push({
      file: relative(ROOT, file),
      line: i + 1,
      lang: open[1] ?? '',
      code: lines.slice(i + 1, end).join('\n'),
      marker: MARKER.exec((lines[before] ?? '').trim())?.[1],
    })
    i = end
  }
  return blocks
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens. */
function anchorsOf(file: string): Set<string> {
  const text = readFileSync(file, 'utf8').replace(/^```[\s\S]*?^```/gm, '')
  return new Set(
    [...text.matchAll(/^#{1,6}\s+(.+)$/gm)].map((m) =>
      (m[1] as string)
        .trim()
        .toLowerCase()
        .replace(/[^\p{L}\p{N}\s_-]/gu, '')
        .replace(/\s/g, '-'),
    ),
  )
}

describe('docs code examples', () => {
  const blocks = markdownFiles().flatMap(codeBlocks)

  it('every TypeScript, JavaScript and TOML block is a checked file, shown exactly', () => {
    const checked = blocks.filter((b) => CHECKED.has(b.lang))
    expect(checked.length).toBeGreaterThanOrEqual(5)
    for (const b of checked) {
      const where = `${b.file}:${b.line}`
      expect(
        /^docs\/examples\/[\w.-]+$/.test(b.marker ?? ''),
        `${where}: precede the block with <!-- example: docs/examples/… -->`,
      ).toBe(true)
      const source = readFileSync(join(ROOT, b.marker as string), 'utf8')
      expect(b.code, `${where} differs from ${b.marker}`).toBe(source.replace(/\n$/, ''))
    }
  })

  it('every file in docs/examples is shown somewhere, and every marker names one', () => {
    const shown = new Set(blocks.flatMap((b) => (b.marker ? [b.marker] : [])))
    const files = readdirSync(EXAMPLES)
      .filter((f) => f !== 'tsconfig.json')
      .map((f) => `docs/examples/${f}`)
    expect(files.filter((f) => !shown.has(f))).toEqual([])
    expect([...shown].filter((m) => !files.includes(m))).toEqual([])
  })
})

describe('docs links', () => {
  const links = markdownFiles().flatMap((file) => {
    const text = readFileSync(file, 'utf8').replace(/^```[\s\S]*?^```/gm, '')
    return [...text.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => ({ file, target: m[1] as string }))
  })

  it('stay inside the repository', () => {
    expect(links.length).toBeGreaterThan(20)
    const outside = links.filter((l) => /^[a-z][a-z0-9+.-]*:|^\/\//i.test(l.target))
    expect(outside.map((l) => `${relative(ROOT, l.file)}: ${l.target}`)).toEqual([])
  })

  it('point at files and headings that exist', () => {
    const broken: string[] = []
    for (const { file, target } of links) {
      const [path, anchor] = target.split('#') as [string, string | undefined]
      const full = path === '' ? file : resolve(dirname(file), path)
      const where = `${relative(ROOT, file)}: ${target}`
      if (!full.startsWith(ROOT) || !existsSync(full)) {
        broken.push(where)
        continue
      }
      if (anchor && full.endsWith('.md') && statSync(full).isFile() && !anchorsOf(full).has(anchor))
        broken.push(`${where} (no such heading)`)
    }
    expect(broken).toEqual([])
  })
})
