/**
 * Which heavy libraries a command loads. A cold start is dominated by imports (TypeORM alone
 * costs more than the rest of a `list-clients` run), so commands import only what their path
 * needs. Checked by module resolution, never by time: a preload in the CLI process logs every
 * module it resolves (test/helpers/loaded-modules.ts).
 */
import {readFileSync} from 'node:fs'
import path from 'node:path'

import Database from 'better-sqlite3'
import {expect} from 'chai'

import {type CliResult, Sandbox} from '../helpers/cli.js'
import {writeModuleLogHook} from '../helpers/loaded-modules.js'
import {type RedisServer, startRedisServer} from '../helpers/redis-server.js'

/** Package directories, as they appear in resolved URLs. */
const TYPEORM = '/node_modules/typeorm/'
const BETTER_SQLITE3 = '/node_modules/better-sqlite3/'
const IOREDIS = '/node_modules/ioredis/'
const CSV = ['/node_modules/csv-parse/', '/node_modules/csv-stringify/']
const WRITE_FILE_ATOMIC = '/node_modules/write-file-atomic/'
/** The audit trail's own modules, as the built CLI resolves them. */
const AUDIT_MODULES = /\/dist\/audit\//

let runs = 0

/** Runs the CLI with a resolve hook and returns its result and every module URL it resolved. */
async function runLogged(sandbox: Sandbox, args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult & {loaded: string}> {
  const log = path.join(sandbox.root, `resolved-${++runs}.txt`)
  const hook = path.join(sandbox.root, `hook-${runs}.mjs`)
  writeModuleLogHook(hook, log)
  const result = await sandbox.run(args, {env: {...env, NODE_OPTIONS: `--import ${hook}`}})
  const loaded = readFileSync(log, 'utf8')
  expect(loaded, 'the hook ran in the CLI process').to.contain('hook installed')
  return {...result, loaded}
}

describe('libraries loaded by read-only commands', () => {
  let sandbox: Sandbox

  beforeEach(() => {
    sandbox = Sandbox.create()
  })

  afterEach(() => sandbox.cleanup())

  describe('sqlite', () => {
    it('list-clients and show-client on an up-to-date database do not load TypeORM; add-client does', async () => {
      const added = await runLogged(sandbox, ['add-client', '--name', 'kitchen', '-q'])
      expect(added.code, added.stderr).to.equal(0)
      // The control: the hook sees TypeORM when it is loaded (add-client writes through it).
      expect(added.loaded).to.contain(TYPEORM)

      const listed = await runLogged(sandbox, ['list-clients', '--json', '-q'])
      expect(listed.code, listed.stderr).to.equal(0)
      expect((JSON.parse(listed.stdout) as Array<{name: string}>).map((record) => record.name)).to.deep.equal(['kitchen'])
      expect(listed.loaded).to.contain(BETTER_SQLITE3)
      expect(listed.loaded).not.to.contain(TYPEORM)
      // Nothing is written by a listing: the atomic-write library stays unloaded too, and so does
      // the audit trail, which only records changes (add-client, the control, loads it).
      expect(listed.loaded).not.to.contain(WRITE_FILE_ATOMIC)
      expect(added.loaded).to.match(AUDIT_MODULES)
      expect(listed.loaded).not.to.match(AUDIT_MODULES)

      // Without --quiet the agreement guard counts the records too.
      const shown = await runLogged(sandbox, ['show-client', '1', '--json'])
      expect(shown.code, shown.stderr).to.equal(0)
      expect(JSON.parse(shown.stdout)).to.include({client_id: 1, name: 'kitchen'})
      expect(shown.loaded).not.to.contain(TYPEORM)
    })

    it('list-clients on an upstream clients.db still migrates it (through TypeORM) and lists it', async () => {
      const file = path.join(sandbox.root, 'upstream.db')
      const db = new Database(file)
      db.exec(`CREATE TABLE clients (client_id INTEGER PRIMARY KEY, api_key VARCHAR(255) NOT NULL, name VARCHAR(255),
        description VARCHAR(255), is_admin BOOLEAN DEFAULT FALSE, last_seen REAL DEFAULT -1, intent_blacklist TEXT,
        skill_blacklist TEXT, message_blacklist TEXT, allowed_types TEXT, crypto_key VARCHAR(16), password TEXT,
        can_broadcast BOOLEAN DEFAULT TRUE, can_escalate BOOLEAN DEFAULT TRUE, can_propagate BOOLEAN DEFAULT TRUE)`)
      db.prepare("INSERT INTO clients (client_id, api_key, name, allowed_types) VALUES (4, 'k4', 'old', '[]')").run()
      db.close()

      const listed = await runLogged(sandbox, ['list-clients', '--db-path', file, '--json', '-q'])
      expect(listed.code, listed.stderr).to.equal(0)
      expect(JSON.parse(listed.stdout)).to.have.length(1)
      expect(listed.loaded).to.contain(TYPEORM)
      const check = new Database(file, {readonly: true})
      try {
        const index = check.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND name = 'clients_live_api_key'").get()
        expect(index, 'the migrations ran').to.not.equal(undefined)
      } finally {
        check.close()
      }

      // Now up to date: the next read does not need TypeORM.
      const again = await runLogged(sandbox, ['list-clients', '--db-path', file, '--json', '-q'])
      expect(again.code, again.stderr).to.equal(0)
      expect(again.stdout).to.equal(listed.stdout)
      expect(again.loaded).not.to.contain(TYPEORM)
    })
  })

  it('list-clients on json loads no database driver, no CSV library and no atomic-write library', async () => {
    const added = await runLogged(sandbox, ['add-client', '--db-backend', 'json', '--name', 'kitchen', '-q'])
    expect(added.code, added.stderr).to.equal(0)
    // The control: writing the file loads the atomic-write library.
    expect(added.loaded).to.contain(WRITE_FILE_ATOMIC)
    const listed = await runLogged(sandbox, ['list-clients', '--db-backend', 'json', '--json', '-q'])
    expect(listed.code, listed.stderr).to.equal(0)
    expect(JSON.parse(listed.stdout)).to.have.length(1)
    for (const library of [TYPEORM, BETTER_SQLITE3, IOREDIS, ...CSV, WRITE_FILE_ATOMIC]) expect(listed.loaded, library).not.to.contain(library)
    // The control: export-clients --format csv does load the CSV writer.
    const exported = await runLogged(sandbox, ['export-clients', '--db-backend', 'json', '--format', 'csv', '-q'])
    expect(exported.code, exported.stderr).to.equal(0)
    expect(exported.loaded).to.contain(CSV[1])
  })

  describe('redis', () => {
    let redis: RedisServer

    before(async () => {
      redis = await startRedisServer()
    })

    after(async () => {
      await redis?.stop()
    })

    it('list-clients on redis loads ioredis only', async () => {
      const env = {HIVEMIND_DB_BACKEND: 'redis', HIVEMIND_REDIS_URL: redis.url}
      const added = await runLogged(sandbox, ['add-client', '--name', 'kitchen', '-q'], env)
      expect(added.code, added.stderr).to.equal(0)
      const listed = await runLogged(sandbox, ['list-clients', '--json', '-q'], env)
      expect(listed.code, listed.stderr).to.equal(0)
      expect(JSON.parse(listed.stdout)).to.have.length(1)
      expect(listed.loaded).to.contain(IOREDIS)
      for (const library of [TYPEORM, BETTER_SQLITE3, ...CSV]) expect(listed.loaded, library).not.to.contain(library)
    })
  })
})
