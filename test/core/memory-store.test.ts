/**
 * The conformance suite against the in-memory reference store: proves the store and the suite.
 */
import {MemoryStore} from '../../src/core/memory-store.js'
import {runStoreConformance} from '../../src/testing/index.js'

runStoreConformance('memory', async () => ({store: new MemoryStore()}), {
  // Same instance: a MemoryStore keeps its data across close/open, which exercises the suite's
  // reopen path without a file.
  reopen: async (closed) => closed,
})
