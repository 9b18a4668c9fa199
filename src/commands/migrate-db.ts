import {Flags} from '@oclif/core'

import {StoreCommand} from '../base-command.js'
import {sideFlagsIn, withSideFlagNames} from '../cli/side-hints.js'
import {describeOrigin, findClientsElsewhere, type OpenedStore, openStore, openWithSources} from '../config/open-store.js'
import {type DatabaseFlagValues, describeSource, optionValues, type ResolvedSettings, resolveOtherBackendOptions, resolveSettings, SECTION_FLAGS, selectedDatabase, type SettingSource, type Sourced} from '../config/settings.js'
import {sameFile} from '../core/file-access.js'
import type {RegisteredBackend} from '../core/registry.js'
import {commandLineOptions} from '../config/command-line-options.js'
import {assertSwitchable, describeSwitch, relativeToConfig, switchBackend, userConfigFile, whereSecretsGo} from '../config/switch.js'
import {HivemindError, UsageError} from '../core/errors.js'
import {carryIdCounter, copyRecords, isCurrentDigest, type MigrationPlan, planMigration, recordsDigest, storeDigest, type TargetPolicy, verifyMigration} from '../migrate/migrate.js'
import {readMark, restoreMark, writeMark} from '../migrate/marker.js'
import {checkTarget, describeIds, MIGRATE_EXIT, plannedWrites, removedDetails, verificationFailed} from '../migrate/policy.js'

/** What `migrate-db --json` prints. */
export interface MigrateResult {
  from: string
  to: string
  copied: number
  skipped: number
  verified: boolean
  durationMs: number
  dryRun: boolean
  switched: string | null
}

export function sideFlags(side: 'from' | 'to') {
  const group = side === 'from' ? 'SOURCE' : 'TARGET'
  return {
    [`${side}-path`]: Flags.string({description: `${side === 'from' ? 'source' : 'target'} file of a file backend`, helpGroup: group}),
    [`${side}-option`]: Flags.string({description: 'any backend option as key=value (repeatable)', multiple: true, helpGroup: group}),
    [`${side}-redis-url`]: Flags.string({description: 'redis[s]://[user:pass@]host:port/db', helpGroup: group}),
    [`${side}-redis-host`]: Flags.string({description: 'Redis host', helpGroup: group}),
    [`${side}-redis-port`]: Flags.integer({description: 'Redis port', min: 1, max: 65_535, helpGroup: group}),
    [`${side}-redis-password`]: Flags.string({description: 'Redis password (prefer the config file or HIVEMIND_REDIS_PASSWORD)', helpGroup: group}),
    [`${side}-redis-db`]: Flags.integer({description: 'Redis database number', min: 0, helpGroup: group}),
    [`${side}-redis-tls`]: Flags.boolean({description: 'connect to Redis over TLS', allowNo: true, helpGroup: group}),
  }
}

/** The --from-* / --to-* flags of one side (restore-db uses the --to-* side too), as the settings layer's flag names. */
export function pickSide(flags: Record<string, unknown>, side: 'from' | 'to'): {given: boolean; values: DatabaseFlagValues} {
  const values: DatabaseFlagValues = {
    'db-path': flags[`${side}-path`] as string | undefined,
    'db-option': flags[`${side}-option`] as string[] | undefined,
    'redis-url': flags[`${side}-redis-url`] as string | undefined,
    'redis-host': flags[`${side}-redis-host`] as string | undefined,
    'redis-port': flags[`${side}-redis-port`] as number | undefined,
    'redis-password': flags[`${side}-redis-password`] as string | undefined,
    'redis-db': flags[`${side}-redis-db`] as number | undefined,
    'redis-tls': flags[`${side}-redis-tls`] as boolean | undefined,
  }
  return {given: Object.values(values).some((value) => value !== undefined), values}
}

/** The options of one side from its flags (else env, config, defaults); an error names that side's flags (`--to-option`, not `--db-option`). */
export function resolveSideOptions(settings: ResolvedSettings, backend: RegisteredBackend, values: DatabaseFlagValues, side: 'from' | 'to'): Record<string, Sourced<unknown>> {
  try {
    const resolved = resolveOtherBackendOptions(settings, backend, values, process.env)
    // Named as this side's flags wherever a later message says where a value came from (a URL the
    // backend refuses at open: "flag --to-redis-url: …", not "flag --redis-url: …").
    for (const [key, option] of Object.entries(resolved)) {
      if (option.source.kind === 'flag') resolved[key] = {...option, source: {kind: 'flag', name: sideFlagsIn(option.source.name, side)}}
    }
    return resolved
  } catch (error) {
    throw withSideFlagNames(error, side)
  }
}

