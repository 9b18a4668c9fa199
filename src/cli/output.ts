/**
 * Presentation helpers shared by commands: masking secrets, relative times, tables.
 */

import {type ClientRecord, SECRET_FIELDS, toPlainRecord} from '../core/client.js'
import {maskUrlSecrets} from '../core/redact.js'

/**
 * How a hidden secret is shown. An access key keeps its first 4 characters (enough to tell
 * clients apart, as token prefixes do); a password or crypto key shows nothing of itself: 4 of a
 * crypto key's 16 characters would be a quarter of the key.
 */
export function maskSecret(value: string | null, showPrefix = false): string | null {
  if (value === null) return null
  if (value === 'revoked') return value
  return !showPrefix || value.length <= 8 ? '********' : `${value.slice(0, 4)}********`
}

/** The record with its secrets masked (unless `reveal`). */
export function presentRecord(record: ClientRecord, reveal: boolean): ClientRecord {
  const plain = toPlainRecord(record)
  if (reveal) return plain
  for (const field of SECRET_FIELDS) (plain as unknown as Record<string, string | null>)[field] = maskSecret(plain[field], field === 'api_key')
  return plain
}

/** Units of {@link relativeTime}, largest first, with their length in seconds. */
const TIME_UNITS: ReadonlyArray<[string, number]> = [['year', 31_536_000], ['month', 2_592_000], ['day', 86_400], ['hour', 3600], ['minute', 60], ['second', 1]]

/**
 * "3 minutes ago", "in 2 hours" (a clock ahead of ours), "now", "never". Written out rather than
 * through Intl.RelativeTimeFormat: its first use loads ICU's data (15–45 ms measured, a tenth of a
 * listing's cold start) and each construction costs ~50 µs, while this English CLI needs only these
 * words.
 */
export function relativeTime(unixSeconds: number, now = Date.now()): string {
  if (unixSeconds < 0 || !Number.isFinite(unixSeconds)) return 'never'
  const seconds = Math.round(unixSeconds - now / 1000)
  if (seconds === 0) return 'now'
  const [unit, size] = TIME_UNITS.find(([, length]) => Math.abs(seconds) >= length)!
  const count = Math.trunc(Math.abs(seconds) / size)
  const amount = `${count} ${unit}${count === 1 ? '' : 's'}`
  return seconds < 0 ? `${amount} ago` : `in ${amount}`
}

/** A setting value fit to print: secrets masked, and so are the password and query values of a URL. */
export function maskSettingValue(value: unknown, secret: boolean): unknown {
  if (value === null || value === undefined) return value
  if (secret) return '********'
  if (typeof value === 'string') return maskUrlSecrets(value)
  return value
}
