/**
 * Looking at a database file without mistaking "may not look" for "not there": fs.existsSync
 * answers false for both, so a database behind a directory the user may not enter read as
 * missing — an empty hive, exit 0 — instead of an error.
 */
import {accessSync, constants, readlinkSync, realpathSync, statSync} from 'node:fs'
import path from 'node:path'

/** 'absent' only when the file is known not to exist; 'unknown' when it cannot be looked at. */
export type FileState = 'present' | 'absent' | 'unknown'

export function fileState(file: string): FileState {
  try {
    statSync(file)
    return 'present'
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    // ENOTDIR (a file where a directory should be) is a wrong path, not a missing database.
    return code === 'ENOENT' ? 'absent' : 'unknown'
  }
}

/**
 * Why the current user cannot read `file`, when permissions are the reason: "permission denied"
 * naming the directory or file that refuses, else undefined (missing, or readable).
 */
export function permissionProblem(file: string): string | undefined {
  // The closest ancestor that can be looked at decides: if it may not be entered, everything
  // below it is hidden (which is also why its own children cannot even be stat'ed).
  for (let dir = path.dirname(file); ; dir = path.dirname(dir)) {
    if (fileState(dir) === 'present') {
      // A file where a directory should be is a wrong path (fileInTheWay), not a permission.
      if (!statSync(dir).isDirectory()) return undefined
      if (!allowed(dir, constants.X_OK)) return `permission denied on the directory ${dir}`
      break
    }
    if (path.dirname(dir) === dir) break
  }
  return fileState(file) === 'present' && !allowed(file, constants.R_OK) ? `permission denied on ${file}` : undefined
}

function allowed(file: string, mode: number): boolean {
  try {
    accessSync(file, mode)
    return true
  } catch {
    return false
  }
}

/**
 * The file that a write to `file` must replace: symbolic links followed, a dangling one too (its
 * target is then created, the link kept), and directory links resolved. Writers reaching one file
 * through different names (a link and its target) then lock and replace the same name.
 */
export function writeTarget(file: string): string {
  let current = path.resolve(file)
  // Linux gives up after 40 links (ELOOP); so do we, leaving the error to the write itself.
  for (let hops = 0; hops < 40; hops++) {
    let link: string
    try {
      link = readlinkSync(current)
    } catch {
      break // Not a link (EINVAL), or missing: current is the file itself.
    }
    current = path.resolve(path.dirname(current), link)
  }
  try {
    return realpathSync(current)
  } catch {
    try {
      return path.join(realpathSync(path.dirname(current)), path.basename(current))
    } catch {
      return current
    }
  }
}

/**
 * For a path that failed with ENOTDIR: the part of it that is a file where a directory should
 * be ("/srv/hive" in /srv/hive/clients.db), or undefined when none is (any more).
 */
export function fileInTheWay(file: string): string | undefined {
  for (let dir = path.dirname(path.resolve(file)); path.dirname(dir) !== dir; dir = path.dirname(dir)) {
    try {
      if (!statSync(dir).isDirectory()) return dir
    } catch {
      // Missing or hidden: look further up.
    }
  }
  return undefined
}

/**
 * What `stats` describes when it is not a regular file ("a directory", "a named pipe (FIFO)"…),
 * else undefined. A database path must name a regular file: reading a FIFO blocks until some
 * other process writes into it, i.e. a command would hang.
 */
export function notARegularFile(stats: {isFile(): boolean; isDirectory(): boolean; isFIFO(): boolean; isSocket(): boolean}): string | undefined {
  if (stats.isFile()) return undefined
  if (stats.isDirectory()) return 'a directory'
  if (stats.isFIFO()) return 'a named pipe (FIFO)'
  if (stats.isSocket()) return 'a socket'
  return 'a device'
}

/** Both paths name one existing file (hard or symbolic links included): the same device and inode. */
export function sameFile(a: string, b: string): boolean {
  try {
    const first = statSync(a)
    const second = statSync(b)
    return first.dev === second.dev && first.ino === second.ino
  } catch {
    return false
  }
}

/** A file mode as chmod takes it: 0644, or 01777 for a sticky directory. */
export function octalMode(mode: number): string {
  return `0${(mode & 0o7777).toString(8).padStart(3, '0')}`
}
