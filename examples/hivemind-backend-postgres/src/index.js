// @ts-check
/**
 * The `hivemind:backends` hook of hivemind-backend-postgres: declares the "postgres" backend.
 *
 * Cheap to import on purpose — the CLI runs every plugin's hook on every command, so TypeORM and
 * pg are imported only inside create(), when this backend is actually selected.
 */
import {maskUrlPassword} from 'hivemind-core'

import {postgresOptionsSchema} from './options.js'

/** @type {import('hivemind-core').BackendDescriptor<import('./options.js').PostgresOptions>} */
export const postgresBackend = {
  name: 'postgres',
  summary: 'PostgreSQL database through TypeORM + pg (plugin example: hivemind-backend-postgres)',
  optionsSchema: postgresOptionsSchema,
  describeLocation: (options) => maskUrlPassword(options.url),
  async create(options) {
    const {PostgresClientStore} = await import('./store.js')
    return new PostgresClientStore(options)
  },
}

/** The hook: oclif calls the default export and registers what it returns. */
export default async function hook() {
  return [postgresBackend]
}
