/**
 * The Python hivemind-core's own config, `$XDG_CONFIG_HOME/hivemind-core/server.json`, as a
 * settings layer below our config file and above the defaults: a hub upgraded in place keeps
 * listening where it listened, on the bus it talked to, with the database it used. Only what
 * hivemind-core has an equivalent for is read: the websocket listener's host and port, the OVOS
 * agent's host and port, and the database plugin with its options (each backend translates its
 * plugin's section: BackendDescriptor.upstream). Whatever cannot be used is said, once per
 * command, as a notice: never silently dropped, never fatal (the Python hub may still run).
 */
import {existsSync, readFileSync} from 'node:fs'
import path from 'node:path'

import type {BackendRegistry} from '../core/registry.js'
import type {HivemindPaths, OptionSpec} from '../core/store.js'
import {checkValue} from './schema.js'

/** The websocket transport of the Python hub: the one hivemind-core serves. */
const WEBSOCKET_PLUGIN = 'hivemind-websocket-plugin'
/** The OVOS message bus agent: the one hivemind-core speaks to. */
const OVOS_AGENT_PLUGIN = 'hivemind-ovos-agent-plugin'

/** A value read from server.json, with the key path it was read from ("network_protocol.hivemind-websocket-plugin.port"). */
export interface UpstreamValue<T> {
  value: T
  key: string
}

/** An allowed_* list of server.json; `malformed` when it is there but not a list of names (then it allows nothing). */
export type AllowedNames = UpstreamValue<string[]> & {malformed?: boolean}

/** What hivemind-core takes from server.json. */
export interface UpstreamConfig {
  /** The file read. */
  file: string
  listenHost?: UpstreamValue<string>
  listenPort?: UpstreamValue<number>
  agentUrl?: UpstreamValue<string>
  /** The backend of `database.module`. */
  backend?: UpstreamValue<string>
  /** `database.module` as written ("hivemind-sqlite-db-plugin"), when a backend reads it. */
  databaseModule?: string
  /** That backend's options, translated from the plugin's section (keys of our options schema). */
  backendOptions: Record<string, UpstreamValue<unknown>>
  /** Its top-level `allowed_ciphers`: the frame ciphers satellites may choose (listen offers ours that it names). */
  allowedCiphers?: AllowedNames
  /** Its top-level `allowed_encodings`: the same for the encodings of JSON frames. */
  allowedEncodings?: AllowedNames
  /** Its top-level `binarize`: offer binary frames (listen's --binarize). */
  binarize?: UpstreamValue<boolean>
  /** Transports of `network_protocol` other than the websocket one (hivemind-http-plugin…), which listen does not serve. */
  otherTransports: string[]
  /** TLS the Python hub was told to use, which `listen` takes only with --ssl (it does not generate certificates). */
  tls?: {certFile: string; keyFile: string}
  /** What could not be used, and why (shown as warnings). */
  notices: string[]
  /** Why the file could not be read at all, when it could not: the database it selects is then unknown. */
  unreadable?: string
}

/** Where the Python hub keeps its server.json (`paths.configDir` is `$XDG_CONFIG_HOME/hivemind-core`). */
export function upstreamConfigFile(paths: Pick<HivemindPaths, 'configDir'>): string {
  return path.join(paths.configDir, 'server.json')
}

/** The server.json of the Python hub, if there is one. */
export function readUpstreamConfig(paths: HivemindPaths, registry: BackendRegistry): UpstreamConfig | undefined {
  const file = upstreamConfigFile(paths)
  if (!existsSync(file)) return undefined
  const config: UpstreamConfig = {file, backendOptions: {}, notices: [], otherTransports: []}
  let content: unknown
  try {
    content = JSON.parse(readFileSync(file, 'utf8'))
  } catch (error) {
    config.unreadable = `cannot be read (${(error as NodeJS.ErrnoException).code ?? 'it is not valid JSON'})`
    config.notices.push(`${file} (the Python hivemind-core's config) ${config.unreadable}: none of its settings are used`)
    return config
  }
  if (!isObject(content)) {
    config.unreadable = 'is not a JSON object'
    config.notices.push(`${file} (the Python hivemind-core's config) ${config.unreadable}: none of its settings are used`)
    return config
  }
  readListener(content, config, paths)
  readFrames(content, config)
  readAgent(content, config)
  readDatabase(content, config, paths, registry)
  return config
}

function readListener(content: Record<string, unknown>, config: UpstreamConfig, paths: HivemindPaths): void {
  const section = objectAt(content, 'network_protocol', WEBSOCKET_PLUGIN)
  if (!section) return
  const prefix = `network_protocol.${WEBSOCKET_PLUGIN}`
  if (typeof section.host === 'string' && section.host !== '') config.listenHost = {value: section.host, key: `${prefix}.host`}
  else if (section.host !== undefined) config.notices.push(`${config.file}: ${prefix}.host is not a host name; the default is used`)
  if (isPort(section.port)) config.listenPort = {value: section.port as number, key: `${prefix}.port`}
  else if (section.port !== undefined) config.notices.push(`${config.file}: ${prefix}.port is not a port number (1-65535); the default is used`)
  if (section.ssl === true) {
    // The Python hub's defaults: $XDG_DATA_HOME/hivemind/hivemind.crt and .key.
    const certDir = typeof section.cert_dir === 'string' && section.cert_dir !== '' ? expandHome(section.cert_dir, paths.home) : path.join(path.dirname(paths.dataDir), 'hivemind')
    const certName = typeof section.cert_name === 'string' && section.cert_name !== '' ? section.cert_name : 'hivemind'
    config.tls = {certFile: path.join(certDir, `${certName}.crt`), keyFile: path.join(certDir, `${certName}.key`)}
  }
}

