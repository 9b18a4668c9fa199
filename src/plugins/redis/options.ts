/**
 * Options of the redis backend (config section `database.redis`, flags `--redis-*`, environment
 * `HIVEMIND_REDIS_<KEY>`), and how they combine into one connection target.
 *
 * Cheap to import (no ioredis): the descriptor uses it to describe a location without connecting.
 */
import {BackendOptionsError} from '../../core/errors.js'
import type {OptionsSchema} from '../../core/store.js'

/** Port used when neither `port` nor the URL names one. */
export const DEFAULT_PORT = 6379
/** Host used when neither `host` nor the URL names one. */
export const DEFAULT_HOST = '127.0.0.1'
/** Key prefix used when `keyPrefix` is not set. */
export const DEFAULT_KEY_PREFIX = 'hivemind:'
/** How long connecting (TCP + TLS + AUTH + ready check) may take, in ms. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 2000
/** How long one command may wait for its reply once connected, in ms. */
export const DEFAULT_COMMAND_TIMEOUT_MS = 10_000

/**
 * Validated options of the redis backend. Every key is optional except `keyPrefix`; the settings
 * layer leaves out what nobody set.
 */
export interface RedisOptions extends Record<string, unknown> {
  /** `redis://[user:pass@]host:port/db` or `rediss://…` (TLS). Parts given by the options below win over the URL's. */
  url?: string
  /** Server host. Default 127.0.0.1 (or the URL's). */
  host?: string
  /** Server port. Default 6379 (or the URL's). */
  port?: number
  /** ACL user name (Redis 6+). Default: none (the `default` user). */
  username?: string
  /** Password. Secret: masked by print-config, never in a message. Prefer env HIVEMIND_REDIS_PASSWORD or the config file. */
  password?: string | null
  /** Database number. Default 0 (or the URL's). */
  db?: number
  /** Prefix of every key this hive uses, so several hives can share a server. Default "hivemind:". */
  keyPrefix: string
  /** Connect with TLS. Default: true for a `rediss://` URL or when a tls* file is given, else false. */
  tls?: boolean
  /** PEM file of the CA(s) that signed the server certificate. Default: the system CAs. */
  tlsCa?: string
  /** PEM client certificate (servers with `tls-auth-clients yes`). */
  tlsCert?: string
  /** PEM private key of the client certificate. */
  tlsKey?: string
  /** Connection (TCP, TLS, AUTH, ready check) deadline in ms. Default 2000. */
  connectTimeoutMs?: number
  /**
   * Deadline of one command once connected, in ms (a stalled server must not hang a command
   * forever). A write of many records at once gets 1 ms more per record. Default 10000.
   */
  commandTimeoutMs?: number
  /**
   * Keep reconnecting after the connection drops (for long-running `listen`), instead of failing
   * fast (one-shot CLI commands). Even then, `open()` fails fast when the server is unreachable,
   * and commands issued while disconnected fail at once with "store unavailable". Default false.
   */
  reconnect?: boolean
}

/** The shortest connect or command deadline accepted (ms): below it a healthy server times out. */
const MIN_DEADLINE_MS = 100
/** The largest database number Redis can have (its `databases` setting is a 32-bit int). */
const MAX_DB = 2_147_483_647

export const redisOptionsSchema: OptionsSchema = {
  url: {type: 'string', description: 'redis[s]://[user:pass@]host:port/db (options below override its parts)'},
  host: {type: 'string', description: `server host (default ${DEFAULT_HOST} when no url)`},
  port: {type: 'integer', description: `server port (default ${DEFAULT_PORT} when no url)`, minimum: 1, maximum: 65_535},
  username: {type: 'string', description: 'ACL user name (Redis 6+)'},
  password: {type: 'string', description: 'password (prefer env HIVEMIND_REDIS_PASSWORD or the config file)', secret: true, nullable: true},
  db: {type: 'integer', description: 'database number (default 0 when no url)', minimum: 0, maximum: MAX_DB},
  keyPrefix: {type: 'string', description: 'prefix of every key of this hive (several hives can share a server)', default: DEFAULT_KEY_PREFIX},
  tls: {type: 'boolean', description: 'connect with TLS (default: true for rediss:// or when a tls* file is set)'},
  tlsCa: {type: 'path', description: 'PEM file of the CA that signed the server certificate (default: system CAs)'},
  tlsCert: {type: 'path', description: 'PEM client certificate (servers with tls-auth-clients)'},
  tlsKey: {type: 'path', description: 'PEM private key of the client certificate'},
  connectTimeoutMs: {type: 'integer', description: `deadline for connecting, TLS, AUTH and the ready check (ms, default ${DEFAULT_CONNECT_TIMEOUT_MS})`, minimum: MIN_DEADLINE_MS},
  commandTimeoutMs: {type: 'integer', description: `deadline of one command once connected (ms, default ${DEFAULT_COMMAND_TIMEOUT_MS}; +1 ms per record of a bulk write)`, minimum: MIN_DEADLINE_MS},
  reconnect: {type: 'boolean', description: 'keep reconnecting after a drop (for listen); CLI commands fail fast (default false)'},
}

