/**
 * Opens the store that resolved settings select, and the agreement guard: when that store is
 * empty or missing while another well-known location holds clients, say so and how to fix it.
 */
import {type BackendRegistry, describeLocation, type RegisteredBackend} from '../core/registry.js'
import type {BackendContext, ClientStore, HivemindPaths, StoreMode} from '../core/store.js'
import {settleWithin} from '../core/bounded.js'
import {BackendOptionsError, isHivemindError, StoreUnavailableError} from '../core/errors.js'
import {describeSource, optionValues, type ResolvedSettings, resolveBackendOptions, type SettingSource, type Sourced} from './settings.js'
import {commandLineOptions} from './command-line-options.js'
import {upstreamConfigFile} from './upstream.js'
import {type FlagSide, withSideHint, withSideHints} from '../cli/side-hints.js'

/** An opened store, and what to tell the operator about it. */
export interface OpenedStore {
  store: ClientStore
  /** "sqlite /home/u/.local/share/hivemind-core/clients.db (from ./.hivemindrc.json)". */
  description: string
  /** True when the location does not exist yet and a read-only command got an empty view of it. */
  missing: boolean
}

/** How the caller will use the store, passed on to the backend (see BackendContext). */
export interface StoreHints {
  /** The store serves a long-running process (listen). Default false. */
  longRunning?: boolean
  /** The location must be left byte-identical (a migration's source, a dry run, a backup); 'read' mode only. Default false. */
  leaveUntouched?: boolean
  /**
   * The command hands out new client ids (add-client). On an empty database while another
   * default location holds clients, ids then start after theirs. Default false.
   */
  assignsIds?: boolean
}

/**
 * Opens the selected store. In 'read' mode a location that does not exist yet is not created:
 * the command sees an empty store (and the guard explains where clients may be instead). A
 * backend whose read-mode open creates nothing is opened without that probe.
 */
export async function openStore(settings: ResolvedSettings, mode: StoreMode, warn: (message: string) => void, hints: StoreHints = {}): Promise<OpenedStore> {
  const opened = await openWithSources(settings.registered, settings.backendOptions, settings, mode, warn, hints)
  return {...opened, description: `${settings.registered.descriptor.name} ${opened.store.location} (${describeOrigin(settings)})`}
}

/**
 * {@link openBackend} with options as resolved (with their sources): an option the backend
 * rejects is said with where it was set ("env HIVEMIND_REDIS_URL: the Redis URL must start…").
 * With `side`, the options came from that side's flags (migrate-db's `--to-path`, …): the hints of
 * the store's errors, at opening and after, name those flags instead of `--db-path`, `--redis-url`….
 */
export async function openWithSources(
  registered: RegisteredBackend,
  options: Record<string, Sourced<unknown>>,
  settings: Pick<ResolvedSettings, 'paths' | 'cwd'>,
  mode: StoreMode,
  warn: (message: string) => void,
  hints: StoreHints = {},
  side?: FlagSide,
): Promise<OpenedStore> {
  let opened: OpenedStore
  try {
    opened = await openBackend(registered, optionValues(options), settings.paths, mode, warn, hints)
  } catch (error) {
    const located = withUpstreamNote(withOptionSource(error, options, settings.cwd), options, settings.paths)
    throw side ? withSideHint(located, side) : located
  }
  return side ? {...opened, store: withSideHints(opened.store, side)} : opened
}

/** A backend's option error (BackendOptionsError naming its `option`) prefixed with where that option was set. */
function withOptionSource(error: unknown, options: Record<string, Sourced<unknown>>, cwd: string): unknown {
  const option = (error as {option?: unknown} | undefined)?.option
  if (!isHivemindError(error) || error.code !== 'BACKEND_OPTIONS_INVALID' || typeof option !== 'string') return error
  const chosen = options[option]
  if (!chosen || chosen.source.kind === 'default') return error
  const where = describeSource(chosen.source, cwd)
  if (error.message.startsWith(where)) return error
  return new BackendOptionsError(`${where}: ${error.message}`, {cause: error, option, ...(error.suggestion ? {suggestion: error.suggestion} : {})})
}

/**
 * An error opening a store whose options came from the Python hub's server.json (a wrong Redis
 * password, a host that does not answer, a file that does not parse): its hint says so. The
 * store's usual advice (HIVEMIND_REDIS_PASSWORD, --redis-url, …) alone would mislead: setting any
 * option of the backend above server.json replaces that file's whole database section
 * (docs/configuration.md), so the command would move to another server or file (QA).
 */
