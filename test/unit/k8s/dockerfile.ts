/**
 * A Dockerfile reader for the tests: instructions per build stage (comments dropped, `\` line
 * continuations joined, `ARG` defaults substituted into `FROM`), and the container's argv from the
 * final stage's exec-form ENTRYPOINT + CMD — what the rollout test starts, so it runs the origin
 * exactly as the image would.
 *
 * @example
 * const df = parseDockerfile(readFileSync('k8s-fallback/Dockerfile', 'utf8'))
 * containerArgv(df) // ['node', 'dist/entry/node.js']
 */

export interface Instruction {
  op: string
  args: string
}

export interface Stage {
  /** The image reference after ARG substitution. */
  from: string
  name: string | undefined
  instructions: Instruction[]
}

export interface Dockerfile {
  args: Record<string, string>
  stages: Stage[]
}

export function parseDockerfile(text: string): Dockerfile {
  const lines: string[] = []
  let pending = ''
  for (const raw of text.split('\n')) {
    const line = raw.trim()
    if (line.startsWith('#') || (line === '' && pending === '')) continue
    if (line.endsWith('\\')) pending += `${line.slice(0, -1)} `
    else {
      lines.push(`${pending}${line}`.trim())
      pending = ''
    }
  }
  const args: Record<string, string> = {}
  const stages: Stage[] = []
  for (const line of lines.filter((l) => l !== '')) {
    const at = line.search(/\s/)
    const op = (at === -1 ? line : line.slice(0, at)).toUpperCase()
    const rest = at === -1 ? '' : line.slice(at + 1).trim()
    if (op === 'ARG' && stages.length === 0) {
      const [name, value] = rest.split('=', 2) as [string, string | undefined]
      args[name] = value ?? ''
    } else if (op === 'FROM') {
      const [image = '', as, name] = rest.split(/\s+/)
      const from = image.replace(/\$\{(\w+)\}|\$(\w+)/g, (_, a?: string, b?: string) => {
        const v = args[(a ?? b) as string]
        if (v === undefined) throw new Error(`Dockerfile: FROM uses undefined ARG ${a ?? b ?? ''}`)
        return v
      })
      stages.push({ from, name: as?.toUpperCase() === 'AS' ? name : undefined, instructions: [] })
    } else {
      const stage = stages.at(-1)
      if (!stage) throw new Error(`Dockerfile: ${op} before FROM`)
      stage.instructions.push({ op, args: rest })
    }
  }
  return { args, stages }
}

/** The exec-form JSON array of an ENTRYPOINT/CMD; shell form is refused (signals would go to sh). */
export function execForm(instruction: Instruction): string[] {
  const parsed: unknown = JSON.parse(instruction.args)
  if (!Array.isArray(parsed) || !parsed.every((a) => typeof a === 'string'))
    throw new Error(`Dockerfile: ${instruction.op} must use the exec form ["..."]`)
  return parsed
}

/** ENTRYPOINT followed by CMD of the final stage, as the container runtime would start it. */
export function containerArgv(df: Dockerfile): string[] {
  const final = df.stages.at(-1)
  if (!final) throw new Error('Dockerfile: no stage')
  const last = (op: string) => final.instructions.filter((i) => i.op === op).at(-1)
  const entrypoint = last('ENTRYPOINT')
  const cmd = last('CMD')
  return [...(entrypoint ? execForm(entrypoint) : []), ...(cmd ? execForm(cmd) : [])]
}
