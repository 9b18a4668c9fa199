// @ts-check
/**
 * Throw-away PostgreSQL databases on the server the tests use: HIVEMIND_TEST_POSTGRES_URL, by
 * default postgres://postgres@127.0.0.1:5432/postgres (trust auth, as on the CI machines). Each
 * test run creates its own databases and drops them afterwards.
 */
import pg from 'pg'

/** The maintenance connection: any existing database of the server will do. */
export const ADMIN_URL = process.env.HIVEMIND_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'

let counter = 0

/** The URL of database `name` on the same server as ADMIN_URL. @param {string} name */
export function databaseUrl(name) {
  const url = new URL(ADMIN_URL)
  url.pathname = `/${name}`
  return url.toString()
}

/** @param {(client: pg.Client) => Promise<void>} work */
async function withAdmin(work) {
  const client = new pg.Client({connectionString: ADMIN_URL, connectionTimeoutMillis: 5000})
  await client.connect()
  try {
    await work(client)
  } finally {
    await client.end()
  }
}

/**
 * Creates an empty database with a unique name; returns its URL and how to drop it.
 * @returns {Promise<{name: string, url: string, drop: () => Promise<void>}>}
 */
export async function createThrowawayDatabase() {
  const name = `hivemind_test_${process.pid}_${Date.now().toString(36)}_${++counter}`
  // template0 accepts no connections, so a session connected to template1 (psql, another
  // tool) cannot make CREATE DATABASE fail with "source database is being accessed by other users".
  await withAdmin((client) => client.query(`CREATE DATABASE ${name} TEMPLATE template0 ENCODING 'UTF8'`).then(() => {}))
  return {
    name,
    url: databaseUrl(name),
    // WITH (FORCE): a connection a failed test left open must not keep the database alive.
    drop: () => withAdmin((client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).then(() => {})),
  }
}

/** Whether a database of that name exists. @param {string} name */
export async function databaseExists(name) {
  let found = false
  await withAdmin(async (client) => {
    found = (await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount === 1
  })
  return found
}
