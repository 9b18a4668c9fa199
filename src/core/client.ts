/**
 * The client record: one satellite's credentials and permissions, with the field names and
 * defaults of the Python hivemind-core (so files and exports stay interchangeable).
 */
import {StoreCorruptError} from './errors.js'

/** The literal access key that marks a revoked record (a tombstone). It never authenticates. */
export const REVOKED_API_KEY = 'revoked'

/** Bus message types a new client may send (upstream defaults). */
export const DEFAULT_ALLOWED_TYPES: readonly string[] = Object.freeze([
  'recognizer_loop:utterance',
  'recognizer_loop:record_begin',
  'recognizer_loop:record_end',
  'recognizer_loop:audio_output_start',
  'recognizer_loop:audio_output_end',
  'recognizer_loop:b64_transcribe',
  'speak:b64_audio',
  'ovos.common_play.SEI.get.response',
])

/** A stored client, exactly as upstream names its fields. */
export interface ClientRecord {
  /** Assigned by the store from a monotonic counter; never reused. */
  client_id: number
  /** The access key a satellite presents; {@link REVOKED_API_KEY} marks a tombstone. */
  api_key: string
  /** Friendly name. Default "". */
  name: string
  /** Default "". */
  description: string
  /** Default false. */
  is_admin: boolean
  /** Unix seconds (float) of the last activity; -1 = never. */
  last_seen: number
  /** `skill_id:intent_name` entries the client may not trigger. Default []. */
  intent_blacklist: string[]
  /** Skill ids the client may not trigger. Default []. */
  skill_blacklist: string[]
  /** Bus message types never sent TO this client. Default []. */
  message_blacklist: string[]
  /** Bus message types the client may SEND. Default {@link DEFAULT_ALLOWED_TYPES}. */
  allowed_types: string[]
  /** Legacy 16-character pre-shared AES key, or null. Default null. */
  crypto_key: string | null
  /** Shared secret of the password handshake, or null. */
  password: string | null
  /** Default true. */
  can_broadcast: boolean
  /** Default true. */
  can_escalate: boolean
  /** Default true. */
  can_propagate: boolean
  /** Free-form; unknown keys of old records are folded in here. Default {}. */
  metadata: Record<string, unknown>
}

/** What `add` takes: everything but the id; omitted fields get their defaults. */
export type NewClient = Partial<Omit<ClientRecord, 'client_id'>> & {api_key: string}

/** What `update` takes: any subset of the mutable fields. */
export type ClientPatch = Partial<Omit<ClientRecord, 'client_id'>>

/** Field names in their canonical (upstream) order. */
export const CLIENT_FIELDS = [
  'client_id',
  'api_key',
  'name',
  'description',
  'is_admin',
  'last_seen',
  'intent_blacklist',
  'skill_blacklist',
  'message_blacklist',
  'allowed_types',
  'crypto_key',
  'password',
  'can_broadcast',
  'can_escalate',
  'can_propagate',
  'metadata',
] as const satisfies readonly (keyof ClientRecord)[]

/** Names of the fields that hold secrets: masked in listings, cleared on revocation. */
export const SECRET_FIELDS = ['api_key', 'password', 'crypto_key'] as const

const KNOWN_FIELDS: ReadonlySet<string> = new Set(CLIENT_FIELDS)
const LIST_FIELDS = ['intent_blacklist', 'skill_blacklist', 'message_blacklist', 'allowed_types'] as const
const FLAG_FIELDS = ['is_admin', 'can_broadcast', 'can_escalate', 'can_propagate'] as const

/**
 * A full record from an id and a partial one, filling upstream defaults. Lists and metadata are
 * copied deeply: a store keeps the result, so nothing in it may stay shared with the caller's
 * input (a nested metadata object mutated after `add` would otherwise change the stored client).
 */
export function buildClient(id: number, fields: NewClient | ClientPatch): ClientRecord {
  return {
    client_id: id,
    api_key: fields.api_key ?? '',
    name: fields.name ?? '',
    description: fields.description ?? '',
    is_admin: fields.is_admin ?? false,
    last_seen: fields.last_seen ?? -1,
    intent_blacklist: [...(fields.intent_blacklist ?? [])],
    skill_blacklist: [...(fields.skill_blacklist ?? [])],
    message_blacklist: [...(fields.message_blacklist ?? [])],
    allowed_types: [...(fields.allowed_types ?? DEFAULT_ALLOWED_TYPES)],
    crypto_key: fields.crypto_key ?? null,
    password: fields.password ?? null,
    can_broadcast: fields.can_broadcast ?? true,
    can_escalate: fields.can_escalate ?? true,
    can_propagate: fields.can_propagate ?? true,
    metadata: structuredClone(fields.metadata ?? {}),
  }
}

