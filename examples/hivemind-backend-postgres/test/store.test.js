// @ts-check
/**
 * The postgres backend against a real PostgreSQL server: the exported hivemind-core conformance
 * suite (the same one the built-in backends pass), then what is specific to this backend.
 * Every run works in throw-away databases and drops them.
 */
import assert from 'node:assert/strict'

import {runStoreConformance} from 'hivemind-core/testing'
import pg from 'pg'

import {postgresBackend} from '../src/index.js'
import {createThrowawayDatabase, databaseExists} from './database.js'

/** @param {string} url */
const optionsFor = (url) => ({url, connectTimeoutMs: 5000, poolSize: 4})
const context = {paths: {home: '', dataDir: '', configDir: '', stateDir: ''}, mode: /** @type {const} */ ('write'), warn() {}}

/** @param {string} url */
async function openStore(url) {
  const store = await postgresBackend.create(optionsFor(url), context)
  await store.open()
  return store
}

/** @param {string} url @param {string} sql @param {unknown[]} [values] */
async function query(url, sql, values = []) {
  const client = new pg.Client({connectionString: url})
  await client.connect()
  try {
    return (await client.query(sql, values)).rows
  } finally {
    await client.end()
  }
}

/** @type {Awaited<ReturnType<typeof createThrowawayDatabase>>} */
let suiteDatabase

before(async function () {
  this.timeout(30_000)
  suiteDatabase = await createThrowawayDatabase()
})

after(async function () {
  this.timeout(30_000)
  await suiteDatabase?.drop()
  if (suiteDatabase) assert.equal(await databaseExists(suiteDatabase.name), false, 'the throw-away database was not dropped')
})

// Each conformance test gets a fresh database (CREATE DATABASE is fast on an empty template).
runStoreConformance(
  'postgres',
  async () => {
    const database = await createThrowawayDatabase()
    const store = await postgresBackend.create(optionsFor(database.url), context)
    return {store, cleanup: database.drop}
  },
  {
    largeListSize: 1000,
    reopen: async (closed) => postgresBackend.create(optionsFor(/** @type {any} */ (closed).options.url), context),
    another: async (open) => postgresBackend.create(optionsFor(/** @type {any} */ (open).options.url), context),
  },
)

