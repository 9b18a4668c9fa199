/**
 * A row of the upstream `clients` table and its conversions to and from records. Lists and
 * metadata are JSON in TEXT columns, booleans 0/1, exactly as the Python hivemind-core writes them.
 * Free of TypeORM on purpose: the read path (list-clients, show-client, the listener's lookups)
 * uses these with plain prepared statements; the TypeORM mapping is in entity-schema.ts and is
 * loaded only for migrations and entity writes.
 */
import {type ClientRecord, parseClientRecord} from '../../core/client.js'
import {StoreCorruptError} from '../../core/errors.js'
import {listJson, parseListText} from '../../core/list-text.js'

/** A row as stored: lists and metadata still JSON text, booleans 0/1, text columns nullable. */
export interface ClientRow {
  client_id: number
  api_key: string
  name: string | null
  description: string | null
  is_admin: number | boolean | null
  last_seen: number | null
  intent_blacklist: string | null
  skill_blacklist: string | null
  message_blacklist: string | null
  allowed_types: string | null
  crypto_key: string | null
  password: string | null
  can_broadcast: number | boolean | null
  can_escalate: number | boolean | null
  can_propagate: number | boolean | null
  metadata?: string | null
}

const JSON_COLUMNS = ['intent_blacklist', 'skill_blacklist', 'message_blacklist', 'allowed_types', 'metadata'] as const

/** A stored row (raw or through TypeORM) as a record; a row that does not parse is StoreCorruptError. */
export function rowToRecord(row: ClientRow, file: string): ClientRecord {
  // Decoded in place: rows come fresh from the driver and are not shared.
  const decoded = row as unknown as Record<string, unknown>
  for (const column of JSON_COLUMNS) {
    const text = row[column]
    if (typeof text !== 'string') continue
    try {
      decoded[column] = column === 'metadata' ? JSON.parse(text) : parseListText(text)
    } catch {
      throw new StoreCorruptError(`${file}: clients row ${row.client_id}: column ${column} does not hold valid JSON`)
    }
  }
  return parseClientRecord(decoded, `${file}: clients row ${row.client_id}`)
}

/** A row from its values in {@link CLIENT_COLUMNS} order (a raw statement's result). */
export function rowOfValues(values: readonly unknown[]): ClientRow {
  return {
    client_id: values[0] as number,
    api_key: values[1] as string,
    name: values[2] as string | null,
    description: values[3] as string | null,
    is_admin: values[4] as number | null,
    last_seen: values[5] as number | null,
    intent_blacklist: values[6] as string | null,
    skill_blacklist: values[7] as string | null,
    message_blacklist: values[8] as string | null,
    allowed_types: values[9] as string | null,
    crypto_key: values[10] as string | null,
    password: values[11] as string | null,
    can_broadcast: values[12] as number | null,
    can_escalate: values[13] as number | null,
    can_propagate: values[14] as number | null,
    metadata: values[15] as string | null,
  }
}

/** A record as the values to store (lists and metadata as JSON, booleans as 0/1 by TypeORM). */
export function recordToRow(record: ClientRecord): Record<string, unknown> {
  return {
    client_id: record.client_id,
    api_key: record.api_key,
    name: record.name,
    description: record.description,
    is_admin: record.is_admin,
    last_seen: record.last_seen,
    intent_blacklist: record.intent_blacklist,
    skill_blacklist: record.skill_blacklist,
    message_blacklist: record.message_blacklist,
    allowed_types: record.allowed_types,
    crypto_key: record.crypto_key,
    password: record.password,
    can_broadcast: record.can_broadcast,
    can_escalate: record.can_escalate,
    can_propagate: record.can_propagate,
    metadata: record.metadata,
  }
}

/** Column names of the `clients` table, in order. */
export const CLIENT_COLUMNS = [
  'client_id', 'api_key', 'name', 'description', 'is_admin', 'last_seen', 'intent_blacklist', 'skill_blacklist',
  'message_blacklist', 'allowed_types', 'crypto_key', 'password', 'can_broadcast', 'can_escalate', 'can_propagate', 'metadata',
] as const

/**
 * A record as the raw driver stores it (what the entity's column types and transformers produce),
 * as positional values in {@link CLIENT_COLUMNS} order: booleans 0/1, lists and metadata as JSON
 * text. For prepared statements on the bulk path.
 */
export function recordToStoredList(record: ClientRecord): Array<string | number | null> {
  return [
    record.client_id,
    record.api_key,
    record.name,
    record.description,
    record.is_admin ? 1 : 0,
    record.last_seen,
    listJson(record.intent_blacklist),
    listJson(record.skill_blacklist),
    listJson(record.message_blacklist),
    listJson(record.allowed_types),
    record.crypto_key,
    record.password,
    record.can_broadcast ? 1 : 0,
    record.can_escalate ? 1 : 0,
    record.can_propagate ? 1 : 0,
    JSON.stringify(record.metadata),
  ]
}
