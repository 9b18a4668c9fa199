import {StoreCommand} from '../base-command.js'
import {findClientsElsewhere, openStore, upstreamSettingsNote} from '../config/open-store.js'
import {optionValues, type ResolvedSettings, selectedDatabase} from '../config/settings.js'
import type {ClientStore, Finding} from '../core/store.js'
import {settleWithin} from '../core/bounded.js'
import {isHivemindError} from '../core/errors.js'
import {checkPermissions, checkUpstreamConfig} from '../doctor/checks.js'
import {finishAdvice, readMark} from '../migrate/marker.js'

/** What `doctor --json` prints. */
export interface DoctorResult {
  ok: boolean
  /** Number of findings of severity "problem". */
  problems: number
  database: string
  findings: Finding[]
}

/** How long doctor waits for the selected backend's own checks (diagnose) [15 s]: far beyond a reachable server's answer. */
const DIAGNOSE_TIMEOUT_MS = 15_000

export default class Doctor extends StoreCommand {
  static override summary = 'Check the live setup for security and reliability problems, and say how to fix each.'
  static override description = `Looks at exactly what every other command would use (same settings resolution) and reports:
- data, backup, audit and config files (and their directories) that other users can read;
- a config file holding the Redis password that others can read;
- Redis without a password, reached or listening beyond loopback without TLS, or persisting nothing;
- a Redis hive whose keys disagree (record hashes, access-key index, id sets: a hand edit, a partial restore);
- the selected database empty while another well-known location holds clients;
- a record that cannot be read (a field of the wrong type after a hand edit): every listing fails on it;
- a SQLite database left with an interrupted write (a hot journal: a warning, nothing is lost);
- an upstream (Python hivemind-core) server.json selecting a different backend.
Exits 1 when any problem is found (usable in CI), 0 otherwise. Nothing is changed.`

  static override examples = ['<%= config.bin %> <%= command.id %>', '<%= config.bin %> <%= command.id %> --json']

  async run(): Promise<DoctorResult> {
    const {flags} = await this.parse(Doctor)
    let settings: ResolvedSettings
    try {
      settings = await this.resolve(flags)
    } catch (error) {
      // A backend that is not installed (any more: a plugin uninstalled while the config still
      // selects it) is what doctor is run to find: a finding, not a failure of doctor (QA).
      if (!isHivemindError(error) || error.code !== 'BACKEND_UNKNOWN') throw error
      return this.report('none (the selected backend is not installed)', [{id: 'backend-unknown', severity: 'problem', message: error.message, fix: error.suggestion}], flags.quiet)
    }
    const registry = await this.registry()
    const {descriptor} = settings.registered
    const findings: Finding[] = [...checkPermissions(settings, registry), ...checkUpstreamConfig(settings)]

    // Named even when it cannot be opened (an unreachable server): where doctor looked.
    let database = selectedDatabase(settings)
    /** The backend's own findings about its server and settings (diagnose), whose fixes may need the server.json note. */
    const aboutTheConnection = new Set<Finding>()
    // A backend whose own checks never answered is not opened either: its probe would hang the same way.
    let silent = false
    if (descriptor.diagnose) {
      try {
        const diagnose = descriptor.diagnose.bind(descriptor)
        const answer = await settleWithin(() => diagnose(optionValues(settings.backendOptions), {paths: settings.paths, mode: 'read', warn() {}}), DIAGNOSE_TIMEOUT_MS)
        if (answer.settled) {
          const own = ownFindings(answer.value, descriptor.name, settings.registered.plugin)
          for (const finding of own) aboutTheConnection.add(finding)
          findings.push(...own)
        }
        else {
          silent = true
          findings.push({id: 'diagnose-failed', severity: 'warning', message: `the ${descriptor.name} backend's own checks did not answer within ${DIAGNOSE_TIMEOUT_MS / 1000} s (plugin ${settings.registered.plugin})`})
        }
      } catch (error) {
        findings.push({id: 'diagnose-failed', severity: 'warning', message: `the ${descriptor.name} backend's own checks failed: ${(error as Error).message}`})
      }
    }
    const unreachable = silent || findings.some((finding) => finding.id.endsWith('-unreachable'))
    if (!unreachable) {
      try {
        // Doctor reports problems itself: the store's own warnings would repeat them. It only
        // looks: an upstream clients.db is read through a private copy, never upgraded.
        const opened = await openStore(settings, 'read', () => {}, {leaveUntouched: true})
        try {
          database = opened.description
          const mark = readMark(settings.paths.stateDir, `${descriptor.name} ${opened.store.location}`)
          if (mark?.state === 'incomplete') {
            // Commands that change clients refuse it, and a backup of it holds part of a hive.
            findings.push({
              id: 'migration-incomplete',
              severity: 'problem',
              message: `the selected database is an INCOMPLETE migration from ${mark.from} (${mark.by ?? 'migrate-db'} is copying into it, or was interrupted): it may lack clients of the source, and commands that change clients refuse it`,
              fix: `let it finish, or finish it by ${finishAdvice(mark)}`,
            })
          }
          const count = opened.missing ? 0 : await opened.store.count({includeRevoked: true})
          if (count > 0) findings.push(...(await unreadableRecords(opened.store)))
          if (count === 0) {
            for (const line of await findClientsElsewhere(settings, registry, opened.store.location)) {
              findings.push({
                id: 'store-empty-elsewhere-full',
                severity: 'problem',
                message: `the selected database (${descriptor.name} ${opened.store.location}) is ${opened.missing ? 'missing' : 'empty'}, but ${line.split('. To use it')[0]}`,
                fix: line.slice(line.indexOf('To use it')),
              })
            }
          }
        } finally {
          await opened.store.close()
        }
      } catch (error) {
        // Its fix already says where server.json settings came from (openStore adds it).
        findings.push({id: 'store-unavailable', severity: 'problem', message: `cannot open the selected database: ${(error as Error).message}`, fix: (error as {suggestion?: string}).suggestion})
      }
    }

    // A fix that says to set a password or host by variable or flag would move a hub whose
    // database server.json chose to another server: the fixes say where those settings came from (QA).
    const note = upstreamSettingsNote(settings.backendOptions, settings.paths)
    const noted = note ? findings.map((finding) => (finding.fix && aboutTheConnection.has(finding) ? {...finding, fix: `${finding.fix}; ${note}`} : finding)) : findings
    return this.report(database, noted, flags.quiet)
  }

