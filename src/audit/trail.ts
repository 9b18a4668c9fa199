/**
 * The audit trail: where audit lines go (a local JSON-lines file, optionally a Redis stream as
 * well), and reading them back.
 *
 * The file is opened with O_APPEND and every batch of lines is ONE write() call: on a local
 * filesystem the kernel appends each write as a unit at the end of the file, so concurrent
 * writers (twenty CLI processes, a listener) never interleave or overwrite each other's lines
 * and no lock is needed. (NFS does not honour O_APPEND atomically: keep the trail on a local
 * disk, or use the Redis stream.) The file is created 0600 in a 0700 directory.
 */
import {createReadStream} from 'node:fs'
import {open} from 'node:fs/promises'
import {createInterface} from 'node:readline'
import path from 'node:path'

import {HivemindError} from '../core/errors.js'
import {ensurePrivateDir} from '../core/private-dir.js'
import {type AuditEntry, type AuditInput, completeEntry} from './entry.js'

/** Largest single write: lines are grouped into writes no bigger than this (whole lines only). */
const MAX_WRITE_BYTES = 256 * 1024

/** Something audit lines can be written to. */
export interface AuditSink {
  /** Human-readable destination ("file /…/audit.log", "redis stream …"). */
  readonly description: string
  write(entries: readonly AuditEntry[]): Promise<void>
  close(): Promise<void>
}

/** The audit trail could not be written. The change it describes may have happened. */
export class AuditWriteError extends HivemindError {
  constructor(message: string, cause?: unknown) {
    super('STORE_UNAVAILABLE', message, {cause, suggestion: 'check the audit file (hivemind-core doctor), its directory and free space'})
  }
}

/** Appends JSON lines to a file (see the module comment for why this is safe). */
export class FileAuditSink implements AuditSink {
  readonly description: string
  constructor(readonly file: string) {
    this.description = `file ${file}`
  }

  async write(entries: readonly AuditEntry[]): Promise<void> {
    if (entries.length === 0) return
    const chunks: Buffer[] = []
    let current: string[] = []
    let size = 0
    for (const entry of entries) {
      const line = `${JSON.stringify(entry)}\n`
      const bytes = Buffer.byteLength(line)
      if (size + bytes > MAX_WRITE_BYTES && current.length > 0) {
        chunks.push(Buffer.from(current.join('')))
        current = []
        size = 0
      }
      current.push(line)
      size += bytes
    }
    if (current.length > 0) chunks.push(Buffer.from(current.join('')))
    try {
      ensurePrivateDir(path.dirname(this.file), 'private')
      const handle = await open(this.file, 'a', 0o600)
      try {
        for (const chunk of chunks) {
          const {bytesWritten} = await handle.write(chunk, 0, chunk.length)
          // Only a full disk or a quota makes a regular-file write short; say so rather than leave half a line unexplained.
          if (bytesWritten !== chunk.length) throw new Error(`short write (${bytesWritten} of ${chunk.length} bytes): disk full?`)
        }
      } finally {
        await handle.close()
      }
    } catch (error) {
      throw new AuditWriteError(`cannot append to the audit file ${this.file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, error)
    }
  }

  async close(): Promise<void> {}
}

/**
 * Fills in time, user, host, pid and command, and writes to every sink. All sinks are attempted;
 * the first failure is thrown afterwards.
 */
export class AuditTrail {
  constructor(
    readonly sinks: readonly AuditSink[],
    /** Default `command` of the lines ("listen", "add-client"). */
    readonly command: string,
  ) {}

  /** Appends one line. */
  async record(input: AuditInput): Promise<void> {
    await this.recordMany([input])
  }

  /** Appends several lines (one write per sink). */
  async recordMany(inputs: readonly AuditInput[]): Promise<void> {
    if (inputs.length === 0) return
    const entries = inputs.map((input) => completeEntry(input, this.command))
    const failures: unknown[] = []
    for (const sink of this.sinks) {
      try {
        await sink.write(entries)
      } catch (error) {
        failures.push(error)
      }
    }
    if (failures.length > 0) throw failures[0]
  }

  async close(): Promise<void> {
    for (const sink of this.sinks) await sink.close().catch(() => {})
  }
}

/** What reading a trail found. */
export interface AuditReadResult {
  /** The entries read that match the filter (all of them without one), in file order. */
  entries: AuditEntry[]
  /** Valid entries read, matching or not. */
  total: number
  /** Lines that are not valid audit entries (reported, never fatal). */
  invalid: number
}

/** Collects entries line by line, keeping only those that match: a trail of years is never held whole. */
class AuditCollector {
  readonly result: AuditReadResult = {entries: [], total: 0, invalid: 0}
  constructor(private readonly filter: AuditFilter) {}

  add(line: string): void {
    if (line.trim() === '') return
    let value: Partial<AuditEntry>
    try {
      value = JSON.parse(line) as Partial<AuditEntry>
    } catch {
      this.result.invalid++
      return
    }
    if (typeof value !== 'object' || value === null || typeof value.time !== 'string' || typeof value.event !== 'string') {
      this.result.invalid++
      return
    }
    this.result.total++
    if (matches(value as AuditEntry, this.filter)) this.result.entries.push(value as AuditEntry)
  }
}

/** Parses JSON-lines audit text; lines that are not audit entries are counted, not fatal. */
export function parseAuditLines(text: string, filter: AuditFilter = {}): AuditReadResult {
  const collector = new AuditCollector(filter)
  for (const line of text.split('\n')) collector.add(line)
  return collector.result
}

/**
 * Reads an audit file a line at a time, keeping the entries that match `filter`; a missing file is
 * an empty trail. Read whole, a 742 MB trail failed (QA): V8 cannot make a string that long.
 */
export async function readAuditFile(file: string, filter: AuditFilter = {}): Promise<AuditReadResult> {
  const collector = new AuditCollector(filter)
  try {
    const lines = createInterface({input: createReadStream(file, {encoding: 'utf8'}), crlfDelay: Number.POSITIVE_INFINITY})
    for await (const line of lines) collector.add(line)
    return collector.result
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {entries: [], total: 0, invalid: 0}
    throw new HivemindError('INVALID_INPUT', `cannot read the audit file ${file} (${(error as NodeJS.ErrnoException).code ?? 'error'})`, {cause: error})
  }
}

/** Filters of `hivemind-core audit`. */
export interface AuditFilter {
  /** Entries at or after this time. */
  since?: Date
  /** A client id, or a client name (exact). */
  client?: string
  /** Event names (any of). */
  events?: readonly string[]
}

/** Whether an entry passes every filter given. */
function matches(entry: AuditEntry, filter: AuditFilter): boolean {
  if (filter.since !== undefined && !(Date.parse(entry.time) >= filter.since.getTime())) return false
  if (filter.events && filter.events.length > 0 && !filter.events.includes(entry.event)) return false
  if (filter.client !== undefined) {
    const wanted = filter.client
    const byId = /^\d+$/.test(wanted) && entry.client_id === Number(wanted)
    if (!byId && entry.name !== wanted) return false
  }
  return true
}

/** "2h", "7d", "30m", "45s" or an ISO date/time → a Date; undefined when not understood. */
export function parseSince(value: string, now = Date.now()): Date | undefined {
  const relative = /^(\d+)\s*([smhdw])$/i.exec(value.trim())
  if (relative) {
    const unit = {s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000}[relative[2]!.toLowerCase() as 's' | 'm' | 'h' | 'd' | 'w']
    return new Date(now - Number(relative[1]) * unit)
  }
  const parsed = Date.parse(value)
  return Number.isNaN(parsed) ? undefined : new Date(parsed)
}
