/**
 * The redis ClientStore: one hash per client, an access-key index, id sets and counters, all
 * under one key prefix and one hash tag (docs/redis.md; keys.ts). Every write is one Lua script
 * (scripts.ts), so it is atomic against every other process; `getByApiKey` is one round trip.
 *
 * Connections fail fast by default (one-shot CLI commands); `reconnect` (option, or the
 * constructor's `policy`) keeps a long-running process such as `listen` reconnecting.
 */
import {
  applyPatch,
  buildClient,
  CLIENT_FIELDS,
  type ClientPatch,
  type ClientRecord,
  cloneClient,
  isRevoked,
  type NewClient,
  parseClientRecord,
  REVOKED_API_KEY,
} from '../../core/client.js'
import {ClientNotFoundError, DuplicateApiKeyError, HivemindError, StoreCorruptError, StoreUnavailableError} from '../../core/errors.js'
import type {BackendContext, ClientStore, ListOptions} from '../../core/store.js'
import {assertReservableId, assertStorableRecord} from '../../core/validate.js'
import {decodeLookupReply, decodePageEntry, decodeRecord, encodeField, encodeRecord} from './codec.js'
import {type Activity, RedisConnection} from './connection.js'
import {shellQuoted} from '../../core/shell-word.js'
import {enablePersistence, LAYOUT_VERSION, type RedisKeys, redisCli, redisCliAuthNote, redisKeys} from './keys.js'
import {describeTarget, type RedisOptions, type RedisTarget, resolveTarget} from './options.js'
import {type ScriptName, SCRIPTS} from './scripts.js'

/** A page of a listing: `[idText, hash, …]` and how to decode its hashes (values or pairs). */
interface Page {
  entries: unknown[]
  /** `id` is the one `key` names (the page lists it beside the hash). */
  decode: (hash: unknown[], key: string, id: number) => ClientRecord
  /** The id the page starts after, as the server saw it (JSON pages only; false: fewer ids than skipped). */
  boundary?: string | false
}

/** Records fetched per round trip while listing. */
export const PAGE_SIZE = 500

/**
 * Extra command deadline per record of a bulk write, in ms: a `putMany` of 100k records took
 * 8.5-12 s from send to reply on this project's bench machine (~0.1 ms a record), so 1 ms leaves
 * room for a loaded machine.
 */
export const WRITE_DEADLINE_PER_RECORD_MS = 1
/** Compare-and-set attempts of one modify before it gives up (each lost one follows a write that won). */
const MODIFY_ATTEMPTS = 200

/** How the connection behaves after `open()`. */
export interface ConnectionPolicy {
  /** Reconnect after a drop (listen) instead of failing fast (CLI). Default: the `reconnect` option. */
  reconnect?: boolean
}

type ScriptReply = [string, ...unknown[]] | null
type ScriptRunner = (...args: Array<string | number>) => Promise<unknown>

/** Servers already warned about (once per process, per server). */
const warnedAboutPersistence = new Set<string>()

export class RedisClientStore implements ClientStore {
  readonly name = 'redis'
  readonly location: string
  /** The key layout of this hive (tests and tools inspect it). */
  readonly keys: RedisKeys
  private readonly target: RedisTarget
  private connection?: RedisConnection
  /** The credential lookup script, bound to the open connection. */
  private lookupByKey?: ScriptRunner
  /** Pages come JSON-encoded by the server until it shows it cannot (no cjson). */
  private pagesAsJson = true

  /**
   * @param options validated options (as the settings layer resolves them); only `keyPrefix` is required
   * @param context the backend context (its warn() tells the operator when the server persists nothing)
   * @param policy overrides the `reconnect` option (the listener passes `{reconnect: true}`)
   */
  constructor(options: RedisOptions, private readonly context?: BackendContext, policy: ConnectionPolicy = {}) {
    this.target = resolveTarget(options)
    if (policy.reconnect !== undefined) this.target = {...this.target, reconnect: policy.reconnect}
    this.location = describeTarget(this.target)
    this.keys = redisKeys(this.target.keyPrefix)
  }

  /** True when a dropped connection is re-established in the background. */
  get reconnects(): boolean {
    return this.target.reconnect
  }