/**
 * `--to-redis-url` with `--to sqlite` is a mistake to say, not to ignore: the copy would go where
 * the operator did not mean it to (the main commands only warn, their flags are shared).
 */
export function refuseFlagsOfOtherBackend(flags: Record<string, unknown>, side: 'from' | 'to', backend: RegisteredBackend): void {
  const name = backend.descriptor.name
  for (const {flag, section} of SECTION_FLAGS) {
    if (flags[`${side}-${flag}`] !== undefined && section !== name) {
      const what = side === 'from' ? 'source' : 'target'
      throw new UsageError(`--${side}-${flag} applies to a ${section} ${what}, and the ${what} is ${name}`, {suggestion: `use --${side} ${section}, or leave --${side}-${flag} out`})
    }
  }
}

export default class MigrateDb extends StoreCommand {
  static override summary = 'Copy every client from one backend to another, verify, and optionally switch to it.'
  static override description = `The source defaults to the database the current settings select (exactly what add-client would use); the target's options come from --to-* flags, its section of the config file, and its defaults. Every record is copied with its id, tombstones included, in batches (inside transactions where the target has them); the source is never written. Afterwards both are compared record by record; a difference leaves the target marked incomplete and exits 4.
A target that already holds clients is refused (exit 3) unless it holds exactly what this migration put there (a re-run is a no-op; an interrupted run resumes; a target left untouched since a completed run is brought up to date with its source); --merge adds what is missing and accepts identical records; --force replaces the target's contents.
Exit codes: 0 done (or nothing to do), 1 error, 2 usage, 3 refused (target not empty / conflicts), 4 verification failed.`

  static override examples = [
    '<%= config.bin %> <%= command.id %> --to sqlite',
    '<%= config.bin %> <%= command.id %> --from json --to sqlite --switch',
    '<%= config.bin %> <%= command.id %> --to redis --to-redis-url redis://10.0.0.5:6379/0 --dry-run',
    '<%= config.bin %> <%= command.id %> --from sqlite --from-path old.db --to json --to-path new.json --merge --json',
  ]

  static override flags = {
    to: Flags.string({description: 'target backend', required: true}),
    from: Flags.string({description: 'source backend (default: the current database)'}),
    ...sideFlags('from'),
    ...sideFlags('to'),
    merge: Flags.boolean({description: 'add missing records to a non-empty target; identical ones are accepted', exclusive: ['force'], default: false}),
    force: Flags.boolean({description: 'replace the contents of a non-empty target', exclusive: ['merge'], default: false}),
    'dry-run': Flags.boolean({description: 'report what would be copied and any conflicts; write nothing', default: false}),
    switch: Flags.boolean({description: 'afterwards point the config file at the target, so every command uses it', default: false}),
    'batch-size': Flags.integer({description: 'records per batch, one transaction each where the target has them (default: what the target prefers, 500 for most)', min: 1}),
  }

