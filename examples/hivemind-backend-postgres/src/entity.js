// @ts-check
/**
 * The TypeORM mapping of the `hivemind_clients` table (an EntitySchema: every column has an
 * explicit type, nothing depends on decorator metadata). Lists and metadata are `json` columns,
 * which keep the text exactly as written (key order included), unlike `jsonb`.
 */
import {parseClientRecord} from 'hivemind-core'
import {EntitySchema} from 'typeorm'

/** @typedef {import('hivemind-core').ClientRecord} ClientRecord */

export const CLIENTS_TABLE = 'hivemind_clients'
export const META_TABLE = 'hivemind_meta'

export const ClientEntity = new EntitySchema({
  name: 'HivemindClient',
  tableName: CLIENTS_TABLE,
  columns: {
    client_id: {type: 'bigint', primary: true},
    api_key: {type: 'varchar', length: 255},
    name: {type: 'varchar', length: 255},
    description: {type: 'varchar', length: 255},
    is_admin: {type: 'boolean'},
    last_seen: {type: 'double precision'},
    intent_blacklist: {type: 'json'},
    skill_blacklist: {type: 'json'},
    message_blacklist: {type: 'json'},
    allowed_types: {type: 'json'},
    crypto_key: {type: 'varchar', length: 16, nullable: true},
    password: {type: 'text', nullable: true},
    can_broadcast: {type: 'boolean'},
    can_escalate: {type: 'boolean'},
    can_propagate: {type: 'boolean'},
    metadata: {type: 'json'},
  },
})

/** Column names in table order, for the hand-written statements of the store. */
export const COLUMNS = [
  'client_id', 'api_key', 'name', 'description', 'is_admin', 'last_seen', 'intent_blacklist', 'skill_blacklist',
  'message_blacklist', 'allowed_types', 'crypto_key', 'password', 'can_broadcast', 'can_escalate', 'can_propagate', 'metadata',
]
const JSON_COLUMNS = new Set(['intent_blacklist', 'skill_blacklist', 'message_blacklist', 'allowed_types', 'metadata'])

/**
 * A row as a validated record. `bigint` arrives as a string from pg; `json` columns arrive parsed.
 * @param {Record<string, unknown>} row
 * @param {string} where  names the database in errors
 * @returns {ClientRecord}
 */
export function rowToRecord(row, where) {
  return parseClientRecord({...row, client_id: Number(row.client_id)}, `${where}: row ${String(row.client_id)}`)
}

/**
 * A record as statement parameters, in {@link COLUMNS} order (json columns as JSON text).
 * @param {ClientRecord} record
 * @returns {unknown[]}
 */
export function recordToParameters(record) {
  const values = /** @type {Record<string, unknown>} */ (/** @type {unknown} */ (record))
  return COLUMNS.map((column) => (JSON_COLUMNS.has(column) ? JSON.stringify(values[column]) : values[column]))
}
