/**
 * File formats clients travel in: the upstream `clients.json` shape (what the Python
 * hivemind-core stores, and what `export-clients --format json` writes), the upstream CSV export,
 * and a JSON array of records. Readers report the file and the position of any problem.
 */
import {parse as parseCsvText} from 'csv-parse/sync'
import {stringify as stringifyCsv} from 'csv-stringify/sync'

import {CLIENT_FIELDS, type ClientRecord, isRevoked, parseClientRecord, toPlainRecord} from './client.js'
import {StoreCorruptError} from './errors.js'

/** The upstream CSV header of `export-clients`. */
export const CSV_HEADER = ['client_id', 'name', 'is_admin', 'access_key', 'password', 'crypto_key'] as const

/** A record read from a file, and which record fields the file actually held. */
export interface ImportedRecord {
  record: ClientRecord
  /** Fields present in the source (a CSV row holds only a few). */
  fields: ReadonlySet<keyof ClientRecord>
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

/** Parses JSON text, turning a syntax error into StoreCorruptError with file, line and column. */
export function parseJsonText(text: string, file: string): unknown {
  try {
    return JSON.parse(text)
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error)
    const position = /position (\d+)/.exec(message)
    const where = position ? ` at ${lineColumn(text, Number(position[1]))}` : text.trim().length === 0 ? ' (the file is empty)' : ''
    throw new StoreCorruptError(`${file}: invalid JSON${where}: ${message.replace(/ in JSON at position \d+.*$/, '')}`)
  }
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
    if (!Array.isArray(document) && keyId === undefined) throw new StoreCorruptError(`${where}: keys must be client ids ("1", "2", …)`)
    const record = parseClientRecord(value, where, keyId)
    if (keyId !== undefined && record.client_id !== keyId) {
      throw new StoreCorruptError(`${where}: its client_id is ${record.client_id}, but it is stored under "${key}"`)
    }
    if (seen.has(record.client_id)) throw new StoreCorruptError(`${where}: client id ${record.client_id} appears twice`)
    seen.add(record.client_id)
    assertNotMasked(record, where)
    const present = new Set(Object.keys(value as object).filter((field) => (CLIENT_FIELDS as readonly string[]).includes(field))) as Set<keyof ClientRecord>
    present.add('client_id')
    return {record, fields: present}
  })
}

/** The upstream CSV export: live clients only (tombstones carry no credentials). */
export function toCsv(records: Iterable<ClientRecord>): string {
  const rows = [...records]
    .filter((record) => !isRevoked(record))
    .map((record) => [record.client_id, record.name, record.is_admin ? 'True' : 'False', record.api_key, record.password ?? '', record.crypto_key ?? ''])
  return stringifyCsv([[...CSV_HEADER], ...rows])
}

/** Reads a CSV written by `export-clients` (ours or upstream's). */
export function fromCsv(text: string, file: string): ImportedRecord[] {
  let rows: string[][]
  try {
    rows = parseCsvText(text, {relax_column_count: false, skip_empty_lines: true, bom: true}) as string[][]
  } catch (error) {
    throw new StoreCorruptError(`${file}: invalid CSV: ${error instanceof Error ? error.message : String(error)}`)
  }
  const [header, ...body] = rows
  if (!header || header.join(',') !== CSV_HEADER.join(',')) {
    throw new StoreCorruptError(`${file}: the first line must be the header ${CSV_HEADER.join(',')}`)
  }
  const seen = new Set<number>()
  return body.map((row, index) => {
    const where = `${file}: line ${index + 2}`
    const [id, name, admin, accessKey, password, cryptoKey] = row as [string, string, string, string, string, string]
    if (!/^\d+$/.test(id) || Number(id) < 1) throw new StoreCorruptError(`${where}: client_id must be a positive integer`)
    const adminValue = admin.trim().toLowerCase()
    if (!['true', 'false', '1', '0'].includes(adminValue)) throw new StoreCorruptError(`${where}: is_admin must be True or False`)
    const record = parseClientRecord(
      {
        client_id: Number(id),
        name,
        is_admin: adminValue === 'true' || adminValue === '1',
        api_key: accessKey,
        password: password === '' ? null : password,
        crypto_key: cryptoKey === '' ? null : cryptoKey,
      },
      where,
    )
    if (seen.has(record.client_id)) throw new StoreCorruptError(`${where}: client id ${record.client_id} appears twice`)
    seen.add(record.client_id)
    assertNotMasked(record, where)
    return {record, fields: new Set<keyof ClientRecord>(['client_id', 'name', 'is_admin', 'api_key', 'password', 'crypto_key'])}
  })
}

/** Reads clients from the text of a file in any supported format (detected from content). */
export function parseClientsFile(text: string, file: string): ImportedRecord[] {
  const trimmed = text.replace(/^\uFEFF/, '').trimStart()
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) return fromJsonDocument(parseJsonText(text, file), file)
  if (trimmed.startsWith('client_id,')) return fromCsv(text, file)
  if (trimmed.length === 0) throw new StoreCorruptError(`${file}: the file is empty`)
  throw new StoreCorruptError(`${file}: not a clients file (expected JSON from export-clients --format json / clients.json, or the CSV of export-clients)`)
}

function assertNotMasked(record: ClientRecord, where: string): void {
  if ([record.api_key, record.password, record.crypto_key].some((value) => value !== null && value.endsWith('********'))) {
    throw new StoreCorruptError(`${where}: holds masked secrets (output of list-clients without --show-secrets), not real credentials`, {
      suggestion: 'export with: hivemind-core export-clients --format json --path FILE',
    })
  }
}

function lineColumn(text: string, offset: number): string {
  const before = text.slice(0, offset)
  const line = before.split('\n').length
  const column = offset - before.lastIndexOf('\n')
  return `line ${line}, column ${column}`
}