describe('postgres backend specifics', function () {
  this.timeout(60_000)
  /** @type {Awaited<ReturnType<typeof createThrowawayDatabase>>} */
  let database

  beforeEach(async () => {
    database = await createThrowawayDatabase()
  })

  afterEach(async () => {
    await database.drop()
  })

  it('creates its tables through versioned TypeORM migrations, recorded in hivemind_migrations', async () => {
    const store = await openStore(database.url)
    await store.close()
    const applied = await query(database.url, 'SELECT name FROM hivemind_migrations ORDER BY id')
    assert.deepEqual(applied.map((row) => row.name), ['CreateClients1730000000001'])
    const tables = await query(database.url, "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename")
    assert.deepEqual(tables.map((row) => row.tablename), ['hivemind_clients', 'hivemind_meta', 'hivemind_migrations'])
    // Opening again applies nothing twice.
    await (await openStore(database.url)).close()
    assert.equal((await query(database.url, 'SELECT count(*)::int AS n FROM hivemind_migrations'))[0].n, 1)
  })

  it('several connections opening a new database at once migrate it exactly once', async () => {
    const stores = await Promise.all(Array.from({length: 6}, () => openStore(database.url)))
    await Promise.all(stores.map((store, index) => store.add({api_key: `key-${index}`})))
    const ids = []
    for await (const record of stores[0].list()) ids.push(record.client_id)
    assert.deepEqual(ids, [1, 2, 3, 4, 5, 6])
    for (const store of stores) await store.close()
    assert.equal((await query(database.url, 'SELECT count(*)::int AS n FROM hivemind_migrations'))[0].n, 1)
  })

  it('never reuses an id, even when another tool deletes the highest row', async () => {
    const store = await openStore(database.url)
    try {
      await store.add({api_key: 'a'})
      await store.add({api_key: 'b'})
      await query(database.url, 'DELETE FROM hivemind_clients WHERE client_id = 2')
      assert.equal((await store.add({api_key: 'c'})).client_id, 3)
    } finally {
      await store.close()
    }
  })

  it('storeIdentity() is the same for one database under two spellings of its URL, and differs for another database', async () => {
    const other = await createThrowawayDatabase()
    const url = new URL(database.url)
    const respelt = new URL(database.url)
    respelt.hostname = url.hostname === 'localhost' ? '127.0.0.1' : 'localhost'
    const stores = [await openStore(database.url), await openStore(respelt.toString()), await openStore(other.url)]
    try {
      const [first, second, third] = await Promise.all(stores.map((store) => store.storeIdentity()))
      assert.equal(second, first)
      assert.notEqual(third, first)
    } finally {
      for (const store of stores) await store.close()
      await other.drop()
    }
  })

  it('sees the writes of another connection in revision() (the listener relies on it)', async () => {
    const reader = await openStore(database.url)
    const writer = await openStore(database.url)
    try {
      const before = await reader.revision()
      await writer.add({api_key: 'from-the-writer'})
      assert.notEqual(await reader.revision(), before)
      assert.equal((await reader.getByApiKey('from-the-writer'))?.client_id, 1)
    } finally {
      await reader.close()
      await writer.close()
    }
  })

  it('looks access keys up through the partial unique index, not a scan', async () => {
    const store = await openStore(database.url)
    await store.close()
    const client = new pg.Client({connectionString: database.url})
    await client.connect()
    try {
      // Forbid the planner's cheapest choice on an empty table, so that what shows is whether
      // the index CAN serve the store's lookup (its predicate must match the index's).
      await client.query('SET enable_seqscan = off')
      const plan = (await client.query("EXPLAIN SELECT * FROM hivemind_clients WHERE api_key = 'x' AND api_key <> 'revoked'")).rows
      const text = plan.map((row) => row['QUERY PLAN']).join('\n')
      assert.match(text, /hivemind_clients_live_api_key/, text)
    } finally {
      await client.end()
    }
  })

  it('names the database and a fix when it does not exist, and never shows the password', async () => {
    const store = await postgresBackend.create(optionsFor(database.url.replace(database.name, `${database.name}_missing`).replace('postgres@', 'postgres:s3cret@')), context)
    await assert.rejects(store.open(), (error) => {
      const {code, message, suggestion} = /** @type {any} */ (error)
      assert.equal(code, 'STORE_UNAVAILABLE')
      assert.match(message, /_missing/)
      assert.match(suggestion, /createdb/)
      assert.doesNotMatch(`${message} ${suggestion} ${store.location}`, /s3cret/)
      return true
    })
  })
})

describe('postgres backend with a pool of one connection', function () {
  this.timeout(60_000)

  it('opens (migrating a new database) and works', async () => {
    const database = await createThrowawayDatabase()
    try {
      const store = await postgresBackend.create({...optionsFor(database.url), poolSize: 1}, context)
      await store.open()
      try {
        assert.equal((await store.add({api_key: 'only'})).client_id, 1)
        assert.equal(await store.count(), 1)
      } finally {
        await store.close()
      }
    } finally {
      await database.drop()
    }
  })
})

describe('postgres backend under concurrent writers', function () {
  this.timeout(60_000)

  it('an add and a put of the id the add is about to take, from two connections, both complete', async () => {
    const database = await createThrowawayDatabase()
    const stores = [await openStore(database.url), await openStore(database.url)]
    try {
      // Rounds of: add (takes the next id) racing a put of that same id from another connection.
      // Before writers queued on one lock first, such a pair could deadlock (40P01).
      for (let round = 0; round < 20; round++) {
        const next = (await stores[0].count({includeRevoked: true})) + 1
        const outcomes = await Promise.allSettled([
          stores[0].add({api_key: `added-${round}`}),
          stores[1].put({...(await stores[1].add({api_key: `probe-${round}`})), client_id: next + 1, api_key: `put-${round}`}),
        ])
        for (const outcome of outcomes) assert.equal(outcome.status, 'fulfilled', outcome.status === 'rejected' ? String(outcome.reason) : '')
      }
      const ids = []
      for await (const record of stores[0].list({includeRevoked: true})) ids.push(record.client_id)
      assert.equal(new Set(ids).size, ids.length)
    } finally {
      for (const store of stores) await store.close()
      await database.drop()
    }
  })
})
