import { createMemoryStore } from '../../../src/store/memory.ts'
import { defineDpopReplayContract } from '../../support/dpop-replay.case.ts'
import { defineStoreContract } from '../../support/store.case.ts'
import { defineScheduleContract } from '../../support/store-schedule.case.ts'

defineStoreContract('memory', () => createMemoryStore())
defineScheduleContract('memory', () => createMemoryStore())
defineDpopReplayContract('memory', () => createMemoryStore())
