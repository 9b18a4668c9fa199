/**
 * The sqlite backend: the conformance suite on real temp files, then only what is specific to
 * SQLite (upstream files, file modes, other processes, corrupt files, concurrent writers).
 */
import path from 'node:path'

import {runStoreConformance} from '../../../src/testing/index.js'
import {createSqliteStore, tempDir} from './helpers.js'

runStoreConformance(
  'sqlite',
  async () => {
    const {dir, remove} = tempDir()
    return {store: await createSqliteStore(path.join(dir, 'clients.db')), cleanup: async () => remove()}
  },
  {reopen: async (closed) => createSqliteStore(closed.location)},
)