  async run(): Promise<MigrateResult> {
    const {flags} = await this.parse(MigrateDb)
    const started = Date.now()
    const settings = await this.resolve(flags)
    const registry = await this.registry()
    const warn = (message: string) => this.notice(`Warning: ${message}`)
    const raw = flags as unknown as Record<string, unknown>

    const fromSide = pickSide(raw, 'from')
    const sourceBackend = flags.from ? registry.get(flags.from, 'flag --from') : settings.registered
    const useCurrent = !flags.from && !fromSide.given
    const sourceOptions = useCurrent ? settings.backendOptions : resolveSideOptions(settings, sourceBackend, fromSide.values, 'from')
    const targetBackend = registry.get(flags.to, 'flag --to')
    refuseFlagsOfOtherBackend(raw, 'from', sourceBackend)
    refuseFlagsOfOtherBackend(raw, 'to', targetBackend)
    const toSide = pickSide(raw, 'to')
    const targetOptions = resolveSideOptions(settings, targetBackend, toSide.values, 'to')
    this.showNewNotices()
    if (flags.switch) assertSwitchable(settings.configFile?.path, targetBackend.descriptor.name, commandLineOptions(targetBackend.descriptor.optionsSchema, targetOptions).shown)

    // The source is never written to, not even to upgrade its schema (an upstream clients.db).
    const source: OpenedStore = useCurrent
      ? await openStore(settings, 'read', warn, {leaveUntouched: true})
      : await openWithSources(sourceBackend, sourceOptions, settings, 'read', warn, {leaveUntouched: true}, 'from')
    let target: OpenedStore | undefined
    try {
      const sourceLabel = `${sourceBackend.descriptor.name} ${source.store.location}`
      const sameDatabase = (targetLabel: string) => {
        // Always a usage error, even after a completed migration made this the current database:
        // a success here would let a script believe it migrated something.
        const done = readMark(settings.paths.stateDir, targetLabel)
        const current = useCurrent ? `; commands use it now (${describeSource(settings.backend.source, settings.cwd)})` : ''
        return new UsageError(`source and target are the same database (${targetLabel})${current}`, {
          suggestion:
            done?.state === 'complete'
              ? `it was migrated from ${done.from} on ${done.updatedAt}; to migrate again or --switch, name that source with --from (and --from-path)`
              : 'name the source with --from (and --from-path)',
        })
      }
      // Before the target is opened (opening it for writing may already change the file): one
      // file under two names, a link or a relative path, is the same database.
      if (sourceBackend.descriptor.name === targetBackend.descriptor.name && samePathOption(optionValues(sourceOptions).path, optionValues(targetOptions).path)) {
        throw sameDatabase(sourceLabel)
      }
      if (source.missing) throw new HivemindError('INVALID_INPUT', `the source ${sourceLabel} does not exist`, {suggestion: 'name the source with --from and --from-path / --from-redis-url'})
      if (!flags.quiet) this.notice(`Source: ${useCurrent ? source.description : `${sourceLabel} (from flag --from)`}`)
      // A dry run leaves the target as it is too: not even a schema upgrade of an existing file.
      target = await openWithSources(targetBackend, targetOptions, settings, flags['dry-run'] ? 'read' : 'write', warn, flags['dry-run'] ? {leaveUntouched: true} : {}, 'to')
      const targetLabel = `${targetBackend.descriptor.name} ${target.store.location}`
      if (targetLabel === sourceLabel) throw sameDatabase(targetLabel)
      // One Redis server under two names (localhost, 127.0.0.1…): the same hive, which --force would empty.
      if (source.store.storeIdentity && target.store.storeIdentity && (await source.store.storeIdentity()) === (await target.store.storeIdentity())) throw sameDatabase(targetLabel)
      if (!flags.quiet) this.notice(`Target: ${targetLabel}`)

      const plan = await planMigration(source.store, target.store)
      const sourceMark = readMark(settings.paths.stateDir, sourceLabel)
      if (sourceMark?.state === 'incomplete') {
        warn(`the source is itself an INCOMPLETE migration from ${sourceMark.from}: it may lack clients; finish that migration first (re-run it)`)
      }
      // The agreement guard, as every command has it: an empty source selected by the current
      // settings while a well-known location holds clients is most likely not the hive meant.
      if (useCurrent && plan.sourceCount === 0) {
        const elsewhere = await findClientsElsewhere(settings, registry, source.store.location)
        if (elsewhere.length > 0) {
          this.notice([`Warning: the source ${sourceLabel} is empty, but:`, ...elsewhere.map((line) => `  ${line}`)].join('\n'))
          if (flags.switch) throw new HivemindError('MIGRATION_REFUSED', `--switch would point every command at a copy of an empty hive while clients are elsewhere; nothing was written`, {exitCode: MIGRATE_EXIT.refused, suggestion: 'name the source with --from (and --from-path), as shown above'})
        }
      }
      const mark = readMark(settings.paths.stateDir, targetLabel)
      let resuming = mark?.state === 'incomplete' && mark.from === sourceLabel
      let sourceDigest: string | undefined
      const sourceDigestNow = (): string => (sourceDigest ??= recordsDigest(plan.sourceRecords))
      // Resuming rewrites target records that differ from the source, taking them for ones the
      // interrupted run wrote before the source changed. If the source has NOT changed since that
      // run, it wrote only what the source holds now: a differing record came from someone else,
      // and is a conflict like any other.
      if (resuming && plan.conflicts.length > 0 && isCurrentDigest(mark!.sourceDigest) && mark!.sourceDigest === sourceDigestNow()) resuming = false
      let policy: TargetPolicy = flags.merge ? 'merge' : flags.force ? 'force' : 'refuse'
      // An interrupted --force run may have left the target's own records in place (its clear or
      // overwrite had not committed): finishing it without --force must not overwrite them.
      const interruptedForce = resuming && mark!.policy === 'force' && policy !== 'force'
      if (interruptedForce) resuming = false
      const result: MigrateResult = {from: sourceLabel, to: targetLabel, copied: 0, skipped: plan.identical, verified: false, durationMs: 0, dryRun: flags['dry-run'], switched: null}
      const finish = async (): Promise<MigrateResult> => {
        if (result.verified) await this.pointAtTarget(result, settings, targetBackend, targetOptions, raw)
        result.durationMs = Date.now() - started
        return result
      }

      // A migration recorded complete from this very source, and the two sides differ now: CI re-runs
      // the migration on every deploy, while commands may use either side. The fingerprint kept at
      // completion tells which side moved; the plan alone cannot (a record differing on both sides).
      const targetDiffers = plan.toCopy.length > 0 || plan.conflicts.length > 0 || plan.extra.length > 0
      if (policy === 'refuse' && mark?.state === 'complete' && mark.from === sourceLabel && isCurrentDigest(mark.sourceDigest) && plan.targetCount > 0 && targetDiffers) {
        // A hand-edited marker file only loses this advice (its ids must be a list).
        const kept = new Set(Array.isArray(mark.kept?.ids) ? mark.kept.ids : [])
        const changes = describeChanges(plan, kept)
        // What the target held when verified: the source's records, plus those of its own a --merge kept.
        const extrasAreTheKeptOnes = plan.extra.length === kept.size && plan.extra.every((id) => kept.has(id))
        const targetStore = target.store
        const targetAsVerified = async (): Promise<boolean> => extrasAreTheKeptOnes && (await storeDigest(targetStore)) === (mark.kept?.targetDigest ?? mark.sourceDigest)
        if (recordsDigest(plan.sourceRecords) !== mark.sourceDigest) {
          // Only the source moved (the target still lists exactly what was verified): the target
          // is merely behind, and bringing it up to date loses nothing, as resuming would.
          // Otherwise both moved, and either way of settling it could lose a change.
          if (!(await targetAsVerified())) {
            // The target lists exactly what was verified, plus nothing: what it has more is what
            // the source deleted since. Resuming only adds and rewrites, and --merge would keep
            // those clients, whose access keys still work there.
            const gone = plan.extra.filter((id) => !kept.has(id))
            if (gone.length > 0 && (await storeDigest(targetStore)) === (mark.kept?.targetDigest ?? mark.sourceDigest)) throw deletedSinceCompleted(sourceLabel, targetLabel, mark.updatedAt, gone)
            throw changedSinceCompleted(sourceLabel, targetLabel, mark.updatedAt, changes)
          }
          resuming = true
          // The records a --merge kept stay, as they did then.
          if (kept.size > 0) policy = 'merge'
          if (!flags.quiet) this.notice(`The source has changed since it was migrated to the target (completed ${mark.updatedAt}) and the target has not: ${flags['dry-run'] ? 'a real run brings' : 'bringing'} it up to date.`)
        } else {
          const targetNow = kept.size > 0 && (await targetAsVerified()) ? `The target has not changed since either (it also holds ${kept.size} record(s) of its own, kept by --merge)` : `The target has changed since (${changes}); it was left untouched`
          this.log(`${flags['dry-run'] ? 'Dry run: nothing would be written. ' : ''}Already done: ${sourceLabel} was migrated to ${targetLabel} and verified on ${mark.updatedAt}, and the source has not changed since. ${targetNow}.`)
          // Verified when it completed, and the source is provably the same: still verified (CI checks it).
          if (!flags['dry-run']) result.verified = true
          return finish()
        }
      }
      checkTarget(plan, policy, {targetLabel, sourceNoun: 'the source', resuming, interruptedForce, canClear: target.store.clear !== undefined})

      // Decided once, for the dry run and the real run alike: the dry run reports what the real one does.
      const {records: writes, clearFirst} = plannedWrites(plan, policy, resuming)
      result.copied = writes.length
      // A cleared target keeps none of its records: every source record is written again.
      if (clearFirst) result.skipped = 0
      if (flags['dry-run']) {
        const how = clearFirst
          ? `the target would be emptied first (${plan.extra.length} record(s) not in the source removed, ${plan.conflicts.length} replaced) and all ${plan.sourceCount} record(s) of the source copied`
          : `${plan.sourceCount} in the source, ${plan.identical} already in the target${policy === 'force' ? `, ${plan.conflicts.length} replaced` : ''}`
        this.log(`Dry run: would copy ${writes.length} record(s) (${how}); nothing was written.`)
        if (flags.switch) {
          this.log(`--switch would then point ${switchedFile(settings)} at ${targetBackend.descriptor.name}${settings.configFile ? '' : ' (created)'}.`)
        }
        return finish()
      }

      // First: from the moment the target is marked, whatever gets into it (a process that opened
      // it before) gets an id the copy will not overwrite. The counter only ever rises.
      await carryIdCounter(source.store, target.store, writes)
      await writeMark(settings.paths.stateDir, targetLabel, {from: sourceLabel, state: 'incomplete', sourceDigest: sourceDigestNow(), by: 'migrate-db', policy})
      // A run that fails before anything reached the target (locked, no permission) leaves the
      // mark it found: a stale "incomplete" would later let a resumed run overwrite records that
      // someone else put in the target meanwhile.
      let reachedTarget = clearFirst
      try {
        // Only reachable with clear(): checkTarget refuses otherwise. The source is re-copied whole.
        if (clearFirst) await target.store.clear!()
        await this.copyWithProgress(target.store, writes, flags['batch-size'] ?? target.store.preferredBatchSize ?? 500, () => {
          reachedTarget = true
        })
      } catch (error) {
        if (!reachedTarget) await restoreMark(settings.paths.stateDir, targetLabel, mark)
        throw error
      }

      // --merge leaves the target's own records in place: they must still be there, unchanged.
      const keptIds = policy === 'merge' ? plan.extra : []
      const verification = await verifyMigration(source.store, target.store, new Set(keptIds), plan)
      await this.audit({
        event: 'migrate',
        store: targetLabel,
        details: {from: sourceLabel, copied: writes.length, identical: result.skipped, cleared: clearFirst, ...removedDetails(clearFirst, plan.extra), policy, verified: verification.ok},
      })
      if (!verification.ok) throw verificationFailed(verification, 'the source')
      // The same fingerprint as the incomplete mark's unless the source changed during the copy (then read again).
      const verifiedDigest = verification.expected === plan.sourceRecords ? sourceDigestNow() : recordsDigest(verification.expected)
      // With records of its own kept, the target no longer fingerprints as the source: its own
      // fingerprint is kept too, so a later run can tell whether the target changed since.
      const kept = keptIds.length > 0 ? {ids: keptIds, targetDigest: await storeDigest(target.store)} : undefined
      await writeMark(settings.paths.stateDir, targetLabel, {from: sourceLabel, state: 'complete', sourceDigest: verifiedDigest, by: 'migrate-db', ...(kept && {kept})})
      result.verified = true
      this.log(
        writes.length === 0
          ? `Nothing to copy: ${targetLabel} already holds all ${plan.sourceCount} record(s) of ${sourceLabel}; verified.`
          : `Migrated ${writes.length} record(s) from ${sourceLabel} to ${targetLabel} (${clearFirst ? `emptied first: ${plan.extra.length} record(s) not in the source removed, ids ${describeIds(plan.extra)}` : `${plan.identical} already there`}); verified ${verification.targetCount} record(s).`,
      )
      return await finish()
    } finally {
      await target?.store.close()
      await source.store.close()
    }
  }

