/**
 * Base classes of every command: error → one line + exit code, and (for commands that touch the
 * database) the shared flags, THE settings resolution and opening/closing the store.
 */
import {Command, Flags, type Interfaces, ux} from '@oclif/core'

import type {AuditInput} from './audit/entry.js'
import type {AuditTrail} from './audit/trail.js'
import {locateClientsElsewhere, openStore, type OpenedStore, type StoreHints} from './config/open-store.js'
import {resolveSettings, type ResolvedSettings} from './config/settings.js'
import {ClientDatabase} from './core/database.js'
import {closestName} from './core/closest.js'
import {errorText} from './cli/error-text.js'
import {printable} from './cli/printable.js'
import {HivemindError, isHivemindError} from './core/errors.js'
import {redactSecrets} from './core/redact.js'
import {knownSecrets} from './cli/secret-values.js'
import {BackendRegistry} from './core/registry.js'
import {finishAdvice, readMark} from './migrate/marker.js'
import type {StoreMode} from './core/store.js'

/** Base of every hivemind-core command. */
export abstract class BaseCommand extends Command {
  static override enableJsonFlag = true

  private registryPromise?: Promise<BackendRegistry>

  /** The backends of every installed plugin, loaded once per invocation. */
  protected registry(): Promise<BackendRegistry> {
    this.registryPromise ??= BackendRegistry.fromOclif(this.config).then((registry) => {
      // Said by every command, not only list-backends: each of them has just waited that long.
      for (const failure of registry.failures) {
        if (failure.timedOut) this.notice(`Warning: plugin ${failure.plugin}: ${failure.message}; every command waits for it: fix it, or remove it with ${this.config.bin} plugins uninstall ${failure.plugin}`)
      }
      return registry
    })
    return this.registryPromise
  }

  /** Values of the selected backend's secret options, once resolved (see StoreCommand). */
  protected secretOptionValues(): unknown[] {
    return []
  }

  /** A notice on stderr (suppressed in --json mode is NOT wanted: notices are not output). */
  protected notice(message: string): void {
    process.stderr.write(`${printable(message)}\n`)
  }

  /** Human output: control characters from stored text (a client's name…) are shown escaped. */
  override log(message = '', ...args: unknown[]): void {
    super.log(printable(message), ...args)
  }

  /**
   * --json output. oclif's own logJson runs the text through its colouriser even when there is
   * no colour theme, which then changes nothing but costs time that grows faster than the
   * output (0.7 s of `list-clients --json` of 20,000 clients, measured): without a theme the text
   * is written as it is, the same bytes.
   */
  override logJson(json: unknown): void {
    if (this.config.theme?.json) return super.logJson(json)
    ux.stdout(JSON.stringify(json, undefined, 2))
  }

  /** True when a person is at the keyboard (prompts allowed). */
  protected interactive(): boolean {
    return Boolean(process.stdin.isTTY && process.stdout.isTTY) && !this.jsonEnabled()
  }

