/**
 * THE settings resolution path. Every command that touches the database gets its settings from
 * {@link resolveSettings}, which merges, per key and highest first:
 *   1. command-line flags, 2. environment variables, 3. the config file, 4. defaults.
 * Because there is one path, `listen` and `add-client` cannot look at different databases unless
 * the operator told them to.
 */
import {existsSync} from 'node:fs'
import path from 'node:path'

import {closestName} from '../core/closest.js'
import {BackendOptionsError, ConfigError, HivemindError} from '../core/errors.js'
import {type BackendRegistry, describeLocation, type RegisteredBackend} from '../core/registry.js'
import type {BackendDescriptor, HivemindPaths, OptionSpec} from '../core/store.js'
import {commandLineOptions} from './command-line-options.js'
import {mistypedVariables} from './environment-names.js'
import {type LoadedConfigFile, loadConfigFile} from './load.js'
import {expandPath, resolvePaths, UnsetVariableError} from './paths.js'
import {type ConfigFileContent, validateConfigFile} from './schema.js'
import {readUpstreamConfig, type UpstreamConfig, type UpstreamValue} from './upstream.js'

/** Where a setting's value came from. */
export type SettingSource =
  | {kind: 'flag'; name: string}
  | {kind: 'env'; name: string}
  | {kind: 'file'; path: string; key: string}
  | {kind: 'default'; note?: string}

/** A value with its origin. */
export interface Sourced<T> {
  value: T
  source: SettingSource
}

/** The database flags every store command accepts (see src/commands/flags.ts). */
export interface DatabaseFlagValues {
  config?: string
  'db-backend'?: string
  'db-path'?: string
  'db-option'?: string[]
  'redis-url'?: string
  'redis-host'?: string
  'redis-port'?: number
  'redis-password'?: string
  'redis-db'?: number
  'redis-tls'?: boolean
}

/** Flags of the listener's own settings (only `listen` defines them). */
export interface ListenFlagValues {
  host?: string
  port?: number
  'agent-url'?: string
}

/**
 * Flags that set an option of one named backend section, whichever backend is selected
 * (`--redis-port` is meaningful in a config that selects redis from elsewhere).
 */
export const SECTION_FLAGS: ReadonlyArray<{flag: keyof DatabaseFlagValues; section: string; key: string}> = [
  {flag: 'redis-url', section: 'redis', key: 'url'},
  {flag: 'redis-host', section: 'redis', key: 'host'},
  {flag: 'redis-port', section: 'redis', key: 'port'},
  {flag: 'redis-password', section: 'redis', key: 'password'},
  {flag: 'redis-db', section: 'redis', key: 'db'},
  {flag: 'redis-tls', section: 'redis', key: 'tls'},
]

/** Defaults of the non-database settings. */
export const LISTEN_DEFAULTS = {host: '0.0.0.0', port: 5678, agentUrl: 'ws://127.0.0.1:8181/core'} as const

/** The settings of one invocation, each with its origin. */
export interface ResolvedSettings {
  /** The config file that was read, if any. */
  configFile?: {path: string; how: LoadedConfigFile['how']}
  /** Selected backend name. */
  backend: Sourced<string>
  /** The selected backend's registration. */
  registered: RegisteredBackend
  /** Every option of the selected backend: validated, defaulted, paths expanded. */
  backendOptions: Record<string, Sourced<unknown>>
  listen: {host: Sourced<string>; port: Sourced<number>}
  agent: {url: Sourced<string>}
  /** Notices for the operator (ignored flags, password on the command line...). Never secrets. */
  notices: string[]
  paths: HivemindPaths
  cwd: string
  /** The Python hub's server.json, when there is one: a layer below the config file (src/config/upstream.ts). */
  upstream?: UpstreamConfig
  /** The validated config file content ({} without a file), for resolving other backends' options. */
  file: ConfigFileContent
  /** Directory relative paths of the config file resolve against (cwd without a file). */
  fileDir: string
}

/** Everything resolution depends on, so tests can pass their own. */
export interface SettingsInput {
  flags: DatabaseFlagValues & ListenFlagValues
  env: NodeJS.ProcessEnv
  cwd: string
  registry: BackendRegistry
}

