/**
 * The PostgreSQL example plugin (examples/hivemind-backend-postgres) installed into the BUILT CLI
 * with `plugins link`, then used by real CLI processes against the machine's PostgreSQL
 * (HIVEMIND_TEST_POSTGRES_URL, default postgres://postgres@127.0.0.1:5432/postgres), in a
 * throw-away database dropped afterwards. Its own tests (the conformance suite) run with its own
 * mocha: `npm test --prefix examples/hivemind-backend-postgres` (.ci/run does).
 *
 * Needs the example's dependencies: `npm ci --prefix examples/hivemind-backend-postgres`.
 */
import {writeFileSync} from 'node:fs'
import path from 'node:path'
import {fileURLToPath, pathToFileURL} from 'node:url'

import {expect} from 'chai'

import {canonicalJson, type ClientRecord} from '../../src/core/client.js'
import type {BackendDescriptor, ClientStore} from '../../src/core/store.js'
import {sqliteBackend} from '../../src/plugins/sqlite/index.js'
import {FakeBus} from '../helpers/fake-bus.js'
import {HiveTestClient} from '../helpers/hive-client.js'
import {startListener} from '../helpers/listener-process.js'
import {type CliSandbox, createSandbox} from '../helpers/sandbox.js'

const EXAMPLE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../examples/hivemind-backend-postgres')

/** The example's throw-away database helper (plain JS, resolves `pg` from the example's own node_modules). */
interface DatabaseHelper {
  createThrowawayDatabase(): Promise<{name: string; url: string; drop(): Promise<void>}>
  databaseExists(name: string): Promise<boolean>
}

