/**
 * One ioredis connection with the settings a credential store needs, and the translation of
 * every connection or server failure into one clear, secret-free StoreUnavailableError.
 *
 * Two policies:
 * - fail-fast (one-shot CLI commands, the default): no offline queue, no retries, no reconnect,
 *   a short connect deadline — a dead server fails the command within the deadline, never 10+ s.
 * - reconnect (long-running `listen`): the same deadlines for `open()`, then endless reconnects
 *   with a backoff capped at 1 s. Commands issued while disconnected still fail at once (no
 *   offline queue), so a lookup during an outage reports "store unavailable" instead of waiting.
 *
 * ioredis reports TLS, DNS and authentication failures only on the client's `error` event (the
 * `connect()` promise just says "Connection is closed."), so the first error is captured and
 * named in the message.
 */
import {readFileSync} from 'node:fs'

import type {Redis, RedisOptions as IoRedisOptions} from 'ioredis'

import {BackendOptionsError, HivemindError, StoreCorruptError, StoreUnavailableError} from '../../core/errors.js'
import {requireCjs} from '../../core/require-cjs.js'
import {hostPort, type RedisTarget} from './options.js'
import {shellQuoted} from '../../core/shell-word.js'
import {keysStartingWith, redisCli, redisCliAuthNote, redisKeys} from './keys.js'

/** Longest pause between two reconnection attempts in reconnect mode. */
export const MAX_RECONNECT_DELAY_MS = 1000

/** What the caller was doing, for messages. */
export type Activity = 'connect' | 'read' | 'write'

/** Node's TLS verification failure codes (a bad CA, an expired or mismatched certificate…). */
const TLS_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'EPROTO',
])

export class RedisConnection {
  readonly client: Redis
  /** "127.0.0.1:6379" — what every message names. */
  readonly where: string
  /** Errors the client reported during the current `connect()` (the first one is the real cause). */
  private connectErrors: Error[] = []
  /** The latest error the client reported (why a connection was lost). */
  private lastError?: Error
  private connected = false
  private connecting = false
  /** Command deadlines raised by withCommandTimeout() and still in force. */
  private readonly raisedDeadlines: number[] = []

  constructor(
    private readonly target: RedisTarget,
    private readonly settings: {reconnect: boolean; commandTimeoutMs?: number},
  ) {
    this.where = hostPort(target)
    const {Redis: RedisClient} = requireCjs('ioredis') as typeof import('ioredis')
    this.client = new RedisClient(this.ioredisOptions())
    // Always listened to: without a listener ioredis prints "[ioredis] Unhandled error event" with a stack.
    this.client.on('error', (error: Error) => {
      // Kept only while connect() runs (a reconnecting listener must not pile them up).
      if (this.connecting) this.connectErrors.push(error)
      this.lastError = error
    })
  }

  /**
   * Connects, authenticates and passes the ready check within `budgetMs`, or throws a
   * StoreUnavailableError naming host:port and the real cause. Never leaves a reconnect loop
   * running behind a failure.
   */
  async connect(budgetMs = this.target.connectTimeoutMs): Promise<void> {
    const deadline = runningTimeDeadline(budgetMs, `no answer within ${budgetMs} ms`)
    this.connectErrors = []
    this.connecting = true
    try {
      await Promise.race([this.client.connect(), deadline.expired])
    } catch (error) {
      this.client.disconnect()
      // The captured event error is the real cause ("Connection is closed." says nothing).
      throw this.translate(this.connectErrors[0] ?? error, 'connect')
    } finally {
      deadline.cancel()
      this.connecting = false
    }
    // ioredis only reports a failed SELECT (database out of range) on the error event and goes on
    // with database 0: refuse, rather than read or write another database.
    const selectError = this.connectErrors.find((error) => /DB index|invalid DB/i.test(error.message))
    if (selectError) {
      this.client.disconnect()
      throw this.translate(selectError, 'connect')
    }
    this.connected = true
    // From now on ioredis's own (plain) connect timeout guards the reconnection attempts.
    this.client.options.connectTimeout = this.target.connectTimeoutMs
  }