/** Resolves the settings of one invocation (see the module comment for the precedence). */
export async function resolveSettings(input: SettingsInput): Promise<ResolvedSettings> {
  const {flags, env, cwd, registry} = input
  const paths = resolvePaths(env)
  const notices: string[] = []

  const explicitConfig = flags.config ?? nonEmpty(env.HIVEMIND_CONFIG)
  const loaded = await loadConfigFile(explicitConfig, cwd, paths.home)
  const file: ConfigFileContent = loaded ? validateConfigFile(loaded.content, loaded.filepath, registry) : {}
  const fileDir = loaded ? path.dirname(loaded.filepath) : cwd
  const upstream = readUpstreamConfig(paths, registry)
  if (upstream) notices.push(...upstream.notices)
  const fromUpstream = <T>(read: UpstreamValue<T> | undefined): Sourced<T> | undefined => (read ? sourcedFromUpstream(upstream!, read) : undefined)

  const chosen = pick<string>([
    fromFlag(flags['db-backend'], '--db-backend'),
    fromEnv(env, 'HIVEMIND_DB_BACKEND'),
    loaded && file.database?.backend !== undefined
      ? {value: file.database.backend, source: {kind: 'file', path: loaded.filepath, key: 'database.backend'}}
      : undefined,
    fromUpstream(upstream?.backend),
  ]) ?? defaultBackend(paths)
  if (upstream?.unreadable && chosen.source.kind === 'default') {
    // It may select the database: the default instead would put every command, a restarted listen
    // included, on another (empty) database without a word (QA: a trailing comma did).
    throw new ConfigError(`${upstream.file} (the Python hivemind-core's config) ${upstream.unreadable}, and it may select the database: none is chosen until it is fixed`, {
      suggestion: 'fix it (the Python hub cannot read it either), or select the database above it: --db-backend, HIVEMIND_DB_BACKEND or database.backend in .hivemindrc',
    })
  }
  notices.push(...mistypedVariables(env, registry))
  if (loaded) {
    notices.push(...misspeltSections(file, registry, loaded.filepath, cwd))
    const unselected = unselectedOnlySection(file, chosen, registry, upstream?.file)
    if (unselected) notices.push(unselectedSectionNotice(unselected, chosen, shownPath(loaded.filepath, cwd), cwd))
  }
  const registered = registry.get(chosen.value, describeSource(chosen.source, cwd))
  // Named as the Python hub names it ("JSON", "hivemind-json-db-plugin"): shown by its own name.
  const backend = {...chosen, value: registered.descriptor.name}
  for (const plugin of registry.shadowedBy(registered.descriptor.name)) {
    notices.push(`plugin ${plugin} also provides a backend "${registered.descriptor.name}"; it is ignored and the one built into ${registered.plugin} is used`)
  }

  const backendOptions = resolveBackendOptions(registered, {
    fileSection: file.database?.[registered.descriptor.name] as Record<string, unknown> | undefined,
    upstreamOptions: upstreamOptionsFor(upstream, registered),
    filePath: loaded?.filepath,
    fileDir,
    flags,
    env,
    cwd,
    paths,
    notices,
  })

  for (const {flag, section} of SECTION_FLAGS) {
    if (flags[flag] !== undefined && section !== registered.descriptor.name) {
      notices.push(`--${flag} is ignored: the selected backend is ${registered.descriptor.name}, not ${section}`)
    }
  }
  if (flags['redis-password'] !== undefined) addNotice(notices, passwordOnCommandLine('redis'))

  const fileSource = (key: string): SettingSource => ({kind: 'file', path: loaded?.filepath ?? '', key})
  const listenHost = pick<string>([
    fromFlag(flags.host, '--host'),
    fromEnv(env, 'HIVEMIND_LISTEN_HOST'),
    file.listen?.host === undefined ? undefined : {value: file.listen.host, source: fileSource('listen.host')},
    fromUpstream(upstream?.listenHost),
  ]) ?? {value: LISTEN_DEFAULTS.host, source: {kind: 'default'}}
  const envPort = coerceEnv<number>(env, 'HIVEMIND_LISTEN_PORT', {type: 'integer', description: 'listener port'})
  // The range --port has (0 = any free port).
  if (envPort && (envPort.value < 0 || envPort.value > 65_535)) throw new BackendOptionsError(`HIVEMIND_LISTEN_PORT must be between 0 and 65535, got ${envPort.value}`)
  const listenPort = pick<number>([
    fromFlag(flags.port, '--port'),
    envPort,
    file.listen?.port === undefined ? undefined : {value: file.listen.port, source: fileSource('listen.port')},
    fromUpstream(upstream?.listenPort),
  ]) ?? {value: LISTEN_DEFAULTS.port, source: {kind: 'default'}}
  const agentUrl = pick<string>([
    fromFlag(flags['agent-url'], '--agent-url'),
    fromEnv(env, 'HIVEMIND_AGENT_URL'),
    file.agent?.url === undefined ? undefined : {value: file.agent.url, source: fileSource('agent.url')},
    fromUpstream(upstream?.agentUrl),
  ]) ?? {value: LISTEN_DEFAULTS.agentUrl, source: {kind: 'default'}}

  return {
    configFile: loaded ? {path: loaded.filepath, how: loaded.how} : undefined,
    backend,
    registered,
    backendOptions,
    listen: {host: listenHost, port: listenPort},
    agent: {url: agentUrl},
    notices,
    paths,
    cwd,
    ...(upstream ? {upstream} : {}),
    file,
    fileDir,
  }
}

