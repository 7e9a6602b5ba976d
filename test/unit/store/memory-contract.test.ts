import { createMemoryStore } from '../../../src/store/memory.ts'
import { defineStoreContract } from '../../support/store.case.ts'

defineStoreContract('memory', () => createMemoryStore())