function withUpstreamNote(error: unknown, options: Record<string, Sourced<unknown>>, paths: Pick<HivemindPaths, 'configDir'>): unknown {
  if (!isHivemindError(error) || (error.code !== 'STORE_UNAVAILABLE' && error.code !== 'STORE_CORRUPT')) return error
  const note = upstreamSettingsNote(options, paths)
  if (!note) return error
  const suggestion = error.suggestion ? `${error.suggestion}; ${note}` : note
  // Replaced in place, as withSideHint does: the error keeps its class, code, exit code and cause.
  Object.defineProperty(error, 'suggestion', {value: suggestion, enumerable: true, configurable: true})
  return error
}

/**
 * When some of these options came from the Python hub's server.json: where, and that they are
 * changed there (see withUpstreamNote). Undefined otherwise. Doctor adds it to its fixes too.
 */
export function upstreamSettingsNote(options: Record<string, Sourced<unknown>>, paths: Pick<HivemindPaths, 'configDir'>): string | undefined {
  const file = upstreamConfigFile(paths)
  const sections = new Set(Object.values(options).flatMap(({source}) => (source.kind === 'file' && source.path === file ? [source.key] : [])))
  if (sections.size === 0) return undefined
  return `these database settings came from ${[...sections].join(', ')} in ${file} (the Python hivemind-core's config): to change them, change them there, since a database option set by flag, environment variable or .hivemindrc replaces that whole section`
}

/** Opens a backend with given options (see {@link openStore} for 'read' mode on a missing location). */
export async function openBackend(registered: RegisteredBackend, options: Record<string, unknown>, paths: HivemindPaths, mode: StoreMode, warn: (message: string) => void, hints: StoreHints = {}): Promise<OpenedStore> {
  const {descriptor} = registered
  if (hints.leaveUntouched && mode !== 'read') throw new Error('leaveUntouched is only meaningful in read mode')
  const context: BackendContext = {paths, mode, warn, ...(hints.longRunning ? {longRunning: true} : {}), ...(hints.leaveUntouched ? {leaveUntouched: true} : {})}
  const location = describeLocation(descriptor, options)
  const description = `${descriptor.name} ${location}`
  if (mode === 'read' && descriptor.probe && !descriptor.readModeOpenCreatesNothing) {
    const probeOf = descriptor.probe.bind(descriptor)
    const answer = await settleWithin(() => probeOf(options, context), PROBE_TIMEOUT_MS).catch((error: unknown) => {
      throw pluginFailure(error, registered, description, 'probe it')
    })
    if (!answer.settled) {
      throw new StoreUnavailableError(`${description}: the ${descriptor.name} backend did not say within ${PROBE_TIMEOUT_MS / 1000} s whether this database exists (its probe, from plugin ${registered.plugin})`, {
        suggestion: 'check that its server answers; if it does, report this to the plugin\'s authors',
      })
    }
    const probe = answer.value
    if (probe && !probe.exists) {
      const {MemoryStore} = await import('../core/memory-store.js')
      const empty = new MemoryStore(location)
      await empty.open()
      return {store: empty, description, missing: true}
    }
  }
  let store: ClientStore | undefined
  try {
    store = await descriptor.create(options, context)
    await store.open()
  } catch (error) {
    throw pluginFailure(error, registered, description, 'open it')
  }
  return {store, description, missing: false}
}

/**
 * An installed plugin's own failure (its driver missing, a bug) names the backend and the
 * plugin: "driver module not found" alone said neither (QA). Ours are typed, or a bug of ours,
 * and pass as they are.
 */
function pluginFailure(error: unknown, registered: RegisteredBackend, description: string, what: string): unknown {
  if (registered.builtIn || isHivemindError(error)) return error
  const {name} = registered.descriptor
  return new StoreUnavailableError(`${description}: the ${name} backend (plugin ${registered.plugin}) failed to ${what}: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`, {
    cause: error,
    suggestion: `check the ${name} settings (hivemind-core print-config), or report it to the plugin's authors; HIVEMIND_DEBUG=1 shows the stack`,
  })
}

/** Where the backend and its location came from, for the "Database:" line. */
export function describeOrigin(settings: ResolvedSettings): string {
  // A file is named without its keys here: "(from ./.hivemindrc.json)".
  const where = (source: SettingSource) => describeSource(source.kind === 'file' ? {...source, key: ''} : source, settings.cwd).trim()
  const backendFrom = where(settings.backend.source)
  const locationKey = ['path', 'url', 'host'].find((key) => key in settings.backendOptions)
  const locationFrom = locationKey ? where(settings.backendOptions[locationKey]!.source) : backendFrom
  if (locationFrom === backendFrom || locationFrom === 'default') return `from ${backendFrom}`
  return `backend from ${backendFrom}, ${locationKey} from ${locationFrom}`
}

