import type { TestProject } from 'vitest/node'
import { buildOriginAppDir, type OriginAppDir } from '../../scripts/origin-app-dir.ts'

declare module 'vitest' {
  export interface ProvidedContext {
    /**
     * Set by this globalSetup: a directory laid out as the image's /app, with the origin built from
     * this run's src/ (`node dist/entry/node.js` there is the container's process).
     */
    originAppDir?: string
  }
}

/** One build per run, shared by every project that lists this setup (they run in one process). */
const shared = globalThis as { gatehouseOriginApp?: { app: OriginAppDir; projects: number } }

/**
 * vitest globalSetup: builds the origin once, before any test file runs, with `npm run build:origin`
 * into a temporary /app (scripts/origin-app-dir.ts), and hands its path to the tests through
 * `inject('originAppDir')` (`originApp()` in node-process.ts). Fresh on every run: it never reuses an
 * earlier build, and it never writes the repository's dist/.
 */
export default function setup(project: TestProject): () => void {
  const built = (shared.gatehouseOriginApp ??= { app: buildOriginAppDir(), projects: 0 })
  built.projects++
  project.provide('originAppDir', built.app.dir)
  return () => {
    if (--built.projects > 0) return
    built.app.remove()
    delete shared.gatehouseOriginApp
  }
}