/** A deep copy, so callers can never mutate what a store holds. */
export function cloneClient(record: ClientRecord): ClientRecord {
  // Hand-written: this runs on every credential lookup, and structuredClone costs several times more.
  // Field by field in canonical order (not a spread): the copy is then also the plain record
  // toPlainRecord promises, whatever order the input had, and one fixed shape is V8's fast path.
  return {
    client_id: record.client_id,
    api_key: record.api_key,
    name: record.name,
    description: record.description,
    is_admin: record.is_admin,
    last_seen: record.last_seen,
    intent_blacklist: [...record.intent_blacklist],
    skill_blacklist: [...record.skill_blacklist],
    message_blacklist: [...record.message_blacklist],
    allowed_types: [...record.allowed_types],
    crypto_key: record.crypto_key,
    password: record.password,
    can_broadcast: record.can_broadcast,
    can_escalate: record.can_escalate,
    can_propagate: record.can_propagate,
    metadata: isEmptyObject(record.metadata) ? {} : structuredClone(record.metadata),
  }
}

function isEmptyObject(value: object): boolean {
  for (const _key in value) return false
  return true
}

/** Applies a patch to a record (the id never changes). */
export function applyPatch(record: ClientRecord, patch: ClientPatch): ClientRecord {
  const merged: ClientRecord = {...record}
  for (const field of CLIENT_FIELDS) {
    if (field === 'client_id' || !(field in patch)) continue
    const value = patch[field]
    if (value !== undefined) (merged as unknown as Record<string, unknown>)[field] = structuredClone(value)
  }
  return merged
}

/** The tombstone a revocation leaves: same id and name, the key `revoked`, secrets cleared. */
export function tombstoneOf(record: ClientRecord): ClientRecord {
  return {...cloneClient(record), api_key: REVOKED_API_KEY, password: null, crypto_key: null}
}

/** True for a tombstone. */
export function isRevoked(record: Pick<ClientRecord, 'api_key'>): boolean {
  return record.api_key === REVOKED_API_KEY
}

/**
 * Reads a record written by any version of hivemind-core (ours or the Python one), validating
 * every field. Unknown top-level keys are folded into `metadata`; missing fields get defaults.
 * `where` names the source in errors ("clients.json, record \"3\"").
 */
export function parseClientRecord(raw: unknown, where: string, idHint?: number): ClientRecord {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new StoreCorruptError(`${where}: expected an object, found ${describeType(raw)}`)
  }
  // Runs for every record every store reads or writes (a migration of 100k clients: several
  // times each), so straight-line code without closures or throwaway defaults. Fields are
  // checked in the same order as always (the first bad one is reported).
  const input = raw as Record<string, unknown>
  let id = input.client_id ?? idHint
  // The Python hivemind-core revoked a client by overwriting its record with
  // {"client_id": -1, "api_key": "revoked"}: a tombstone whose id is only the key it is stored
  // under. Only such a tombstone, and only where the source names the id, may lose its -1.
  if (id === -1 && idHint !== undefined && input.api_key === REVOKED_API_KEY) id = idHint
  if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 1) {
    // The id is no secret: show a wrong number itself ("found -1", not "found a number").
    // Past 2^53 the number read is no longer the one written (JSON.parse rounds it): say so
    // rather than quote a number the file does not hold.
    if (typeof id === 'number' && Number.isInteger(id) && id > Number.MAX_SAFE_INTEGER) {
      throw new StoreCorruptError(`${where}: field "client_id" is too large (at most ${Number.MAX_SAFE_INTEGER})`, {suggestion: 'give the client a smaller id (its key and its client_id)'})
    }
    if (typeof id === 'number') throw new StoreCorruptError(`${where}: field "client_id" must be a positive integer, found ${String(id)}`)
    throw invalidField(input, where, 'client_id', 'a positive integer')
  }
  const apiKey = input.api_key
  if (typeof apiKey !== 'string') throw invalidField(input, where, 'api_key', 'a string')
  const name = optionalText(input, where, 'name')
  const description = optionalText(input, where, 'description')
  const isAdmin = optionalFlag(input, where, 'is_admin', false)
  const canBroadcast = optionalFlag(input, where, 'can_broadcast', true)
  const canEscalate = optionalFlag(input, where, 'can_escalate', true)
  const canPropagate = optionalFlag(input, where, 'can_propagate', true)
  let lastSeen = -1
  if (input.last_seen !== undefined && input.last_seen !== null) {
    if (typeof input.last_seen !== 'number' || !Number.isFinite(input.last_seen)) throw invalidField(input, where, 'last_seen', 'a number')
    lastSeen = input.last_seen
  }
  const intentBlacklist = optionalList(input, where, 'intent_blacklist')
  const skillBlacklist = optionalList(input, where, 'skill_blacklist')
  const messageBlacklist = optionalList(input, where, 'message_blacklist')
  const allowedTypes = optionalList(input, where, 'allowed_types')
  const cryptoKey = optionalSecret(input, where, 'crypto_key')
  const password = optionalSecret(input, where, 'password')
  const metadata: Record<string, unknown> = {}
  if (input.metadata !== undefined && input.metadata !== null) {
    if (typeof input.metadata !== 'object' || Array.isArray(input.metadata)) throw invalidField(input, where, 'metadata', 'an object')
    for (const [key, value] of Object.entries(input.metadata)) defineEntry(metadata, key, value)
  }
  for (const key in input) {
    if (!KNOWN_FIELDS.has(key) && !Object.hasOwn(metadata, key)) defineEntry(metadata, key, input[key])
  }
  // Fields in canonical order, as buildClient makes them.
  return {
    client_id: id,
    api_key: apiKey,
    name,
    description,
    is_admin: isAdmin,
    last_seen: lastSeen,
    intent_blacklist: intentBlacklist ?? [],
    skill_blacklist: skillBlacklist ?? [],
    message_blacklist: messageBlacklist ?? [],
    allowed_types: allowedTypes ?? [...DEFAULT_ALLOWED_TYPES],
    crypto_key: cryptoKey,
    password,
    can_broadcast: canBroadcast,
    can_escalate: canEscalate,
    can_propagate: canPropagate,
    metadata,
  }
}