/** The options server.json gives `registered`, when it selects that backend's plugin. */
function upstreamOptionsFor(upstream: UpstreamConfig | undefined, registered: RegisteredBackend): Record<string, Sourced<unknown>> | undefined {
  if (!upstream || upstream.backend?.value !== registered.descriptor.name) return undefined
  return Object.fromEntries(Object.entries(upstream.backendOptions).map(([key, read]) => [key, sourcedFromUpstream(upstream, read)]))
}

/** A value read from server.json, with the file and key it came from as its origin. */
function sourcedFromUpstream<T>(upstream: UpstreamConfig, read: UpstreamValue<T>): Sourced<T> {
  return {value: read.value, source: {kind: 'file', path: upstream.file, key: read.key}}
}

/**
 * Options of ANY backend from a side's own flags (e.g. migrate-db's --to-path), the
 * backend-specific environment (HIVEMIND_<BACKEND>_<KEY>, not the generic HIVEMIND_DB_PATH,
 * which belongs to the selected backend), the config file's section, and defaults.
 */
export function resolveOtherBackendOptions(settings: ResolvedSettings, registered: RegisteredBackend, flags: DatabaseFlagValues, env: NodeJS.ProcessEnv): Record<string, Sourced<unknown>> {
  return resolveBackendOptions(registered, {
    fileSection: settings.file.database?.[registered.descriptor.name] as Record<string, unknown> | undefined,
    upstreamOptions: upstreamOptionsFor(settings.upstream, registered),
    filePath: settings.configFile?.path,
    fileDir: settings.fileDir,
    flags,
    env,
    cwd: settings.cwd,
    paths: settings.paths,
    notices: settings.notices,
    genericEnv: false,
  })
}

/**
 * The backend of the config file's one backend section, when the file does not name a backend
 * and the default chose another one: `database: {sqlite: {path: ...}}` alone reads like "use this
 * SQLite file", yet the default (json beside an upstream clients.json, sqlite otherwise) decides.
 * Not inferred from the section, because a section may only hold a migrate-db target's options.
 */
function unselectedOnlySection(file: ConfigFileContent, backend: Sourced<string>, registry: BackendRegistry, upstreamFile: string | undefined): string | undefined {
  // Chosen by the default, or by the Python hub's server.json (below this file): not by the operator.
  const belowTheFile = backend.source.kind === 'default' || (backend.source.kind === 'file' && backend.source.path === upstreamFile)
  if (!belowTheFile || file.database === undefined || file.database.backend !== undefined) return undefined
  const sections = Object.keys(file.database).filter((key) => key !== 'backend')
  // A section of a backend that is not installed gets its own notice (misspeltSections), or none.
  return sections.length === 1 && sections[0] !== backend.value && registry.has(sections[0]!) ? sections[0] : undefined
}

