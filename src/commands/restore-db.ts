import {Args, Flags} from '@oclif/core'

import {StoreCommand} from '../base-command.js'
import {readInputFile} from '../cli/input-file.js'
import {BackupStore} from '../backup/backup-store.js'
import {parseBackup, readBackupHeader} from '../backup/format.js'
import {obtainPassphrase, PASSPHRASE_ENV} from '../backup/passphrase.js'
import {type OpenedStore, openStore, openWithSources} from '../config/open-store.js'
import {readMark, writeMark} from '../migrate/marker.js'
import {copyRecords, isCurrentDigest, planMigration, recordsDigest, verifyMigration} from '../migrate/migrate.js'
import {checkTarget, describeIds, plannedWrites, removedDetails, verificationFailed} from '../migrate/policy.js'
import {pickSide, refuseFlagsOfOtherBackend, resolveSideOptions, sideFlags} from './migrate-db.js'

/** What `restore-db --json` prints. */
export interface RestoreResult {
  file: string
  to: string
  /** Records in the backup. */
  records: number
  /** Records written (absent from the target, or replaced with --force). */
  written: number
  /** Records already identical in the target. */
  identical: number
  /** Records the target held that are not in the backup, removed by --force (it empties the target first). */
  removed: number
  verified: boolean
  dryRun: boolean
}

export default class RestoreDb extends StoreCommand {
  static override summary = 'Restore a backup-db file into the current database (or the one --to names), then verify.'
  static override description = `The whole file is read, decrypted and checked (header, checksum or authentication tag, record count, every record) BEFORE anything is opened for writing: a wrong passphrase, a truncated or altered file is an error and writes nothing.
The same rules as migrate-db apply to the target: one that already holds clients is refused (exit 3) unless --merge (add the missing records; identical ones are accepted, differing ones refused) or --force (replace its contents). Afterwards every record is compared with the backup; a difference exits 4 and leaves the target marked incomplete.
Encrypted backups need the passphrase: asked on the terminal, or env ${PASSPHRASE_ENV}.`

  static override examples = [
    '<%= config.bin %> <%= command.id %> ~/.local/share/hivemind-core/backups/clients-sqlite-20250101T000000Z.backup',
    '<%= config.bin %> <%= command.id %> hive.backup.enc --to json --to-path /srv/hive/clients.json',
    '<%= config.bin %> <%= command.id %> hive.backup --merge --json',
  ]

  static override args = {
    file: Args.string({name: 'FILE', description: 'backup file written by backup-db', required: true}),
  }

  static override flags = {
    to: Flags.string({description: 'target backend (default: the current database)'}),
    ...sideFlags('to'),
    merge: Flags.boolean({description: 'add missing records to a non-empty target; identical ones are accepted', exclusive: ['force'], default: false}),
    force: Flags.boolean({description: 'replace the contents of a non-empty target', exclusive: ['merge'], default: false}),
    'dry-run': Flags.boolean({description: 'check the backup and report what would be written; write nothing', default: false}),
  }

