/**
 * The sqlite ClientStore: TypeORM entity store on better-sqlite3, on the upstream `clients` table.
 *
 * Concurrency: every write runs in a `BEGIN IMMEDIATE` transaction (the write lock is taken up
 * front, so concurrent processes queue on the busy timeout instead of failing with
 * SQLITE_BUSY_SNAPSHOT), in WAL mode. Writes of one process are also serialised in-process, since
 * TypeORM shares one connection. The credential lookup is a prepared statement.
 */
import {chmodSync, closeSync, existsSync, mkdirSync, openSync, statSync} from 'node:fs'
import path from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'

import type Database from 'better-sqlite3'
import {DataSource, type Logger, MoreThan, Not, type Repository} from 'typeorm'

import {applyPatch, buildClient, type ClientPatch, type ClientRecord, isRevoked, type NewClient, REVOKED_API_KEY, tombstoneOf} from '../../core/client.js'
import {ClientNotFoundError, DuplicateApiKeyError, HivemindError, StoreCorruptError, StoreUnavailableError} from '../../core/errors.js'
import type {BackendContext, ClientStore, ListOptions} from '../../core/store.js'
import {assertStorableRecord} from '../../core/validate.js'
import {CLIENT_COLUMNS, ClientEntity, type ClientRow, recordToRow, recordToStoredValues, rowToRecord} from './entity.js'
import {MIGRATIONS, MIGRATIONS_TABLE} from './migrations.js'
import type {SqliteOptions} from './options.js'

/**
 * TypeORM logs failed migrations with console.log whatever `logging` says, i.e. an extra line on
 * stdout (breaking `--json`) before our typed error, which already carries the message.
 */
const SILENT_LOGGER: Logger = {
  logQuery() {},
  logQueryError() {},
  logQuerySlow() {},
  logSchemaBuild() {},
  logMigration() {},
  log() {},
}

/** Records fetched per page while listing. */
const PAGE_SIZE = 500

const UPSTREAM_COLUMNS = [
  'client_id', 'api_key', 'name', 'description', 'is_admin', 'last_seen', 'intent_blacklist', 'skill_blacklist',
  'message_blacklist', 'allowed_types', 'crypto_key', 'password', 'can_broadcast', 'can_escalate', 'can_propagate',
]

export class SqliteClientStore implements ClientStore {
  readonly name = 'sqlite'
  readonly location: string
  /**
   * Records per putMany in a bulk copy: each batch is one transaction, i.e. one WAL sync at
   * commit, so 500-record batches spent much of a 100k migration syncing. 10k rows hold the write
   * lock for tens of milliseconds, well inside any busy timeout of other processes.
   */
  readonly preferredBatchSize = 10_000
  private dataSource?: DataSource
  private connection?: Database.Database
  private repository?: Repository<ClientRow>
  private selectByKey?: Database.Statement<[string], ClientRow>
  private upsertStatement?: Database.Statement
  /** In-process write queue: one transaction at a time on the shared connection. */
  private writeQueue: Promise<unknown> = Promise.resolve()
  /** Writes by this connection (PRAGMA data_version only counts other connections' commits). */
  private ownWrites = 0
  /** The close in progress, shared by concurrent close() calls and awaited by open(). */
  private closing?: Promise<void>

  constructor(
    private readonly options: SqliteOptions,
    private readonly context: BackendContext,
  ) {
    this.location = options.path
  }

  async open(): Promise<void> {
    if (this.closing) await this.closing
    if (this.dataSource?.isInitialized) return
    const file = this.options.path
    this.prepareFile(file)
    const dataSource = new DataSource({
      type: 'better-sqlite3',
      database: file,
      entities: [ClientEntity],
      migrations: MIGRATIONS,
      migrationsTableName: MIGRATIONS_TABLE,
      migrationsRun: false,
      synchronize: false,
      logging: false,
      logger: SILENT_LOGGER,
      timeout: this.options.busyTimeoutMs,
      // Not `enableWAL`: TypeORM would switch the journal mode inside initialize(), rewriting the
      // header of a file we may still refuse (duplicate live keys, a foreign `clients` table).
      // WAL is turned on below, once the file is migrated and checked.
    })
    try {
      await dataSource.initialize()
      this.dataSource = dataSource
      this.connection = (dataSource.driver as unknown as {databaseConnection: Database.Database}).databaseConnection
      await this.migrate()
      this.checkTableShape()
      await this.enableWal()
      this.restrictModes(file)
      this.repository = dataSource.getRepository(ClientEntity)
      this.selectByKey = this.connection.prepare<[string], ClientRow>(
        `SELECT * FROM clients WHERE api_key = ? AND api_key != '${REVOKED_API_KEY}' LIMIT 1`,
      )
    } catch (error) {
      if (dataSource.isInitialized) await dataSource.destroy().catch(() => {})
      this.dataSource = undefined
      this.connection = undefined
      throw this.translate(error, 'open')
    }
  }

