/**
 * Structured logs on stderr: one JSON object per line, `{"time","level","event",...fields}`.
 * Callers pass only non-secret fields: clients are named by `client_id` and `name`, never by an
 * access key, password, crypto key or session key (R15).
 */

export const LOG_LEVELS = ['error', 'warn', 'info', 'debug'] as const
export type LogLevel = (typeof LOG_LEVELS)[number]

/** Extra fields of a log line. */
export type LogFields = Record<string, string | number | boolean | null | undefined | string[]>

export interface Logger {
  readonly level: LogLevel
  error(event: string, fields?: LogFields): void
  warn(event: string, fields?: LogFields): void
  info(event: string, fields?: LogFields): void
  debug(event: string, fields?: LogFields): void
  enabled(level: LogLevel): boolean
}

/** A logger writing JSON lines at or above `level` to `write` (default: stderr). */
export function createLogger(level: LogLevel, write: (line: string) => void = (line) => process.stderr.write(line)): Logger {
  const threshold = LOG_LEVELS.indexOf(level)
  const enabled = (at: LogLevel) => LOG_LEVELS.indexOf(at) <= threshold
  const emit = (at: LogLevel, event: string, fields: LogFields = {}) => {
    if (!enabled(at)) return
    const line: Record<string, unknown> = {time: new Date().toISOString(), level: at, event}
    for (const [key, value] of Object.entries(fields)) if (value !== undefined) line[key] = value
    write(`${JSON.stringify(line)}\n`)
  }
  return {
    level,
    enabled,
    error: (event, fields) => emit('error', event, fields),
    warn: (event, fields) => emit('warn', event, fields),
    info: (event, fields) => emit('info', event, fields),
    debug: (event, fields) => emit('debug', event, fields),
  }
}

/** A logger that drops everything (tests that do not look at logs). */
export const silentLogger: Logger = createLogger('error', () => {})

/** The one-line message of an error, for a log field (store errors never hold secrets). */
export function errorText(error: unknown): string {
  return error instanceof Error ? (error.message.split('\n')[0] ?? error.name) : String(error)
}
