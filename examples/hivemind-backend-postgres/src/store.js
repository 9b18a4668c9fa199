// @ts-check
/**
 * The postgres ClientStore: TypeORM on the pg driver.
 *
 * - Every write is one transaction that starts by bumping the `revision` row of `hivemind_meta`;
 *   that row lock orders concurrent writers of all processes (no deadlocks), and `revision()` is
 *   a cheap, exact token.
 * - Ids come from the `next_client_id` row, which only ever grows (put advances it past the id it
 *   stores), so an id is never handed out twice, even after the highest record is removed.
 * - A partial unique index refuses a second live client with the same access key; a violation
 *   rolls the whole transaction back (putMany is all or nothing).
 */
import {
  applyPatch,
  assertStorableRecord,
  buildClient,
  ClientNotFoundError,
  DuplicateApiKeyError,
  HivemindError,
  isHivemindError,
  maskUrlPassword,
  REVOKED_API_KEY,
  StoreCorruptError,
  StoreUnavailableError,
} from 'hivemind-core'
import {DataSource, MigrationExecutor, MoreThan, Not} from 'typeorm'

import {CLIENTS_TABLE, ClientEntity, COLUMNS, META_TABLE, recordToParameters, rowToRecord} from './entity.js'
import {MIGRATIONS, MIGRATIONS_TABLE} from './migrations.js'

/** @typedef {import('hivemind-core').ClientRecord} ClientRecord */
/** @typedef {import('hivemind-core').NewClient} NewClient */
/** @typedef {import('hivemind-core').ClientPatch} ClientPatch */
/** @typedef {import('hivemind-core').ListOptions} ListOptions */
/** @typedef {import('typeorm').QueryRunner} QueryRunner */

/** Records fetched per page while listing. */
const PAGE_SIZE = 500
/** Advisory lock key serialising migrations across processes ("hivemind" in ASCII, truncated). */
const MIGRATION_LOCK = 0x6869_7665_6d69
const PLACEHOLDERS = COLUMNS.map((_column, index) => `$${index + 1}`).join(', ')
const UPSERT = `INSERT INTO ${CLIENTS_TABLE} (${COLUMNS.join(', ')}) VALUES (${PLACEHOLDERS})
  ON CONFLICT (client_id) DO UPDATE SET ${COLUMNS.filter((column) => column !== 'client_id').map((column) => `${column} = EXCLUDED.${column}`).join(', ')}`
const UPDATE = `UPDATE ${CLIENTS_TABLE} SET ${COLUMNS.slice(1).map((column, index) => `${column} = $${index + 2}`).join(', ')} WHERE client_id = $1`

/** @implements {import('hivemind-core').ClientStore} */
export class PostgresClientStore {
  name = 'postgres'

  /** @param {import('./options.js').PostgresOptions} options */
  constructor(options) {
    this.options = options
    /** Never holds the password. */
    this.location = maskUrlPassword(options.url)
    /** @type {DataSource | undefined} set while open */
    this.dataSource = undefined
    /** @type {Set<Promise<unknown>>} operations in flight, awaited by close() */
    this.pending = new Set()
    /** @type {Promise<void> | undefined} */
    this.closing = undefined
    /** @type {Promise<unknown>} tail of this process's write queue */
    this.writeQueue = Promise.resolve()
  }

  async open() {
    if (this.closing) await this.closing
    if (this.dataSource) return
    const dataSource = new DataSource({
      type: 'postgres',
      url: this.options.url,
      entities: [ClientEntity],
      migrations: MIGRATIONS,
      migrationsTableName: MIGRATIONS_TABLE,
      migrationsRun: false,
      synchronize: false,
      logging: false,
      poolSize: this.options.poolSize,
      connectTimeoutMS: this.options.connectTimeoutMs,
    })
    try {
      await dataSource.initialize()
      await migrate(dataSource)
      this.dataSource = dataSource
    } catch (error) {
      if (dataSource.isInitialized) await dataSource.destroy().catch(() => {})
      throw this.translate(error, 'open')
    }
  }

