/**
 * The sqlite ClientStore: better-sqlite3 on the upstream `clients` table, with TypeORM as the
 * owner of the schema (migrations) and of the entity writes.
 *
 * Reads (get, getByApiKey, list, count, revision) are prepared statements on the store's own
 * better-sqlite3 connection. TypeORM costs a few hundred milliseconds to import, more than the
 * rest of a `list-clients` run, so it is loaded only when it has work to do: when a migration is
 * pending (checked with one query on its migrations table) or at the first write. It then borrows
 * the same connection, so both share one transaction state and there is one connection per store.
 *
 * Concurrency: every write runs in a `BEGIN IMMEDIATE` transaction (the write lock is taken up
 * front, so concurrent processes queue on the busy timeout instead of failing with
 * SQLITE_BUSY_SNAPSHOT), in WAL mode. Writes of one process are also serialised in-process, since
 * they share one connection.
 */
import {accessSync, chmodSync, closeSync, constants as fsConstants, existsSync, mkdtempSync, openSync, rmSync, statSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'

import type Database from 'better-sqlite3'
import type {DataSource, EntitySchema, Logger} from 'typeorm'

import {applyPatch, buildClient, type ClientPatch, type ClientRecord, cloneClient, isRevoked, type NewClient, REVOKED_API_KEY, tombstoneOf} from '../../core/client.js'
import {ClientNotFoundError, DuplicateApiKeyError, HivemindError, InvalidInputError, StoreCorruptError, StoreUnavailableError} from '../../core/errors.js'
import {fileInTheWay, notARegularFile, permissionProblem} from '../../core/file-access.js'
import {ensurePrivateDir} from '../../core/private-dir.js'
import {shellQuoted} from '../../core/shell-word.js'
import {requireCjs} from '../../core/require-cjs.js'
import type {BackendContext, ClientStore, ListOptions} from '../../core/store.js'
import {assertReservableId, assertStorableRecord} from '../../core/validate.js'
import {CLIENT_COLUMNS, type ClientRow, recordToRow, recordToStoredList, rowOfValues, rowToRecord} from './entity.js'
import {MIGRATIONS, MIGRATIONS_TABLE} from './migrations.js'
import type {SqliteOptions} from './options.js'
import {copyWithJournal, hotJournalVersion, isHotJournalError, isHotJournalVersion} from './hot-journal.js'
import {isWalFile, openReader} from './reader.js'

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

/** How long one try of a long-running store's BEGIN IMMEDIATE blocks the event loop at most (ms). */
const SHORT_BUSY_TIMEOUT_MS = 20

/** Copies of a location with a hot journal tried before giving up, when other processes keep changing it. */
const HOT_COPY_ATTEMPTS = 5

const UPSTREAM_COLUMNS = [
  'client_id', 'api_key', 'name', 'description', 'is_admin', 'last_seen', 'intent_blacklist', 'skill_blacklist',
  'message_blacklist', 'allowed_types', 'crypto_key', 'password', 'can_broadcast', 'can_escalate', 'can_propagate',
]

/** The columns a read selects: the entity's, whatever else another tool added to the table. */
const SELECTED = CLIENT_COLUMNS.join(', ')

/**
 * A private copy of the location, read instead of it when the caller needs the location untouched
 * (BackendContext.leaveUntouched) and reading it directly would change it (see openUntouched).
 */
interface Snapshot {
  /** Our own temp directory (0700), removed with everything in it on close. */
  dir: string
  /** Copies taken so far (each one a new file in `dir`). */
  taken: number
  /** The location's version (see originVersion) when the current copy was started. */
  version: string
}

/** The id `add` gives next: past the store's counter and past every stored id (lastId is one less). */
const NEXT_ID_QUERY = `SELECT MAX((SELECT value FROM hivemind_meta WHERE key = 'next_client_id'), COALESCE((SELECT MAX(client_id) FROM clients), 0) + 1) AS next`

/** The prepared statements of the read path. */
interface ReadStatements {
  byId: Database.Statement<[number], ClientRow>
  byKey: Database.Statement<[string], ClientRow>
  /** A page of records after an id, live ones only or tombstones included. */
  page: Database.Statement<[number, number], unknown[]>
  pageWithRevoked: Database.Statement<[number, number], unknown[]>
  count: Database.Statement<[], number>
  countWithRevoked: Database.Statement<[], number>
}

export class SqliteClientStore implements ClientStore {
  readonly name = 'sqlite'
  readonly location: string
  /**
   * Records per putMany in a bulk copy: each batch is one transaction, i.e. one WAL sync at
   * commit, so 500-record batches spent much of a 100k migration syncing. 10k rows hold the write
   * lock for tens of milliseconds, well inside any busy timeout of other processes.
   */
  readonly preferredBatchSize = 10_000
  /** The store's one connection, from open() until close() has drained the write queue. */
  private connection?: Database.Database
  /** The file `connection` has open: the location, or the current copy of it (snapshot mode). */
  private file: string
  /**
   * The connection that watches the location for revision(): `connection` itself, except in
   * snapshot mode, where `connection` reads the copy and this one stays open on the location.
   */
  private origin?: Database.Database
  /** Set while the store reads a private copy of its location (leaveUntouched mode only). */
  private snapshot?: Snapshot
  /** True from a successful open() until close() is called: reads and new writes are accepted. */
  private accepting = false
  /** TypeORM on the same connection, attached on first need (see {@link typeorm}). */
  private dataSource?: DataSource
  private attaching?: Promise<DataSource>
  private clientEntity?: EntitySchema<ClientRow>
  private reads?: ReadStatements
  private selectByKey?: Database.Statement<[string], ClientRow>
  private upsertStatement?: Database.Statement
  /** In-process write queue: one transaction at a time on the shared connection. */
  private writeQueue: Promise<unknown> = Promise.resolve()
  /** The inode of the file openInPlace opened: revision() of a long-running store compares the location's with it. */
  private openedInode?: number
  /** Set once a long-running store found its location removed or replaced: every call then fails with it (see detach). */
  private detached?: StoreUnavailableError
  /** Writes by this connection (PRAGMA data_version only counts other connections' commits). */
  private ownWrites = 0
  /** The close in progress, shared by concurrent close() calls and awaited by open(). */
  private closing?: Promise<void>

  constructor(
    private readonly options: SqliteOptions,
    private readonly context: BackendContext,
  ) {
    this.location = options.path
    this.file = options.path
  }

  async open(): Promise<void> {
    if (this.closing) await this.closing
    if (this.accepting) return
    try {
      if (this.context.leaveUntouched) await this.openUntouched()
      else await this.openInPlace()
      this.prepareReadsOnConnection()
      // A listener would otherwise stall its event loop on the import at its first write
      // (a last_seen update) while serving satellites.
      if (this.context.longRunning) await this.typeorm()
      this.accepting = true
    } catch (error) {
      await this.release()
      throw this.translate(error, 'open')
    }
  }

  /**
   * Flushes and closes. Writes requested BEFORE close still complete (they are in the write
   * queue, which is drained first); anything requested after it is refused as STORE_CLOSED.
   * Idempotent; concurrent calls share one close.
   */
  async close(): Promise<void> {
    if (this.closing) return this.closing
    if (!this.accepting) return
    // From here on new reads and writes are refused.
    this.accepting = false
    this.closing = (async () => {
      await this.writeQueue.catch(() => {})
      try {
        await this.release()
      } finally {
        this.closing = undefined
      }
    })()
    return this.closing
  }

  async add(client: NewClient): Promise<ClientRecord> {
    return this.write(async (runner) => {
      const [{next}] = (await runner.query(NEXT_ID_QUERY)) as [{next: number}]
      const record = buildClient(next, client)
      assertStorableRecord(record)
      await this.assertKeyFree(record)
      await runner.manager.insert(this.entity(), recordToRow(record))
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

  async lastId(): Promise<number> {
    if (this.snapshot) await this.refreshSnapshot()
    if (!this.connection || !this.accepting) throw this.closedError()
    try {
      const {next} = this.connection.prepare(NEXT_ID_QUERY).get() as {next: number}
      return Number(next) - 1
    } catch (error) {
      throw this.translate(error, 'read')
    }
  }

  async reserveIds(id: number): Promise<void> {
    assertReservableId(id)
    await this.write((runner) => this.advanceCounter(runner, id))
  }

  async clear(): Promise<void> {
    // The counter in hivemind_meta stays: ids are still never reused.
    await this.write(async (runner) => {
      await runner.query('DELETE FROM clients')
    })
  }

  async get(id: number): Promise<ClientRecord | undefined> {
    if (this.snapshot) await this.refreshSnapshot()
    const row = this.read((reads) => reads.byId.get(id))
    return row ? rowToRecord(row, this.location) : undefined
  }

  async getByApiKey(apiKey: string): Promise<ClientRecord | undefined> {
    if (!this.accepting) throw this.closedError()
    if (apiKey === REVOKED_API_KEY) return undefined
    if (this.snapshot) await this.refreshSnapshot()
    const row = this.read((reads) => reads.byKey.get(apiKey))
    return row ? rowToRecord(row, this.location) : undefined
  }

  async update(id: number, patch: ClientPatch): Promise<ClientRecord> {
    return this.modify(id, () => patch)
  }

  async modify(id: number, change: (current: ClientRecord) => ClientPatch | undefined): Promise<ClientRecord> {
    // What change threw reaches the caller as it is, not translated into a store failure.
    let refusal: {error: unknown} | undefined
    // Read and written inside one IMMEDIATE transaction: no other connection writes in between.
    const written = this.write(async (runner) => {
      const current = await runner.manager.findOneBy(this.entity(), {client_id: id})
      if (!current) throw new ClientNotFoundError(`id ${id}`)
      const stored = rowToRecord(current, this.location)
      let patch: ClientPatch | undefined
      try {
        patch = change(cloneClient(stored))
      } catch (error) {
        refusal = {error}
        throw error
      }
      if (patch === undefined) return stored
      const next = applyPatch(stored, patch)
      assertStorableRecord(next)
      await this.assertKeyFree(next)
      const {client_id: _id, ...values} = recordToRow(next)
      await runner.manager.update(this.entity(), {client_id: id}, values)
      return next
    })
    return written.catch((error: unknown) => {
      throw refusal ? refusal.error : error
    })
  }

  async revoke(id: number): Promise<ClientRecord> {
    return this.write(async (runner) => {
      const current = await runner.manager.findOneBy(this.entity(), {client_id: id})
      if (!current) throw new ClientNotFoundError(`id ${id}`)
      const tombstone = tombstoneOf(rowToRecord(current, this.location))
      await runner.manager.update(this.entity(), {client_id: id}, {api_key: tombstone.api_key, password: null, crypto_key: null})
      return tombstone
    })
  }

  async *list(options: ListOptions = {}): AsyncIterable<ClientRecord> {
    // Once per listing: its pages then come from one copy.
    if (this.snapshot) await this.refreshSnapshot()
    let after = 0
    for (;;) {
      // Keyset paging: a page at a time, so a huge hive never sits in memory at once.
      const page = this.read((reads) => (options.includeRevoked ? reads.pageWithRevoked : reads.page).all(after, PAGE_SIZE))
      for (const values of page) yield rowToRecord(rowOfValues(values), this.location)
      if (page.length < PAGE_SIZE) return
      after = page.at(-1)![0] as number
    }
  }

  async count(options: ListOptions = {}): Promise<number> {
    if (this.snapshot) await this.refreshSnapshot()
    return this.read((reads) => (options.includeRevoked ? reads.countWithRevoked : reads.count).get()!)
  }

  async revision(): Promise<string> {
    if (!this.origin || !this.accepting) throw this.closedError()
    // data_version moves when ANOTHER connection commits; the inode catches a replaced file. It is
    // read on the location even in snapshot mode, so a migration still notices a source that
    // changed after its plan read it (and the next read then takes a new copy).
    const version = this.originVersion()
    let inode = 0
    try {
      inode = statSync(this.location).ino
    } catch {
      // A deleted file still changes the token (inode 0).
    }
    if (this.context.longRunning && this.openedInode !== undefined && inode !== this.openedInode) this.detach(inode)
    return `${inode}:${version}:${this.ownWrites}`
  }

  // --- internals -------------------------------------------------------------------------

  /**
   * A long-running store (listen) whose location was removed or replaced by another file: its
   * connection still reads the old file, whose clients (revoked ones included) are not the
   * database's any more. It serves none from then on, loudly, rather than those silently (QA: a
   * deleted clients.db went on accepting its clients, and a client added to the new file was
   * refused with no word in the log). Reopening is left to a restart, as docs/security.md says.
   */
  private detach(inode: number): never {
    this.detached ??= new StoreUnavailableError(
      `${this.location} was ${inode === 0 ? 'removed' : 'replaced by another file'} while this process had it open: the file it still reads is no longer the database, so it serves no client from it`,
      {suggestion: 'restart hivemind-core listen to open the database now there (to restore one, use hivemind-core restore-db rather than moving files: docs/security.md)', untilRestart: true},
    )
    throw this.detached
  }

  /** The usual open: creates the file when missing, applies pending migrations, switches to WAL. */
  private async openInPlace(): Promise<void> {
    const file = this.options.path
    this.refuseNonRegularFile(file)
    // A new SQLite file named like a clients.json (--db-path ~/.local/share/hivemind-core/clients.json
    // on a fresh machine): the Python hivemind-core treats a clients.json it cannot parse as empty
    // and writes over it, losing every client added here (QA). Existing files are judged by their bytes.
    if (/\.json$/i.test(file) && !existsSync(file)) {
      throw new HivemindError('INVALID_INPUT', `${file} does not exist, and an SQLite database is not created under a name ending in .json (a clients.json's)`, {
        suggestion: 'for a clients.json there, add --db-backend json; for an SQLite database, give a path ending in .db; nothing was written',
      })
    }
    this.prepareFile(file)
    // `timeout` is the busy timeout: how long a statement waits for another process's lock.
    const BetterSqlite3 = requireCjs('better-sqlite3') as typeof import('better-sqlite3')
    const connection = new BetterSqlite3(file, {timeout: this.options.busyTimeoutMs})
    this.connection = connection
    this.origin = connection
    this.file = file
    this.openedInode = statSync(file).ino
    // What TypeORM's driver sets on every connection it opens: the same state whether or not
    // TypeORM attaches to this one later.
    connection.pragma('foreign_keys = ON')
    const pending = this.migrationsPending()
    if (pending) await this.migrate()
    this.checkTableShape()
    const rollbackJournal = connection.pragma('journal_mode', {simple: true}) !== 'wal'
    if (rollbackJournal) await this.enableWal()
    // A read-only command that upgraded the file (an upstream clients.db, often 0644) has written
    // to it: it is then one of our data files, 0600 like any other.
    this.restrictModes(file, pending || rollbackJournal)
  }

  /**
   * The open of a location the caller needs left byte-identical (a migration's source). A file
   * already in our schema and in WAL mode is read directly, through a connection that changes
   * nothing (reader.ts). Anything else — an upstream clients.db (rollback journal, no migrations
   * table), a file of an older schema — would be upgraded by the usual open, so the store reads a
   * private copy instead: SQLite's online backup of the location (a consistent copy, restarted by
   * SQLite if another process commits meanwhile) into our own temp directory, migrated there as
   * usual. `location` still names the original, and revision() watches the original.
   */
  private async openUntouched(): Promise<void> {
    const file = this.options.path
    this.refuseNonRegularFile(file)
    const origin = openReader(file, this.options.busyTimeoutMs)
    this.origin = origin
    if (isWalFile(file) && !this.migrationsPending(origin)) {
      this.connection = origin
      this.file = file
      this.checkTableShape()
      return
    }
    this.snapshot = {dir: mkdtempSync(path.join(os.tmpdir(), 'hivemind-sqlite-')), taken: 0, version: ''}
    await this.takeSnapshot()
  }

  /** Copies the location into a new file of the snapshot directory and opens it, migrated. */
  private async takeSnapshot(): Promise<void> {
    const snapshot = this.snapshot!
    const copy = path.join(snapshot.dir, `copy-${++snapshot.taken}.db`)
    // Created 0600 before SQLite writes into it (it would create it with the umask's mode).
    closeSync(openSync(copy, 'wx', 0o600))
    snapshot.version = await this.copyOrigin(copy)
    const BetterSqlite3 = requireCjs('better-sqlite3') as typeof import('better-sqlite3')
    // Read-write: a copied hot journal is rolled back into the copy by its first statement.
    const connection = new BetterSqlite3(copy, {timeout: this.options.busyTimeoutMs})
    this.connection = connection
    this.file = copy
    connection.pragma('foreign_keys = ON')
    if (this.migrationsPending()) await this.migrate()
    this.checkTableShape()
  }

  /**
   * Copies the location into `copy` and returns its version as of the copy. Usually SQLite's
   * online backup; a location left with a hot journal (hot-journal.ts) is copied with its journal
   * as files, again until neither file moves during a copy.
   */
  private async copyOrigin(copy: string): Promise<string> {
    for (let attempt = 1; ; attempt++) {
      // Taken before the copy starts: a commit during the copy moves it, and the next read copies again.
      const version = this.originVersion()
      if (!isHotJournalVersion(version)) {
        await this.origin!.backup(copy)
        return version
      }
      if (copyWithJournal(this.options.path, copy) === version) return version
      if (attempt === HOT_COPY_ATTEMPTS) {
        throw new StoreUnavailableError(`${this.location} and its -journal kept changing while being copied (${HOT_COPY_ATTEMPTS} attempts): another process is rolling it back or writing to it`, {
          suggestion: 'retry in a moment',
        })
      }
      // eslint-disable-next-line no-await-in-loop -- another process is at work on the file: give it a moment.
      await sleep(50 * attempt)
    }
  }

  /**
   * What moves when another connection commits to the location: PRAGMA data_version as `origin`
   * sees it. A location with a hot journal cannot be read by a read-only `origin` at all: its
   * version is then the identity of its two files, which any rollback or new write changes.
   */
  private originVersion(): string {
    try {
      return String(this.origin!.pragma('data_version', {simple: true}))
    } catch (error) {
      if (!isHotJournalError(error)) throw error
      return hotJournalVersion(this.options.path)
    }
  }

  /**
   * Snapshot mode: when another process committed to the location since the copy was taken, the
   * next read takes a new copy, so reads see what the location holds now, as they would reading
   * it directly (migrate-db's verification relies on it when the source moved during a run).
   */
  private async refreshSnapshot(): Promise<void> {
    const snapshot = this.snapshot!
    if (!this.origin || !this.accepting) throw this.closedError()
    if (this.originVersion() === snapshot.version) return
    const previous = this.file
    try {
      await this.releaseConnection()
      await this.takeSnapshot()
      this.prepareReadsOnConnection()
    } catch (error) {
      await this.release()
      throw this.translate(error, 'read')
    }
    rmSync(previous, {force: true})
  }

  private prepareReadsOnConnection(): void {
    this.reads = this.prepareReads(this.connection!)
    this.selectByKey = this.reads.byKey
  }

  /** Creates the directory (0700) and file (0600) when missing, so SQLite never makes them world-readable. */
  /** A path naming a directory, a FIFO… is refused before SQLite opens it (a FIFO would block). */
  private refuseNonRegularFile(file: string): void {
    let kind: string | undefined
    try {
      kind = notARegularFile(statSync(file))
    } catch {
      return // Missing (created as a file) or hidden (opening it reports why).
    }
    if (kind) throw new InvalidInputError(`${this.location} is ${kind}, not an SQLite database`, {suggestion: 'check the database path (--db-path, database.sqlite.path)'})
  }

  private prepareFile(file: string): void {
    try {
      // Parents get the usual mode; only our own directory is private.
      ensurePrivateDir(path.dirname(file))
      if (!existsSync(file)) closeSync(openSync(file, 'a', 0o600))
    } catch (error) {
      throw this.translate(error, 'open')
    }
  }

  /**
   * Data files are 0600 whatever the umask; -wal and -shm inherit the database file's mode. A
   * read-only command leaves modes alone unless it `upgraded` the file.
   */
  private restrictModes(file: string, upgraded: boolean): void {
    if (this.context.mode !== 'write' && !upgraded) return
    for (const candidate of [file, `${file}-wal`, `${file}-shm`]) {
      try {
        if ((statSync(candidate).mode & 0o077) !== 0) chmodSync(candidate, 0o600)
      } catch {
        // Missing -wal/-shm, or a file owned by someone else: nothing to tighten.
      }
    }
  }

  /**
   * A quick read without a lock: does the migrations table lack one of ours? The common case (up
   * to date) then takes no write lock and never loads TypeORM. Whether a migration really is still
   * pending is decided again by TypeORM under the lock (another process may have run it meanwhile).
   */
  private migrationsPending(connection: Database.Database = this.connection!): boolean {
    const table = connection.prepare('SELECT 1 FROM sqlite_master WHERE type = ? AND name = ?').get('table', MIGRATIONS_TABLE)
    if (table === undefined) return true
    const applied = new Set(connection.prepare(`SELECT name FROM ${MIGRATIONS_TABLE}`).pluck().all() as unknown[])
    return MIGRATIONS.some((migration) => !applied.has(new migration().name))
  }

  /** Applies pending migrations in one IMMEDIATE transaction (concurrent openers queue). */
  private async migrate(): Promise<void> {
    const dataSource = await this.typeorm()
    const runner = dataSource.createQueryRunner()
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
    await this.retryWhileBusy(() => {
      this.connection!.pragma('journal_mode = WAL')
    })
  }

  /**
   * Runs `attempt` again while it fails with SQLITE_BUSY, waiting on the event loop between tries,
   * until busyTimeoutMs has passed; any other error, or BUSY after that, is thrown.
   */
  private async retryWhileBusy(attempt: () => unknown): Promise<void> {
    const deadline = Date.now() + this.options.busyTimeoutMs
    for (;;) {
      try {
        await attempt()
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
    if (columns.size === 0 && missingTableIsFine) {
      this.refuseForeignDatabase()
      return
    }
    const missing = UPSTREAM_COLUMNS.filter((column) => !columns.has(column))
    if (missing.length > 0) {
      throw new StoreCorruptError(`${this.location}: the clients table lacks column(s) ${missing.join(', ')}; it was not written by hivemind-core`)
    }
  }

  /**
   * A database without a clients table is ours to set up only when it holds nothing else: a
   * --db-path pointing at another program's SQLite file must not get our tables (nor WAL mode).
   */
  private refuseForeignDatabase(): void {
    const ours = new Set([MIGRATIONS_TABLE, 'hivemind_meta'])
    const foreign = (this.connection!.prepare("SELECT name FROM sqlite_master WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name").pluck().all() as string[])
      .filter((name) => !ours.has(name))
    if (foreign.length === 0) return
    const shown = foreign.slice(0, 5).map((name) => JSON.stringify(name.length > 40 ? `${name.slice(0, 40)}…` : name)).join(', ')
    throw new HivemindError('INVALID_INPUT', `${this.location} is an SQLite database of something else (it has ${foreign.length === 1 ? 'the table' : 'tables'} ${shown}${foreign.length > 5 ? ', …' : ''} and no clients table); nothing was written to it`, {
      suggestion: 'point --db-path (or database.sqlite.path) at the hive\'s clients.db, or at a new file',
    })
  }

  private write<T>(work: (runner: ReturnType<DataSource['createQueryRunner']>) => Promise<T>): Promise<T> {
    // Checked when the write is requested, not when its turn comes: a write queued before
    // close() must still run while close() drains the queue ("close flushes").
    if (!this.accepting) return Promise.reject(this.closedError())
    if (this.detached) return Promise.reject(this.detached)
    // A write would go to the private copy and be lost, or change what must stay untouched.
    if (this.context.leaveUntouched) {
      return Promise.reject(new HivemindError('STORE_READ_ONLY', `${this.location} was opened to be left untouched; nothing is written to it`))
    }
    const run = async () => {
      const dataSource = await this.typeorm()
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
      await this.beginImmediate(runner)
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
   * BEGIN IMMEDIATE, which waits for another process's write lock. better-sqlite3 waits
   * synchronously (the busy timeout), which is fine for a one-shot command; a listener would stop
   * serving every satellite meanwhile (a last_seen write during another process's 8 s import froze
   * all of them for 8 s). So a long-running store tries with a short busy timeout and waits
   * between tries on the event loop, up to the same busyTimeoutMs in all.
   */
  private async beginImmediate(runner: ReturnType<DataSource['createQueryRunner']>): Promise<void> {
    if (!this.context.longRunning) {
      await runner.query('BEGIN IMMEDIATE')
      return
    }
    const connection = this.connection!
    await this.retryWhileBusy(async () => {
      connection.pragma(`busy_timeout = ${SHORT_BUSY_TIMEOUT_MS}`)
      try {
        await runner.query('BEGIN IMMEDIATE')
      } finally {
        connection.pragma(`busy_timeout = ${this.options.busyTimeoutMs}`)
      }
    })
  }

  /**
   * The bulk path (put, putMany: migrate-db, import-clients): a prepared upsert on the connection
   * TypeORM shares, so it runs inside the caller's IMMEDIATE transaction. A TypeORM upsert costs
   * about a millisecond per row; this is what lets a 100k-client migration finish in seconds.
   * Synchronous on purpose (better-sqlite3 is): no await per row. Returns the highest id stored.
   */
  private upsertRows(clients: readonly ClientRecord[]): number {
    this.upsertStatement ??= this.connection!.prepare(
      `INSERT INTO clients (${CLIENT_COLUMNS.join(', ')}) VALUES (${CLIENT_COLUMNS.map(() => '?').join(', ')}) ` +
        `ON CONFLICT (client_id) DO UPDATE SET ${CLIENT_COLUMNS.filter((column) => column !== 'client_id').map((column) => `${column} = excluded.${column}`).join(', ')}`,
    )
    let top = 0
    for (const record of clients) {
      // No copy needed: the row is built from the record's values and nothing keeps the record.
      assertStorableRecord(record)
      try {
        // Positional values: binding by name cost a tenth of a bulk copy.
        this.upsertStatement.run(recordToStoredList(record))
      } catch (error) {
        // The partial unique index refused a live access key another client holds: a lookup
        // only now, to name the holder (one per row beforehand cost more than the insert did).
        if (String((error as {code?: unknown}).code).startsWith('SQLITE_CONSTRAINT')) this.assertKeyFree(record)
        throw error
      }
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

  /** Runs a read statement; refused once close() was called, driver errors translated. */
  private read<T>(query: (reads: ReadStatements) => T): T {
    if (!this.reads || !this.accepting) throw this.closedError()
    if (this.detached) throw this.detached
    try {
      return query(this.reads)
    } catch (error) {
      throw this.translate(error, 'read')
    }
  }

  private prepareReads(connection: Database.Database): ReadStatements {
    const live = `api_key != '${REVOKED_API_KEY}'`
    return {
      byId: connection.prepare(`SELECT ${SELECTED} FROM clients WHERE client_id = ?`),
      // The partial unique index clients_live_api_key answers this one.
      byKey: connection.prepare(`SELECT ${SELECTED} FROM clients WHERE api_key = ? AND ${live} LIMIT 1`),
      // Pages come as arrays (raw): the driver builds a row object at less than half the speed
      // of rowOfValues, and listing is most of a migration's verification.
      page: connection.prepare<[number, number], unknown[]>(`SELECT ${SELECTED} FROM clients WHERE client_id > ? AND ${live} ORDER BY client_id LIMIT ?`).raw(),
      pageWithRevoked: connection.prepare<[number, number], unknown[]>(`SELECT ${SELECTED} FROM clients WHERE client_id > ? ORDER BY client_id LIMIT ?`).raw(),
      count: connection.prepare<[], number>(`SELECT COUNT(*) FROM clients WHERE ${live}`).pluck(),
      countWithRevoked: connection.prepare<[], number>('SELECT COUNT(*) FROM clients').pluck(),
    }
  }

  /**
   * TypeORM on the store's connection, initialised once, on first need: a pending migration, the
   * first write, or open() of a long-running store. Imported here, not at the top, because the
   * import alone costs more than a whole read-only command.
   */
  private typeorm(): Promise<DataSource> {
    this.attaching ??= this.attachTypeOrm().catch((error: unknown) => {
      this.attaching = undefined
      throw error
    })
    return this.attaching
  }

  private async attachTypeOrm(): Promise<DataSource> {
    const connection = this.connection
    if (!connection) throw this.closedError()
    const {DataSource} = requireCjs('typeorm') as typeof import('typeorm')
    const {ClientEntity} = await import('./entity-schema.js')
    const dataSource = new DataSource({
      type: 'better-sqlite3',
      database: this.file,
      // TypeORM's driver builds its connection with `new driver(file, options)`; a constructor
      // that returns an object yields that object, so TypeORM borrows the store's connection
      // (same file, timeout and pragmas) instead of opening a second one.
      driver: function borrowedConnection() {
        return connection
      },
      entities: [ClientEntity],
      migrations: MIGRATIONS,
      migrationsTableName: MIGRATIONS_TABLE,
      migrationsRun: false,
      synchronize: false,
      logging: false,
      logger: SILENT_LOGGER,
      // Not `enableWAL`: TypeORM would switch the journal mode inside initialize(), rewriting the
      // header of a file we may still refuse (duplicate live keys, a foreign `clients` table).
      // WAL is turned on by open(), once the file is migrated and checked.
    })
    await dataSource.initialize()
    this.dataSource = dataSource
    this.clientEntity = ClientEntity
    return dataSource
  }

  /** The TypeORM entity (valid inside a write, which attached TypeORM first). */
  private entity(): EntitySchema<ClientRow> {
    if (!this.clientEntity) throw this.closedError()
    return this.clientEntity
  }

  /** Forgets every handle, closes the connections and removes the private copy, if any. */
  private async release(): Promise<void> {
    this.accepting = false
    const {origin, connection, snapshot} = this
    this.origin = undefined
    this.snapshot = undefined
    try {
      await this.releaseConnection()
    } finally {
      if (origin !== connection && origin?.open) origin.close()
      if (snapshot) rmSync(snapshot.dir, {recursive: true, force: true})
    }
  }

  /** Closes `connection` (through TypeORM when it borrowed it) and forgets what was bound to it. */
  private async releaseConnection(): Promise<void> {
    const {connection, dataSource} = this
    this.connection = undefined
    this.dataSource = undefined
    this.attaching = undefined
    this.clientEntity = undefined
    this.reads = undefined
    this.selectByKey = undefined
    this.upsertStatement = undefined
    if (dataSource?.isInitialized) await dataSource.destroy()
    else if (connection?.open) connection.close()
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
    if (code === 'SQLITE_NOTADB') {
      return new StoreCorruptError(`${file} is not a valid SQLite database (${code})`, {cause: error, suggestion: 'check --db-path / database.sqlite.path'})
    }
    // An SQLite file whose pages are damaged (truncated, overwritten): the path is right, the file is not.
    if (code.startsWith('SQLITE_CORRUPT')) {
      return new StoreCorruptError(`${file} is an SQLite database, but damaged (${code}); nothing was changed`, {
        cause: error,
        suggestion: `restore it from a backup (hivemind-core restore-db), or recover what is readable with: sqlite3 ${shellQuoted(file)} .recover | sqlite3 recovered.db`,
      })
    }
    if (code.startsWith('SQLITE_CANTOPEN') || code === 'EACCES' || code === 'EPERM') {
      // SQLite says only "cannot open": name the directory or file that refuses this user.
      const denied = permissionProblem(file)
      if (denied) {
        return new StoreUnavailableError(`cannot open ${file}: ${denied}`, {
          cause: error,
          suggestion: ownedByThisUser(file)
            ? `the file is yours: give yourself access with chmod 600 ${shellQuoted(file)}`
            : 'run hivemind-core as the user that owns the database, or let this user enter the directories above it and read (for changes, write) the file',
        })
      }
    }
    if (code === 'SQLITE_READONLY_ROLLBACK') {
      // Read-only here, with a hot journal beside the file (hot-journal.ts): nothing is wrong with permissions.
      return new StoreUnavailableError(`${file} holds an interrupted write (a hot ${path.basename(file)}-journal) that this read-only access cannot roll back`, {
        cause: error,
        suggestion: 'retry; the next command that writes to it (e.g. add-client, listen) rolls it back',
      })
    }
    if (code.startsWith('SQLITE_READONLY') || code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
      // The file may be writable while a companion is not: a read-only file opened once leaves
      // -wal/-shm files with its mode (0400), which then refuse every write after a chmod of the file.
      const blocker = notWritable(file)
      return new HivemindError('STORE_READ_ONLY', `${file} cannot be written (${code})${blocker ? `: ${blocker}` : ''}`, {
        cause: error,
        suggestion: blocker?.startsWith('its companion')
          ? `make the companion files writable too: chmod 600 ${shellQuoted(`${file}-wal`)} ${shellQuoted(`${file}-shm`)} (do not delete them while a process may use the database)`
          : 'check the permissions of the file and its directory',
      })
    }
    if (code === 'SQLITE_FULL' || code === 'ENOSPC') {
      return new StoreUnavailableError(`${file}: the disk is full; nothing was written`, {cause: error})
    }
    const inTheWay = code === 'ENOTDIR' ? fileInTheWay(file) : undefined
    if (inTheWay) return new InvalidInputError(`cannot open ${file}: ${inTheWay} is a file, not a directory`, {cause: error, suggestion: 'check the database path (--db-path, database.sqlite.path)'})
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

/**
 * What refuses this process a write to the database `file`, in words: the file, one of its WAL
 * companions, or the directory (where SQLite creates them). Undefined when all look writable.
 */
function notWritable(file: string): string | undefined {
  const writable = (target: string) => {
    try {
      accessSync(target, fsConstants.W_OK)
      return true
    } catch (error) {
      return (error as NodeJS.ErrnoException).code === 'ENOENT'
    }
  }
  if (!writable(file)) return 'the file is read-only for this user'
  for (const suffix of ['-wal', '-shm']) {
    if (!writable(file + suffix)) return `its companion file ${path.basename(file)}${suffix} is read-only for this user (mode ${(statSync(file + suffix).mode & 0o777).toString(8).padStart(4, '0')})`
  }
  if (!writable(path.dirname(file))) return `its directory ${path.dirname(file)} is read-only for this user`
  return undefined
}

/** True when this process's user owns `file` (then a chmod, not another user, is the fix). */
function ownedByThisUser(file: string): boolean {
  try {
    return process.getuid !== undefined && statSync(file).uid === process.getuid()
  } catch {
    return false
  }
}
