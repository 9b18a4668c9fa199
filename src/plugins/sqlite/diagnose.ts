/**
 * The sqlite backend's own doctor check: a database left with a hot journal (hot-journal.ts).
 * Nothing is lost — readers see the last committed clients and the next writer rolls the
 * interrupted write back — but it means a process died in the middle of a write, which is worth
 * knowing. Looks only: a read-only connection, on a rollback-journal file, creates nothing.
 */
import {existsSync} from 'node:fs'
import path from 'node:path'

import type {Finding} from '../../core/store.js'
import {isHotJournalError} from './hot-journal.js'
import type {SqliteOptions} from './options.js'
import {openReader} from './reader.js'

export function diagnoseSqlite(options: SqliteOptions): Finding[] {
  const file = options.path
  // Without a journal beside it there is nothing to look at (and nothing is opened).
  if (!existsSync(`${file}-journal`)) return []
  let connection: ReturnType<typeof openReader> | undefined
  try {
    connection = openReader(file, options.busyTimeoutMs)
    connection.pragma('data_version')
    // Readable: the journal belongs to a transaction in progress, not to a dead writer.
    return []
  } catch (error) {
    // Anything else (a damaged file, no access) is reported when doctor opens the store.
    if (!isHotJournalError(error)) return []
    return [
      {
        id: 'sqlite-hot-journal',
        severity: 'warning',
        message: `${file} holds an interrupted write: a process stopped in the middle of writing it and left a hot ${path.basename(file)}-journal. Nothing is lost: readers see the last committed clients, and the next command that writes rolls the interrupted write back`,
        fix: 'find out what stopped the writer (a crash, kill -9, a power cut); to roll it back now, run any command that writes to this database, e.g. hivemind-core listen',
      },
    ]
  } finally {
    connection?.close()
  }
}
