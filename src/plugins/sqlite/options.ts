/**
 * Options of the sqlite backend (config section `database.sqlite`).
 */
import path from 'node:path'

import type {OptionsSchema} from '../../core/store.js'

/** Validated options of the sqlite backend. */
export interface SqliteOptions extends Record<string, unknown> {
  /** Database file. Default `$XDG_DATA_HOME/hivemind-core/clients.db`. */
  path: string
  /** How long a writer waits for another process's lock, in ms. Default 10000. */
  busyTimeoutMs: number
}

export const sqliteOptionsSchema: OptionsSchema = {
  path: {
    type: 'path',
    description: 'database file',
    default: (paths: {dataDir: string}) => path.join(paths.dataDir, 'clients.db'),
  },
  busyTimeoutMs: {
    type: 'integer',
    description: 'how long a writer waits for another process holding the lock (ms)',
    default: 10_000,
    minimum: 0,
  },
}