  async run(): Promise<RestoreResult> {
    const {args, flags} = await this.parse(RestoreDb)
    const {file, text} = readInputFile(args.file)
    const header = readBackupHeader(text, file)
    const passphrase = header.encrypted ? await obtainPassphrase({confirm: false, interactive: this.interactive()}) : undefined
    const backup = await parseBackup(text, file, passphrase)
    if (!flags.quiet) this.notice(`Backup: ${backup.header.count} record(s) of ${backup.header.backend} ${backup.header.location}, taken ${backup.header.createdAt}${backup.header.encrypted ? ', encrypted' : ''}; verified.`)

    const settings = await this.resolve(flags)
    const registry = await this.registry()
    const warn = (message: string) => this.notice(`Warning: ${message}`)
    const toSide = pickSide(flags as unknown as Record<string, unknown>, 'to')
    const mode = flags['dry-run'] ? 'read' : 'write'
    // A dry run writes nothing at all: not even the schema upgrade of an upstream clients.db.
    const hints = flags['dry-run'] ? {leaveUntouched: true} : {}
    let target: OpenedStore
    let targetLabel: string
    if (flags.to || toSide.given) {
      const backend = flags.to ? registry.get(flags.to, 'flag --to') : settings.registered
      refuseFlagsOfOtherBackend(flags as unknown as Record<string, unknown>, 'to', backend)
      const targetOptions = resolveSideOptions(settings, backend, toSide.values, 'to')
      this.showNewNotices()
      target = await openWithSources(backend, targetOptions, settings, mode, warn, hints, 'to')
      targetLabel = `${backend.descriptor.name} ${target.store.location}`
    } else {
      target = await openStore(settings, mode, warn, hints)
      targetLabel = `${settings.registered.descriptor.name} ${target.store.location}`
    }
    const source = new BackupStore(file, backup.records)
    try {
      if (!flags.quiet) this.notice(`Target: ${targetLabel}`)
      const plan = await planMigration(source, target.store)
      const policy = flags.merge ? 'merge' : flags.force ? 'force' : 'refuse'
      const sourceLabel = `backup ${file}`
      const mark = readMark(settings.paths.stateDir, targetLabel)
      // An interrupted restore of this same file may be finished by running it again.
      let resuming = mark?.state === 'incomplete' && mark.from === sourceLabel
      const backupDigest = recordsDigest(plan.sourceRecords)
      // Resuming rewrites target records that differ, taking them for ones the interrupted run
      // wrote from a file that has changed since. A backup at that path that has NOT changed (or a
      // mark that cannot tell) means a differing record is someone else's: the target's own, left
      // in place by an interrupted --force (QA: a later --merge overwrote three clients), or one
      // added meanwhile. It is then a conflict like any other.
      const interruptedForce = resuming && mark!.policy === 'force' && policy !== 'force'
      if (resuming && plan.conflicts.length > 0 && (interruptedForce || !isCurrentDigest(mark!.sourceDigest) || mark!.sourceDigest === backupDigest)) resuming = false
      checkTarget(plan, policy, {targetLabel, sourceNoun: 'the backup', resuming, interruptedForce, canClear: target.store.clear !== undefined})
      // The same rule as migrate-db's (resuming rewrites what differs); a cleared target gets the backup's records.
      const {clearFirst, records: planned} = plannedWrites(plan, policy, resuming)
      const writes = clearFirst ? backup.records : planned
      const result: RestoreResult = {file, to: targetLabel, records: backup.records.length, written: writes.length, identical: clearFirst ? 0 : plan.identical, removed: clearFirst ? plan.extra.length : 0, verified: false, dryRun: flags['dry-run']}
      if (flags['dry-run']) {
        this.log(`Dry run: would write ${writes.length} record(s) to ${targetLabel} (${result.identical} already identical${clearFirst ? `, ${plan.extra.length} removed` : ''}); nothing was written.`)
        return result
      }

      await writeMark(settings.paths.stateDir, targetLabel, {from: sourceLabel, state: 'incomplete', sourceDigest: backupDigest, by: 'restore-db', policy})
      if (clearFirst) await target.store.clear!()
      // The target's own batch size: a JSON target rewrites its file once per batch.
      await copyRecords(target.store, writes, target.store.preferredBatchSize ?? 500, () => {})
      const verification = await verifyMigration(source, target.store, policy === 'merge' ? new Set(plan.extra) : new Set(), plan)
      await this.audit({
        event: 'restore',
        store: targetLabel,
        details: {file, backupOf: `${backup.header.backend} ${backup.header.location}`, backupCreatedAt: backup.header.createdAt, records: backup.records.length, written: writes.length, cleared: clearFirst, ...removedDetails(clearFirst, plan.extra), policy, verified: verification.ok},
      })
      if (!verification.ok) throw verificationFailed(verification, 'the backup')
      await writeMark(settings.paths.stateDir, targetLabel, {from: sourceLabel, state: 'complete', by: 'restore-db'})
      result.verified = true
      this.log(`Restored ${writes.length} record(s) from ${file} into ${targetLabel} (${clearFirst ? `emptied first: ${plan.extra.length} record(s) not in the backup removed, ids ${describeIds(plan.extra)}` : `${result.identical} already there`}); verified ${verification.targetCount} record(s).`)
      return result
    } finally {
      await source.close()
      await target.store.close()
    }
  }
}