  /** After a verified migration: --switch points the config file at the target; otherwise say what commands use. */
  private async pointAtTarget(result: MigrateResult, settings: ResolvedSettings, targetBackend: RegisteredBackend, targetOptions: Record<string, Sourced<unknown>>, flags: Record<string, unknown>): Promise<void> {
    const doSwitch = flags.switch === true
    const toRecord = commandLineOptions(targetBackend.descriptor.optionsSchema, targetOptions)
    const configPath = switchedFile(settings)
    // A password given on the command line is never written nor printed: say where it belongs instead.
    const secretNote = toRecord.withheld ? ` The password given on the command line is not written there: ${whereSecretsGo(targetBackend.descriptor.name, targetBackend.descriptor.optionsSchema, configPath)}.` : ''
    if (doSwitch) {
      const switched = await switchBackend(settings.configFile?.path, configPath, targetBackend.descriptor.name, relativeToConfig(toRecord.stored, targetBackend.descriptor.optionsSchema, settings.configFile?.path))
      result.switched = switched.file
      const how = switched.unchanged ? ' already; left as it was' : switched.backup ? ` (previous version kept as ${switched.backup})` : ' (created)'
      this.log(`Switched: ${switched.file} now selects ${targetBackend.descriptor.name}${how}.${secretNote}${environmentNote(targetOptions)}`)
      // --json prints only the summary: where the password goes must still be said.
      if (this.jsonEnabled() && (secretNote || environmentNote(targetOptions))) this.notice(`Note:${secretNote}${environmentNote(targetOptions)}`)
      if (!switched.unchanged) this.log('A running listen stops within 5 s when it sees that its database is no longer the one selected (exit 1, event settings.changed): start it again, or let its supervisor do so.')
      // What a later command selects: the environment (HIVEMIND_DB_BACKEND, HIVEMIND_DB_PATH…)
      // outranks the config file, and a service's unit file often sets it.
      const later = await resolveSettings({flags: flags.config === undefined ? {} : {config: flags.config as string}, env: process.env, cwd: process.cwd(), registry: await this.registry()})
      const laterLabel = selectedDatabase(later)
      // The file holds the target's URL without the password given on the command line: that is
      // still the new database (where the password goes is said above).
      if (withoutMaskedPassword(laterLabel) !== withoutMaskedPassword(result.to)) {
        const overriding = environmentVariables([later.backend.source, ...Object.values(later.backendOptions).map((option) => option.source)])
        this.notice(
          `Warning: commands still use ${laterLabel} (${describeSource(later.backend.source, later.cwd)}), not the new database: ` +
            (overriding.length > 0 ? `the environment outranks the config file. Unset ${overriding.join(', ')} where commands run (a service's unit file too).` : `check the settings with: hivemind-core print-config`),
        )
      }
      return
    }
    // What commands select NOW, not before the migration: creating the target can change the
    // default (a new clients.db beside an upstream clients.json makes sqlite the default).
    const after = await resolveSettings({flags: flags as DatabaseFlagValues, env: process.env, cwd: process.cwd(), registry: await this.registry()})
    const afterLabel = selectedDatabase(after)
    const selectedBy = describeOrigin(after).replace(/^from /, '')
    if (afterLabel === result.to) {
      this.log(`Commands now use the new database ${afterLabel} (${selectedBy}); nothing needs switching. --switch would record it in ${configPath}.`)
      return
    }
    // The setting to paste: without the command line's password (masked, it would not work).
    // The environment outranks any file: the setting to paste would change nothing while it is set.
    const overriding = environmentVariables([after.backend.source, ...Object.values(after.backendOptions).map((option) => option.source)])
    const unset = overriding.length > 0 ? ` The environment outranks the config file: unset ${overriding.join(', ')} where commands run as well.` : ''
    this.log(`Commands still use ${afterLabel} (${selectedBy}). To use the new database, re-run with --switch, or set in ${configPath}: ${describeSwitch(targetBackend.descriptor.name, toRecord.stored, configPath)}${secretNote}${environmentNote(targetOptions)}${unset}`)
  }