/** Where and how to connect, with every default applied. */
export interface RedisTarget {
  host: string
  port: number
  db: number
  username?: string
  /** Never printed. */
  password?: string
  tls?: {ca?: string; cert?: string; key?: string}
  keyPrefix: string
  connectTimeoutMs: number
  commandTimeoutMs: number
  reconnect: boolean
}

/**
 * Combines the URL and the explicit options (explicit wins), applies defaults and checks ranges.
 * Errors never echo the URL (it may hold a password).
 */
export function resolveTarget(options: RedisOptions): RedisTarget {
  // Given but empty is a mistake (`--redis-url "$REDIS_URL"` with the variable unset), never
  // "use the default": that would quietly work on the hive of a local server instead.
  if (options.url === '') throw new BackendOptionsError('the Redis URL is empty', {option: 'url', suggestion: 'give redis://host:port/db (or rediss:// for TLS), or leave the URL out for a local server'})
  if (options.host === '') throw new BackendOptionsError('the Redis host is empty', {option: 'host', suggestion: 'give a host name or address, or leave it out for 127.0.0.1'})
  const fromUrl: Partial<Pick<RedisTarget, 'host' | 'port' | 'db' | 'username' | 'password'>> & {tls?: boolean} = options.url === undefined ? {} : parseRedisUrl(options.url)

  const host = options.host ?? fromUrl.host ?? DEFAULT_HOST
  const port = options.port ?? fromUrl.port ?? DEFAULT_PORT
  const db = options.db ?? fromUrl.db ?? 0
  const username = nonEmpty(options.username) ?? fromUrl.username
  // null means "unset" (OptionSpec.nullable), so the URL's password still applies.
  const password = (options.password === null ? undefined : options.password) ?? fromUrl.password
  const keyPrefix = options.keyPrefix ?? DEFAULT_KEY_PREFIX
  const connectTimeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS
  const commandTimeoutMs = options.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS

  if (!Number.isInteger(port) || port < 1 || port > 65_535) throw new BackendOptionsError(`the Redis port must be between 1 and 65535, got ${port}`, {option: options.port === undefined ? 'url' : 'port'})
  if (!Number.isInteger(db) || db < 0 || db > MAX_DB) {
    throw new BackendOptionsError(`the Redis database number must be between 0 and ${MAX_DB}, got ${String(db).length > 20 ? `${String(db).slice(0, 20)}…` : db}`, {
      option: options.db === undefined ? 'url' : 'db',
      suggestion: 'a server has 16 databases (0-15) unless its databases setting says otherwise',
    })
  }
  if (!Number.isInteger(connectTimeoutMs) || connectTimeoutMs < MIN_DEADLINE_MS) {
    throw new BackendOptionsError(`database.redis.connectTimeoutMs must be at least ${MIN_DEADLINE_MS} (ms), got ${connectTimeoutMs}`, {option: 'connectTimeoutMs'})
  }
  if (!Number.isInteger(commandTimeoutMs) || commandTimeoutMs < MIN_DEADLINE_MS) {
    throw new BackendOptionsError(`database.redis.commandTimeoutMs must be at least ${MIN_DEADLINE_MS} (ms), got ${commandTimeoutMs}`, {option: 'commandTimeoutMs'})
  }
  if (/[\s\u0000-\u001F\u007F]/.test(keyPrefix)) throw new BackendOptionsError('database.redis.keyPrefix must not contain spaces or control characters', {option: 'keyPrefix'})

  const tlsFiles = {ca: options.tlsCa, cert: options.tlsCert, key: options.tlsKey}
  const anyTlsFile = Object.values(tlsFiles).some((file) => file !== undefined)
  const useTls = options.tls ?? (fromUrl.tls === true || anyTlsFile)
  const target: RedisTarget = {host, port, db, keyPrefix, connectTimeoutMs, commandTimeoutMs, reconnect: options.reconnect === true}
  if (username !== undefined) target.username = username
  if (password !== undefined && password !== '') target.password = password
  if (useTls) target.tls = Object.fromEntries(Object.entries(tlsFiles).filter(([, file]) => file !== undefined))
  return target
}