  /**
   * Flushes and closes. Writes requested BEFORE close still complete (each holds its own
   * reference to the DataSource); anything requested after it is refused as STORE_CLOSED.
   * Idempotent; concurrent calls share one close.
   */
  async close(): Promise<void> {
    if (this.closing) return this.closing
    const dataSource = this.dataSource
    if (!dataSource) return
    // From here on new reads and writes are refused.
    this.dataSource = undefined
    this.closing = (async () => {
      await this.writeQueue.catch(() => {})
      this.repository = undefined
      this.selectByKey = undefined
      this.upsertStatement = undefined
      this.connection = undefined
      try {
        if (dataSource.isInitialized) await dataSource.destroy()
      } finally {
        this.closing = undefined
      }
    })()
    return this.closing
  }

  async add(client: NewClient): Promise<ClientRecord> {
    return this.write(async (runner) => {
      const [{next}] = (await runner.query(
        `SELECT MAX((SELECT value FROM hivemind_meta WHERE key = 'next_client_id'), COALESCE((SELECT MAX(client_id) FROM clients), 0) + 1) AS next`,
      )) as [{next: number}]
      const record = buildClient(next, client)
      assertStorableRecord(record)
      await this.assertKeyFree(record)
      await runner.manager.insert(ClientEntity, recordToRow(record))
      await this.advanceCounter(runner, record.client_id)
      return record
    })
  }

  async put(client: ClientRecord): Promise<ClientRecord> {
    return this.write(async (runner) => {
      await this.advanceCounter(runner, this.upsertRows([client]))
      return structuredClone(client)
    })
  }

  async putMany(clients: readonly ClientRecord[]): Promise<void> {
    await this.write(async (runner) => {
      const top = this.upsertRows(clients)
      // Once per batch: a query through TypeORM per record cost more than the inserts themselves.
      if (top > 0) await this.advanceCounter(runner, top)
    })
  }

  async clear(): Promise<void> {
    // The counter in hivemind_meta stays: ids are still never reused.
    await this.write(async (runner) => {
      await runner.query('DELETE FROM clients')
    })
  }

  async get(id: number): Promise<ClientRecord | undefined> {
    const row = await this.repo().findOneBy({client_id: id})
    return row ? rowToRecord(row, this.location) : undefined
  }

  async getByApiKey(apiKey: string): Promise<ClientRecord | undefined> {
    if (!this.selectByKey || !this.dataSource) throw this.closedError()
    if (apiKey === REVOKED_API_KEY) return undefined
    try {
      const row = this.selectByKey.get(apiKey)
      return row ? rowToRecord(row, this.location) : undefined
    } catch (error) {
      throw this.translate(error, 'read')
    }
  }

  async update(id: number, patch: ClientPatch): Promise<ClientRecord> {
    return this.write(async (runner) => {
      const current = await runner.manager.findOneBy(ClientEntity, {client_id: id})
      if (!current) throw new ClientNotFoundError(`id ${id}`)
      const next = applyPatch(rowToRecord(current, this.location), patch)
      assertStorableRecord(next)
      await this.assertKeyFree(next)
      const {client_id: _id, ...values} = recordToRow(next)
      await runner.manager.update(ClientEntity, {client_id: id}, values)
      return next
    })
  }

  async revoke(id: number): Promise<ClientRecord> {
    return this.write(async (runner) => {
      const current = await runner.manager.findOneBy(ClientEntity, {client_id: id})
      if (!current) throw new ClientNotFoundError(`id ${id}`)
      const tombstone = tombstoneOf(rowToRecord(current, this.location))
      await runner.manager.update(ClientEntity, {client_id: id}, {api_key: tombstone.api_key, password: null, crypto_key: null})
      return tombstone
    })
  }

  async *list(options: ListOptions = {}): AsyncIterable<ClientRecord> {
    let after = 0
    for (;;) {
      const where = options.includeRevoked ? {client_id: MoreThan(after)} : {client_id: MoreThan(after), api_key: Not(REVOKED_API_KEY)}
      // Keyset paging: a page at a time, so a huge hive never sits in memory at once.
      // eslint-disable-next-line no-await-in-loop
      const page = await this.repo().find({where, order: {client_id: 'ASC'}, take: PAGE_SIZE})
      for (const row of page) yield rowToRecord(row, this.location)
      if (page.length < PAGE_SIZE) return
      after = page.at(-1)!.client_id
    }
  }

  async count(options: ListOptions = {}): Promise<number> {
    return this.repo().count(options.includeRevoked ? {} : {where: {api_key: Not(REVOKED_API_KEY)}})
  }