  /**
   * Errors raised on purpose print one line (with the suggestion) and exit with their code;
   * oclif's own usage errors (an unknown flag, a missing argument) too, with their exit code 2;
   * anything else is a bug: one line too, and the stack only with HIVEMIND_DEBUG=1.
   */
  protected override async catch(error: Error & {oclif?: {exit?: number}}): Promise<unknown> {
    if (error.oclif?.exit !== undefined) {
      if ((error as {code?: unknown}).code === 'EEXIT') return super.catch(error)
      // oclif would print the error and then the command's whole help (40 lines for a typo), and
      // with --json the whole error object (its parse context holds every argument, secrets
      // included): one line instead, pointing at --help.
      const lines = error.message
        .split('\n')
        .map((line) => line.trim())
        .filter((line) => line && !line.startsWith('See more help') && line !== 'The following error occurred:' && line !== 'The following errors occurred:')
      // A mistyped flag is named without what follows its "=": --redis-pasword=… holds a password.
      const message = exclusiveFlagsSaidOnce(withoutUnusedFlagNote(lines, this.argv))
        .map((line) => (line.startsWith('Nonexistent flag') ? line.replaceAll(/(--?[^\s=,]+)=[^\s,]*/g, '$1=…') : line))
        .join(' ')
      const help = `see ${[this.config.bin, this.id].filter(Boolean).join(' ')} --help`
      // A mistyped flag (--db-pth): name the closest one, as a mistyped command gets.
      const unknown = (error as {flags?: unknown}).flags
      const typed = Array.isArray(unknown) && typeof unknown[0] === 'string' ? unknown[0].replace(/=.*$/s, '') : undefined
      const closest = typed?.startsWith('--') ? closestName(typed, Object.keys({...this.ctor.baseFlags, ...this.ctor.flags}).map((name) => `--${name}`)) : undefined
      const hint = closest ? `did you mean ${closest.name}? ${help}` : help
      if (this.jsonEnabled()) this.logJson({error: {code: 'USAGE', message, suggestion: hint}})
      else process.stderr.write(errorText(message, hint))
      this.exit(error.oclif.exit)
    }
    const debug = Boolean(process.env.HIVEMIND_DEBUG)
    // Our own messages never hold a secret; a plugin's may (its driver's error quoting a token).
    const secrets = knownSecrets(process.env, this.argv, this.secretOptionValues())
    if (isHivemindError(error)) {
      const message = redactSecrets(error.message, secrets)
      const suggestion = error.suggestion === undefined ? undefined : redactSecrets(error.suggestion, secrets)
      if (this.jsonEnabled()) this.logJson({error: {code: error.code, message, suggestion}})
      else process.stderr.write(errorText(message, suggestion))
      if (debug) process.stderr.write(`${error.stack}\n${error.cause instanceof Error ? error.cause.stack : ''}\n`)
      this.exit(error.exitCode)
    }
    // Ctrl-C at a prompt (@inquirer/prompts rejects with ExitPromptError). Every prompt comes
    // before the command writes anything; 130 is what a shell reports for a SIGINT.
    if (error?.name === 'ExitPromptError') {
      process.stderr.write('Cancelled; nothing was changed.\n')
      this.exit(130)
    }
    const message = redactSecrets(error instanceof Error ? error.message.split('\n')[0]! : String(error), secrets)
    if (this.jsonEnabled()) this.logJson({error: {code: 'INTERNAL', message}})
    else process.stderr.write(debug ? `${errorText(message ?? '')}${error.stack}\n` : errorText(message ?? '', 'set HIVEMIND_DEBUG=1 for details'))
    this.exit(1)
    return undefined
  }
}

/**
 * oclif says a pair of exclusive flags twice, once from each side ("--force=true cannot also be
 * provided when using --merge --merge=true cannot also be provided when using --force"): once,
 * as "--merge and --force cannot be used together".
 */
function exclusiveFlagsSaidOnce(lines: string[]): string[] {
  const pairs = new Set<string>()
  const out: string[] = []
  for (const line of lines) {
    const exclusive = /^(--[\w-]+)(?:=\S*)? cannot also be provided when using (--[\w-]+)$/.exec(line)
    if (!exclusive) {
      out.push(line)
      continue
    }
    const pair = [exclusive[1]!, exclusive[2]!].sort()
    if (pairs.has(pair.join(' '))) continue
    pairs.add(pair.join(' '))
    out.push(`${pair[0]} and ${pair[1]} cannot be used together`)
  }
  return out
}

/**
 * oclif explains, whenever an argument is missing, that a repeatable flag (--db-option) swallows
 * the arguments after it, even when that flag was not given: the note is dropped unless one of
 * the flags it names is on the command line.
 */
function withoutUnusedFlagNote(lines: string[], argv: readonly string[]): string[] {
  const note = lines.find((line) => line.startsWith('Note: --') && line.includes('multiple values'))
  if (!note) return lines
  const named = /^Note: (.*?) allows? multiple/.exec(note)?.[1]?.split(', ') ?? []
  if (argv.some((arg) => named.some((flag) => arg === flag || arg.startsWith(`${flag}=`)))) return lines
  return lines.filter((line) => line !== note && !line.startsWith('Alternatively, you can use "--"'))
}