/**
 * True when `value` has every field of a record with its record type, as a record read from any
 * store has: {@link parseClientRecord} then accepts it as it stands. A cheap test that builds
 * nothing (validating each of 100k records by parsing it cost a fifth of a migration's copy
 * into SQLite). False says nothing: the full parse then decides, and names what is wrong.
 */
export function hasRecordShape(value: ClientRecord): boolean {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof value.client_id === 'number' &&
    Number.isSafeInteger(value.client_id) &&
    value.client_id >= 1 &&
    typeof value.api_key === 'string' &&
    typeof value.name === 'string' &&
    typeof value.description === 'string' &&
    typeof value.is_admin === 'boolean' &&
    typeof value.last_seen === 'number' &&
    Number.isFinite(value.last_seen) &&
    isListOfStrings(value.intent_blacklist) &&
    isListOfStrings(value.skill_blacklist) &&
    isListOfStrings(value.message_blacklist) &&
    isListOfStrings(value.allowed_types) &&
    (value.crypto_key === null || typeof value.crypto_key === 'string') &&
    (value.password === null || typeof value.password === 'string') &&
    typeof value.can_broadcast === 'boolean' &&
    typeof value.can_escalate === 'boolean' &&
    typeof value.can_propagate === 'boolean' &&
    typeof value.metadata === 'object' &&
    value.metadata !== null &&
    !Array.isArray(value.metadata)
  )
}

function isListOfStrings(value: unknown): boolean {
  if (!Array.isArray(value)) return false
  for (let index = 0; index < value.length; index++) if (typeof value[index] !== 'string') return false
  return true
}

/**
 * Defined, not assigned: assigning a key "__proto__" (JSON.parse makes it an ordinary key) would
 * set the object's prototype and drop the key without a word. A module function, not a closure
 * made by every parseClientRecord call.
 */
function defineEntry(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, {value, enumerable: true, writable: true, configurable: true})
}

function invalidField(input: Record<string, unknown>, where: string, field: string, expected: string): StoreCorruptError {
  return new StoreCorruptError(`${where}: field "${field}" must be ${expected}, found ${describeType(input[field])}`, {
    suggestion: 'correct that field where the record is kept (or restore a backup: hivemind-core restore-db); nothing was changed',
  })
}

/** A text field; absent or null gives "". */
function optionalText(input: Record<string, unknown>, where: string, field: 'name' | 'description'): string {
  const value = input[field]
  if (value === undefined || value === null) return ''
  if (typeof value !== 'string') throw invalidField(input, where, field, 'a string')
  return value
}