/**
 * Sections named a letter or two off an installed backend ("sqllite"): accepted, since a section
 * may belong to a plugin not installed yet, but said, as a mistyped HIVEMIND_* variable is, since
 * the options in it are used by nothing (QA: the database was the default one, without a word).
 */
function misspeltSections(file: ConfigFileContent, registry: BackendRegistry, filePath: string, cwd: string): string[] {
  const installed = registry.names()
  return Object.keys(file.database ?? {})
    .filter((key) => key !== 'backend' && !registry.has(key))
    .flatMap((key) => {
      const meant = closestName(key, installed)
      return meant ? [`${shownPath(filePath, cwd)}: database.${key} is not an installed backend, so nothing uses its options; did you mean database.${meant.name}?`] : []
    })
}

function unselectedSectionNotice(section: string, backend: Sourced<string>, file: string, cwd: string): string {
  const chosenBy = backend.source.kind === 'default' ? `the default backend ${backend.value}${backend.source.note ? ` (${backend.source.note})` : ''}` : `the backend ${backend.value} of ${describeSource(backend.source, cwd)}`
  return `${file} has a database.${section} section but no database.backend, so its ${section} options are not used: ${chosenBy} is. Add "backend": "${section}" to its database section to use ${section}, or "backend": "${backend.value}" to keep ${backend.value} (and this warning goes)`
}

/**
 * The default backend: sqlite, except when the data directory holds a `clients.json` and no
 * `clients.db` (an existing Python install keeps working untouched).
 */
export function defaultBackend(paths: HivemindPaths): Sourced<string> {
  const json = path.join(paths.dataDir, 'clients.json')
  const sqlite = path.join(paths.dataDir, 'clients.db')
  const jsonExists = existsSync(json)
  const sqliteExists = existsSync(sqlite)
  if (jsonExists && !sqliteExists) {
    return {value: 'json', source: {kind: 'default', note: `${json} exists and ${sqlite} does not`}}
  }
  // Said on every command's "Database:" line: the clients of an upstream clients.json are out of
  // sight once a clients.db appears beside it (the classic "listen and add-client disagree").
  if (jsonExists) return {value: 'sqlite', source: {kind: 'default', note: `${sqlite} exists, so ${json} beside it is not used`}}
  return {value: 'sqlite', source: {kind: 'default'}}
}

interface OptionLayers {
  fileSection?: Record<string, unknown>
  /** Options from the Python hub's server.json: below the config file, above the defaults. */
  upstreamOptions?: Record<string, Sourced<unknown>>
  filePath?: string
  fileDir: string
  flags: DatabaseFlagValues
  env: NodeJS.ProcessEnv
  cwd: string
  paths: HivemindPaths
  notices: string[]
  /** Whether HIVEMIND_DB_PATH applies (true for the selected backend). Default true. */
  genericEnv?: boolean
}

/**
 * Resolves every option of one backend from its schema: per key flag > env > file > default.
 * Generic flags: `--db-path` sets the `path` option, `--db-option key=value` any option, and the
 * section flags (`--redis-*`) the options of the section they name. Environment variables are
 * `HIVEMIND_DB_PATH` and `HIVEMIND_<BACKEND>_<KEY>` (e.g. HIVEMIND_REDIS_KEY_PREFIX).
 */