/** Flags of every command that opens the database. */
export const databaseFlags = {
  config: Flags.string({description: 'config file to use instead of searching for .hivemindrc* (env HIVEMIND_CONFIG)', helpGroup: 'DATABASE'}),
  'db-backend': Flags.string({description: 'database backend: sqlite, json, redis or a plugin (env HIVEMIND_DB_BACKEND)', helpGroup: 'DATABASE'}),
  'db-path': Flags.string({description: 'database file of a file backend (env HIVEMIND_DB_PATH)', helpGroup: 'DATABASE'}),
  'db-option': Flags.string({description: 'any backend option as key=value (repeatable)', multiple: true, helpGroup: 'DATABASE'}),
  'redis-url': Flags.string({description: 'redis[s]://[user:pass@]host:port/db (env HIVEMIND_REDIS_URL)', helpGroup: 'DATABASE'}),
  'redis-host': Flags.string({description: 'Redis host (env HIVEMIND_REDIS_HOST)', helpGroup: 'DATABASE'}),
  'redis-port': Flags.integer({description: 'Redis port (env HIVEMIND_REDIS_PORT)', min: 1, max: 65_535, helpGroup: 'DATABASE'}),
  'redis-password': Flags.string({description: 'Redis password; prefer env HIVEMIND_REDIS_PASSWORD (visible in ps)', helpGroup: 'DATABASE'}),
  'redis-db': Flags.integer({description: 'Redis database number (env HIVEMIND_REDIS_DB)', min: 0, helpGroup: 'DATABASE'}),
  'redis-tls': Flags.boolean({description: 'connect to Redis over TLS (default: for rediss:// or a TLS file option; env HIVEMIND_REDIS_TLS)', allowNo: true, helpGroup: 'DATABASE'}),
  quiet: Flags.boolean({char: 'q', description: 'do not print which database is used', helpGroup: 'DATABASE'}),
}

type StoreFlags = Interfaces.InferredFlags<typeof databaseFlags>

/** Base of every command that reads or writes the client database. */
export abstract class StoreCommand extends BaseCommand {
  static override baseFlags = databaseFlags

  /** The resolved settings (valid after {@link resolve}). */
  protected settings!: ResolvedSettings
  /** How many of the settings' notices have been printed. */
  private noticesShown = 0

  protected override secretOptionValues(): unknown[] {
    if (!this.settings) return []
    const schema = this.settings.registered.descriptor.optionsSchema
    return Object.entries(this.settings.backendOptions)
      .filter(([key]) => schema[key]?.secret === true)
      .map(([, option]) => option?.value)
  }

  /** Resolves the settings through THE one path (flags > env > config file > defaults). */
  protected async resolve(flags: Partial<StoreFlags> & Record<string, unknown>): Promise<ResolvedSettings> {
    this.settings = await resolveSettings({flags, env: process.env, cwd: process.cwd(), registry: await this.registry()})
    this.noticesShown = 0
    this.showNewNotices()
    return this.settings
  }

  /**
   * Prints the settings' notices not printed yet: resolving another side's options (migrate-db's
   * --to-*, restore-db's target) may add some, e.g. a password given on the command line.
   */
  protected showNewNotices(): void {
    for (const message of this.settings.notices.slice(this.noticesShown)) this.notice(`Warning: ${message}`)
    this.noticesShown = this.settings.notices.length
  }

  /**
   * Appends lines to the audit trail (file, and the Redis stream when enabled). A failure is a
   * loud warning, not an error: the change it describes has already been made.
   */
  protected async audit(...inputs: AuditInput[]): Promise<void> {
    if (inputs.length === 0) return
    let trail: AuditTrail | undefined
    try {
      // Imported here: read-only commands never load the audit code (a cold start is mostly imports).
      const {openAuditTrail} = await import('./audit/settings.js')
      trail = await openAuditTrail(this.settings, this.id ?? 'unknown', (message) => this.notice(`Warning: ${message}`))
      await trail.recordMany(inputs)
    } catch (error) {
      process.exitCode = 1
      this.notice(`Warning: the change was made but could NOT be recorded in the audit trail: ${error instanceof Error ? error.message : String(error)}`)
    } finally {
      await trail?.close()
    }
  }