/** `redis://127.0.0.1:6379/0 prefix hivemind:` — never the user name or password. */
export function describeTarget(target: Pick<RedisTarget, 'host' | 'port' | 'db' | 'tls' | 'keyPrefix'>): string {
  // An empty prefix is shown as such: "prefix " followed by nothing read as a truncated line.
  return `${target.tls ? 'rediss' : 'redis'}://${hostPort(target)}/${target.db} prefix ${target.keyPrefix === '' ? '"" (none)' : target.keyPrefix}`
}

/** "127.0.0.1:6379", "[::1]:6379": what messages name. */
export function hostPort(target: Pick<RedisTarget, 'host' | 'port'>): string {
  return `${target.host.includes(':') ? `[${target.host}]` : target.host}:${target.port}`
}

/** Parses `redis[s]://[user[:pass]@]host[:port][/db]`. The URL itself never appears in an error. */
export function parseRedisUrl(url: string): Partial<RedisTarget> & {tls: boolean} {
  const expected = 'expected redis://[user:password@]host[:port][/db] or rediss://… for TLS'
  // Named in both errors below: an unencoded # or ? inside a password is what usually causes them.
  const encodeHint = 'percent-encode # ? / @ : and % inside the user name or password (# as %23, ? as %3F…), or give the password through HIVEMIND_REDIS_PASSWORD'
  // The usual slips, each said for what it is (the URL itself is never shown).
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) {
    throw new BackendOptionsError(`the Redis URL must start with redis:// (or rediss:// for TLS) (${expected})`, {option: 'url', suggestion: 'e.g. redis://127.0.0.1:6379/0, or give --redis-host and --redis-port instead'})
  }
  // Up to the first "/" only: a # or ? there is usually an unencoded character of a password.
  const authority = /^[a-z][a-z0-9+.-]*:\/\/([^/]*)/i.exec(url)![1]!
  const hostAndPort = authority.slice(authority.lastIndexOf('@') + 1)
  if (hostAndPort === '' || hostAndPort.startsWith(':')) {
    throw new BackendOptionsError(`the Redis URL names no host (${expected})`, {option: 'url', suggestion: 'e.g. redis://127.0.0.1:6379/0 (a Unix socket is not supported: use host and port)'})
  }
  const port = /:(\d+)$/.exec(hostAndPort)?.[1]
  if (port !== undefined && (Number(port) < 1 || Number(port) > 65_535)) {
    throw new BackendOptionsError(`the Redis URL's port must be between 1 and 65535 (it is ${port})`, {option: 'url'})
  }
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    throw new BackendOptionsError(`the Redis URL is not a valid URL (${expected})`, {option: 'url', suggestion: encodeHint})
  }
  // Options in a query string (?password=…, ?db=…) are not read here; ignoring them would connect
  // without them, to another database or unauthenticated. The URL is never echoed (it may hold a secret).
  if (parsed.search !== '' || parsed.hash !== '') {
    throw new BackendOptionsError(`the Redis URL has a ${parsed.search === '' ? 'fragment (#…)' : 'query string (?…)'}, which hivemind-core does not read (${expected})`, {
      option: 'url',
      suggestion: 'give the password as redis://:PASSWORD@host:port/db (percent-encoded: # as %23, ? as %3F…) or through HIVEMIND_REDIS_PASSWORD, and other settings with their own flags',
    })
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
    throw new BackendOptionsError(`the Redis URL must start with redis:// or rediss://, not ${parsed.protocol}//`, {option: 'url'})
  }
  const result: Partial<RedisTarget> & {tls: boolean} = {tls: parsed.protocol === 'rediss:'}
  // URL keeps IPv6 hosts in brackets.
  const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1')
  if (host) result.host = host
  if (parsed.port) result.port = Number(parsed.port)
  if (parsed.username) result.username = decodeUserInfo(parsed.username, 'user name')
  if (parsed.password) result.password = decodeUserInfo(parsed.password, 'password')
  const dbPart = parsed.pathname.replace(/^\//, '')
  if (dbPart !== '') {
    if (!/^\d+$/.test(dbPart)) {
      throw new BackendOptionsError(`the Redis URL's path must be a database number (${expected})`, {
        option: 'url',
        ...(dbPart.includes('/') || dbPart.endsWith('.sock') ? {suggestion: 'a Unix socket is not supported: connect to the host and port Redis listens on'} : {}),
      })
    }
    result.db = Number(dbPart)
  }
  return result
}

/** A percent-encoded part of the URL; a malformed one is named without showing it. */
function decodeUserInfo(text: string, what: string): string {
  try {
    return decodeURIComponent(text)
  } catch {
    throw new BackendOptionsError(`the Redis URL's ${what} is not valid percent-encoding`, {
      option: 'url',
      suggestion: 'a % in it must be followed by two hex digits: write % itself as %25 (or give the password through HIVEMIND_REDIS_PASSWORD)',
    })
  }
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value
}
