/**
 * Presentation helpers shared by commands: masking secrets, relative times, tables.
 */

import {type ClientRecord, SECRET_FIELDS, toPlainRecord} from '../core/client.js'
import {maskUrlPassword} from '../core/redact.js'
import {requireCjs} from '../core/require-cjs.js'

/** How a hidden secret is shown: its first 4 characters (enough to tell keys apart) and dots. */
export function maskSecret(value: string | null): string | null {
  if (value === null) return null
  if (value === 'revoked') return value
  return value.length <= 8 ? '********' : `${value.slice(0, 4)}********`
}

/** The record with its secrets masked (unless `reveal`). */
export function presentRecord(record: ClientRecord, reveal: boolean): ClientRecord {
  const plain = toPlainRecord(record)
  if (reveal) return plain
  for (const field of SECRET_FIELDS) (plain as unknown as Record<string, string | null>)[field] = maskSecret(plain[field])
  return plain
}

/** "3 minutes ago", "never". */
export function relativeTime(unixSeconds: number, now = Date.now()): string {
  if (unixSeconds < 0 || !Number.isFinite(unixSeconds)) return 'never'
  const seconds = Math.round(unixSeconds - now / 1000)
  const format = new Intl.RelativeTimeFormat('en', {numeric: 'auto'})
  const units: Array<[Intl.RelativeTimeFormatUnit, number]> = [['year', 31_536_000], ['month', 2_592_000], ['day', 86_400], ['hour', 3600], ['minute', 60]]
  for (const [unit, size] of units) if (Math.abs(seconds) >= size) return format.format(Math.trunc(seconds / size), unit)
  return format.format(seconds, 'second')
}

/** A plain table (no colours: it goes into logs and pipes too). */
export function renderTable(head: string[], rows: Array<Array<string | number>>): string {
  // Required here, not imported at the top: a quiet or JSON listing never draws a table.
  const Table = requireCjs('cli-table3') as typeof import('cli-table3')
  const table = new Table({head, style: {head: [], border: [], compact: true}})
  for (const row of rows) table.push(row.map(String))
  return table.toString()
}

/** A setting value fit to print: secrets masked, and so is the password part of a URL. */
export function maskSettingValue(value: unknown, secret: boolean): unknown {
  if (value === null || value === undefined) return value
  if (secret) return '********'
  if (typeof value === 'string') return maskUrlPassword(value)
  return value
}
