/**
 * A connection that reads a SQLite file someone else owns and leaves it exactly as it was: no
 * byte of the file changed, no `-wal`, `-shm` or `-journal` file left beside it. Used by the probe
 * (the agreement guard peeks at other databases) and by a store asked to leave its location
 * untouched (the source of migrate-db).
 */
import {closeSync, existsSync, openSync, readSync, statSync} from 'node:fs'

import type Database from 'better-sqlite3'

import {fileInTheWay, fileState, notARegularFile} from '../../core/file-access.js'
import {requireCjs} from '../../core/require-cjs.js'

/**
 * True when the file's header says WAL journaling (bytes 18 and 19, the format's write and read
 * versions, are 2 for WAL and 1 for a rollback journal). False for anything else, including a
 * file too short or not SQLite at all: the driver reports those when it opens them.
 */
export function isWalFile(file: string): boolean {
  const header = Buffer.alloc(20)
  let read = 0
  const fd = openSync(file, 'r')
  try {
    read = readSync(fd, header, 0, header.length, 0)
  } finally {
    closeSync(fd)
  }
  return read === header.length && header.subarray(0, 16).toString('latin1') === 'SQLite format 3\0' && (header[18] === 2 || header[19] === 2)
}

/**
 * Opens `file` (which must exist) for reading without leaving a trace.
 *
 * - A rollback-journal file (what the Python hivemind-core writes) gets a read-only connection:
 *   reads take shared locks only and create no file.
 * - A WAL file needs a `-wal` and a `-shm` file to be read. A read-only connection that finds them
 *   missing creates them and, not allowed to checkpoint, leaves them behind when it closes (QA
 *   found such leftovers beside a database the guard had only peeked at). So, unless both already
 *   exist (another process has the file open, and they are its), the connection is read-write
 *   with `query_only`: it still cannot change a row, and SQLite itself removes the files it
 *   created when the last connection closes — under its own locks, which a cleanup of ours could
 *   not take, since another process may open the file at any moment.
 */
export function openReader(file: string, timeoutMs: number): Database.Database {
  const BetterSqlite3 = requireCjs('better-sqlite3') as typeof import('better-sqlite3')
  const state = fileState(file)
  if (state !== 'present') {
    // What the driver would report, without its readonly-mode quirks; nothing is created. A file
    // that may not be looked at is not "missing": the store then names what refuses.
    const code = state === 'absent' ? 'ENOENT' : fileInTheWay(file) ? 'ENOTDIR' : 'EACCES'
    throw Object.assign(new Error(`${file} ${state === 'absent' ? 'does not exist' : 'cannot be looked at'}`), {code})
  }
  // Opening a FIFO would block until another process writes into it.
  const kind = notARegularFile(statSync(file))
  if (kind) throw Object.assign(new Error(`${file} is ${kind}, not an SQLite database`), {code: 'EINVAL'})
  if (isWalFile(file) && !(existsSync(`${file}-wal`) && existsSync(`${file}-shm`))) {
    const connection = new BetterSqlite3(file, {fileMustExist: true, timeout: timeoutMs})
    try {
      connection.pragma('query_only = ON')
    } catch (error) {
      connection.close()
      throw error
    }
    return connection
  }
  return new BetterSqlite3(file, {readonly: true, fileMustExist: true, timeout: timeoutMs})
}