  /** Deadline of one command, in ms, unless raised by withCommandTimeout(). */
  get commandTimeoutMs(): number {
    return this.settings.commandTimeoutMs ?? this.target.commandTimeoutMs
  }

  /**
   * Runs `work` with at least `timeoutMs` as the deadline of the commands it sends: a bulk write
   * the server needs seconds for must not be reported as "did not answer" while the server is
   * still applying it. ioredis reads the deadline when a command is sent, and resends a script
   * the server did not know (NOSCRIPT) as a new command after the first reply, so the deadline
   * stays raised until `work` settles; commands sent meanwhile by others get it too, which is
   * right, as the server answers them only after the long one.
   */
  async withCommandTimeout<T>(timeoutMs: number, activity: Activity, work: () => Promise<T>): Promise<T> {
    this.raisedDeadlines.push(timeoutMs)
    this.applyDeadline()
    try {
      return await work()
    } catch (error) {
      throw this.translate(error, activity, Math.max(timeoutMs, this.commandTimeoutMs))
    } finally {
      this.raisedDeadlines.splice(this.raisedDeadlines.indexOf(timeoutMs), 1)
      this.applyDeadline()
    }
  }

  private applyDeadline(): void {
    this.client.options.commandTimeout = Math.max(this.commandTimeoutMs, ...this.raisedDeadlines)
  }

  /** Closes politely (QUIT), or at once when the server does not answer. Idempotent. */
  async close(): Promise<void> {
    if (this.client.status === 'end') return
    if (this.connected && this.client.status === 'ready') {
      let timer: NodeJS.Timeout | undefined
      try {
        await Promise.race([
          this.client.quit(),
          new Promise((resolve) => {
            timer = setTimeout(resolve, 1000)
          }),
        ])
      } catch {
        // Closing anyway.
      } finally {
        clearTimeout(timer)
      }
    }
    this.client.disconnect()
  }

