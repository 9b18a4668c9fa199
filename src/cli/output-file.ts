/**
 * Guards for a file a command writes at the operator's request (an export, a backup): never over
 * the database being read, and never over an existing file unless asked.
 */
import {existsSync} from 'node:fs'
import path from 'node:path'

import {InvalidInputError} from '../core/errors.js'
import {sameFile} from '../core/file-access.js'

/** Files SQLite and the JSON store keep next to a database file (journal, WAL, lock). */
const COMPANION_SUFFIXES = ['-wal', '-shm', '-journal', '.lock', '.lock.d']

/**
 * Refuses `file` when it is the database at `databaseLocation` (the same file, through any path
 * or link) or one of the files kept beside it: writing there would destroy the hive. Locations
 * that are not file paths (a Redis server) never match.
 */
export function refuseDatabaseFile(file: string, databaseLocation: string, flag: string): void {
  if (!path.isAbsolute(databaseLocation)) return
  const target = path.resolve(file)
  const database = path.resolve(databaseLocation)
  if (target === database || sameFile(target, database)) {
    throw new InvalidInputError(`${target} is the database itself (${database}): writing there would destroy it`, {suggestion: `choose another ${flag}`})
  }
  if (COMPANION_SUFFIXES.some((suffix) => target === database + suffix)) {
    throw new InvalidInputError(`${target} belongs to the database ${database}: writing there would corrupt it`, {suggestion: `choose another ${flag}`})
  }
}

/** Refuses an existing `file` unless `force`. */
export function refuseExistingFile(file: string, force: boolean, flag: string): void {
  if (!force && existsSync(file)) {
    throw new InvalidInputError(`${file} already exists`, {suggestion: `choose another ${flag}, or pass --force to replace it`})
  }
}