  /** Idempotent; waits for the operations already requested, refuses new ones at once. */
  async close() {
    if (this.closing) return this.closing
    const dataSource = this.dataSource
    if (!dataSource) return
    this.dataSource = undefined
    this.closing = (async () => {
      try {
        await Promise.allSettled([...this.pending])
        await dataSource.destroy()
      } finally {
        this.closing = undefined
      }
    })()
    return this.closing
  }

  /** @param {NewClient} client */
  add(client) {
    return this.write(async (runner) => {
      // TypeORM answers an UPDATE with [rows, affected count].
      const [[{id}]] = await runner.query(`UPDATE ${META_TABLE} SET value = value + 1 WHERE key = 'next_client_id' RETURNING value - 1 AS id`)
      const record = buildClient(Number(id), client)
      assertStorableRecord(record)
      await runner.query(UPSERT, recordToParameters(record))
      return record
    })
  }

  /** @param {ClientRecord} client */
  put(client) {
    return this.write(async (runner) => {
      const record = structuredClone(client)
      await putOne(runner, record)
      return record
    })
  }

  /** All or nothing: one transaction. @param {readonly ClientRecord[]} clients */
  async putMany(clients) {
    await this.write(async (runner) => {
      for (const client of clients) await putOne(runner, structuredClone(client))
    })
  }

  /** Removes every record; the id counter stays, so ids are still never reused. */
  async clear() {
    await this.write(async (runner) => {
      await runner.query(`DELETE FROM ${CLIENTS_TABLE}`)
    })
  }

  /** @param {number} id */
  get(id) {
    return this.read(async (dataSource) => {
      const row = await dataSource.getRepository(ClientEntity).findOneBy({client_id: id})
      return row ? rowToRecord(row, this.location) : undefined
    })
  }

  /** @param {string} apiKey */
  getByApiKey(apiKey) {
    return this.read(async (dataSource) => {
      if (apiKey === REVOKED_API_KEY) return undefined
      // The predicate repeats the partial index's, so PostgreSQL uses it.
      const rows = await dataSource.query(`SELECT * FROM ${CLIENTS_TABLE} WHERE api_key = $1 AND api_key <> 'revoked'`, [apiKey])
      return rows.length > 0 ? rowToRecord(rows[0], this.location) : undefined
    })
  }

  /** @param {number} id @param {ClientPatch} patch */
  update(id, patch) {
    return this.modify(id, () => patch)
  }

  /**
   * The row is read FOR UPDATE inside the write transaction, so no other writer changes it
   * between the read and the write.
   * @param {number} id @param {(current: ClientRecord) => ClientPatch | undefined} change
   */
  async modify(id, change) {
    /** What change threw, passed on as it is rather than explained as a database failure. */
    let refusal
    try {
      return await this.write(async (runner) => {
        const rows = await runner.query(`SELECT * FROM ${CLIENTS_TABLE} WHERE client_id = $1 FOR UPDATE`, [id])
        if (rows.length === 0) throw new ClientNotFoundError(`id ${id}`)
        const stored = rowToRecord(rows[0], this.location)
        let patch
        try {
          patch = change(rowToRecord(rows[0], this.location))
        } catch (error) {
          refusal = {error}
          throw error
        }
        if (patch === undefined) return stored
        const next = applyPatch(stored, patch)
        assertStorableRecord(next)
        await runner.query(UPDATE, recordToParameters(next))
        return next
      })
    } catch (error) {
      throw refusal ? refusal.error : error
    }
  }

  /** @param {number} id */
  revoke(id) {
    return this.write(async (runner) => {
      const [rows] = await runner.query(
        `UPDATE ${CLIENTS_TABLE} SET api_key = $2, password = NULL, crypto_key = NULL WHERE client_id = $1 RETURNING *`,
        [id, REVOKED_API_KEY],
      )
      if (rows.length === 0) throw new ClientNotFoundError(`id ${id}`)
      return rowToRecord(rows[0], this.location)
    })
  }

