/**
 * How a client record is stored in its Redis hash: one hash field per record field.
 *
 * | record field | hash field value |
 * |---|---|
 * | strings (`api_key`, `name`, `description`, `crypto_key`, `password`) | the string as is (`""` stays `""`) |
 * | `crypto_key` / `password` = null | the field is ABSENT (so null and `""` stay distinct) |
 * | `client_id`, `last_seen` | decimal text (`"7"`, `"-1"`, `"1732547000.25"`) |
 * | booleans | `"1"` / `"0"` when written; `"true"` / `"false"` are accepted when read |
 * | the four lists | a JSON array of strings |
 * | `metadata` | a JSON object |
 *
 * Fields the record does not know (a hash edited by hand) are folded into `metadata` as strings,
 * as for upstream records with extra keys.
 */
import {CLIENT_FIELDS, type ClientRecord, parseClientRecord} from '../../core/client.js'
import {StoreCorruptError} from '../../core/errors.js'
import {listJson, parseListText} from '../../core/list-text.js'

const NUMBER_FIELDS = new Set(['client_id', 'last_seen'])
const FLAG_FIELDS = new Set(['is_admin', 'can_broadcast', 'can_escalate', 'can_propagate'])
/** JSON fields holding a permission list: most clients share a few, parsed once each (list-text.ts). */
const LIST_FIELDS = new Set(['intent_blacklist', 'skill_blacklist', 'message_blacklist', 'allowed_types'])

/** How a field's stored text decodes. */
type FieldKind = 'number' | 'flag' | 'list' | 'metadata' | 'text'

function kindOf(field: string): FieldKind {
  if (NUMBER_FIELDS.has(field)) return 'number'
  if (FLAG_FIELDS.has(field)) return 'flag'
  if (LIST_FIELDS.has(field)) return 'list'
  return field === 'metadata' ? 'metadata' : 'text'
}

/** The kind of each of CLIENT_FIELDS, by position: values that come in that order need no lookup by name. */
const KIND_AT: readonly FieldKind[] = CLIENT_FIELDS.map((field) => kindOf(field))
/** Fields that may be null (stored as an absent hash field). */
export const NULLABLE_FIELDS = new Set(['crypto_key', 'password'])

/** One field's stored text, or null for a null value (the field is then absent). */
export function encodeField(field: string, value: unknown): string | null {
  if (value === null || value === undefined) return null
  if (FLAG_FIELDS.has(field)) return value ? '1' : '0'
  if (NUMBER_FIELDS.has(field)) return String(value)
  if (LIST_FIELDS.has(field) && Array.isArray(value)) return listJson(value)
  if (LIST_FIELDS.has(field) || field === 'metadata') return JSON.stringify(value)
  return String(value)
}

/** The hash of a (validated) record as flat `field, value, …` pairs; null fields are left out. */
export function encodeRecord(record: ClientRecord): string[] {
  const pairs: string[] = []
  for (const field of CLIENT_FIELDS) {
    const text = encodeField(field, record[field])
    if (text !== null) pairs.push(field, text)
  }
  return pairs
}

/**
 * A record from its hash (as flat pairs or an object). `key` names the hash in errors; a stored
 * value is never echoed (it may be a secret).
 */
export function decodeRecord(hash: readonly string[] | Record<string, string>, key: string): ClientRecord {
  const raw: Record<string, unknown> = {}
  // Straight over the flat pairs (no entry arrays): listing decodes every record of a hive.
  if (Array.isArray(hash)) {
    const flat = hash as readonly string[]
    for (let i = 0; i + 1 < flat.length; i += 2) decodeField(raw, flat[i]!, kindOf(flat[i]!), flat[i + 1]!, key)
  } else {
    for (const [field, text] of Object.entries(hash)) decodeField(raw, field, kindOf(field), text, key)
  }
  const id = idFromKey(key)
  return withKeyId(parseClientRecord(raw, `Redis key ${key}`, id), key, id)
}

/**
 * The record, checked against the id its key names: a hash edited to say `client_id 7` under
 * `client:3` would otherwise show as client 7 (show-client 3 printed "client 7"), and writes to
 * either id would then go to different hashes.
 */
function withKeyId(record: ClientRecord, key: string, id: number | undefined): ClientRecord {
  if (id === undefined || record.client_id === id) return record
  throw new StoreCorruptError(`Redis key ${key} holds client_id ${record.client_id}, not the id ${id} its key names`, {
    suggestion: `set the field back (HSET ${key} client_id ${id}), or restore the record from a backup (hivemind-core restore-db)`,
  })
}

