/**
 * The JSON forms clients travel in: the upstream `clients.json` shape (what the Python
 * hivemind-core stores, what the json backend reads and writes, and what `export-clients --format
 * json` writes) and a JSON array of records. Readers report the file and the position of any
 * problem. Apart from interchange.ts on purpose: the json backend needs only this half, and the
 * CSV libraries cost a noticeable share of a command's start.
 */
import {CLIENT_FIELDS, type ClientRecord, parseClientRecord, toPlainRecord} from './client.js'
import {StoreCorruptError} from './errors.js'
import {findDuplicateName, JSON_SYNTAX_HINT, JsonSyntaxError, parseJson} from './json-text.js'

/** A record read from a file, and which record fields the file actually held. */
export interface ImportedRecord {
  record: ClientRecord
  /** Fields present in the source (a CSV row holds only a few). */
  fields: ReadonlySet<keyof ClientRecord>
  /**
   * Fields whose null the source cannot tell from "" (an empty CSV cell is either): null there
   * matches a stored "". Absent for JSON, which says which one it means.
   */
  emptyOrNull?: ReadonlySet<keyof ClientRecord>
}

/**
 * Serialises records in the upstream clients.json shape: one object keyed by the id as a string,
 * 4-space indentation, non-ASCII kept as-is, trailing newline.
 */
export function toUpstreamJson(records: Iterable<ClientRecord>): string {
  const object: Record<string, ClientRecord> = {}
  for (const record of records) object[String(record.client_id)] = toPlainRecord(record)
  return `${JSON.stringify(object, null, 4)}\n`
}

/** Records per JSON.stringify call of {@link plainRecordsToUpstreamJson}. */
const RECORDS_PER_PIECE = 64

/**
 * {@link toUpstreamJson} for records that are plain already (canonical field order, no other
 * properties: what parseClientRecord and cloneClient make) and in id order, as a series of pieces
 * whose concatenation is byte for byte that text (for replaceWithText, which writes them as they
 * come). The json store's own records are plain: copying 100k of them again on every write was a
 * fifth of the write.
 *
 * Why pieces: JSON.stringify of a whole 100k-client hive returns an 87 MB string that V8 keeps as
 * a tree of parts, and writing it out made V8 copy it into one flat string first (page faults on
 * 87 MB of fresh memory). Stringified 64 records at a time, each piece stays small: 245–376 ms
 * for stringifying and encoding 100k clients against 800–980 ms for the whole text (measured on
 * this project's bench VM). A group's text is the whole text's lines for those records: the
 * object's members are indented the same way at every size.
 */
export function* plainRecordsToUpstreamJson(records: readonly ClientRecord[]): Generator<string> {
  if (records.length === 0) {
    yield '{}\n'
    return
  }
  yield '{\n'
  for (let start = 0; start < records.length; start += RECORDS_PER_PIECE) {
    const end = Math.min(records.length, start + RECORDS_PER_PIECE)
    const group: Record<string, ClientRecord> = {}
    for (let index = start; index < end; index++) group[String(records[index]!.client_id)] = records[index]!
    // "{\n" + members + "\n}": the members alone, then what follows them.
    yield JSON.stringify(group, null, 4).slice(2, -2)
    yield end < records.length ? ',\n' : '\n}\n'
  }
}

/**
 * Parses JSON text, turning a syntax error into StoreCorruptError with file, line and column and
 * nothing of the text (see json-text.ts: it may hold access keys and passwords).
 */
export function parseJsonText(text: string, file: string): unknown {
  try {
    return parseJson(text)
  } catch (error) {
    if (!(error instanceof JsonSyntaxError)) throw error
    if (text.trim().length === 0) throw new StoreCorruptError(`${file}: invalid JSON (the file is empty)`, {suggestion: 'restore it from a backup, or write {} into it to start an empty hive'})
    throw new StoreCorruptError(`${file}: invalid JSON at line ${error.line}, column ${error.column}: ${error.reason}`, {suggestion: JSON_SYNTAX_HINT})
  }
}