describe('examples/hivemind-backend-postgres linked into the CLI', function () {
  this.timeout(120_000)
  let helper: DatabaseHelper
  let postgres: BackendDescriptor
  let sandbox: CliSandbox
  let database: Awaited<ReturnType<DatabaseHelper['createThrowawayDatabase']>>

  before(async () => {
    helper = (await import(pathToFileURL(path.join(EXAMPLE, 'test/database.js')).href)) as DatabaseHelper
    postgres = ((await import(pathToFileURL(path.join(EXAMPLE, 'src/index.js')).href)) as {postgresBackend: BackendDescriptor}).postgresBackend
  })

  beforeEach(async () => {
    sandbox = createSandbox()
    database = await helper.createThrowawayDatabase()
    // No --no-install here would run `npm install` in the example; .ci/run has installed it already.
    const linked = await sandbox.run(['plugins', 'link', '--no-install', EXAMPLE])
    expect(linked.code, linked.stderr).to.equal(0)
  })

  afterEach(async () => {
    sandbox.cleanup()
    await database.drop()
    expect(await helper.databaseExists(database.name)).to.equal(false)
  })

  /** Every record in the test database, read in-process through the plugin's own store. */
  const stored = () => readAll(postgres, {url: database.url, connectTimeoutMs: 5000, poolSize: 1})

  async function readAll(descriptor: BackendDescriptor, options: Record<string, unknown>): Promise<ClientRecord[]> {
    const store: ClientStore = await descriptor.create(options, {
      paths: {home: '', dataDir: '', configDir: '', stateDir: ''},
      mode: 'read',
      warn() {},
    })
    await store.open()
    try {
      const all: ClientRecord[] = []
      for await (const record of store.list({includeRevoked: true})) all.push(record)
      return all
    } finally {
      await store.close()
    }
  }

  it('list-backends shows postgres with its origin plugin, next to the built-in backends', async () => {
    const result = await sandbox.run(['list-backends', '--json'])
    expect(result.code, result.stderr).to.equal(0)
    const listed = JSON.parse(result.stdout) as {backends: Array<{name: string; plugin: string; builtIn: boolean}>; failures: unknown[]}
    expect(listed.backends.map((backend) => `${backend.name} ${backend.plugin}`)).to.deep.equal([
      'json hivemind-core',
      'postgres hivemind-backend-postgres',
      'redis hivemind-core',
      'sqlite hivemind-core',
    ])
    expect(listed.failures).to.deep.equal([])
  })

  it('add-client and list-clients go through it (--db-backend + HIVEMIND_POSTGRES_URL, then a config file)', async () => {
    const env = {HIVEMIND_POSTGRES_URL: database.url}
    const added = await sandbox.run(['add-client', '--db-backend', 'postgres', '--name', 'kitchen', '--json'], {env})
    expect(added.code, added.stderr).to.equal(0)
    expect(added.stderr).to.contain(`Database: postgres ${database.url} (backend from flag --db-backend, url from env HIVEMIND_POSTGRES_URL)`)
    const client = JSON.parse(added.stdout) as {client_id: number; api_key: string}
    expect(client.client_id).to.equal(1)

    writeFileSync(path.join(sandbox.home, '.hivemindrc.json'), JSON.stringify({database: {backend: 'postgres', postgres: {url: database.url}}}))
    const second = await sandbox.run(['add-client', '--name', 'garage', '--json'])
    expect(second.code, second.stderr).to.equal(0)
    expect(JSON.parse(second.stdout)).to.deep.include({client_id: 2, name: 'garage'})
    const listed = await sandbox.run(['list-clients', '--json'])
    expect(listed.code, listed.stderr).to.equal(0)
    expect((JSON.parse(listed.stdout) as Array<{client_id: number; name: string}>).map((entry) => `${entry.client_id} ${entry.name}`)).to.deep.equal(['1 kitchen', '2 garage'])

    // The records really are in PostgreSQL, and the sqlite default was never created.
    expect((await stored()).map((record) => [record.client_id, record.name, record.api_key === client.api_key])).to.deep.equal([[1, 'kitchen', true], [2, 'garage', false]])
    expect(sandbox.exists('.local/share/hivemind-core/clients.db')).to.equal(false)
  })

  it('migrate-db --from sqlite --to postgres copies every client with its id and tombstone, verified', async () => {
    for (const name of ['one', 'two', 'three']) {
      const added = await sandbox.run(['add-client', '--name', name, '--quiet'])
      expect(added.code, added.stderr).to.equal(0)
    }
    const revoked = await sandbox.run(['delete-client', '2', '--yes', '--quiet'])
    expect(revoked.code, revoked.stderr).to.equal(0)

    const migrated = await sandbox.run(['migrate-db', '--from', 'sqlite', '--to', 'postgres', '--to-option', `url=${database.url}`, '--json', '--quiet'])
    expect(migrated.code, migrated.stderr).to.equal(0)
    expect(JSON.parse(migrated.stdout)).to.deep.include({to: `postgres ${database.url}`, copied: 3, skipped: 0, verified: true})

    const inPostgres = await stored()
    expect(inPostgres.map((record) => [record.client_id, record.name, record.api_key === 'revoked'])).to.deep.equal([[1, 'one', false], [2, 'two', true], [3, 'three', false]])
    // Field for field what sqlite holds.
    const inSqlite = await readAll(sqliteBackend as unknown as BackendDescriptor, {path: path.join(sandbox.home, '.local/share/hivemind-core/clients.db'), busyTimeoutMs: 10_000})
    expect(inPostgres.map((record) => canonicalJson(record))).to.deep.equal(inSqlite.map((record) => canonicalJson(record)))

    // Then every command can use it; the next id continues after the copied ones.
    const next = await sandbox.run(['add-client', '--db-backend', 'postgres', '--name', 'four', '--json', '--quiet'], {env: {HIVEMIND_POSTGRES_URL: database.url}})
    expect(next.code, next.stderr).to.equal(0)
    expect(JSON.parse(next.stdout)).to.deep.include({client_id: 4})
  })

  it('linking it never changes which backend an existing config file selects', async () => {
    // The sandbox already has the plugin linked; compare with a fresh HOME without it.
    const bare = createSandbox()
    try {
      for (const box of [sandbox, bare]) {
        writeFileSync(path.join(box.home, '.hivemindrc.json'), JSON.stringify({database: {backend: 'json'}, listen: {port: 5999}}))
      }
      const selected = async (box: CliSandbox) => {
        const result = await box.run(['print-config', '--json'])
        expect(result.code, result.stderr).to.equal(0)
        return (JSON.parse(result.stdout) as {settings: Array<{key: string; value: unknown}>}).settings
          .filter((setting) => setting.key.startsWith('database.'))
          .map((setting) => [setting.key, String(setting.value).replace(box.home, '~')])
      }
      const withPlugin = await selected(sandbox)
      expect(withPlugin).to.deep.include(['database.backend', 'json'])
      expect(withPlugin).to.deep.equal(await selected(bare))
    } finally {
      bare.cleanup()
    }
  })

  it('serves a `listen` handshake through it; a revocation through it closes the satellite', async () => {
    writeFileSync(path.join(sandbox.home, '.hivemindrc.json'), JSON.stringify({database: {backend: 'postgres', postgres: {url: database.url}}}))
    const added = await sandbox.run(['add-client', '--name', 'kitchen', '--json', '--quiet'])
    expect(added.code, added.stderr).to.equal(0)
    const kitchen = JSON.parse(added.stdout) as {client_id: number; api_key: string; password: string}
    const bus = await FakeBus.start()
    const listener = await startListener(['--agent-url', bus.url], {env: sandbox.env, cwd: sandbox.home, timeoutMs: 30_000})
    try {
      expect(listener.stderr()).to.contain(`postgres ${database.url}`)
      const satellite = await HiveTestClient.connect({port: listener.port, accessKey: kitchen.api_key, password: kitchen.password})
      expect(satellite.serverHello?.payload.peer).to.match(/::/)
      const revoked = await sandbox.run(['delete-client', String(kitchen.client_id), '--yes', '--quiet'])
      expect(revoked.code, revoked.stderr).to.equal(0)
      expect((await satellite.waitClosed(5000)).code).to.equal(1008)
      const again = await HiveTestClient.open({port: listener.port, accessKey: kitchen.api_key})
      expect((await again.waitClosed()).code).to.equal(1008)
    } finally {
      expect(await listener.stop('SIGTERM')).to.equal(0)
      await bus.stop()
    }
  })
})
