/**
 * A file a command writes at the operator's request (an export, a backup): where it goes when a
 * directory is named, the guards (never over the database being read, never over an existing
 * file unless asked), and the write itself (atomic, 0600: it holds secrets).
 */
import {type Stats, statSync} from 'node:fs'
import path from 'node:path'

import {replaceWithText} from '../core/atomic-text-file.js'
import {InvalidInputError} from '../core/errors.js'
import {notARegularFile, sameFile} from '../core/file-access.js'

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

/**
 * Refuses an existing `file` unless `force`; something that is not a regular file (a named pipe,
 * a device, a socket) even with it: the atomic write would replace it with a regular file.
 */
export function refuseExistingFile(file: string, force: boolean, flag: string): void {
  let stats: Stats
  try {
    stats = statSync(file)
  } catch {
    return // Missing (or a dangling link): nothing is replaced.
  }
  const kind = notARegularFile(stats)
  if (kind && kind !== 'a directory') {
    throw new InvalidInputError(`${file} is ${kind}, not a file: it is not replaced, --force or not`, {suggestion: `choose another ${flag}`})
  }
  if (!force) {
    throw new InvalidInputError(`${file} already exists`, {suggestion: `choose another ${flag}, or pass --force to replace it`})
  }
}

/** The file `given` names: itself, or `defaultName` inside it when it is a directory (an existing one, or a path ending in a separator). */
export function outputFileAt(given: string, defaultName: string): string {
  const target = path.resolve(given)
  if (given.endsWith(path.sep) || isDirectory(target)) return path.join(target, defaultName)
  return target
}

/** True when `file` is a directory (false when it is anything else, or missing). */
export function isDirectory(file: string): boolean {
  try {
    return statSync(file).isDirectory()
  } catch {
    return false
  }
}

/** Writes `text` to `file` atomically with mode 0600; a failure is one line with its code. */
export async function writeOutputFile(file: string, text: string, flag: string): Promise<void> {
  try {
    await replaceWithText(file, [text], {mode: 0o600})
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'error'
    throw new InvalidInputError(`cannot write ${file} (${code})`, {cause: error, suggestion: `check that its directory exists and is writable, or choose another ${flag}`})
  }
}
