import { describe } from 'vitest'
import { defineRouteSuite } from '../../shared/routes.case.ts'
import { inProcess, realServer } from './node-harness.ts'

describe('routes in-process (app.request)', () => defineRouteSuite(inProcess))
describe('routes through a real @hono/node-server', () => defineRouteSuite(realServer))
