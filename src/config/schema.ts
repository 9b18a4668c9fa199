/**
 * Validation of the config file. Any problem is a ConfigError naming the file and the key; an
 * invalid file never falls back to defaults.
 */
import {ConfigError} from '../core/errors.js'
import type {BackendRegistry} from '../core/registry.js'
import type {OptionSpec, OptionsSchema} from '../core/store.js'

/** The validated shape of a config file. Every key is optional. */
export interface ConfigFileContent {
  database?: {
    /** Backend name. Default: sqlite (json for an existing upstream install). */
    backend?: string
    /** Options of each backend by backend name, e.g. `sqlite: {path}`. */
    [backend: string]: unknown
  }
  listen?: {
    /** Interface to bind. Default 0.0.0.0. */
    host?: string
    /** TCP port. Default 5678. */
    port?: number
  }
  agent?: {
    /** WebSocket URL of the OpenVoiceOS message bus. Default ws://127.0.0.1:8181/core. */
    url?: string
  }
  /** The audit trail (docs/security.md). */
  audit?: {
    /** JSON-lines file. Default `$XDG_STATE_HOME/hivemind-core/audit.log`. */
    file?: string
    /** Also append to a Redis stream on the hive's server (redis backend only). Default false. */
    redisStream?: boolean
    /** Approximate cap of the stream, in entries. Default 1000000. */
    streamMaxLen?: number
  }
}

const TOP_LEVEL_KEYS = ['database', 'listen', 'agent', 'audit']

/**
 * Checks a parsed config file. Sections of backends that are not installed are accepted as long
 * as they are objects (a plugin may be installed later), unless that backend is selected — the
 * settings resolution then reports it as unknown.
 */
export function validateConfigFile(content: unknown, file: string, registry: BackendRegistry): ConfigFileContent {
  const fail = (key: string, problem: string): never => {
    throw new ConfigError(`${file}: ${key} ${problem}`, {suggestion: 'see .hivemindrc.example or docs/configuration.md'})
  }
  if (!isPlainObject(content)) fail('the top level', `must be an object, found ${typeName(content)}`)
  const top = content as Record<string, unknown>
  for (const key of Object.keys(top)) {
    if (key === '$schema') continue
    if (!TOP_LEVEL_KEYS.includes(key)) fail(`"${key}"`, `is not a known setting (known: ${TOP_LEVEL_KEYS.join(', ')})`)
  }

  if (top.database !== undefined) {
    if (!isPlainObject(top.database)) fail('database', `must be an object, found ${typeName(top.database)}`)
    const database = top.database as Record<string, unknown>
    for (const [key, value] of Object.entries(database)) {
      if (key === 'backend') {
        if (typeof value !== 'string') fail('database.backend', `must be a string, found ${typeName(value)}`)
        // An unknown or ambiguous name is reported by the settings resolution, and only when it is
        // the one selected: after the plugin providing it was uninstalled, --db-backend (or
        // HIVEMIND_DB_BACKEND) must still reach the other databases, to migrate off it say.
        continue
      }
      if (!isPlainObject(value)) {
        // Not a backend's section either: most likely a misspelt "backend".
        if (!registry.has(key)) fail(`database.${key}`, `is not a setting: database.backend selects the backend, database.<name> holds a backend's options (${registry.names().join(', ')})`)
        fail(`database.${key}`, `must be an object of ${key} backend options, found ${typeName(value)}`)
      }
      if (registry.has(key)) checkOptions(value as Record<string, unknown>, registry.get(key).descriptor.optionsSchema, `database.${key}`, fail)
    }
  }

  if (top.listen !== undefined) {
    if (!isPlainObject(top.listen)) fail('listen', `must be an object, found ${typeName(top.listen)}`)
    const listen = top.listen as Record<string, unknown>
    checkOptions(listen, {
      host: {type: 'string', description: 'interface to bind'},
      port: {type: 'integer', description: 'TCP port'},
    }, 'listen', fail)
    if (typeof listen.port === 'number' && (listen.port < 1 || listen.port > 65_535)) fail('listen.port', 'must be between 1 and 65535')
  }

  if (top.agent !== undefined) {
    if (!isPlainObject(top.agent)) fail('agent', `must be an object, found ${typeName(top.agent)}`)
    checkOptions(top.agent as Record<string, unknown>, {url: {type: 'string', description: 'message bus URL'}}, 'agent', fail)
  }
  if (top.audit !== undefined) {
    if (!isPlainObject(top.audit)) fail('audit', `must be an object, found ${typeName(top.audit)}`)
    const audit = top.audit as Record<string, unknown>
    checkOptions(audit, {
      file: {type: 'path', description: 'audit file'},
      redisStream: {type: 'boolean', description: 'also write a Redis stream'},
      streamMaxLen: {type: 'integer', description: 'approximate cap of the stream'},
    }, 'audit', fail)
    if (typeof audit.streamMaxLen === 'number' && audit.streamMaxLen < 1) fail('audit.streamMaxLen', 'must be at least 1')
  }
  return top as ConfigFileContent
}

function checkOptions(values: Record<string, unknown>, schema: OptionsSchema, prefix: string, fail: (key: string, problem: string) => never): void {
  for (const [key, value] of Object.entries(values)) {
    const spec = schema[key]
    if (!spec) fail(`${prefix}.${key}`, `is not a known option (known: ${Object.keys(schema).join(', ') || 'none'})`)
    const problem = checkValue(value, spec as OptionSpec)
    // Never echo the value of a secret option, even when it is of the wrong type.
    if (problem) fail(`${prefix}.${key}`, problem)
  }
}

/** Why a value does not fit an option's type, or undefined when it fits. */
export function checkValue(value: unknown, spec: OptionSpec): string | undefined {
  const typeName = (found: unknown) => (spec.secret ? kindOf(found) : describeValue(found))
  if (value === null) return spec.nullable ? undefined : `must not be null`
  switch (spec.type) {
    case 'integer': {
      return Number.isSafeInteger(value) ? undefined : `must be an integer, found ${typeName(value)}`
    }
    case 'boolean': {
      return typeof value === 'boolean' ? undefined : `must be true or false, found ${typeName(value)}`
    }
    case 'path': {
      if (typeof value !== 'string') return `must be a file path (string), found ${typeName(value)}`
      return value.length === 0 ? 'must not be empty' : undefined
    }
    default: {
      return typeof value === 'string' ? undefined : `must be a string, found ${typeName(value)}`
    }
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function typeName(value: unknown): string {
  return describeValue(value)
}

function kindOf(value: unknown): string {
  if (value === null) return 'null'
  return Array.isArray(value) ? 'a list' : `a ${typeof value}`
}

function describeValue(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'a list'
  if (typeof value === 'string') return `the string ${JSON.stringify(value.length > 40 ? value.slice(0, 40) + '…' : value)}`
  return `${typeof value} ${typeof value === 'object' ? '' : String(value)}`.trim()
}