/** The frame settings of the Python hub: which ciphers and encodings satellites may use, binary frames. */
function readFrames(content: Record<string, unknown>, config: UpstreamConfig): void {
  for (const [key, field] of [['allowed_ciphers', 'allowedCiphers'], ['allowed_encodings', 'allowedEncodings']] as const) {
    const value = content[key]
    if (value === undefined || value === null) continue
    if (Array.isArray(value) && value.every((item) => typeof item === 'string')) config[field] = {value: value as string[], key}
    // Not ignored: a restriction that cannot be read must not become "everything allowed" (QA).
    // An empty list then allows nothing, and listen refuses to start, saying why.
    else config[field] = {value: [], key, malformed: true}
  }
  if (typeof content.binarize === 'boolean') config.binarize = {value: content.binarize, key: 'binarize'}
  else if (content.binarize !== undefined && content.binarize !== null) config.notices.push(`${config.file}: binarize is not true or false; it is not used`)
  const transports = objectAt(content, 'network_protocol')
  if (transports) config.otherTransports = Object.keys(transports).filter((name) => name !== WEBSOCKET_PLUGIN && name !== 'module' && isObject(transports[name]))
}

function readAgent(content: Record<string, unknown>, config: UpstreamConfig): void {
  const agent = objectAt(content, 'agent_protocol')
  if (!agent) return
  const module = agent.module
  if (module !== undefined && module !== OVOS_AGENT_PLUGIN) {
    config.notices.push(`${config.file} selects the agent ${String(module)}; hivemind-core speaks only to an OVOS message bus (${OVOS_AGENT_PLUGIN}), so agent.url keeps its own setting`)
    return
  }
  const section = objectAt(agent, OVOS_AGENT_PLUGIN)
  if (!section || (section.host === undefined && section.port === undefined)) return
  const prefix = `agent_protocol.${OVOS_AGENT_PLUGIN}`
  if ((section.host !== undefined && (typeof section.host !== 'string' || section.host === '')) || (section.port !== undefined && !isPort(section.port))) {
    config.notices.push(`${config.file}: ${prefix} needs a host name and a port number (1-65535); agent.url keeps its own setting`)
    return
  }
  // "[::1]" or "::1": one pair of brackets in the URL either way.
  const host = typeof section.host === 'string' ? section.host.replace(/^\[(.*)\]$/, '$1') : '127.0.0.1'
  const port = (section.port as number | undefined) ?? 8181
  // The OVOS bus serves its websocket at /core (the Python agent plugin connects there too).
  config.agentUrl = {value: `ws://${host.includes(':') ? `[${host}]` : host}:${port}/core`, key: prefix}
}

function readDatabase(content: Record<string, unknown>, config: UpstreamConfig, paths: HivemindPaths, registry: BackendRegistry): void {
  const database = objectAt(content, 'database')
  const module = database?.module
  if (module === undefined || module === null) return
  if (typeof module !== 'string') {
    config.notices.push(`${config.file}: database.module is not a plugin name; it is not used`)
    return
  }
  const registered = registry.byUpstreamPlugin(module)
  if (!registered) {
    config.notices.push(`${config.file} selects the database plugin ${module}, which no installed backend reads (${registry.names().join(', ')}); it is not used`)
    return
  }
  const {descriptor} = registered
  config.backend = {value: descriptor.name, key: 'database.module'}
  config.databaseModule = module
  const section = objectAt(database!, module) ?? {}
  for (const [key, value] of Object.entries(descriptor.upstream!.options(section, paths))) {
    const spec = descriptor.optionsSchema[key]
    const problem = spec ? (checkValue(value, spec) ?? outOfRange(value, spec)) : 'is not an option of this backend'
    if (problem) config.notices.push(`${config.file}: database.${module} gives ${descriptor.name} option ${key} a value that ${problem.replace(/^must/, 'does not fit: it must')}; it is not used`)
    else config.backendOptions[key] = {value, key: `database.${module}`}
  }
}

/** What the settings would refuse later as a fatal error, said here as a notice instead. */
function outOfRange(value: unknown, spec: OptionSpec): string | undefined {
  if (typeof value !== 'number') return undefined
  if ((spec.minimum !== undefined && value < spec.minimum) || (spec.maximum !== undefined && value > spec.maximum)) {
    return `must be between ${spec.minimum ?? '-∞'} and ${spec.maximum ?? '∞'}, found ${value}`
  }
  return undefined
}

function isPort(value: unknown): value is number {
  return Number.isInteger(value) && (value as number) >= 1 && (value as number) <= 65_535
}

function objectAt(value: Record<string, unknown>, ...keys: string[]): Record<string, unknown> | undefined {
  let current: unknown = value
  for (const key of keys) current = isObject(current) ? current[key] : undefined
  return isObject(current) ? current : undefined
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** `~/x` as the Python hub reads it (os.path.expanduser). */
function expandHome(file: string, home: string): string {
  return file === '~' || file.startsWith('~/') ? path.join(home, file.slice(1)) : file
}