  async revision(): Promise<string> {
    if (!this.connection || !this.dataSource) throw this.closedError()
    // data_version moves when ANOTHER connection commits; the inode catches a replaced file.
    const dataVersion = this.connection.pragma('data_version', {simple: true}) as number
    let inode = 0
    try {
      inode = statSync(this.location).ino
    } catch {
      // A deleted file still changes the token (inode 0).
    }
    return `${inode}:${dataVersion}:${this.ownWrites}`
  }

  // --- internals -------------------------------------------------------------------------

  /** Creates the directory (0700) and file (0600) when missing, so SQLite never makes them world-readable. */
  private prepareFile(file: string): void {
    try {
      const dir = path.dirname(file)
      if (!existsSync(dir)) {
        // Parents get the usual mode; only our own directory is private.
        mkdirSync(path.dirname(dir), {recursive: true})
        try {
          mkdirSync(dir, {mode: 0o700})
        } catch (error) {
          // Another process (a second command started at the same moment) created it between
          // the check and the mkdir: fine, whoever created it made it 0700. A non-directory in
          // its place still fails below, when the file is opened.
          if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
        }
      }
      if (!existsSync(file)) closeSync(openSync(file, 'a', 0o600))
    } catch (error) {
      throw this.translate(error, 'open')
    }
  }

  /** Data files are 0600 whatever the umask; -wal and -shm inherit the database file's mode. */
  private restrictModes(file: string): void {
    if (this.context.mode !== 'write') return
    for (const candidate of [file, `${file}-wal`, `${file}-shm`]) {
      try {
        if ((statSync(candidate).mode & 0o077) !== 0) chmodSync(candidate, 0o600)
      } catch {
        // Missing -wal/-shm, or a file owned by someone else: nothing to tighten.
      }
    }
  }

  /** Applies pending migrations in one IMMEDIATE transaction (concurrent openers queue). */
  private async migrate(): Promise<void> {
    const dataSource = this.dataSource!
    const runner = dataSource.createQueryRunner()
    // A quick read first: the common case (up to date) takes no write lock.
    const applied = (await runner.query(
      `SELECT name FROM sqlite_master WHERE type = 'table' AND name = '${MIGRATIONS_TABLE}'`,
    )) as unknown[]
    if (applied.length > 0) {
      const done = (await runner.query(`SELECT COUNT(*) AS n FROM ${MIGRATIONS_TABLE}`)) as [{n: number}]
      if (done[0].n >= MIGRATIONS.length) return
    }
    await this.withImmediateTransaction(runner, async () => {
      // Before any migration touches it: a `clients` table of another shape is refused as it
      // is. Checked after the migrations only, it had already been given our column, index and
      // tables (committed) when it was reported as "not written by hivemind-core".
      this.checkTableShape({missingTableIsFine: true})
      await dataSource.runMigrations({transaction: 'none'})
    })
  }

  /**
   * Switches the file to WAL (a no-op when it already is). Retried on SQLITE_BUSY until the busy
   * timeout: the switch reads the header under a shared lock, then needs the write lock, and when
   * another process holds that lock meanwhile SQLite answers SQLITE_BUSY at once, without its busy
   * handler (deadlock avoidance). That is the normal case when several commands open a new or
   * upstream file at the same moment: the others are inside their migration transaction.
   */
  private async enableWal(): Promise<void> {
    const deadline = Date.now() + this.options.busyTimeoutMs
    for (;;) {
      try {
        this.connection!.pragma('journal_mode = WAL')
        return
      } catch (error) {
        const code = String((error as {code?: unknown}).code ?? '')
        if (!code.startsWith('SQLITE_BUSY') || Date.now() >= deadline) throw error
      }
      // The lock holder is in a short transaction; a little jitter keeps the waiters apart.
      // eslint-disable-next-line no-await-in-loop -- retrying is sequential by nature
      await sleep(5 + Math.random() * 20)
    }
  }

  /** StoreCorruptError unless the `clients` table has every upstream column (or, if allowed, does not exist yet). */
  private checkTableShape({missingTableIsFine = false} = {}): void {
    const columns = new Set((this.connection!.pragma('table_info(clients)') as Array<{name: string}>).map((column) => column.name))
    if (columns.size === 0 && missingTableIsFine) return
    const missing = UPSTREAM_COLUMNS.filter((column) => !columns.has(column))
    if (missing.length > 0) {
      throw new StoreCorruptError(`${this.location}: the clients table lacks column(s) ${missing.join(', ')}; it was not written by hivemind-core`)
    }
  }

  private write<T>(work: (runner: ReturnType<DataSource['createQueryRunner']>) => Promise<T>): Promise<T> {
    // Checked when the write is requested, not when its turn comes: a write queued before
    // close() must still run while close() drains the queue ("close flushes").
    const dataSource = this.dataSource
    if (!dataSource?.isInitialized) return Promise.reject(this.closedError())
    const run = async () => {
      const runner = dataSource.createQueryRunner()
      const result = await this.withImmediateTransaction(runner, () => work(runner))
      this.ownWrites++
      return result
    }
    const result = this.writeQueue.then(run, run)
    this.writeQueue = result.catch(() => {})
    return result
  }