export function resolveBackendOptions(registered: RegisteredBackend, layers: OptionLayers): Record<string, Sourced<unknown>> {
  const {descriptor} = registered
  const schema = descriptor.optionsSchema
  const resolved: Record<string, Sourced<unknown>> = {}

  const flagValues = new Map<string, Sourced<unknown>>()
  for (const entry of layers.flags['db-option'] ?? []) {
    const at = entry.indexOf('=')
    // A flag value of the wrong form, like one of the wrong type: a usage error (exit 2).
    if (at <= 0) throw new BackendOptionsError(`--db-option must look like key=value, got "${entry.split('=')[0]}"`, {exitCode: 2})
    const key = entry.slice(0, at)
    const spec = requireSpec(descriptor.name, schema, key, '--db-option')
    flagValues.set(key, coerceString(entry.slice(at + 1), spec, `--db-option ${key}`, {kind: 'flag', name: `--db-option ${key}`}))
  }
  for (const {flag, section, key} of SECTION_FLAGS) {
    const value = layers.flags[flag]
    if (value === undefined || section !== descriptor.name) continue
    const spec = requireSpec(descriptor.name, schema, key, `--${flag}`)
    const source: SettingSource = {kind: 'flag', name: `--${flag}`}
    flagValues.set(key, typeof value === 'string' ? coerceString(value, spec, `--${flag}`, source) : {value, source})
  }
  // A secret option, or a URL with a password in it (redis://:pw@host), given as a flag: the rule
  // that also keeps it out of what --switch writes and what hints print.
  if (commandLineOptions(schema, Object.fromEntries(flagValues)).withheld) addNotice(layers.notices, passwordOnCommandLine(descriptor.name))
  if (layers.flags['db-path'] !== undefined) {
    if (schema.path?.type !== 'path') {
      throw new BackendOptionsError(`--db-path does not apply to the ${descriptor.name} backend (it has no file path)`, {
        suggestion: `its options are: ${Object.keys(schema).join(', ') || 'none'}`,
      })
    }
    flagValues.set('path', {value: layers.flags['db-path'], source: {kind: 'flag', name: '--db-path'}})
  }
  // A unit file's HIVEMIND_DB_PATH left from a file backend after the switch to a server: said,
  // as a stray --redis-* flag is (the flag itself is an error here: it was typed for this command).
  if (layers.genericEnv !== false && schema.path?.type !== 'path' && nonEmpty(layers.env.HIVEMIND_DB_PATH) !== undefined) {
    addNotice(layers.notices, `HIVEMIND_DB_PATH is ignored: the ${descriptor.name} backend has no file path`)
  }

  const envPrefix = `HIVEMIND_${envName(descriptor.name)}_`
  const envNamesOf = (key: string, spec: OptionSpec): string[] =>
    key === 'path' && spec.type === 'path' && layers.genericEnv !== false ? ['HIVEMIND_DB_PATH', `${envPrefix}${envName(key)}`] : [`${envPrefix}${envName(key)}`]
  // server.json's section is the Python hub's whole connection: used only when no flag,
  // variable or config file sets any option of this backend, never mixed with them (QA: its host,
  // port and password replaced the parts of a --redis-url, and its password went to the server a
  // --redis-port named).
  const upstreamOptions =
    flagValues.size > 0 ||
    Object.keys(layers.fileSection ?? {}).length > 0 ||
    Object.entries(schema).some(([key, spec]) => envNamesOf(key, spec).some((name) => nonEmpty(layers.env[name]) !== undefined))
      ? undefined
      : layers.upstreamOptions
  for (const [key, spec] of Object.entries(schema)) {
    const envCandidates = envNamesOf(key, spec)
    let chosen = flagValues.get(key)
    for (const name of envCandidates) chosen ??= coerceEnv(layers.env, name, spec)
    if (!chosen && layers.fileSection && key in layers.fileSection) {
      chosen = {value: layers.fileSection[key], source: {kind: 'file', path: layers.filePath ?? '', key: `database.${descriptor.name}.${key}`}}
    }
    if (!chosen && upstreamOptions?.[key]) chosen = upstreamOptions[key]
    if (!chosen && spec.default !== undefined) {
      const value = typeof spec.default === 'function' ? (spec.default as (p: HivemindPaths) => unknown)(layers.paths) : spec.default
      chosen = {value, source: {kind: 'default'}}
    }
    if (!chosen) continue
    if (chosen.source.kind !== 'default') checkRange(chosen, spec, key, descriptor.name, layers.cwd)
    if (spec.type === 'path' && chosen.value === '') {
      // An empty path would resolve to the working directory ("cannot open /home/me"). (A config
      // file's empty path never gets here: validateConfigFile refuses it when the file is read.)
      throw new BackendOptionsError(`${describeSource(chosen.source, layers.cwd)}: the path is empty`, {suggestion: 'give a file path, or leave the option out for the default'})
    }
    if (spec.type === 'path' && typeof chosen.value === 'string') {
      const base = chosen.source.kind === 'file' ? layers.fileDir : layers.cwd
      chosen = {...chosen, value: expandOrFail(chosen.value, base, layers.env, chosen.source, layers.cwd)}
    }
    resolved[key] = chosen
  }
  withoutSecretsOfAnotherServer(descriptor, resolved, layers)
  return resolved
}

