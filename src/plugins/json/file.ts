/**
 * Reading and checking the clients file. A file that does not decode, parse or validate is an
 * error naming the path and the position; it is never treated as empty and never rewritten.
 */
import {isUtf8} from 'node:buffer'
import {readFileSync, statSync} from 'node:fs'

import {type ClientRecord} from '../../core/client.js'
import {StoreCorruptError} from '../../core/errors.js'
import {fileState, notARegularFile} from '../../core/file-access.js'
import {assertNoDuplicateNames, fromJsonDocument, parseJsonText} from '../../core/upstream-json.js'
import {shellQuoted} from '../../core/shell-word.js'
import type {StoreProbe} from '../../core/store.js'

/** Decodes and validates the bytes of a clients file. */
export function parseClientsJson(bytes: Buffer, file: string): ClientRecord[] {
  if (bytes.length === 0) {
    throw new StoreCorruptError(`${file}: the file is empty (an interrupted write by an older tool?)`, {
      suggestion: 'restore it from a backup, or write {} into it to start an empty hive',
    })
  }
  // The file the other backend writes, e.g. --db-backend json --db-path clients.db (QA: it was
  // reported as "invalid UTF-8 at byte 98", with nothing to do about it).
  if (bytes.subarray(0, 16).toString('latin1') === 'SQLite format 3\0') {
    throw new StoreCorruptError(`${file} is an SQLite database, not a clients.json`, {suggestion: `open it with --db-backend sqlite --db-path ${shellQuoted(file)}; nothing was changed`})
  }
  // The native check first (a 100k-client file is ~90 MB); the byte-by-byte scan only to name the position.
  const invalid = isUtf8(bytes) ? undefined : firstInvalidUtf8(bytes)
  if (invalid !== undefined) throw new StoreCorruptError(`${file}: invalid UTF-8 at byte ${invalid}`)
  const text = bytes.toString('utf8')
  const document = parseJsonText(text, file)
  if (Array.isArray(document) || typeof document !== 'object' || document === null) {
    throw new StoreCorruptError(`${file}: expected an object of clients keyed by id, found ${Array.isArray(document) ? 'a list' : document === null ? 'null' : typeof document}`)
  }
  assertNoDuplicateNames(text, document, file)
  return fromJsonDocument(document, file).map((item) => item.record)
}

/** Offset of the first byte that is not valid UTF-8, or undefined. */
export function firstInvalidUtf8(bytes: Uint8Array): number | undefined {
  let index = 0
  while (index < bytes.length) {
    const byte = bytes[index]!
    const length = byte < 0x80 ? 1 : byte >= 0xc2 && byte <= 0xdf ? 2 : byte >= 0xe0 && byte <= 0xef ? 3 : byte >= 0xf0 && byte <= 0xf4 ? 4 : 0
    if (length === 0 || index + length > bytes.length) return index
    for (let next = 1; next < length; next++) if ((bytes[index + next]! & 0xc0) !== 0x80) return index
    // Overlong 3/4-byte forms, UTF-16 surrogates and code points above U+10FFFF.
    const second = bytes[index + 1]!
    if ((byte === 0xe0 && second < 0xa0) || (byte === 0xed && second > 0x9f) || (byte === 0xf0 && second < 0x90) || (byte === 0xf4 && second > 0x8f)) return index
    index += length
  }
  return undefined
}

/** Inspects a clients file without locking or writing (for the agreement guard). */
export function probeJsonFile(file: string): StoreProbe | undefined {
  const state = fileState(file)
  // A file that cannot be looked at is "cannot tell", never "missing": opening it then reports why.
  if (state === 'unknown') return undefined
  if (state === 'absent') return {exists: false, location: file}
  // Never read a FIFO or a device: it could block. Opening it then says what it is.
  if (notARegularFile(statSync(file))) return undefined
  try {
    const records = parseClientsJson(readFileSync(file), file)
    let lastId = 0
    for (const record of records) if (record.client_id > lastId) lastId = record.client_id
    return {exists: true, clients: records.filter((record) => record.api_key !== 'revoked').length, lastId, location: file}
  } catch {
    return {exists: true, location: file}
  }
}