  /** Keyset paging by id: a huge hive never sits in memory at once. @param {ListOptions} [options] */
  async *list(options = {}) {
    let after = 0
    for (;;) {
      const where = options.includeRevoked ? {client_id: MoreThan(after)} : {client_id: MoreThan(after), api_key: Not(REVOKED_API_KEY)}
      const page = await this.read((dataSource) => dataSource.getRepository(ClientEntity).find({where, order: {client_id: 'ASC'}, take: PAGE_SIZE}))
      for (const row of page) yield rowToRecord(row, this.location)
      if (page.length < PAGE_SIZE) return
      after = Number(page.at(-1).client_id)
    }
  }

  /** @param {ListOptions} [options] */
  count(options = {}) {
    return this.read((dataSource) => dataSource.getRepository(ClientEntity).count(options.includeRevoked ? {} : {where: {api_key: Not(REVOKED_API_KEY)}}))
  }

  /**
   * The revision counter, and the table's identity: a database dropped and re-created (counter
   * back at 0) still gives a new token.
   */
  revision() {
    return this.read(async (dataSource) => {
      const [{oid, value}] = await dataSource.query(`SELECT '${CLIENTS_TABLE}'::regclass::oid AS oid, value FROM ${META_TABLE} WHERE key = 'revision'`)
      return `${oid}:${value}`
    })
  }

  /**
   * The same database however its URL is spelt (localhost or 127.0.0.1, another user, a pooler),
   * told by the server itself: when it started, which database, and the clients table's oid.
   * No privilege beyond connecting is needed (pg_control_system() would want one).
   */
  storeIdentity() {
    return this.read(async (dataSource) => {
      const [{started, database, table}] = await dataSource.query(`SELECT pg_postmaster_start_time()::text AS started, current_database() AS database, '${CLIENTS_TABLE}'::regclass::oid::text AS table`)
      return `postgres:${started}:${database}:${table}`
    })
  }

  // --- internals -------------------------------------------------------------------------

  /**
   * Runs `work` in a transaction that also bumps the revision. Refused at once when the store is
   * not open; tracked so close() waits for it.
   * @template T
   * @param {(runner: QueryRunner) => Promise<T>} work
   * @returns {Promise<T>}
   */
  write(work) {
    return this.track((dataSource) => {
      // One write at a time per process, in the order requested (as the built-in stores do):
      // on separate pool connections, an add requested before a put(9) could otherwise commit
      // after it and take id 10. Across processes the revision lock orders writers anyway.
      const run = () => this.transaction(dataSource, work)
      const result = this.writeQueue.then(run, run)
      this.writeQueue = result.catch(() => {})
      return result
    })
  }

  /**
   * @template T
   * @param {DataSource} dataSource
   * @param {(runner: QueryRunner) => Promise<T>} work
   * @returns {Promise<T>}
   */
  async transaction(dataSource, work) {
    const runner = dataSource.createQueryRunner()
    try {
      await runner.connect()
      await runner.startTransaction()
      try {
        // First, so every writer takes the same lock first: writers queue here instead of
        // deadlocking (an add holding the id counter while a put of that same id waits for it).
        await runner.query(`UPDATE ${META_TABLE} SET value = value + 1 WHERE key = 'revision'`)
        const result = await work(runner)
        await runner.commitTransaction()
        return result
      } catch (error) {
        await runner.rollbackTransaction().catch(() => {})
        throw error
      }
    } catch (error) {
      throw await this.explainWriteError(dataSource, error)
    } finally {
      await runner.release()
    }
  }

