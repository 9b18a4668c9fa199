/**
 * A rollback-journal database (what the Python hivemind-core writes) whose writer stopped in the
 * middle of a transaction — killed, or a power cut — keeps a "hot" journal beside it: the original
 * content of the pages that transaction had already overwritten. The next connection allowed to
 * write puts those pages back before anything is read. A read-only connection may not, so it gets
 * SQLITE_READONLY_ROLLBACK on every statement, and a caller that must leave the location untouched
 * (migrate-db's source, doctor) cannot let a writable one do it either.
 *
 * Such a location is read through a copy of BOTH files instead: opened read-write, SQLite rolls the
 * copy back, which then holds the last committed state — exactly what any reader of the original
 * sees once it is rolled back. The copy is only trusted when neither file changed while it was
 * taken (another process may roll the original back, or write to it, at any moment).
 */
import {chmodSync, copyFileSync, rmSync, statSync} from 'node:fs'

/** True for the driver's error on a location with a hot journal that this connection may not roll back. */
export function isHotJournalError(error: unknown): boolean {
  return (error as {code?: unknown} | undefined)?.code === 'SQLITE_READONLY_ROLLBACK'
}

const HOT_VERSION_PREFIX = 'hot:'

/** Identifies the database file and its journal as they are now: it moves when either is written, replaced or removed. */
export function hotJournalVersion(file: string): string {
  return `${HOT_VERSION_PREFIX}${identity(file)}/${identity(journalOf(file))}`
}

/** Whether `version` was made by {@link hotJournalVersion} (and not, say, a data_version number). */
export function isHotJournalVersion(version: string): boolean {
  return version.startsWith(HOT_VERSION_PREFIX)
}

/**
 * Copies `file` and its journal to `copy` and its journal (both 0600; the caller's directory is
 * private). Returns the version both had throughout the copy, or undefined when either changed
 * or vanished meanwhile: the copy may then mix states, and the caller looks at the location again.
 */
export function copyWithJournal(file: string, copy: string): string | undefined {
  const before = hotJournalVersion(file)
  try {
    copyFileSync(file, copy)
    copyFileSync(journalOf(file), journalOf(copy))
  } catch (error) {
    // Rolled back (the journal is gone) or replaced by another process while we copied.
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
    rmSync(journalOf(copy), {force: true})
    return undefined
  }
  // copyFile gives the copy the original's mode: the data stays private to this user.
  chmodSync(copy, 0o600)
  chmodSync(journalOf(copy), 0o600)
  if (hotJournalVersion(file) === before) return before
  // Not left for the next attempt: a stale journal beside the copy would be rolled into it.
  rmSync(journalOf(copy), {force: true})
  return undefined
}

function journalOf(file: string): string {
  return `${file}-journal`
}

/** Inode, size and mtime: not ctime, which a read-only connection's look at the journal moves (measured). */
function identity(file: string): string {
  try {
    const stats = statSync(file, {bigint: true})
    return `${stats.ino}:${stats.size}:${stats.mtimeNs}`
  } catch {
    return '-'
  }
}