  /**
   * A typed, secret-free error for anything the client or server threw. Errors this project
   * raised pass through unchanged.
   */
  translate(error: unknown, activity: Activity, deadlineMs = this.commandTimeoutMs): HivemindError {
    if (error instanceof HivemindError) return error
    const cause = this.scrubbedError(error)
    const raw = cause.message
    const code = String((error as NodeJS.ErrnoException | undefined)?.code ?? '')
    const where = `Redis at ${this.where}`
    const options = (suggestion?: string) => ({cause, ...(suggestion ? {suggestion} : {})})
    const passwordHint = 'set the password with env HIVEMIND_REDIS_PASSWORD or database.redis.password in the config file (or the URL)'
    const addressHint = 'start redis-server, or check --redis-url / --redis-host / --redis-port (database.redis.* in the config file)'

    // Authentication: the server's own words, which never contain the password.
    if (/\bWRONGPASS\b/.test(raw) || /invalid password/i.test(raw)) {
      const who = `user "${this.target.username}"`
      const why = !this.target.username ? 'wrong password' : this.target.password ? `wrong password for ${who}, or the user is disabled` : `no password was given for ${who}`
      return new StoreUnavailableError(`${where}: authentication failed (${why})`, options(passwordHint))
    }
    if (/\bNOAUTH\b/.test(raw)) {
      // A password was given but no user: ioredis then authenticates as "default", and a server
      // whose default user is disabled refuses every command with NOAUTH all the same.
      if (this.target.password && !this.target.username) {
        return new StoreUnavailableError(`${where}: authentication failed (a password was given without a user name, and the server's "default" user does not accept it: it may be disabled)`, options('give the ACL user name: redis://USER@host:port/db, or database.redis.username'))
      }
      return new StoreUnavailableError(`${where}: authentication failed (the server requires a password and none was given)`, options(passwordHint))
    }
    if (/\bNOPERM\b/.test(raw)) {
      return new StoreUnavailableError(`${where}: the Redis user is not allowed to do this (${firstLine(raw)})`, options('grant the user the commands hivemind-core needs (see docs/redis.md)'))
    }
    // The same refusal met inside a script: the server does not say which command.
    if (/can't run this command or subcommand/.test(raw)) {
      return new StoreUnavailableError(`${where}: the Redis user is not allowed to run one of the commands of hivemind-core's scripts (NOPERM inside a script)`, options(
        'grant the user every command docs/redis.md lists under "Permissions an ACL user needs"',
      ))
    }
    // Two client-side mistakes OpenSSL words in its own terms (and with its source file's path).
    if (code === 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED' || /alert certificate required/i.test(raw)) {
      return new StoreUnavailableError(`${where}: TLS handshake failed: the server requires a client certificate, and none was given`, options('set database.redis.tlsCert and database.redis.tlsKey (the client certificate and its key)'))
    }
    if (code === 'ERR_OSSL_X509_KEY_VALUES_MISMATCH' || /key values mismatch/i.test(raw)) {
      return new StoreUnavailableError(`${where}: the TLS client key (database.redis.tlsKey) does not belong to the client certificate (database.redis.tlsCert)`, options('give the key the certificate was made for'))
    }
    if (TLS_CODES.has(code) || code.startsWith('ERR_SSL') || code.startsWith('ERR_TLS') || /certificate|ssl routines|wrong version number/i.test(raw)) {
      return new StoreUnavailableError(`${where}: TLS handshake failed: ${firstLine(raw)}${code && !raw.includes(code) ? ` (${code})` : ''}`, options(
        'check database.redis.tlsCa (the CA that signed the server certificate) and that the host name matches the certificate',
      ))
    }
    switch (code) {
      case 'ECONNREFUSED': {
        return new StoreUnavailableError(`${where} is not reachable: connection refused (is redis-server running there?)`, options(addressHint))
      }
      case 'ETIMEDOUT': {
        // A TLS client at a plain port waits for a handshake the server never sends.
        const plainPort = this.target.tls ? '; if that port does not use TLS, use redis:// (or tls: false)' : ''
        return new StoreUnavailableError(`${where} is not reachable: ${activity === 'connect' ? 'connecting took too long' : 'no answer'} (${firstLine(raw)})`, options(
          `check the host and port${plainPort}, or raise database.redis.connectTimeoutMs (now ${this.target.connectTimeoutMs} ms)`,
        ))
      }
      case 'ENOTFOUND':
      case 'EAI_AGAIN': {
        return new StoreUnavailableError(`${where} is not reachable: the host name does not resolve (${code})`, options(addressHint))
      }
      case 'EHOSTUNREACH':
      case 'ENETUNREACH':
      case 'EADDRNOTAVAIL': {
        return new StoreUnavailableError(`${where} is not reachable (${code})`, options(addressHint))
      }
      case 'ECONNRESET':
      case 'EPIPE': {
        // Before any reply a reset is what a TLS-only port does to a plain client; once commands
        // were answered, the connection was simply lost (a server killed mid-listing).
        if (this.connected) return new StoreUnavailableError(`${where}: connection lost (${code})${activity === 'write' ? '; the last write may or may not have been applied' : ''}`, options(addressHint))
        return new StoreUnavailableError(`${where} closed the connection (${code})${this.target.tls ? '' : '; if the server requires TLS, use rediss:// or database.redis.tls'}`, options())
      }
      default:
    }
    // ioredis's parser on bytes that are not RESP: something else listens there (a web server…).
    if (/^Protocol error, got /.test(raw)) {
      return new StoreUnavailableError(`${where} does not speak the Redis protocol (its first reply was not a Redis reply): is that the right port${this.target.tls ? '' : ', or does the server expect TLS'}?`, options(addressHint))
    }
    if (/^LOADING\b/.test(raw)) return new StoreUnavailableError(`${where} is loading its data set; retry in a moment`, options())
    if (/^READONLY\b/.test(raw)) return new StoreUnavailableError(`${where} is a read-only replica; point hivemind-core at the primary`, options())
    if (/^OOM\b/.test(raw)) return new StoreUnavailableError(`${where} is out of memory (maxmemory); nothing was written`, options())
    // The hive's keys, as the operator would look at them (the server's reply does not say which key).
    const keysHint = `list the keys with: ${redisCli(this.target)} --scan --pattern ${shellQuoted(keysStartingWith(redisKeys(this.target.keyPrefix).base))}${redisCliAuthNote(this.target)} (docs/redis.md describes the layout)`
    // The write scripts' own checks name the key (scripts.ts, CHECK_KEYS); a command's WRONGTYPE does not.
    const wrongType = /^WRONGTYPE (.+) is a (\w+), not a (\w+)$/m.exec(raw)
    if (wrongType) {
      return new StoreCorruptError(`${where}: the key ${wrongType[1]} holds a ${wrongType[2]} where this hive keeps a ${wrongType[3]} (WRONGTYPE); was it written by something else? Nothing was written`, options(keysHint))
    }
    if (/^WRONGTYPE\b/.test(raw)) {
      return new StoreCorruptError(`${where}: a key of this hive holds the wrong type of value (WRONGTYPE); was it written by something else?`, options(keysHint))
    }
    // INCR or a script's tonumber() on a counter (last_id, revision) that another tool overwrote.
    const counter = /^ERR value is not an integer or out of range(?:: (.+))?$/m.exec(raw)
    if (counter) {
      const which = counter[1] ? `the counter ${counter[1]}` : 'a counter of this hive (last_id or revision)'
      return new StoreCorruptError(`${where}: ${which} does not hold a whole number; was it written by something else?${counter[1] ? ' Nothing was written' : ''}`, options(keysHint))
    }
    if (/^ERR (DB index is out of range|invalid DB index)/i.test(raw)) {
      return new BackendOptionsError(`${where}: database ${this.target.db} does not exist on this server`, options('check --redis-db / database.redis.db'))
    }
    if (/timed out/i.test(raw)) {
      const outcome = activity === 'write' ? '; the server may still apply the write' : ''
      return new StoreUnavailableError(`${where} did not answer within ${deadlineMs} ms${outcome}`, options(
        'check that the server is not overloaded or blocked by a long script, or raise database.redis.commandTimeoutMs',
      ))
    }
    const connectionLost = /Connection is closed|Stream isn't writeable|MaxRetriesPerRequest|reached the max retries|Command aborted/i.test(raw) ||
      (error as {name?: string})?.name === 'MaxRetriesPerRequestError'
    if (connectionLost) {
      // The event error, when there is one, says why (refused, reset, TLS...).
      const last = this.lastError
      const reason = last && last !== error && !/Connection is closed/i.test(last.message)
        ? this.translate(last, activity).message.replace(where, '').replace(/^[:\s]+/, '').replace(/^is not reachable: /, '')
        : 'connection lost'
      const outcome = activity === 'write' ? '; the last write may or may not have been applied' : ''
      return new StoreUnavailableError(`${where} is not available: ${reason}${outcome}`, options(addressHint))
    }
    return new StoreUnavailableError(`${where}: ${activity} failed: ${firstLine(raw)}`, options())
  }

