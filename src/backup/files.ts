/**
 * Where backups go by default, and writing them (0600, atomic, never over an existing file
 * unless asked).
 */
import {statSync} from 'node:fs'
import path from 'node:path'

import {refuseExistingFile} from '../cli/output-file.js'
import {InvalidInputError} from '../core/errors.js'
import {ensurePrivateDir} from '../core/private-dir.js'
import type {HivemindPaths} from '../core/store.js'

/** `$XDG_DATA_HOME/hivemind-core/backups`: the default backup directory (0700). */
export function defaultBackupDir(paths: HivemindPaths): string {
  return path.join(paths.dataDir, 'backups')
}

/** `clients-<backend>-20250102T030405Z.backup` (`.backup.enc` when encrypted). */
export function defaultBackupName(backend: string, encrypted: boolean, now = new Date()): string {
  const stamp = now.toISOString().replaceAll(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')
  return `clients-${backend}-${stamp}.backup${encrypted ? '.enc' : ''}`
}

/**
 * The file `--out` names: itself, or a file with the default name inside it when it is a
 * directory (an existing one, or a path ending in a separator), as export-clients does.
 */
export function backupFileAt(given: string, defaultName: string): string {
  const target = path.resolve(given)
  if (given.endsWith(path.sep) || isDirectory(target)) return path.join(target, defaultName)
  return target
}

function isDirectory(file: string): boolean {
  try {
    return statSync(file).isDirectory()
  } catch {
    return false
  }
}

/**
 * Writes a backup atomically with mode 0600; refuses an existing file unless `overwrite`. The
 * default directory is created (0700) when missing; a directory the operator named must exist:
 * a typo in --out must not leave a tree of new directories behind.
 */
export async function writeBackupFile(file: string, content: string, overwrite: boolean, createDirectory: boolean): Promise<void> {
  refuseExistingFile(file, overwrite, '--out')
  const directory = path.dirname(file)
  if (createDirectory) ensurePrivateDir(directory, 'private')
  else if (!isDirectory(directory)) {
    throw new InvalidInputError(`cannot write ${file}: the directory ${directory} does not exist`, {suggestion: 'create it first, or choose another --out'})
  }
  // Loaded here, not at the top: of the commands that import this module, only backup-db writes a backup.
  const {default: writeFileAtomic} = await import('write-file-atomic')
  try {
    await writeFileAtomic(file, content, {mode: 0o600})
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'error'
    throw new InvalidInputError(`cannot write ${file} (${code})`, {cause: error, suggestion: 'check that its directory is writable, or choose another --out'})
  }
}