  async open(): Promise<void> {
    if (this.connection) return
    const connection = new RedisConnection(this.target, {reconnect: this.target.reconnect})
    await connection.connect()
    try {
      for (const [name, script] of Object.entries(SCRIPTS)) connection.client.defineCommand(name, script)
      // Both questions go out together (one round trip); the warning waits for the layout check,
      // so a refused hive is not also warned about.
      const persistence = this.persistsNothing(connection)
      const replica = this.refuseReadOnlyReplica(connection)
      await this.checkLayout(connection)
      await replica
      if (await persistence) this.warnNothingPersists(connection)
    } catch (error) {
      await connection.close()
      throw connection.translate(error, 'connect')
    }
    this.connection = connection
    this.lookupByKey = this.script(connection.client, 'hivemindByKey')
  }

  /** The server's run id (new at every server start), the database and the key prefix. */
  async storeIdentity(): Promise<string> {
    const info = await this.call('read', (client) => client.info('server'))
    const runId = /^run_id:(\S+)/m.exec(info)?.[1] ?? 'unknown'
    return `redis ${runId}/${this.target.db}/${this.target.keyPrefix}`
  }

  async close(): Promise<void> {
    const connection = this.connection
    this.connection = undefined
    this.lookupByKey = undefined
    await connection?.close()
  }

  async add(client: NewClient): Promise<ClientRecord> {
    // Validated with a placeholder id; the script assigns the real one.
    const record = buildClient(1, client)
    assertStorableRecord(record)
    const pairs = encodeRecord(record).slice(2)
    const reply = await this.runWrite('hivemindAdd', pairs)
    this.expectOk(reply, record)
    return {...record, client_id: Number(reply![1])}
  }

  async put(client: ClientRecord): Promise<ClientRecord> {
    await this.putMany([client])
    return cloneClient(client)
  }

  /** All or nothing: every access key is checked before anything is written (one script). */
  async putMany(clients: readonly ClientRecord[]): Promise<void> {
    if (clients.length === 0) return
    const args: Array<string | number> = [clients.length]
    for (const client of clients) {
      const record = cloneClient(client)
      assertStorableRecord(record)
      const pairs = encodeRecord(record)
      args.push(String(record.client_id), pairs.length)
      for (const pair of pairs) args.push(pair)
    }
    this.expectOk(await this.runWrite('hivemindPut', args, clients.length))
  }

  async get(id: number): Promise<ClientRecord | undefined> {
    if (!Number.isSafeInteger(id) || id < 1) return undefined
    const key = this.keys.client(id)
    const hash = await this.call('read', (client) => client.hgetall(key))
    return Object.keys(hash).length === 0 ? undefined : decodeRecord(hash, key)
  }

  async getByApiKey(apiKey: string): Promise<ClientRecord | undefined> {
    // The listener's hot path: the runner is bound once at open, and no closure is made per call.
    const lookup = this.lookupByKey
    if (!lookup) throw new HivemindError('STORE_CLOSED', `the redis store ${this.location} is not open`)
    if (apiKey === REVOKED_API_KEY || apiKey === '') return undefined
    let reply: Array<string | null> | ['all', string[], string] | null
    try {
      // One round trip: the script reads the index and the record together.
      reply = (await lookup(this.keys.index, this.keys.clientPrefix, apiKey)) as typeof reply
    } catch (error) {
      throw this.connection ? this.connection.translate(error, 'read') : error
    }
    if (!reply) return undefined
    const record = decodeLookupReply(reply, this.keys.clientPrefix)
    return isRevoked(record) || record.api_key !== apiKey ? undefined : record
  }

  async update(id: number, patch: ClientPatch): Promise<ClientRecord> {
    // Without expectations the script never replies 'changed'.
    const reply = await this.writePatch(id, patch, [])
    return decodeRecord(reply![1] as string[], this.keys.client(id))
  }