  /** Replaces every occurrence of the password in a text. */
  scrub(text: string): string {
    const secret = this.target.password
    if (!secret) return text
    let out = text.split(secret).join('********')
    const encoded = encodeURIComponent(secret)
    if (encoded !== secret) out = out.split(encoded).join('********')
    return out
  }

  /** A copy of an error whose message and stack hold no secret (it is kept as `cause`). */
  private scrubbedError(error: unknown): Error {
    const original = error instanceof Error ? error : new Error(String(error))
    const copy = new Error(this.scrub(original.message))
    copy.name = original.name
    if (original.stack) copy.stack = this.scrub(original.stack)
    const code = (original as NodeJS.ErrnoException).code
    if (code !== undefined) (copy as NodeJS.ErrnoException).code = code
    return copy
  }

  private ioredisOptions(): IoRedisOptions {
    const {target} = this
    const options: IoRedisOptions = {
      host: target.host,
      port: target.port,
      db: target.db,
      lazyConnect: true,
      // 0 = none: the first connection is bounded by connect()'s deadline, which is not fooled by
      // a CPU-starved process (see runningTimeDeadline); set to connectTimeoutMs once connected.
      connectTimeout: 0,
      commandTimeout: this.commandTimeoutMs,
      enableOfflineQueue: false,
      // In-flight commands fail when the connection drops instead of waiting for a reconnect.
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      retryStrategy: this.settings.reconnect ? (attempt: number) => Math.min(attempt * 100, MAX_RECONNECT_DELAY_MS) : () => null,
      connectionName: 'hivemind-core',
      // No CLIENT SETINFO round trips (and no noise in MONITOR).
      disableClientInfo: true,
    }
    if (target.username !== undefined) options.username = target.username
    if (target.password !== undefined) options.password = target.password
    if (target.tls) {
      options.tls = {
        ...(target.tls.ca ? {ca: readTlsFile(target.tls.ca, 'tlsCa')} : {}),
        ...(target.tls.cert ? {cert: readTlsFile(target.tls.cert, 'tlsCert')} : {}),
        ...(target.tls.key ? {key: readTlsFile(target.tls.key, 'tlsKey')} : {}),
      }
    }
    return options
  }
}