/**
 * Refuses a clients document whose text holds a client, or a client's field, twice: JSON.parse
 * keeps the last silently, and the first client would be gone at the next write (QA: a client
 * pasted twice under "1" lost "kitchen" for good). The full scan runs only when the text holds
 * more "api_key" names than the parsed document has records (every record has one), so a sound
 * 100k-client file costs one substring search.
 */
export function assertNoDuplicateNames(text: string, document: unknown, file: string): void {
  const records = Array.isArray(document) ? document.length : typeof document === 'object' && document !== null ? Object.keys(document).length : 0
  if (countNames(text, 'api_key') <= records) return
  // Records are objects 1 deep in a list, 2 deep in an object keyed by id.
  const duplicate = findDuplicateName(text, Array.isArray(document) ? 1 : 2)
  if (!duplicate) return
  const where = `line ${duplicate.line}, column ${duplicate.column}`
  if (duplicate.path.length === 0) {
    throw new StoreCorruptError(`${file}: client "${duplicate.name}" appears twice (the second at ${where}); JSON keeps only the last of them, so the first would be lost`, {
      suggestion: 'give one of them another id (its key and its client_id), or delete the copy',
    })
  }
  const record = Array.isArray(document) ? `#${Number(duplicate.path[0]) + 1}` : duplicate.path[0]
  throw new StoreCorruptError(`${file}: client "${record}": field "${duplicate.name}" appears twice (the second at ${where})`, {suggestion: 'keep one of them'})
}

/** How many times `"name"` appears as a member name (followed by a colon) in JSON text. */
function countNames(text: string, name: string): number {
  const quoted = `"${name}"`
  let count = 0
  for (let index = text.indexOf(quoted); index !== -1; index = text.indexOf(quoted, index + quoted.length)) {
    let next = index + quoted.length
    while (text.charCodeAt(next) === 32 || text.charCodeAt(next) === 10 || text.charCodeAt(next) === 13 || text.charCodeAt(next) === 9) next++
    if (text.charCodeAt(next) === 58) count++
  }
  return count
}

/**
 * Reads the upstream clients.json shape (object keyed by id string) or a JSON array of records.
 * Every record is validated; unknown keys are folded into metadata.
 */
export function fromJsonDocument(document: unknown, file: string): ImportedRecord[] {
  const entries: Array<[string, unknown]> = Array.isArray(document)
    ? document.map((item, index) => [`#${index + 1}`, item])
    : typeof document === 'object' && document !== null
      ? Object.entries(document)
      : []
  if (!Array.isArray(document) && (typeof document !== 'object' || document === null)) {
    throw new StoreCorruptError(`${file}: expected an object of clients keyed by id (or a list of clients), found ${document === null ? 'null' : typeof document}`)
  }
  const seen = new Set<number>()
  return entries.map(([key, value]) => {
    const where = `${file}: client ${JSON.stringify(key)}`
    const keyId = /^\d+$/.test(key) ? Number(key) : undefined
    if (!Array.isArray(document) && keyId === undefined) throw new StoreCorruptError(`${where}: keys must be client ids ("1", "2", …)`, {suggestion: 'store each client under its client_id, as a string'})
    const record = parseClientRecord(value, where, keyId)
    if (keyId !== undefined && record.client_id !== keyId) {
      throw new StoreCorruptError(`${where}: its client_id is ${record.client_id}, but it is stored under "${key}"`, {suggestion: 'make the key and the client_id the same number'})
    }
    if (seen.has(record.client_id)) throw new StoreCorruptError(`${where}: client id ${record.client_id} appears twice`)
    seen.add(record.client_id)
    assertNotMasked(record, where)
    const present = new Set(Object.keys(value as object).filter((field) => (CLIENT_FIELDS as readonly string[]).includes(field))) as Set<keyof ClientRecord>
    present.add('client_id')
    return {record, fields: present}
  })
}

/** Refuses records whose secrets are the masks list-clients prints. */
export function assertNotMasked(record: ClientRecord, where: string): void {
  if ([record.api_key, record.password, record.crypto_key].some((value) => value !== null && value.endsWith('********'))) {
    throw new StoreCorruptError(`${where}: holds masked secrets (output of list-clients without --show-secrets), not real credentials`, {
      suggestion: 'export with: hivemind-core export-clients --format json --path FILE',
    })
  }
}

