/**
 * The sqlite backend's registration (`hivemind:backends` hook). Cheap to import: TypeORM and the
 * store are loaded only when this backend is selected.
 */
import type {Hook} from '@oclif/core'

import type {BackendDescriptor} from '../../core/store.js'
import {upstreamFilePlugin} from '../../core/upstream-file-plugin.js'
import {type SqliteOptions, sqliteOptionsSchema} from './options.js'

export const sqliteBackend: BackendDescriptor<SqliteOptions> = {
  name: 'sqlite',
  summary: 'SQLite file through TypeORM + better-sqlite3 (the default; compatible with upstream clients.db)',
  optionsSchema: sqliteOptionsSchema,
  describeLocation: (options) => options.path,
  async create(options, context) {
    const {SqliteClientStore} = await import('./store.js')
    return new SqliteClientStore(options, context)
  },
  upstream: upstreamFilePlugin('hivemind-sqlite-db-plugin', '.db'),
  async probe(options) {
    const {probeSqliteFile} = await import('./probe.js')
    return probeSqliteFile(options.path)
  },
  async diagnose(options) {
    const {diagnoseSqlite} = await import('./diagnose.js')
    return diagnoseSqlite(options)
  },
}

const hook: Hook<'hivemind:backends'> = async () => [sqliteBackend as unknown as BackendDescriptor]
export default hook
