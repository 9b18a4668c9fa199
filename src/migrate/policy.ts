/**
 * The rules migrate-db and restore-db share: what may be done to a target that already holds
 * clients, how a failed verification is reported, and the exit codes CI scripts test for.
 */
import {HivemindError} from '../core/errors.js'
import type {ClientRecord} from '../core/client.js'
import type {MigrationPlan, TargetPolicy, Verification} from './migrate.js'

/** Exit codes of migrate-db and restore-db, for CI (documented in the README and docs/migration.md). */
export const MIGRATE_EXIT = {done: 0, error: 1, usage: 2, refused: 3, verifyFailed: 4} as const

/** Where a copy comes from and goes to, as the messages name them. */
export interface CopySides {
  /** `<backend> <location>` of the target. */
  targetLabel: string
  /** What the records come from in messages: "the source", "the backup". */
  sourceNoun: string
  /** The target is marked incomplete by an earlier run from the same source: finishing it is allowed. */
  resuming: boolean
  /**
   * The target is marked incomplete by an earlier run from the same source that used --force, and
   * this one does not: what differs is refused (it may be the target's own), with how to finish.
   */
  interruptedForce?: boolean
  /** The target can be emptied (the store has clear()), which --force needs when it holds extra records. */
  canClear: boolean
}

/**
 * Applies the non-empty-target rules to a plan; throws (exit 3) when the copy must not run.
 * refuse: only a target holding nothing but records identical to the source's (this copy, done, or
 * interrupted when resuming) is accepted. merge: conflicts refuse. force: anything goes, except
 * records to remove from a target that cannot remove them.
 */
export function checkTarget(plan: MigrationPlan, policy: TargetPolicy, sides: CopySides): void {
  if (plan.targetCount === 0) return
  const {targetLabel, sourceNoun} = sides
  const refused = (message: string, suggestion: string) => new HivemindError('MIGRATION_REFUSED', message, {exitCode: MIGRATE_EXIT.refused, suggestion})
  if (policy === 'force') {
    if (plan.extra.length > 0 && !sides.canClear) {
      throw refused(`${targetLabel} holds ${plan.extra.length} record(s) that are not in ${sourceNoun}, and this backend cannot remove them`, 'empty the target by other means first')
    }
    return
  }
  // Resuming an incomplete copy from the same source: a record that differs was written by the
  // interrupted run and the source has changed it since (or the run failed verification because
  // of that): the target must end up equal to the source NOW, so it is rewritten, not refused.
  if (plan.conflicts.length > 0 && !sides.resuming) {
    const conflictList = plan.conflicts.slice(0, 20).map((item) => `${item.client_id} (${item.fields.join(', ')})`).join('; ')
    throw refused(
      `${targetLabel} holds ${plan.conflicts.length} record(s) that differ from ${sourceNoun}: ${conflictList}`,
      sides.interruptedForce
        ? "an interrupted run of this same copy used --force: re-run it with --force to finish it (it replaces the target's contents); nothing was written"
        : policy === 'merge'
          ? "resolve them, or use --force to replace the target's contents"
          : "use --force to replace the target's contents",
    )
  }
  if (policy === 'merge') {
    if (plan.keyClashes.length === 0) return
    const clashList = plan.keyClashes.slice(0, 20).map((clash) => `${clash.client_id} (its access key is client ${clash.heldBy}'s there)`).join('; ')
    throw refused(
      `${targetLabel} holds ${plan.keyClashes.length} client(s) of its own with the access key of a client to copy: ${clashList}`,
      "two clients cannot share an access key: delete-client the target's copy (and enrol that satellite again with add-client) if it is the same satellite, or use --force to replace the target's contents; nothing was written",
    )
  }
  const onlyOurs = plan.extra.length === 0
  if (onlyOurs && (plan.toCopy.length === 0 || sides.resuming)) return
  throw refused(
    onlyOurs
      ? `${targetLabel} is not empty: it holds ${plan.targetCount} record(s), all identical to ${sourceNoun}'s, and ${sourceNoun} has ${plan.toCopy.length} more`
      : `${targetLabel} is not empty: it holds ${plan.targetCount} record(s), ${plan.extra.length} of them not in ${sourceNoun}`,
    '--merge adds the missing records, --force replaces the contents; nothing was written',
  )
}

/** What a copy that passed {@link checkTarget} writes, and whether it empties the target first. */
export interface PlannedWrites {
  records: ClientRecord[]
  /** --force onto a target holding records the source lacks: emptied, then the whole source copied. */
  clearFirst: boolean
}

/**
 * The records a copy writes under `policy` (the same for a dry run and the real run, so the dry
 * run reports what the real one will do). Resuming rewrites the records that differ.
 */
export function plannedWrites(plan: MigrationPlan, policy: TargetPolicy, resuming: boolean): PlannedWrites {
  if (policy === 'force' && plan.extra.length > 0) return {records: plan.sourceRecords, clearFirst: true}
  return {records: policy === 'force' || resuming ? [...plan.toCopy, ...plan.conflicting] : plan.toCopy, clearFirst: false}
}

/**
 * The error (exit 4) for a failed verification: what differs, by id and field name, never by
 * value. The target is left marked incomplete, so running the same command again resumes.
 */
export function verificationFailed(verification: Verification, sourceNoun: string): HivemindError {
  const parts = [
    verification.sourceCount === verification.targetCount ? undefined : `${verification.sourceCount} records in ${sourceNoun}, ${verification.targetCount} in the target`,
    verification.missing.length > 0 ? `missing ids ${verification.missing.slice(0, 20).join(', ')}` : undefined,
    verification.extra.length > 0 ? `unexpected ids ${verification.extra.slice(0, 20).join(', ')}` : undefined,
    verification.different.length > 0 ? `different: ${verification.different.slice(0, 20).map((item) => `${item.client_id} (${item.fields.join(', ')})`).join('; ')}` : undefined,
  ].filter(Boolean)
  return new HivemindError('VERIFICATION_FAILED', `verification failed: ${parts.join('; ')}; the target is marked incomplete`, {
    exitCode: MIGRATE_EXIT.verifyFailed,
    suggestion: 'fix the cause and re-run the same command (it resumes)',
  })
}

/** Ids for a message: the first 20, then how many more. */
export function describeIds(ids: readonly number[]): string {
  return ids.length <= 20 ? ids.join(', ') : `${ids.slice(0, 20).join(', ')} and ${ids.length - 20} more`
}

/**
 * What the audit line of a --force copy says about the records it removed from the target (their
 * ids: which satellites lost access is what an auditor asks). At most 1000 ids; `removed` counts all.
 */
export function removedDetails(clearFirst: boolean, extra: readonly number[]): {removed?: number; removedIds?: number[]} {
  return clearFirst ? {removed: extra.length, removedIds: extra.slice(0, 1000)} : {}
}