/**
 * A deadline that counts the time this process could run, not wall-clock time: a timer that fires
 * late (the process was starved of CPU, e.g. twenty CLI processes starting on two cores) counts
 * for at most two ticks. Against an unresponsive server on an idle machine it expires after
 * `budgetMs`, like a plain timer; on a busy machine it does not fail a connection whose reply is
 * already waiting to be read. Expiry is reported after pending I/O had one more chance.
 */
export function runningTimeDeadline(budgetMs: number, message: string): {expired: Promise<never>; cancel(): void} {
  const tick = 50
  let credited = 0
  let last = performance.now()
  let interval: NodeJS.Timeout | undefined
  let immediate: NodeJS.Immediate | undefined
  const expired = new Promise<never>((_, reject) => {
    interval = setInterval(() => {
      const now = performance.now()
      credited += Math.min(now - last, tick * 2)
      last = now
      if (credited < budgetMs) return
      clearInterval(interval)
      // setImmediate runs after the poll phase: a reply that already arrived is handled first.
      immediate = setImmediate(() => {
        const error = new Error(message) as NodeJS.ErrnoException
        error.code = 'ETIMEDOUT'
        reject(error)
      })
    }, tick)
  })
  // A deadline nobody awaits any more must not become an unhandled rejection.
  expired.catch(() => {})
  return {
    expired,
    cancel() {
      clearInterval(interval)
      if (immediate) clearImmediate(immediate)
    },
  }
}

/** What each TLS file must hold, as a PEM block label ("-----BEGIN CERTIFICATE-----"). */
const PEM_LABELS: Record<string, {label: RegExp; holds: string}> = {
  tlsCa: {label: /-----BEGIN (TRUSTED )?CERTIFICATE-----/, holds: 'a PEM certificate'},
  tlsCert: {label: /-----BEGIN (TRUSTED )?CERTIFICATE-----/, holds: 'a PEM certificate'},
  tlsKey: {label: /-----BEGIN ([A-Z]+ )?PRIVATE KEY-----/, holds: 'a PEM private key'},
}

function readTlsFile(file: string, option: string): Buffer {
  let bytes: Buffer
  try {
    bytes = readFileSync(file)
  } catch (error) {
    throw new BackendOptionsError(`cannot read database.redis.${option} ${file} (${(error as NodeJS.ErrnoException).code ?? 'error'})`, {cause: error, option})
  }
  // Node skips a CA that is not PEM without a word, and the handshake then fails as if the
  // server's certificate were untrusted: say what is wrong with the file instead.
  const expected = PEM_LABELS[option]
  if (expected && !expected.label.test(bytes.toString('latin1'))) {
    throw new BackendOptionsError(`database.redis.${option} ${file} does not hold ${expected.holds}`, {
      option,
      suggestion: 'give the PEM file (text starting with -----BEGIN …-----); convert a DER file with: openssl x509 -inform der -in FILE -out FILE.pem',
    })
  }
  return bytes
}

function firstLine(text: string): string {
  return text.split('\n')[0] ?? text
}
