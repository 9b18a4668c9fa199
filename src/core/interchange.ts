/**
 * File formats clients travel in: the upstream `clients.json` shape and a JSON array of records
 * (upstream-json.ts, re-exported here), and the upstream CSV export. Readers report the file and
 * the position of any problem.
 */
import {parse as parseCsvText} from 'csv-parse/sync'
import {stringify as stringifyCsv} from 'csv-stringify/sync'

import {type ClientRecord, isRevoked, parseClientRecord} from './client.js'
import {StoreCorruptError} from './errors.js'
import {assertNoDuplicateNames, assertNotMasked, fromJsonDocument, type ImportedRecord, parseJsonText} from './upstream-json.js'

export {fromJsonDocument, type ImportedRecord, parseJsonText, toUpstreamJson} from './upstream-json.js'

/** The upstream CSV header of `export-clients`. */
export const CSV_HEADER = ['client_id', 'name', 'is_admin', 'access_key', 'password', 'crypto_key'] as const

/** The upstream CSV export: live clients only (tombstones carry no credentials). */
export function toCsv(records: Iterable<ClientRecord>): string {
  const rows = [...records]
    .filter((record) => !isRevoked(record))
    .map((record) => [record.client_id, record.name, record.is_admin ? 'True' : 'False', record.api_key, record.password ?? '', record.crypto_key ?? ''])
  return stringifyCsv([[...CSV_HEADER], ...rows])
}

const CSV_FIELDS: ReadonlySet<keyof ClientRecord> = new Set(['client_id', 'name', 'is_admin', 'api_key', 'password', 'crypto_key'])
// toCsv writes a null secret as an empty cell, so a stored "" and a stored null export alike.
const CSV_EMPTY_OR_NULL: ReadonlySet<keyof ClientRecord> = new Set(['password', 'crypto_key'])

/** Reads a CSV written by `export-clients` (ours or upstream's). */
export function fromCsv(text: string, file: string): ImportedRecord[] {
  let rows: string[][]
  try {
    rows = parseCsvText(text, {relax_column_count: false, skip_empty_lines: true, bom: true}) as string[][]
  } catch (error) {
    // csv-parse quotes the field it stopped at ("..., value is \"…\""): that may be a password or
    // an access key, and secrets never go into a message (QA). Its line and field number stay.
    const reason = (error instanceof Error ? error.message : String(error)).replace(/,? value is [\s\S]*$/, '')
    throw new StoreCorruptError(`${file}: invalid CSV: ${reason}`, {suggestion: 'correct that line (the value is not shown: it may be a secret); nothing was written'})
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
    return {record, fields: CSV_FIELDS, emptyOrNull: CSV_EMPTY_OR_NULL}
  })
}

/** Reads clients from the text of a file in any supported format (detected from content). */
export function parseClientsFile(text: string, file: string): ImportedRecord[] {
  const trimmed = text.replace(/^\uFEFF/, '').trimStart()
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) {
    const document = parseJsonText(text, file)
    assertNoDuplicateNames(text, document, file)
    return fromJsonDocument(document, file)
  }
  if (trimmed.startsWith('client_id,')) return fromCsv(text, file)
  if (trimmed.length === 0) throw new StoreCorruptError(`${file}: the file is empty`)
  throw new StoreCorruptError(`${file}: not a clients file (expected JSON from export-clients --format json / clients.json, or the CSV of export-clients)`)
}