  private async withImmediateTransaction<T>(runner: ReturnType<DataSource['createQueryRunner']>, work: () => Promise<T>): Promise<T> {
    try {
      await runner.query('BEGIN IMMEDIATE')
    } catch (error) {
      throw this.translate(error, 'write')
    }
    try {
      const result = await work()
      await runner.query('COMMIT')
      return result
    } catch (error) {
      try {
        await runner.query('ROLLBACK')
      } catch {
        // SQLite may already have rolled back (e.g. after SQLITE_FULL).
      }
      throw this.translate(error, 'write')
    }
  }

  /**
   * The bulk path (put, putMany: migrate-db, import-clients): a prepared upsert on the connection
   * TypeORM shares, so it runs inside the caller's IMMEDIATE transaction. A TypeORM upsert costs
   * about a millisecond per row; this is what lets a 100k-client migration finish in seconds.
   * Synchronous on purpose (better-sqlite3 is): no await per row. Returns the highest id stored.
   */
  private upsertRows(clients: readonly ClientRecord[]): number {
    this.upsertStatement ??= this.connection!.prepare(
      `INSERT INTO clients (${CLIENT_COLUMNS.join(', ')}) VALUES (${CLIENT_COLUMNS.map((column) => `@${column}`).join(', ')}) ` +
        `ON CONFLICT (client_id) DO UPDATE SET ${CLIENT_COLUMNS.filter((column) => column !== 'client_id').map((column) => `${column} = excluded.${column}`).join(', ')}`,
    )
    let top = 0
    for (const record of clients) {
      // No copy needed: the row is built from the record's values and nothing keeps the record.
      assertStorableRecord(record)
      this.assertKeyFree(record)
      this.upsertStatement.run(recordToStoredValues(record))
      if (record.client_id > top) top = record.client_id
    }
    return top
  }

  private async advanceCounter(runner: ReturnType<DataSource['createQueryRunner']>, usedId: number): Promise<void> {
    await runner.query(`UPDATE hivemind_meta SET value = MAX(value, ?) WHERE key = 'next_client_id'`, [usedId + 1])
  }

  private assertKeyFree(record: ClientRecord): void {
    if (isRevoked(record)) return
    const holder = this.selectByKey!.get(record.api_key)
    if (holder && holder.client_id !== record.client_id) throw new DuplicateApiKeyError(holder.client_id)
  }

  private repo(): Repository<ClientRow> {
    if (!this.repository || !this.dataSource?.isInitialized) throw this.closedError()
    return this.repository
  }

  private closedError(): HivemindError {
    return new HivemindError('STORE_CLOSED', `the sqlite store ${this.location} is not open`)
  }

  /** Maps driver errors to typed errors naming the file (never a value from a row). */
  private translate(error: unknown, during: 'open' | 'read' | 'write'): unknown {
    if (error instanceof HivemindError) return error
    const driverError = (error as {driverError?: unknown}).driverError ?? error
    const code = String((driverError as {code?: unknown}).code ?? '')
    const file = this.location
    if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
      return new StoreUnavailableError(`${file} is locked by another process (waited ${this.options.busyTimeoutMs} ms)`, {
        cause: error,
        suggestion: 'retry, or raise database.sqlite.busyTimeoutMs',
      })
    }
    if (code === 'SQLITE_NOTADB' || code.startsWith('SQLITE_CORRUPT')) {
      return new StoreCorruptError(`${file} is not a valid SQLite database (${code})`, {cause: error, suggestion: 'check --db-path / database.sqlite.path'})
    }
    if (code.startsWith('SQLITE_READONLY') || code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
      return new HivemindError('STORE_READ_ONLY', `${file} cannot be written (${code})`, {cause: error, suggestion: 'check the permissions of the file and its directory'})
    }
    if (code === 'SQLITE_FULL' || code === 'ENOSPC') {
      return new StoreUnavailableError(`${file}: the disk is full; nothing was written`, {cause: error})
    }
    if (code.startsWith('SQLITE_CANTOPEN') || code === 'ENOENT' || code === 'ENOTDIR') {
      return new StoreUnavailableError(`cannot open ${file} (${code})`, {cause: error, suggestion: 'check that the directory exists and is writable'})
    }
    if (code.startsWith('SQLITE_CONSTRAINT') && String((driverError as Error).message).includes('api_key')) {
      return new DuplicateApiKeyError()
    }
    const message = error instanceof Error ? error.message.split('\n')[0] : String(error)
    return new StoreUnavailableError(`sqlite ${during} failed on ${file}: ${message}`, {cause: error})
  }
}