/** Options that say which server a backend connects to (the others say what to use there: a database number, a key prefix...). */
const SERVER_OPTIONS = ['url', 'host', 'port'] as const

/**
 * A config file that names a server and its password: the password is for THAT server. When a
 * flag or the environment points this command (or one side of migrate-db) at another server, the
 * file's secrets are not sent there (QA: `migrate-db --to redis --to-redis-url <other>` sent the
 * source's Redis password, from the config file, to the target server). A file that names no
 * server (a password alone) still gives it to whichever server is selected.
 */
function withoutSecretsOfAnotherServer(descriptor: BackendDescriptor, resolved: Record<string, Sourced<unknown>>, layers: OptionLayers): void {
  const schema = descriptor.optionsSchema
  const file = layers.fileSection
  const fromFile = Object.keys(resolved).filter((key) => schema[key]?.secret === true && resolved[key]!.source.kind === 'file')
  if (!file || fromFile.length === 0) return
  const named = SERVER_OPTIONS.filter((key) => key in schema && schema[key]!.secret !== true)
  if (!named.some((key) => file[key] !== undefined)) return
  const elsewhere = named.some((key) => {
    const option = resolved[key]
    return option !== undefined && (option.source.kind === 'flag' || option.source.kind === 'env') && option.value !== file[key]
  })
  if (!elsewhere) return
  for (const key of fromFile) delete resolved[key]
  const secrets = fromFile.map((key) => `database.${descriptor.name}.${key}`).join(', ')
  addNotice(layers.notices, `the config file's ${secrets} belongs to the server it names, and is not sent to the one ${named.filter((key) => resolved[key] && resolved[key]!.source.kind !== 'file' && resolved[key]!.source.kind !== 'default').map((key) => describeSource(resolved[key]!.source, layers.cwd)).join(' and ')} names; give that server's own in the environment or as a flag`)
}

/** The warning for a password given as a command-line flag, naming the backend's own variables. */
function passwordOnCommandLine(backend: string): string {
  const variables = backend === 'redis' ? 'HIVEMIND_REDIS_PASSWORD' : `HIVEMIND_${backend.toUpperCase().replaceAll('-', '_')}_<OPTION>`
  return `a password on the command line is visible to other local users (ps); prefer the environment (${variables}) or the config file`
}

/** Adds a notice once. */
function addNotice(notices: string[], message: string): void {
  if (!notices.includes(message)) notices.push(message)
}

/** Plain option values of resolved settings, for `descriptor.create`. */
export function optionValues(options: Record<string, Sourced<unknown>>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(options).map(([key, sourced]) => [key, sourced.value]))
}

/** The database these settings select, as one comparable text: "sqlite /data/clients.db" (a URL's password masked). */
export function selectedDatabase(settings: ResolvedSettings): string {
  const {descriptor} = settings.registered
  return `${descriptor.name} ${describeLocation(descriptor, optionValues(settings.backendOptions))}`
}

/** "flag --db-path", "env HIVEMIND_DB_PATH", "./.hivemindrc.json", "default". */
export function describeSource(source: SettingSource, cwd: string): string {
  switch (source.kind) {
    case 'flag': {
      return `flag ${source.name}`
    }
    case 'env': {
      return `env ${source.name}`
    }
    case 'file': {
      return `${shownPath(source.path, cwd)} ${source.key}`
    }
    case 'default': {
      return source.note ? `default: ${source.note}` : 'default'
    }
  }
}

/** `./x` for a file under the working directory, its absolute path otherwise. */
function shownPath(file: string, cwd: string): string {
  const relative = path.relative(cwd, file)
  return relative.startsWith('..') || path.isAbsolute(relative) ? file : `./${relative}`
}

/** Converts a camelCase / kebab key to an env var fragment: keyPrefix → KEY_PREFIX. */
export function envName(key: string): string {
  return key.replaceAll(/([a-z0-9])([A-Z])/g, '$1_$2').replaceAll('-', '_').toUpperCase()
}