/**
 * A record from the byKey script's reply: its values in CLIENT_FIELDS order (null = absent), or
 * `['all', pairs, idText]` for a hash edited by hand (fields the record does not know, or no
 * client_id). `prefix` is the record key prefix: errors name the hash, `<prefix><id>`.
 */
export function decodeLookupReply(reply: ReadonlyArray<string | null> | readonly ['all', string[], string], prefix: string): ClientRecord {
  if (reply[0] === 'all') return decodeRecord(reply[1] as string[], prefix + (reply[2] as string))
  // The script replies whole (above) when client_id is absent, so values here hold it.
  const idText = reply[0]!
  return decodeValues(reply as ReadonlyArray<string | null>, prefix + idText, Number(idText))
}

/**
 * A record from one entry of the pageJson script's reply, read from hash `key` (of client `id`):
 * its values in CLIENT_FIELDS order (`false` = absent, as cjson encodes Lua's nil from HMGET) or
 * `['all', pairs]`.
 */
export function decodePageEntry(entry: ReadonlyArray<string | false | string[]>, key: string, id: number): ClientRecord {
  if (entry.length === 2 && entry[0] === 'all' && Array.isArray(entry[1])) return decodeRecord(entry[1], key)
  if (entry.length !== CLIENT_FIELDS.length) throw new StoreCorruptError(`Redis key ${key}: unexpected reply from the page script`)
  return decodeValues(entry as ReadonlyArray<string | false>, key, id)
}

/**
 * A record from its values in CLIENT_FIELDS order; null, undefined or false = the field is absent.
 * `id` is the one its key names (the caller knows it: parsing it back out of the key was a
 * noticeable part of listing a large hive).
 */
function decodeValues(values: ReadonlyArray<string | false | null | undefined>, key: string, id: number): ClientRecord {
  const raw: Record<string, unknown> = {}
  for (let i = 0; i < KIND_AT.length; i++) {
    const text = values[i]
    if (typeof text === 'string') decodeField(raw, CLIENT_FIELDS[i]!, KIND_AT[i]!, text, key)
  }
  const keyId = Number.isSafeInteger(id) ? id : undefined
  return withKeyId(parseClientRecord(raw, `Redis key ${key}`, keyId), key, keyId)
}

/** The id a record key ends with (what a hash without a client_id field is taken to hold). */
function idFromKey(key: string): number | undefined {
  const idText = /client:(\d+)$/.exec(key)?.[1]
  return idText === undefined ? undefined : Number(idText)
}

/** Decodes one stored field into `raw`; a value that does not decode is StoreCorruptError (never echoed). */
function decodeField(raw: Record<string, unknown>, field: string, kind: FieldKind, text: string, key: string): void {
  switch (kind) {
    case 'text': {
      raw[field] = text
      break
    }
    case 'number': {
      const value = text.trim() === '' ? Number.NaN : Number(text)
      if (!Number.isFinite(value)) throw corruptField(key, field, 'a number')
      raw[field] = value
      break
    }
    case 'flag': {
      if (text === '1' || text === 'true') raw[field] = true
      else if (text === '0' || text === 'false') raw[field] = false
      else throw corruptField(key, field, '"1", "0", "true" or "false"')
      break
    }
    case 'list': {
      try {
        raw[field] = parseListText(text)
      } catch {
        throw corruptField(key, field, 'a JSON array of strings')
      }
      break
    }
    case 'metadata': {
      try {
        raw[field] = JSON.parse(text)
      } catch {
        throw corruptField(key, field, 'a JSON object')
      }
      break
    }
  }
}

function corruptField(key: string, field: string, expected: string): StoreCorruptError {
  return new StoreCorruptError(`Redis key ${key}: field "${field}" must be ${expected}`, {
    suggestion: 'fix or delete the field with redis-cli; hivemind-core never writes such a value',
  })
}

/** Flat `[f1, v1, f2, v2…]` (what a Lua HGETALL returns) as entries. */
export function pairsOf(flat: readonly string[]): Array<[string, string]> {
  const entries: Array<[string, string]> = []
  for (let i = 0; i + 1 < flat.length; i += 2) entries.push([flat[i]!, flat[i + 1]!])
  return entries
}