  /** Prints the findings (and which database), sets the exit code, and returns the --json report. */
  private report(database: string, findings: Finding[], quiet: boolean | undefined): DoctorResult {
    const problems = findings.filter((finding) => finding.severity === 'problem').length
    if (!quiet) this.notice(`Database: ${database}`)
    const label = {problem: 'PROBLEM', warning: 'warning', info: 'info'} as const
    for (const finding of findings) {
      this.log(`${label[finding.severity]}: ${finding.message}`)
      if (finding.fix) this.log(`  fix: ${finding.fix}`)
    }
    this.log(problems === 0 ? 'No problems found.' : `${problems} problem(s) found.`)
    if (problems > 0) process.exitCode = 1
    return {ok: problems === 0, problems, database, findings}
  }
}

/**
 * Reads every record, as list-clients, export-clients and migrate-db do: a record damaged by a
 * hand edit fails all of them, and `listen` cannot authenticate that client. A listing stops at
 * the first such record, so one is reported at a time.
 */
async function unreadableRecords(store: ClientStore): Promise<Finding[]> {
  try {
    for await (const _record of store.list({includeRevoked: true})) {
      // Each record is parsed and checked as it is listed.
    }
    return []
  } catch (error) {
    return [
      {
        id: 'store-record-unreadable',
        severity: 'problem',
        message: `a record cannot be read: ${(error as Error).message}. Listing, exporting and migrating the database fail on it (doctor names the first such record: run it again after the fix)`,
        fix: (error as {suggestion?: string}).suggestion ?? 'correct the record where it is kept, or restore a backup (hivemind-core restore-db)',
      },
    ]
  }
}

/**
 * A backend's diagnose() result as findings: anything that is not one (a plugin's mistake) is
 * one warning saying so, instead of doctor failing on it (QA: "Cannot read properties of undefined").
 */
function ownFindings(value: unknown, backend: string, plugin: string): Finding[] {
  const isFinding = (item: unknown): item is Finding => {
    const candidate = item as Partial<Finding> | null
    return typeof candidate === 'object' && candidate !== null && typeof candidate.id === 'string' && typeof candidate.message === 'string' &&
      ['problem', 'warning', 'info'].includes(candidate.severity as string) && (candidate.fix === undefined || typeof candidate.fix === 'string')
  }
  if (Array.isArray(value) && value.every((item) => isFinding(item))) return value
  return [{id: 'diagnose-failed', severity: 'warning', message: `the ${backend} backend's own checks (plugin ${plugin}) returned something that is not a list of findings ({id, severity: problem|warning|info, message, fix?})`}]
}