/** A flag; SQLite and old exports store booleans as 0/1. Absent or null gives the default. */
function optionalFlag(input: Record<string, unknown>, where: string, field: (typeof FLAG_FIELDS)[number], fallback: boolean): boolean {
  const value = input[field]
  if (value === undefined || value === null) return fallback
  if (value === 0 || value === 1) return value === 1
  if (typeof value !== 'boolean') throw invalidField(input, where, field, 'a boolean')
  return value
}

/** A copy of a list of strings; absent or null gives undefined (the caller's default). */
function optionalList(input: Record<string, unknown>, where: string, field: (typeof LIST_FIELDS)[number]): string[] | undefined {
  const value = input[field]
  if (value === undefined || value === null) return undefined
  if (!Array.isArray(value)) throw invalidField(input, where, field, 'a list of strings')
  for (let index = 0; index < value.length; index++) {
    // A hole (sparse array) is skipped by the check, as Array.prototype.some always did.
    if (typeof value[index] !== 'string' && index in value) throw invalidField(input, where, field, 'a list of strings')
  }
  return [...(value as string[])]
}

/** A secret; absent or null gives null. */
function optionalSecret(input: Record<string, unknown>, where: string, field: 'crypto_key' | 'password'): string | null {
  const value = input[field]
  if (value === undefined || value === null) return null
  if (typeof value !== 'string') throw invalidField(input, where, field, 'a string or null')
  return value
}

/** The record as a plain object with fields in canonical order (for JSON output and comparison). */
export function toPlainRecord(record: ClientRecord): ClientRecord {
  // cloneClient copies every mutable part and lays the fields out in canonical order.
  return cloneClient(record)
}

/**
 * Canonical JSON of a record: fields in upstream order, metadata keys sorted recursively. Two
 * records are the same client exactly when their canonical forms are equal.
 */
export function canonicalJson(record: ClientRecord): string {
  return JSON.stringify(sortKeysDeep(toPlainRecord(record)))
}

/**
 * True exactly when `canonicalJson(a) === canonicalJson(b)`, without building both strings in the
 * common case (migrate-db compares every record of a hive). Plain records as stores return them:
 * equal scalars, equal list items and metadata that is empty on both sides prove equality; anything
 * else is settled by the canonical forms themselves.
 */
export function sameClient(a: ClientRecord, b: ClientRecord): boolean {
  return (
    (a.client_id === b.client_id &&
      a.api_key === b.api_key &&
      a.name === b.name &&
      a.description === b.description &&
      a.is_admin === b.is_admin &&
      a.last_seen === b.last_seen &&
      sameItems(a.intent_blacklist, b.intent_blacklist) &&
      sameItems(a.skill_blacklist, b.skill_blacklist) &&
      sameItems(a.message_blacklist, b.message_blacklist) &&
      sameItems(a.allowed_types, b.allowed_types) &&
      a.crypto_key === b.crypto_key &&
      a.password === b.password &&
      a.can_broadcast === b.can_broadcast &&
      a.can_escalate === b.can_escalate &&
      a.can_propagate === b.can_propagate &&
      // cloneClient turns any metadata without keys into {}: both canonical forms then hold "{}".
      isEmptyObject(a.metadata) &&
      isEmptyObject(b.metadata)) ||
    canonicalJson(a) === canonicalJson(b)
  )
}

function sameItems(a: unknown, b: unknown): boolean {
  if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false
  for (let index = 0; index < a.length; index++) if (a[index] !== b[index]) return false
  return true
}

/** JSON of one field's value with the keys of every object sorted: equal values give equal text, whatever order a backend lists keys in. */
export function canonicalValueJson(value: unknown): string {
  return JSON.stringify(sortKeysDeep(value, false))
}

function sortKeysDeep(value: unknown, top = true): unknown {
  if (Array.isArray(value)) return value.map((item) => sortKeysDeep(item, false))
  if (value === null || typeof value !== 'object') return value
  const entries = Object.entries(value as Record<string, unknown>)
  // The top level keeps the canonical field order; nested objects are sorted.
  if (!top) entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
  return Object.fromEntries(entries.map(([key, item]) => [key, sortKeysDeep(item, false)]))
}

function describeType(value: unknown): string {
  if (value === undefined) return 'nothing'
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'a list'
  // "must be a number, found a number" for 1e400 (read as Infinity) said nothing (QA).
  if (typeof value === 'number' && !Number.isFinite(value)) return Number.isNaN(value) ? 'NaN' : 'a number too large to hold'
  return `a ${typeof value}`
}
