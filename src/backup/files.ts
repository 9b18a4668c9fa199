/**
 * Where backups go by default, and writing them (0600, atomic, never over an existing file
 * unless asked).
 */
import path from 'node:path'

import {refuseExistingFile} from '../cli/output-file.js'
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

/** Writes a backup atomically with mode 0600; refuses an existing file unless `overwrite`. */
export async function writeBackupFile(file: string, content: string, overwrite: boolean): Promise<void> {
  refuseExistingFile(file, overwrite, '--out')
  ensurePrivateDir(path.dirname(file), 'private')
  // Loaded here, not at the top: of the commands that import this module, only backup-db writes a backup.
  const {default: writeFileAtomic} = await import('write-file-atomic')
  await writeFileAtomic(file, content, {mode: 0o600})
}