  /** Copies `records` in batches; `onWritten` after each one stored. */
  private async copyWithProgress(target: OpenedStore['store'], records: Parameters<typeof copyRecords>[1], batchSize: number, onWritten: () => void): Promise<void> {
    // The bar is for people: hidden when stdout is not a terminal (CI, pipes) and in --json mode.
    const showBar = Boolean(process.stdout.isTTY) && !this.jsonEnabled() && records.length > 0
    if (!showBar) return copyRecords(target, records, batchSize, onWritten)
    const {SingleBar, Presets} = await import('cli-progress')
    const bar = new SingleBar({format: 'Copying [{bar}] {value}/{total} records', hideCursor: true, clearOnComplete: true, stream: process.stderr}, Presets.shades_classic)
    bar.start(records.length, 0)
    try {
      await copyRecords(target, records, batchSize, (done) => {
        onWritten()
        bar.update(done)
      })
    } finally {
      bar.stop()
    }
  }
}

/** Whether two `path` option values name one existing file, whatever their spelling. */
function samePathOption(a: unknown, b: unknown): boolean {
  return typeof a === 'string' && typeof b === 'string' && sameFile(a, b)
}

/**
 * "2 record(s) added, 1 changed": how a target differs from its source, by count. Records a
 * --merge kept (`kept`) were there before the migration: they are not "added".
 */