/**
 * The agreement guard. Looks at the default location of every backend that can be probed
 * cheaply, and returns one notice per location (other than the selected one) holding clients.
 */
export async function findClientsElsewhere(settings: ResolvedSettings, registry: BackendRegistry, selectedLocation: string): Promise<string[]> {
  return (await locateClientsElsewhere(settings, registry, selectedLocation)).map((found) => found.notice)
}

/** How long a read-only command waits for the selected backend's probe of its database [15 s]: far beyond a reachable server's answer. */
const PROBE_TIMEOUT_MS = 15_000

/** How long the agreement guard waits for one backend's probe of its default location [3000 ms]. */
const GUARD_PROBE_TIMEOUT_MS = 3000

/** A default location, other than the selected one, that holds clients. */
export interface ClientsElsewhere {
  /** What the agreement guard says of it: where, how many, how to use them or move them here. */
  notice: string
  /** Its highest client id, when its backend tells cheaply. */
  lastId?: number
}

/** {@link findClientsElsewhere}, with each location's highest id. */
export async function locateClientsElsewhere(settings: ResolvedSettings, registry: BackendRegistry, selectedLocation: string): Promise<ClientsElsewhere[]> {
  // All at once: one slow plugin costs the guard its time limit once, not once per plugin (QA).
  const looked = await Promise.all(registry.list().map((candidate) => clientsAtDefaultOf(candidate, settings, selectedLocation)))
  return looked.filter((found): found is ClientsElsewhere => found !== undefined)
}

/** What the agreement guard finds at one backend's default location: clients, or nothing to say. */
async function clientsAtDefaultOf(candidate: RegisteredBackend, settings: ResolvedSettings, selectedLocation: string): Promise<ClientsElsewhere | undefined> {
  const {descriptor} = candidate
  if (!descriptor.probe) return undefined
  let options: Record<string, unknown>
  try {
    options = optionValues(resolveBackendOptions(candidate, {fileDir: settings.cwd, flags: {}, env: {}, cwd: settings.cwd, paths: settings.paths, notices: []}))
  } catch {
    return undefined
  }
  const location = describeLocation(descriptor, options)
  if (descriptor.name === settings.registered.descriptor.name && location === selectedLocation) return undefined
  const probeOf = descriptor.probe.bind(descriptor)
  try {
    const answer = await settleWithin(() => probeOf(options, {paths: settings.paths, mode: 'read', warn() {}}), GUARD_PROBE_TIMEOUT_MS)
    // A probe that does not answer in time is not waited for: the guard is advice.
    const probe = answer.settled ? answer.value : undefined
    if (!probe?.exists || (probe.clients ?? 0) === 0) return undefined
    const notice =
      `${descriptor.name} ${probe.location} holds ${probe.clients} client(s). ` +
      `To use it: --db-backend ${descriptor.name}${'path' in options ? ` --db-path ${probe.location}` : ''}; ` +
      `to move them here: hivemind-core migrate-db --from ${descriptor.name}${'path' in options ? ` --from-path ${probe.location}` : ''} ` +
      `--to ${settings.registered.descriptor.name}${targetFlags(settings, selectedLocation)}`
    return probe.lastId === undefined ? {notice} : {notice, lastId: probe.lastId}
  } catch {
    // A location that cannot be probed is simply not reported; the guard is advice, not a check.
    return undefined
  }
}

/**
 * The migrate-db flags that name the selected database as a target: its path, and the options
 * given on the command line (migrate-db reads the config file and HIVEMIND_<BACKEND>_* itself, but
 * not the command's own flags) — without a secret: a password inside a URL is masked, and a secret
 * option is left to the environment or the config file.
 */
function targetFlags(settings: ResolvedSettings, selectedLocation: string): string {
  // The same selection --switch records, as a hint shows it.
  const {shown} = commandLineOptions(settings.registered.descriptor.optionsSchema, settings.backendOptions)
  let flags = 'path' in settings.backendOptions ? ` --to-path ${selectedLocation}` : ''
  for (const [key, value] of Object.entries(shown)) if (key !== 'path') flags += ` --to-option ${key}=${String(value)}`
  return flags
}