  /**
   * @template T
   * @param {(dataSource: DataSource) => Promise<T>} work
   * @returns {Promise<T>}
   */
  read(work) {
    return this.track(async (dataSource) => {
      try {
        return await work(dataSource)
      } catch (error) {
        throw this.translate(error, 'read')
      }
    })
  }

  /**
   * @template T
   * @param {(dataSource: DataSource) => Promise<T>} work
   * @returns {Promise<T>}
   */
  track(work) {
    const dataSource = this.dataSource
    if (!dataSource) return Promise.reject(new HivemindError('STORE_CLOSED', `the postgres store ${this.location} is not open`))
    const running = work(dataSource)
    const settled = running.catch(() => {})
    this.pending.add(settled)
    settled.finally(() => this.pending.delete(settled))
    return running
  }

  /**
   * A unique violation of the live-key index is DuplicateApiKeyError (the transaction is rolled
   * back, so nothing of the write is kept).
   * @param {DataSource} dataSource
   * @param {unknown} error
   */
  async explainWriteError(dataSource, error) {
    const driverError = /** @type {{code?: string, constraint?: string}} */ (/** @type {any} */ (error)?.driverError ?? error)
    if (driverError?.code === '23505' && driverError.constraint === `${CLIENTS_TABLE}_live_api_key`) {
      return new DuplicateApiKeyError()
    }
    return this.translate(error, 'write')
  }

  /**
   * Driver errors as typed errors naming the database (never a value from a row).
   * @param {unknown} error
   * @param {'open' | 'read' | 'write'} during
   */
  translate(error, during) {
    if (isHivemindError(error)) return error
    const driverError = /** @type {{code?: string, message?: string}} */ (/** @type {any} */ (error)?.driverError ?? error)
    const code = String(driverError?.code ?? '')
    const message = String(driverError?.message ?? error).split('\n')[0]
    const where = this.location
    if (code === '3D000') {
      return new StoreUnavailableError(`${where}: ${message}`, {cause: error, suggestion: 'create it first, e.g. createdb -h HOST -U USER DATABASE'})
    }
    if (['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ETIMEDOUT', '57P01', '57P03', '08006', '08001'].includes(code) || /timeout|terminated/i.test(message)) {
      return new StoreUnavailableError(`cannot reach PostgreSQL at ${where} (${code || message})`, {cause: error, suggestion: 'check that the server runs and database.postgres.url'})
    }
    if (code === '28P01' || code === '28000') {
      return new StoreUnavailableError(`PostgreSQL refused the login at ${where}: ${message}`, {cause: error, suggestion: 'check the user and password in database.postgres.url (or HIVEMIND_POSTGRES_URL)'})
    }
    if (code === '42P01' || code === '42703') {
      return new StoreCorruptError(`${where}: the hivemind tables do not have the expected shape (${message})`, {cause: error})
    }
    return new StoreUnavailableError(`postgres ${during} failed on ${where}: ${message}`, {cause: error})
  }
}

/**
 * Applies pending migrations (all in one transaction) under a session advisory lock, so that
 * concurrent first opens queue instead of racing to create the tables. The executor runs on the
 * connection holding the lock: with a second connection, a pool of one would deadlock.
 * @param {DataSource} dataSource
 */
async function migrate(dataSource) {
  const runner = dataSource.createQueryRunner()
  await runner.connect()
  try {
    await runner.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK])
    try {
      const executor = new MigrationExecutor(dataSource, runner)
      executor.transaction = 'all'
      await executor.executePendingMigrations()
    } finally {
      await runner.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK])
    }
  } finally {
    await runner.release()
  }
}

/**
 * Stores one record with its own id and moves the id counter past it.
 * @param {QueryRunner} runner
 * @param {ClientRecord} record
 */
async function putOne(runner, record) {
  assertStorableRecord(record)
  await runner.query(UPSERT, recordToParameters(record))
  await runner.query(`UPDATE ${META_TABLE} SET value = GREATEST(value, $1::bigint + 1) WHERE key = 'next_client_id'`, [record.client_id])
}