function describeChanges(plan: MigrationPlan, kept: ReadonlySet<number>): string {
  const added = plan.extra.filter((id) => !kept.has(id)).length
  const extra = new Set(plan.extra)
  const keptGone = [...kept].filter((id) => !extra.has(id)).length
  const parts = [
    added > 0 ? `${added} record(s) added` : undefined,
    plan.conflicts.length > 0 ? `${plan.conflicts.length} changed` : undefined,
    plan.toCopy.length > 0 ? `${plan.toCopy.length} of the source's missing` : undefined,
    keptGone > 0 ? `${keptGone} of its own kept by --merge gone` : undefined,
  ]
  return parts.filter(Boolean).join(', ') || 'records of its own kept by --merge changed'
}

/**
 * Exit 3: the source changed after its migration completed, and the target differs from it. The
 * target may be in use; copying over it, or ignoring the source's changes, could each lose data.
 */
function changedSinceCompleted(sourceLabel: string, targetLabel: string, completedAt: string, changes: string): HivemindError {
  return new HivemindError('MIGRATION_REFUSED', `${sourceLabel} has changed since it was migrated to ${targetLabel} (completed ${completedAt}), and the target differs from it (${changes}); nothing was written`, {
    exitCode: MIGRATE_EXIT.refused,
    suggestion: "--dry-run --merge shows what the source has that the target lacks; --merge adds it (records changed on both sides are listed as conflicts); --force replaces the target's contents with the source's (changes made in the target are lost)",
  })
}

