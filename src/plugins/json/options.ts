/**
 * Options of the json backend (config section `database.json`).
 */
import path from 'node:path'

import type {OptionsSchema} from '../../core/store.js'

/** Validated options of the json backend. */
export interface JsonOptions extends Record<string, unknown> {
  /** The clients file. Default `$XDG_DATA_HOME/hivemind-core/clients.json` (the upstream location). */
  path: string
  /** A lock older than this (ms) was left by a killed process and is taken over. Default 10000 (minimum 2000). */
  lockStaleMs: number
  /** How long a writer waits for the lock before giving up (ms). Default 30000. */
  lockWaitMs: number
}

export const jsonOptionsSchema: OptionsSchema = {
  path: {
    type: 'path',
    description: 'clients file (upstream clients.json format)',
    default: (paths: {dataDir: string}) => path.join(paths.dataDir, 'clients.json'),
  },
  lockStaleMs: {
    type: 'integer',
    description: 'age (ms) after which a lock left by a killed process is taken over (min 2000)',
    default: 10_000,
    minimum: 2000,
  },
  lockWaitMs: {
    type: 'integer',
    description: 'how long a writer waits for the lock (ms)',
    default: 30_000,
    minimum: 0,
  },
}
