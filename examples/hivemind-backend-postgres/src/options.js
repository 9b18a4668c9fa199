// @ts-check
/**
 * Options of the postgres backend: config section `database.postgres`, flag
 * `--db-option key=value`, environment `HIVEMIND_POSTGRES_<KEY>` (e.g. HIVEMIND_POSTGRES_URL).
 */

/**
 * @typedef {object} PostgresOptions
 * @property {string} url  `postgres://user[:password]@host:port/database`. Default `postgres://postgres@127.0.0.1:5432/hivemind`.
 * @property {number} connectTimeoutMs  How long connecting may take, in ms. Default 5000.
 * @property {number} poolSize  Connections kept by one process. Default 4.
 */

/** @type {import('hivemind-core').OptionsSchema} */
export const postgresOptionsSchema = {
  url: {
    type: 'string',
    description: 'postgres://user[:password]@host:port/database (the database must exist; the tables are created on first use)',
    default: 'postgres://postgres@127.0.0.1:5432/hivemind',
  },
  connectTimeoutMs: {type: 'integer', description: 'how long connecting may take (ms)', default: 5000},
  poolSize: {type: 'integer', description: 'connections kept by one process', default: 4},
}
