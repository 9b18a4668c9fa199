/**
 * Where backups go by default, and writing them (0600, atomic, never over an existing file
 * unless asked).
 */
import path from 'node:path'

import {isDirectory, refuseExistingFile, writeOutputFile} from '../cli/output-file.js'
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
  await writeOutputFile(file, content, '--out')
}
