/**
 * Marks a migration target as incomplete until it is verified, so an interrupted or failed
 * migration is never presented as done: `migrate-db` resumes it, and every other command opening
 * that store warns. Kept in `$XDG_STATE_HOME/hivemind-core/migrations.json` (0600): the contract
 * has no place for it inside the store, and it must work for every backend.
 */
import {existsSync, readFileSync} from 'node:fs'
import path from 'node:path'

import {ensurePrivateDir} from '../core/private-dir.js'
import type {TargetPolicy} from './migrate.js'

/** The state of one target. */
export interface MigrationMark {
  /** "json /home/u/.local/share/hivemind-core/clients.json": the source. */
  from: string
  state: 'incomplete' | 'complete'
  /**
   * recordsDigest() of the source: as it was verified, on a complete mark; as the run planned it,
   * on an incomplete one (it tells a resumed run whether the source changed since). Absent on
   * marks written before it existed.
   */
  sourceDigest?: string
  /**
   * On a complete mark of a --merge that kept records of the target's own (ids the source lacks):
   * those ids, and storeDigest() of the target as verified. Absent otherwise: the target then
   * fingerprints as the source (sourceDigest).
   */
  kept?: {ids: number[]; targetDigest: string}
  /** The command that copies into the target (absent on marks of older versions: migrate-db). */
  by?: 'migrate-db' | 'restore-db'
  /**
   * The run's non-empty-target policy. A run interrupted under --force may have left the target's
   * own records in place (the clear or the overwrite had not committed): finishing it without
   * --force must not overwrite them.
   */
  policy?: TargetPolicy
  /** ISO time of the last change. */
  updatedAt: string
}

function markerFile(stateDir: string): string {
  return path.join(stateDir, 'migrations.json')
}

function readAll(stateDir: string): Record<string, MigrationMark> {
  const file = markerFile(stateDir)
  if (!existsSync(file)) return {}
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as unknown
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, MigrationMark>) : {}
  } catch {
    // A damaged marker file only loses advice; the migration itself verifies the data.
    return {}
  }
}

/** How to finish an incomplete target: "re-running the same hivemind-core restore-db command (with --force, as it was run)". */
export function finishAdvice(mark: MigrationMark): string {
  return `re-running the same hivemind-core ${mark.by ?? 'migrate-db'} command${mark.policy === 'force' ? ' (with --force, as it was run)' : ''}`
}

/** The mark of a target ("sqlite /path/clients.db"), if any. */
export function readMark(stateDir: string, target: string): MigrationMark | undefined {
  return readAll(stateDir)[target]
}

/** Records the state of a target. */
export async function writeMark(stateDir: string, target: string, mark: Omit<MigrationMark, 'updatedAt'>): Promise<void> {
  const all = readAll(stateDir)
  all[target] = {...mark, updatedAt: new Date().toISOString()}
  await writeAll(stateDir, all)
}

/** Puts back the mark a target had before (`undefined`: none), as it was. */
export async function restoreMark(stateDir: string, target: string, previous: MigrationMark | undefined): Promise<void> {
  const all = readAll(stateDir)
  if (previous) all[target] = previous
  else delete all[target]
  await writeAll(stateDir, all)
}

async function writeAll(stateDir: string, all: Record<string, MigrationMark>): Promise<void> {
  ensurePrivateDir(stateDir)
  // Loaded here, not at the top: every store command reads marks, only migrations write them.
  const {default: writeFileAtomic} = await import('write-file-atomic')
  await writeFileAtomic(markerFile(stateDir), `${JSON.stringify(all, null, 2)}\n`, {mode: 0o600})
}