  /**
   * Refuses settings this command cannot use, after they are resolved and before the store is
   * opened: a bad setting must not cost a database open, nor create a database that did not exist.
   * Nothing by default.
   */
  protected checkSettings(_settings: ResolvedSettings): void {}

  /**
   * Opens the store, runs `work` with it, and always closes it. States which database is used
   * on stderr (unless --quiet) and runs the agreement guard when the store is empty. `hints`
   * tell the backend how the store will be used (listen: long-running). In 'write' mode every
   * change made through the store is recorded in the audit trail afterwards (one line per client
   * changed), even when `work` fails half-way.
   */
  protected async withDatabase<T>(
    flags: Partial<StoreFlags> & Record<string, unknown>,
    mode: StoreMode,
    work: (db: ClientDatabase, opened: OpenedStore) => Promise<T>,
    hints: StoreHints = {},
  ): Promise<T> {
    const settings = await this.resolve(flags)
    this.checkSettings(settings)
    if (mode === 'write') {
      // Before the change, not when its audit line is written after it.
      const {assertAuditFileApart} = await import('./audit/settings.js')
      assertAuditFileApart(settings)
    }
    const quiet = Boolean(flags.quiet)
    const opened = await openStore(settings, mode, (message) => this.notice(`Warning: ${message}`), hints)
    try {
      if (!quiet) this.notice(`Database: ${opened.description}`)
      const mark = readMark(settings.paths.stateDir, `${settings.registered.descriptor.name} ${opened.store.location}`)
      if (mark?.state === 'incomplete') {
        // A change made now would be overwritten by the copy still running, or refused by the
        // re-run that finishes an interrupted one (the target would hold a client the source has not).
        if (mode === 'write' && !hints.longRunning) {
          throw new HivemindError('MIGRATION_INCOMPLETE', `this database is an INCOMPLETE migration from ${mark.from} (${mark.by ?? 'migrate-db'} is copying into it, or was interrupted); nothing was changed`, {
            suggestion: `let it finish, or finish it by ${finishAdvice(mark)}; then retry`,
          })
        }
        this.notice(`Warning: this database is an INCOMPLETE migration from ${mark.from}; finish it by ${finishAdvice(mark)}`)
      }
      const idsToKeepApart = mode === 'write' && hints.assignsIds === true && opened.store.reserveIds !== undefined
      if ((!quiet || idsToKeepApart) && (opened.missing || (await opened.store.count({includeRevoked: true})) === 0)) {
        const elsewhere = await locateClientsElsewhere(settings, await this.registry(), opened.store.location)
        if (!quiet && elsewhere.length > 0) {
          // One notice: listen logs each as one event, and this one only makes sense whole.
          this.notice([`Note: this database is ${opened.missing ? 'missing' : 'empty'}, but:`, ...elsewhere.map((found) => `  ${found.notice}`)].join('\n'))
        }
        const highest = Math.max(0, ...elsewhere.map((found) => found.lastId ?? 0))
        if (idsToKeepApart && highest > 0) {
          // A client added here with id 1 beside an upstream clients.json holding client 1 made
          // the documented move of those clients (migrate-db --merge) refuse for good (QA).
          await opened.store.reserveIds!(highest)
          if (!quiet) this.notice(`Note: ids here start after ${highest}, the highest id there, so that moving those clients here later (migrate-db --merge) keeps every id`)
        }
      }
      // The listener records its own events (authentication failures, revocations), not every
      // last_seen write: only one-shot commands are audited here.
      if (mode !== 'write' || hints.longRunning) return await work(new ClientDatabase(opened.store), opened)
      const {AuditingStore} = await import('./audit/auditing-store.js')
      const audited = new AuditingStore(opened.store)
      try {
        return await work(new ClientDatabase(audited), {...opened, store: audited})
      } finally {
        await this.audit(...audited.drain())
      }
    } finally {
      await opened.store.close()
    }
  }
}