  /**
   * Compare and set: reads the hash, decides, and writes the patch only if the fields it changes
   * (and the access key, so a revocation in between is seen) still hold what was read; else reads
   * again. One process never loses to another for long: each retry follows a write that won.
   */
  async modify(id: number, change: (current: ClientRecord) => ClientPatch | undefined): Promise<ClientRecord> {
    if (!Number.isSafeInteger(id) || id < 1) throw new ClientNotFoundError(`id ${id}`)
    const key = this.keys.client(id)
    for (let attempt = 1; ; attempt++) {
      // eslint-disable-next-line no-await-in-loop -- each attempt reads what the last one lost to.
      const hash = await this.call('read', (client) => client.hgetall(key))
      if (Object.keys(hash).length === 0) throw new ClientNotFoundError(`id ${id}`)
      const current = decodeRecord(hash, key)
      const patch = change(cloneClient(current))
      if (patch === undefined) return current
      const expectations: string[] = []
      for (const field of new Set(['api_key', ...Object.keys(patch)])) {
        const text = hash[field]
        expectations.push(field, text === undefined ? 'n' : `v${text}`)
      }
      // eslint-disable-next-line no-await-in-loop -- see above.
      const reply = await this.writePatch(id, patch, expectations)
      if (reply?.[0] !== 'changed') return decodeRecord(reply![1] as string[], key)
      if (attempt >= MODIFY_ATTEMPTS) {
        throw new StoreUnavailableError(`client ${id} in ${this.location} kept changing while it was being modified (${attempt} attempts)`, {
          suggestion: 'run the command again',
        })
      }
      // eslint-disable-next-line no-await-in-loop -- a short random pause spreads the contenders.
      await new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(50, attempt * 5)))
    }
  }

  /** Runs the update script; `expectations` as it documents. Throws for every reply but ok and changed. */
  private async writePatch(id: number, patch: ClientPatch, expectations: readonly string[]): Promise<ScriptReply> {
    if (!Number.isSafeInteger(id) || id < 1) throw new ClientNotFoundError(`id ${id}`)
    // Validates the patched fields (on a placeholder record); the script applies them to the
    // stored record, so concurrent updates of different fields both survive.
    const checked = applyPatch(buildClient(id, {api_key: 'placeholder'}), patch)
    assertStorableRecord(checked)
    const normalized = parseClientRecord(checked, `client ${id}`)
    const set: string[] = []
    const clear: string[] = []
    for (const field of CLIENT_FIELDS) {
      if (field === 'client_id' || !(field in patch) || patch[field] === undefined) continue
      const text = encodeField(field, normalized[field])
      if (text === null) clear.push(field)
      else set.push(field, text)
    }
    const reply = await this.runWrite('hivemindUpdate', [String(id), expectations.length, ...expectations, set.length, ...set, ...clear])
    if (reply?.[0] === 'missing') throw new ClientNotFoundError(`id ${id}`)
    if (reply?.[0] === 'changed') return reply
    this.expectOk(reply)
    return reply
  }

  async revoke(id: number): Promise<ClientRecord> {
    if (!Number.isSafeInteger(id) || id < 1) throw new ClientNotFoundError(`id ${id}`)
    const reply = await this.runWrite('hivemindRevoke', [String(id)])
    if (reply?.[0] === 'missing') throw new ClientNotFoundError(`id ${id}`)
    this.expectOk(reply)
    return decodeRecord(reply![1] as string[], this.keys.client(id))
  }

  async lastId(): Promise<number> {
    // The highest stored id too: a record put there by another tool may be past the counter.
    const [text, [highest]] = await this.call('read', (client) => Promise.all([client.get(this.keys.lastId), client.zrange(this.keys.ids, -1, -1)]))
    const last = text === null ? 0 : Number(text)
    if (!Number.isSafeInteger(last) || last < 0) throw new StoreCorruptError(`${this.keys.lastId} holds ${JSON.stringify(text!.slice(0, 40))}, not an id counter`)
    return Math.max(last, highest === undefined ? 0 : Number(highest) || 0)
  }

  async reserveIds(id: number): Promise<void> {
    assertReservableId(id)
    this.expectOk(await this.runWrite('hivemindReserve', [String(id)]))
  }

  async clear(): Promise<void> {
    this.expectOk(await this.runWrite('hivemindClear', []))
  }

  async *list(options: ListOptions = {}): AsyncIterable<ClientRecord> {
    const set = options.includeRevoked ? this.keys.ids : this.keys.live
    // Two pages are always asked for ahead, so the server never waits for the client: the next
    // one, and the one after it, asked for "after the next page's end" before that end is known
    // (the server skips a page's worth of ids). That second page is used only when it starts
    // exactly where its predecessor ended; a write in between makes it be asked for again.
    // Listing 100k clients on this project's bench machine: 0.91-0.99 s before, 0.74-0.83 s with it.
    let current = this.page(set, '0', 0)
    let ahead = this.pageAfterNext(set, '0')
    for (;;) {
      // eslint-disable-next-line no-await-in-loop -- a page at a time: a huge hive never sits in memory.
      const {entries, decode} = await current
      const full = entries.length >= PAGE_SIZE * 2
      if (full) {
        const end = entries.at(-2) as string
        current = ahead ? quiet(ahead.then((next) => (next.boundary === end ? next : this.page(set, end, 0)))) : quiet(this.page(set, end, 0))
        ahead = this.pageAfterNext(set, end)
      }
      for (let i = 0; i + 1 < entries.length; i += 2) {
        const idText = entries[i] as string
        const key = `${this.keys.clientPrefix}${idText}`
        const hash = entries[i + 1]
        if (!Array.isArray(hash) || hash.length === 0) {
          throw new StoreCorruptError(`Redis key ${key} is missing, but ${set} lists client ${idText}`, {
            suggestion: `remove the id with: ${redisCli(this.target)} ZREM ${shellQuoted(set)} ${idText}${redisCliAuthNote(this.target)} (or restore the record)`,
          })
        }
        const record = decode(hash, key, Number(idText))
        // The live set never holds a tombstone; a hand-edited one is not let through either.
        if (options.includeRevoked || !isRevoked(record)) yield record
      }
      if (!full) return
    }
  }

  /** The page after the one that follows id `after`, asked for ahead; only where pages come as JSON. */
  private pageAfterNext(set: string, after: string): Promise<Page> | undefined {
    return this.pagesAsJson ? quiet(this.page(set, after, PAGE_SIZE)) : undefined
  }

  /**
   * One page of records after id `after` (after skipping `skip` more ids): `[idText, hash, …]`
   * (hash empty or not a list when the record is missing), with the decoder of its hashes' form.
   * Encoded by the server as one JSON text when it can.
   */
  private async page(set: string, after: string, skip: number): Promise<Page> {
    const client = this.client()
    if (this.pagesAsJson) {
      try {
        const text = (await this.call('read', () => this.script(client, 'hivemindPageJson')(set, this.keys.clientPrefix, after, PAGE_SIZE, skip))) as string
        const entries = JSON.parse(text) as unknown[]
        const boundary = entries.shift() as string | false
        return {entries, decode: decodePageEntry as Page['decode'], boundary}
      } catch (error) {
        // A server without the cjson library (some Redis-compatible ones): the plain page instead.
        const said = `${(error as Error)?.message ?? ''} ${((error as Error)?.cause as Error | undefined)?.message ?? ''}`
        if (!/cjson/i.test(said)) throw error
        this.pagesAsJson = false
      }
    }
    // Plain pages cannot skip: a page asked for ahead comes without a boundary, and is asked for again.
    if (skip > 0) return {entries: [], decode: decodeRecord as Page['decode']}
    const entries = (await this.call('read', () => this.script(client, 'hivemindPage')(set, this.keys.clientPrefix, after, PAGE_SIZE))) as unknown[]
    return {entries, decode: decodeRecord as Page['decode']}
  }

  async count(options: ListOptions = {}): Promise<number> {
    const set = options.includeRevoked ? this.keys.ids : this.keys.live
    return this.call('read', (client) => client.zcard(set))
  }

  async revision(): Promise<string> {
    const value = await this.call('read', (client) => client.get(this.keys.revision))
    return value ?? '0'
  }

  // --- internals -------------------------------------------------------------------------

  /**
   * True when the server has neither AOF nor RDB save points: it loses every client on restart.
   * False when it persists, when the warning was already given in this process (or there is no
   * one to tell), and when managed servers forbid CONFIG (cannot tell, so nothing is said).
   */
  private async persistsNothing(connection: RedisConnection): Promise<boolean> {
    if (!this.context || warnedAboutPersistence.has(connection.where)) return false
    try {
      const [[, save], [, appendonly]] = (await Promise.all([connection.client.config('GET', 'save'), connection.client.config('GET', 'appendonly')])) as [[string, string], [string, string]]
      return (save ?? '').trim() === '' && appendonly !== 'yes'
    } catch {
      return false
    }
  }

  /** Says so, once per process and server. */
  private warnNothingPersists(connection: RedisConnection): void {
    if (warnedAboutPersistence.has(connection.where)) return
    warnedAboutPersistence.add(connection.where)
    this.context?.warn(
      `the Redis server at ${connection.where} persists nothing (no AOF, no RDB save points): a restart loses every client. ` +
        `Enable persistence, e.g. ${enablePersistence(this.target)}`,
    )
  }

  /**
   * A listener writes (last_seen, revocations seen by other processes are only read), but no
   * write happens at startup: on a read-only replica it started, served, and failed every
   * last_seen write at debug level. Checked for a long-running writer only (a one-shot command's
   * write says so itself, with READONLY). Servers that forbid INFO replication are not judged.
   */
  private async refuseReadOnlyReplica(connection: RedisConnection): Promise<void> {
    if (this.context?.mode !== 'write' || !this.context.longRunning) return
    let info: string
    try {
      info = await connection.client.info('replication')
    } catch {
      return
    }
    if (/^role:slave\r?$/m.test(info) && !/^slave_read_only:0\r?$/m.test(info)) {
      throw new StoreUnavailableError(`Redis at ${connection.where} is a read-only replica: a listener writes (last_seen), so it needs the primary`, {
        suggestion: 'point hivemind-core at the primary (its address is in INFO replication: master_host, master_port)',
      })
    }
  }

  /** Refuses a hive written by a newer layout instead of misreading it. Writes nothing. */
  private async checkLayout(connection: RedisConnection): Promise<void> {
    const layout = await connection.client.hget(this.keys.meta, 'layout')
    if (layout !== null && !(Number(layout) <= LAYOUT_VERSION)) {
      throw new StoreCorruptError(
        `${this.location}: the hive was written by a newer hivemind-core (key layout ${layout}; this version understands ${LAYOUT_VERSION})`,
        {suggestion: 'upgrade hivemind-core, or use another keyPrefix'},
      )
    }
  }

  private client(): RedisConnection['client'] {
    if (!this.connection) throw new HivemindError('STORE_CLOSED', `the redis store ${this.location} is not open`)
    return this.connection.client
  }

  private script(client: RedisConnection['client'], name: ScriptName): ScriptRunner {
    const runner = (client as unknown as Record<string, ScriptRunner | undefined>)[name]
    if (!runner) throw new HivemindError('STORE_CLOSED', `the redis store ${this.location} is not open`)
    return runner.bind(client)
  }

  /** Runs a write script; one writing `records` records gets a deadline that grows with them. */
  private async runWrite(name: ScriptName, args: Array<string | number>, records = 1): Promise<ScriptReply> {
    const keys = this.keys
    const client = this.client()
    // One array argument (ioredis flattens it): spreading a large putMany batch into a call
    // overflows the JavaScript stack.
    const send = () => (this.script(client, name) as unknown as (all: Array<string | number>) => Promise<unknown>)(
      [keys.index, keys.ids, keys.live, keys.lastId, keys.revision, keys.meta, keys.clientPrefix, LAYOUT_VERSION, ...args],
    )
    if (records <= 1) return (await this.call('write', send)) as ScriptReply
    const connection = this.connection!
    const deadline = connection.commandTimeoutMs + records * WRITE_DEADLINE_PER_RECORD_MS
    return (await connection.withCommandTimeout(deadline, 'write', send)) as ScriptReply
  }

  /** Runs one command, turning every failure into a typed error naming host:port. */
  private async call<T>(activity: Activity, work: (client: RedisConnection['client']) => Promise<T>): Promise<T> {
    const client = this.client()
    try {
      return await work(client)
    } catch (error) {
      throw this.connection ? this.connection.translate(error, activity) : error
    }
  }

  /** Throws the error a refusing script reply stands for. */
  private expectOk(reply: ScriptReply, record?: ClientRecord): void {
    switch (reply?.[0]) {
      case 'ok': {
        return
      }
      case 'dup': {
        throw new DuplicateApiKeyError(Number(reply[1]))
      }
      case 'corrupt': {
        throw new StoreCorruptError(`${this.location}: a record of this hive has no ${String(reply[1])} field`)
      }
      default: {
        throw new StoreCorruptError(`${this.location}: unexpected reply from a hivemind script${record ? ` for client ${record.client_id}` : ''}`)
      }
    }
  }
}

/** A request made ahead: if the listing is abandoned, its failure must not go unhandled. */
function quiet<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => {})
  return promise
}