function requireSpec(backend: string, schema: Record<string, OptionSpec>, key: string, origin: string): OptionSpec {
  const spec = schema[key]
  if (!spec) {
    // Option keys are camelCase: "keyprefix" or "key_prefix" is keyPrefix.
    const meant = Object.keys(schema).find((name) => name.toLowerCase() === key.toLowerCase().replaceAll(/[-_]/g, '')) ?? closestName(key, Object.keys(schema))?.name
    throw new BackendOptionsError(`${origin}: the ${backend} backend has no option "${key}"`, {
      suggestion: `${meant ? `did you mean ${meant}? ` : ''}its options are: ${Object.keys(schema).join(', ') || 'none'}`,
    })
  }
  return spec
}

function pick<T>(candidates: Array<Sourced<T> | undefined>): Sourced<T> | undefined {
  return candidates.find((candidate) => candidate !== undefined)
}

function fromFlag<T>(value: T | undefined, name: string): Sourced<T> | undefined {
  return value === undefined ? undefined : {value, source: {kind: 'flag', name}}
}

function fromEnv(env: NodeJS.ProcessEnv, name: string): Sourced<string> | undefined {
  const value = nonEmpty(env[name])
  return value === undefined ? undefined : {value, source: {kind: 'env', name}}
}

function coerceEnv<T = unknown>(env: NodeJS.ProcessEnv, name: string, spec: OptionSpec): Sourced<T> | undefined {
  const value = nonEmpty(env[name])
  if (value === undefined) return undefined
  return coerceString(value, spec, name, {kind: 'env', name}) as Sourced<T>
}

/**
 * A value of the wrong type or out of range. From a flag it is a usage error (exit 2), as oclif
 * makes of `--redis-db -1` or `--redis-db abc`: `--redis-db 2147483648` exited 1. From the
 * environment it is an error in the settings (exit 1).
 */
function badValue(message: string, source: SettingSource): BackendOptionsError {
  return new BackendOptionsError(message, source.kind === 'flag' ? {exitCode: 2} : {})
}

/** Converts a string from a flag or the environment to the option's type. */
function coerceString(raw: string, spec: OptionSpec, origin: string, source: SettingSource): Sourced<unknown> {
  switch (spec.type) {
    case 'integer': {
      if (!/^-?\d+$/.test(raw.trim())) throw badValue(`${origin} must be an integer`, source)
      return {value: Number.parseInt(raw, 10), source}
    }
    case 'boolean': {
      const lowered = raw.trim().toLowerCase()
      if (['1', 'true', 'yes', 'on'].includes(lowered)) return {value: true, source}
      if (['0', 'false', 'no', 'off'].includes(lowered)) return {value: false, source}
      throw badValue(`${origin} must be true or false`, source)
    }
    default: {
      return {value: raw, source}
    }
  }
}

/** An integer option outside its schema's minimum/maximum is an error naming where it was set. */
function checkRange(chosen: Sourced<unknown>, spec: OptionSpec, key: string, backend: string, cwd: string): void {
  const value = chosen.value
  if (typeof value !== 'number') return
  const tooSmall = spec.minimum !== undefined && value < spec.minimum
  const tooLarge = spec.maximum !== undefined && value > spec.maximum
  if (!tooSmall && !tooLarge) return
  const range = spec.maximum === undefined ? `at least ${spec.minimum}` : spec.minimum === undefined ? `at most ${spec.maximum}` : `between ${spec.minimum} and ${spec.maximum}`
  const where = chosen.source.kind === 'file' ? describeSource(chosen.source, cwd) : `${describeSource(chosen.source, cwd)} (database.${backend}.${key})`
  const message = `${where} must be ${range}, got ${value}`
  throw chosen.source.kind === 'file' ? new ConfigError(message) : badValue(message, chosen.source)
}

function expandOrFail(value: string, base: string, env: NodeJS.ProcessEnv, source: SettingSource, cwd: string): string {
  try {
    return expandPath(value, base, env)
  } catch (error) {
    if (error instanceof UnsetVariableError) {
      const where = describeSource(source, cwd)
      throw (source.kind === 'file' ? new ConfigError(`${where}: ${error.message}`) : new BackendOptionsError(`${where}: ${error.message}`))
    }
    throw error instanceof HivemindError ? error : new ConfigError(String(error))
  }
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value
}
