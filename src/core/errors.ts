/**
 * Typed, coded errors. Every failure a user can cause or fix is one of these: the CLI prints
 * `message` (and `suggestion`) on one line and exits with `exitCode`; nothing else is shown unless
 * HIVEMIND_DEBUG is set. Messages never contain secrets (access keys, passwords, crypto keys).
 */

/** Stable machine-readable error codes (printed by `--json` error output). */
export type HivemindErrorCode =
  | 'CONFIG_INVALID'
  | 'CONFIG_NOT_FOUND'
  | 'BACKEND_UNKNOWN'
  | 'BACKEND_CONFLICT'
  | 'BACKEND_OPTIONS_INVALID'
  | 'CLIENT_NOT_FOUND'
  | 'DUPLICATE_API_KEY'
  | 'INVALID_INPUT'
  | 'USAGE'
  | 'STORE_UNAVAILABLE'
  | 'STORE_CORRUPT'
  | 'STORE_READ_ONLY'
  | 'STORE_CLOSED'
  | 'CANCELLED'
  | 'MIGRATION_INCOMPLETE'
  | 'MIGRATION_REFUSED'
  | 'VERIFICATION_FAILED'

export interface HivemindErrorOptions {
  /** What the user can do about it, e.g. "pass --db-backend json". */
  suggestion?: string
  /** The underlying error, kept for debugging; never printed by default. */
  cause?: unknown
  /** Process exit code; defaults to 1 (2 for usage errors). */
  exitCode?: number
  /**
   * The store cannot serve again in this process (its database file was replaced under it): a
   * long-running process closes its connections instead of waiting for it to come back. Default false.
   */
  untilRestart?: boolean
}

/**
 * Marks every HivemindError, whichever copy of hivemind-core created it. A plugin installed with
 * `hivemind-core plugins install` gets its own copy of this package (so its own classes), and
 * `instanceof` against the CLI's classes fails; the registered symbol is shared by all copies.
 */
const HIVEMIND_ERROR = Symbol.for('hivemind-core.HivemindError')

/** Base class of every error this project raises on purpose. */
export class HivemindError extends Error {
  readonly code: HivemindErrorCode
  readonly suggestion?: string
  readonly exitCode: number
  /** See {@link HivemindErrorOptions.untilRestart}. */
  readonly untilRestart: boolean

  constructor(code: HivemindErrorCode, message: string, options: HivemindErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : {cause: options.cause})
    this.name = new.target.name
    this.code = code
    this.suggestion = options.suggestion
    this.exitCode = options.exitCode ?? 1
    this.untilRestart = options.untilRestart ?? false
    Object.defineProperty(this, HIVEMIND_ERROR, {value: true})
  }
}

/** The config file cannot be read, parsed or validated. */
export class ConfigError extends HivemindError {
  constructor(message: string, options: HivemindErrorOptions = {}) {
    super('CONFIG_INVALID', message, options)
  }
}

/** `--db-backend` (or the config) names a backend no installed plugin provides. */
export class UnknownBackendError extends HivemindError {
  /** `unloaded`: installed plugins whose hook failed, so whose backends are not known (one of them may provide it). */
  constructor(readonly backend: string, readonly available: readonly string[], origin?: string, closest?: string, unloaded: readonly string[] = []) {
    const failed = unloaded.length > 0 ? `; the installed plugin(s) ${unloaded.join(', ')} failed to load and may provide it (hivemind-core list-backends says why)` : ''
    super(
      'BACKEND_UNKNOWN',
      `unknown database backend "${backend}"${origin ? ` (from ${origin})` : ''}; available: ${available.join(', ') || 'none'}${failed}`,
      {suggestion: `${closest ? `did you mean "${closest}"? ` : ''}pick one of the available backends, or install the plugin that provides it (hivemind-core list-backends)${unloaded.length > 0 ? ', or fix the one that failed to load' : ''}`},
    )
  }
}

/**
 * Several installed plugins provide a backend of the same name, so which one is meant cannot be
 * told. Neither is used until all but one are uninstalled.
 */
export class BackendConflictError extends HivemindError {
  constructor(readonly backend: string, readonly plugins: readonly string[], origin?: string) {
    super(
      'BACKEND_CONFLICT',
      `database backend "${backend}"${origin ? ` (from ${origin})` : ''} is ambiguous: it is provided by ${plugins.join(' and ')}`,
      {suggestion: `uninstall all but one of them (hivemind-core plugins uninstall ${plugins.at(-1) ?? '<plugin>'}); see hivemind-core list-backends`},
    )
  }
}

/**
 * Options for a backend are of the wrong type or unknown to it. A backend that names the option
 * at fault (`option`: a key of its optionsSchema, e.g. "url") lets the CLI say where that value
 * was set: "./.hivemindrc.json database.redis.url: the Redis URL must start with redis://".
 */
export class BackendOptionsError extends HivemindError {
  /** The option at fault, when known. */
  readonly option?: string

  constructor(message: string, options: HivemindErrorOptions & {option?: string} = {}) {
    const {option, ...rest} = options
    super('BACKEND_OPTIONS_INVALID', message, rest)
    if (option !== undefined) this.option = option
  }
}

/** No client with that id / access key. The access key itself is never echoed. */
export class ClientNotFoundError extends HivemindError {
  constructor(readonly what: string) {
    super('CLIENT_NOT_FOUND', `no client with ${what}`, {suggestion: 'see the ids with: hivemind-core list-clients'})
  }
}

/** A live client already uses this access key. */
export class DuplicateApiKeyError extends HivemindError {
  constructor(readonly existingClientId?: number) {
    super(
      'DUPLICATE_API_KEY',
      `that access key is already used by ${existingClientId === undefined ? 'another client' : `client ${existingClientId}`}`,
      {suggestion: 'omit --access-key to generate a fresh one'},
    )
  }
}

/** Input that fails validation (bad name, bad crypto key, bad id...). */
export class InvalidInputError extends HivemindError {
  constructor(message: string, options: HivemindErrorOptions = {}) {
    super('INVALID_INPUT', message, options)
  }
}

/** Wrong command-line usage (missing argument in a script, conflicting flags). Exit code 2. */
export class UsageError extends HivemindError {
  constructor(message: string, options: HivemindErrorOptions = {}) {
    super('USAGE', message, {...options, exitCode: 2})
  }
}

/** The backing store cannot be reached or is busy; retrying later may work. */
export class StoreUnavailableError extends HivemindError {
  constructor(message: string, options: HivemindErrorOptions = {}) {
    super('STORE_UNAVAILABLE', message, options)
  }
}

/** The stored data cannot be understood; it is left untouched. */
export class StoreCorruptError extends HivemindError {
  constructor(message: string, options: HivemindErrorOptions = {}) {
    super('STORE_CORRUPT', message, options)
  }
}

/** The operator declined a confirmation. */
export class CancelledError extends HivemindError {
  constructor(message = 'cancelled; nothing was changed') {
    super('CANCELLED', message, {exitCode: 1})
  }
}

/**
 * True for errors this project raised on purpose (as opposed to bugs), including those raised
 * by a plugin's own copy of hivemind-core.
 */
export function isHivemindError(error: unknown): error is HivemindError {
  return error instanceof HivemindError || (error instanceof Error && (error as unknown as Record<symbol, unknown>)[HIVEMIND_ERROR] === true)
}