/** Exit 3: the source deleted clients since its migration completed; the target, unchanged since, still has them. */
function deletedSinceCompleted(sourceLabel: string, targetLabel: string, completedAt: string, ids: number[]): HivemindError {
  return new HivemindError(
    'MIGRATION_REFUSED',
    `${sourceLabel} no longer has ${ids.length} client(s) it had when it was migrated to ${targetLabel} (completed ${completedAt}): ids ${ids.slice(0, 20).join(', ')}${ids.length > 20 ? ', …' : ''}. The target, unchanged since, still has them, and their access keys still work there; nothing was written`,
    {
      exitCode: MIGRATE_EXIT.refused,
      suggestion: "--force makes the target the source's copy again (the target has not changed since the migration: nothing of its own is lost); --merge would keep those clients",
    },
  )
}

/** The config file --switch writes: the one the settings came from, or the per-user one it creates. */
function switchedFile(settings: ResolvedSettings): string {
  return settings.configFile?.path ?? userConfigFile(process.env, settings.paths.home)
}

/** A location label with a masked URL password left out, as the config file records the URL. */
function withoutMaskedPassword(label: string | undefined): string | undefined {
  return label?.replaceAll('//:********@', '//').replaceAll(':********@', '@')
}

/** The environment variables among `sources`, sorted, each once. */
function environmentVariables(sources: readonly SettingSource[]): string[] {
  return [...new Set(sources.flatMap((source) => (source.kind === 'env' ? [source.name] : [])))].sort()
}

/** Target options taken from the environment are not written to the config file: say which must stay set. */
function environmentNote(options: Record<string, Sourced<unknown>>): string {
  const variables = environmentVariables(Object.values(options).map(({source}) => source))
  return variables.length === 0 ? '' : ` ${variables.join(', ')} (from the environment) ${variables.length === 1 ? 'is' : 'are'} not written there: keep ${variables.length === 1 ? 'it' : 'them'} set where commands run.`
}
