import {type ChildProcess, spawn} from 'node:child_process'
import {createHash} from 'node:crypto'
import {chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import Database from 'better-sqlite3'
import {expect} from 'chai'

import {buildClient, canonicalJson, type ClientRecord} from '../../src/core/client.js'
import type {BackendDescriptor, ClientStore} from '../../src/core/store.js'
import {jsonBackend} from '../../src/plugins/json/index.js'
import {redisBackend} from '../../src/plugins/redis/index.js'
import {sqliteBackend} from '../../src/plugins/sqlite/index.js'
import {backendsUnderTest} from '../helpers/backends-under-test.js'
import {digestFiles, errorLine, expectCleanFailure, runCli} from '../helpers/cli.js'
import {type RedisServer, startRedisServer} from '../helpers/redis-server.js'
import {CLI, type CliSandbox, createSandbox} from '../helpers/sandbox.js'
import {variedClients} from '../helpers/varied-clients.js'
import {leaveHotJournal, writePythonClientsDb} from '../plugins/sqlite/helpers.js'

/** How each backend under test is opened in-process and named on the command line. */
interface BackendUnderTest {
  name: string
  descriptor: BackendDescriptor
  options(location: string): Record<string, unknown>
  /** --from-* / --to-* flags naming the location. */
  flags(side: 'from' | 'to', location: string): string[]
  /** A location inside the sandbox. */
  location(sandbox: CliSandbox, tag: string): string
  /** Whether anything is stored there yet. */
  exists(location: string): boolean
}

/** What `migrate-db --json` prints (the fields these tests compare). */
interface MigrateSummary {
  copied: number
  skipped: number
}

/** The tests' own redis-server (started in `before`). */
let redis: RedisServer | undefined
let prefixes = 0

const BACKENDS: Record<string, BackendUnderTest> = {
  json: {
    name: 'json',
    descriptor: jsonBackend as unknown as BackendDescriptor,
    options: (location) => ({path: location, lockStaleMs: 2000, lockWaitMs: 30_000}),
    flags: (side, location) => [`--${side}`, 'json', `--${side}-path`, location],
    location: (sandbox, tag) => path.join(sandbox.root, `${tag}.json`),
    exists: (location) => existsSync(location),
  },
  sqlite: {
    name: 'sqlite',
    descriptor: sqliteBackend as unknown as BackendDescriptor,
    options: (location) => ({path: location, busyTimeoutMs: 10_000}),
    flags: (side, location) => [`--${side}`, 'sqlite', `--${side}-path`, location],
    location: (sandbox, tag) => path.join(sandbox.root, `${tag}.db`),
    exists: (location) => existsSync(location),
  },
  redis: {
    name: 'redis',
    descriptor: redisBackend as unknown as BackendDescriptor,
    // A location is a key prefix on the test server: every test gets fresh, isolated hives.
    options: (location) => ({url: redis!.url, keyPrefix: location, connectTimeoutMs: 2000, reconnect: false}),
    flags: (side, location) => [`--${side}`, 'redis', `--${side}-redis-url`, redis!.url, `--${side}-option`, `keyPrefix=${location}`],
    location: (_sandbox, tag) => `t${++prefixes}-${process.pid}-${tag}:`,
    exists: () => true,
  },
}

const context = {paths: {home: '', dataDir: '', configDir: '', stateDir: ''}, mode: 'write' as const, warn() {}}

async function withStore<T>(backend: BackendUnderTest, location: string, work: (store: ClientStore) => Promise<T>): Promise<T> {
  const store = await backend.descriptor.create(backend.options(location), context)
  await store.open()
  try {
    return await work(store)
  } finally {
    await store.close()
  }
}

async function seed(backend: BackendUnderTest, location: string, records: ClientRecord[]): Promise<void> {
  await withStore(backend, location, (store) => store.putMany!(records))
}

/** Canonical JSON of every record, tombstones included, in id order. */
async function contents(backend: BackendUnderTest, location: string): Promise<string[]> {
  if (!backend.exists(location)) return []
  return withStore(backend, location, async (store) => {
    const all: string[] = []
    for await (const record of store.list({includeRevoked: true})) all.push(canonicalJson(record))
    return all
  })
}

function digest(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex')
}

describe('migrate-db', function () {
  this.timeout(120_000)
  let sandbox: CliSandbox

  before(async () => {
    redis = await startRedisServer()
  })

  after(async () => {
    await redis?.stop()
  })

  beforeEach(() => {
    sandbox = createSandbox()
  })

  afterEach(() => sandbox.cleanup())

  const migrate = (from: BackendUnderTest, fromLocation: string, to: BackendUnderTest, toLocation: string, extra: string[] = []) =>
    sandbox.run(['migrate-db', ...from.flags('from', fromLocation), ...to.flags('to', toLocation), '--quiet', ...extra])

  const names = ['sqlite', 'json', 'redis'] as const
  const pairs = names.flatMap((from) => names.map((to) => [from, to] as const))
  for (const [fromName, toName] of pairs) {
    it(`${fromName} → ${toName}: 1000 varied clients with their ids and tombstones, verified; a re-run is a no-op`, async () => {
      const from = BACKENDS[fromName]!
      const to = BACKENDS[toName]!
      const source = from.location(sandbox, 'source')
      const target = to.location(sandbox, 'target')
      const records = variedClients(1000)
      await seed(from, source, records)
      const before = await contents(from, source)
      expect(before).to.deep.equal(records.map((record) => canonicalJson(record)))

      const result = await migrate(from, source, to, target, ['--json'])
      expect(result.code, result.stderr).to.equal(0)
      const summary = JSON.parse(result.stdout) as Record<string, unknown>
      expect(Object.keys(summary).sort()).to.deep.equal(['copied', 'dryRun', 'durationMs', 'from', 'skipped', 'switched', 'to', 'verified'])
      const label = (backend: BackendUnderTest, location: string) => `${backend.name} ${backend.descriptor.describeLocation!(backend.options(location))}`
      expect(summary).to.deep.include({from: label(from, source), to: label(to, target), copied: 1000, skipped: 0, verified: true})
      expect(await contents(to, target)).to.deep.equal(before)
      expect(await contents(from, source)).to.deep.equal(before)

      const again = await migrate(from, source, to, target, ['--json'])
      expect(again.code, again.stderr).to.equal(0)
      expect(JSON.parse(again.stdout)).to.deep.include({copied: 0, skipped: 1000, verified: true})
    })
  }

  it('R11: json → sqlite → redis → json round trip keeps every record identical (canonical form)', async () => {
    const json = BACKENDS.json!
    const sqlite = BACKENDS.sqlite!
    const redisBackendUnderTest = BACKENDS.redis!
    const first = json.location(sandbox, 'first')
    const middle = sqlite.location(sandbox, 'middle')
    const remote = redisBackendUnderTest.location(sandbox, 'remote')
    const last = json.location(sandbox, 'last')
    await seed(json, first, variedClients(1000))
    expect((await migrate(json, first, sqlite, middle)).code).to.equal(0)
    expect((await migrate(sqlite, middle, redisBackendUnderTest, remote)).code).to.equal(0)
    expect((await migrate(redisBackendUnderTest, remote, json, last)).code).to.equal(0)
    expect(await contents(json, last)).to.deep.equal(await contents(json, first))
    // Same file format too: the JSON written at the end is byte-identical to the one we started from.
    expect(digest(last)).to.equal(digest(first))
  })

  describe('a target that already holds clients', () => {
    const json = BACKENDS.json!
    const sqlite = BACKENDS.sqlite!
    let source: string
    let target: string

    beforeEach(async () => {
      source = json.location(sandbox, 'source')
      target = sqlite.location(sandbox, 'target')
      await seed(json, source, variedClients(20))
    })

    it('is refused without flags (exit 3), and nothing changes on either side', async () => {
      await seed(sqlite, target, variedClients(3, 500))
      const sourceDigest = digest(source)
      const targetBefore = await contents(sqlite, target)
      const result = await migrate(json, source, sqlite, target)
      expect(result.code).to.equal(3)
      expect(result.stderr).to.contain(`sqlite ${target} is not empty: it holds 3 record(s), 3 of them not in the source`)
      expect(digest(source)).to.equal(sourceDigest)
      expect(await contents(sqlite, target)).to.deep.equal(targetBefore)
    })

    it('--merge adds the missing records and accepts identical ones; a conflicting one is an error naming it', async () => {
      const all = variedClients(20)
      await seed(sqlite, target, [...all.slice(0, 5), ...variedClients(2, 500)])
      const merged = await migrate(json, source, sqlite, target, ['--merge', '--json'])
      expect(merged.code, merged.stderr).to.equal(0)
      expect(JSON.parse(merged.stdout)).to.deep.include({copied: 15, skipped: 5})
      expect(await contents(sqlite, target)).to.have.length(22)

      await withStore(sqlite, target, (store) => store.update(3, {name: 'changed in the target'}))
      const before = await contents(sqlite, target)
      const conflict = await migrate(json, source, sqlite, target, ['--merge'])
      expect(conflict.code).to.equal(3)
      expect(conflict.stderr).to.contain('1 record(s) that differ from the source: 3 (name)')
      expect(await contents(sqlite, target)).to.deep.equal(before)
    })

    it('--force replaces the target contents with the source', async () => {
      const conflicting = variedClients(5).map((record) => ({...record, name: `target ${record.client_id}`}))
      await seed(sqlite, target, [...conflicting, ...variedClients(2, 500)])
      const result = await migrate(json, source, sqlite, target, ['--force'])
      expect(result.code, result.stderr).to.equal(0)
      expect(await contents(sqlite, target)).to.deep.equal(await contents(json, source))
    })

    it('--force --dry-run reports what the real --force run then does (a target with extra records is emptied and refilled)', async () => {
      await seed(sqlite, target, [...variedClients(5), ...variedClients(1, 500)])
      const before = await contents(sqlite, target)
      const dry = await migrate(json, source, sqlite, target, ['--force', '--dry-run', '--json'])
      expect(dry.code, dry.stderr).to.equal(0)
      expect(await contents(sqlite, target)).to.deep.equal(before)
      const real = await migrate(json, source, sqlite, target, ['--force', '--json'])
      expect(real.code, real.stderr).to.equal(0)
      const pick = (stdout: string) => {
        const {copied, skipped} = JSON.parse(stdout) as MigrateSummary
        return {copied, skipped}
      }
      expect(pick(dry.stdout)).to.deep.equal(pick(real.stdout)).and.to.deep.equal({copied: 20, skipped: 0})
      await seed(sqlite, target, variedClients(1, 500))
      const said = await migrate(json, source, sqlite, target, ['--force', '--dry-run'])
      expect(said.stdout).to.contain('Dry run: would copy 20 record(s) (the target would be emptied first (1 record(s) not in the source removed, 0 replaced) and all 20 record(s) of the source copied)')
    })

    it('--dry-run reports and writes nothing (digests of both sides unchanged)', async () => {
      await seed(sqlite, target, variedClients(5))
      const sourceDigest = digest(source)
      const targetBefore = await contents(sqlite, target)
      const result = await migrate(json, source, sqlite, target, ['--dry-run', '--merge'])
      expect(result.code, result.stderr).to.equal(0)
      expect(result.stdout).to.contain('Dry run: would copy 15 record(s)')
      expect(digest(source)).to.equal(sourceDigest)
      expect(await contents(sqlite, target)).to.deep.equal(targetBefore)
      const missingTarget = sqlite.location(sandbox, 'never-created')
      expect((await migrate(json, source, sqlite, missingTarget, ['--dry-run'])).code).to.equal(0)
      expect(existsSync(missingTarget)).to.equal(false)
      // With --switch it says what the switch would do, and does not do it.
      const config = path.join(sandbox.home, '.config/hivemind/config.json')
      const switching = await migrate(json, source, sqlite, missingTarget, ['--dry-run', '--switch'])
      expect(switching.code, switching.stderr).to.equal(0)
      expect(switching.stdout).to.contain(`--switch would then point ${config} at sqlite (created).`)
      expect(existsSync(config)).to.equal(false)
      expect(existsSync(missingTarget)).to.equal(false)
    })
  })

  it('an upstream install: migrate-db --to sqlite --switch needs no flags, and then every command uses sqlite', async () => {
    const dataDir = path.join(sandbox.home, '.local/share/hivemind-core')
    mkdirSync(dataDir, {recursive: true})
    const upstream = path.join(dataDir, 'clients.json')
    await seed(BACKENDS.json!, upstream, variedClients(30))
    const before = await contents(BACKENDS.json!, upstream)
    const result = await sandbox.run(['migrate-db', '--to', 'sqlite', '--switch'])
    expect(result.code, result.stderr).to.equal(0)
    expect(result.stderr).to.contain(`Source: json ${upstream} (from default: ${upstream} exists`)
    const userConfig = path.join(sandbox.home, '.config/hivemind/config.json')
    expect(result.stdout).to.contain(`Switched: ${userConfig} now selects sqlite (created)`)
    expect(JSON.parse(readFileSync(userConfig, 'utf8'))).to.deep.equal({database: {backend: 'sqlite'}})
    const listed = await sandbox.run(['list-clients', '--json', '--all', '--show-secrets'])
    expect(listed.stderr).to.contain(`Database: sqlite ${path.join(dataDir, 'clients.db')}`)
    expect((JSON.parse(listed.stdout) as ClientRecord[]).map((record) => canonicalJson(record))).to.deep.equal(before)
    // The upstream file was only read.
    expect(await contents(BACKENDS.json!, upstream)).to.deep.equal(before)
    // The same command now names sqlite as both source and target: a usage error like any other
    // (exit 2), however it came about, and it says so.
    const again = await sandbox.run(['migrate-db', '--to', 'sqlite'])
    expect(again.code, again.stderr).to.equal(2)
    expect(again.stderr).to.contain(`source and target are the same database (sqlite ${path.join(dataDir, 'clients.db')}); commands use it now`)
    expect(again.stderr).to.contain(`it was migrated from json ${upstream}`)
    expect(again.stdout).to.equal('')
  })

  it('an upstream install migrated without --switch: it says that commands now use the new database, and --switch then records it', async () => {
    const dataDir = path.join(sandbox.home, '.local/share/hivemind-core')
    mkdirSync(dataDir, {recursive: true})
    const upstream = path.join(dataDir, 'clients.json')
    const sqliteFile = path.join(dataDir, 'clients.db')
    await seed(BACKENDS.json!, upstream, variedClients(5))
    const result = await sandbox.run(['migrate-db', '--to', 'sqlite'])
    expect(result.code, result.stderr).to.equal(0)
    // Creating clients.db changed the default: print-config agrees with what was said.
    const note = `${sqliteFile} exists, so ${upstream} beside it is not used`
    expect(result.stdout).to.contain(`Commands now use the new database sqlite ${sqliteFile} (default: ${note}); nothing needs switching.`)
    expect(result.stdout).to.not.contain('still use')
    const where = await sandbox.run(['print-config', '--json'])
    expect(JSON.parse(where.stdout).settings).to.deep.include.members([{key: 'database.backend', value: 'sqlite', source: {kind: 'default', note}, from: `default: ${note}`}])
    // Recording it explicitly: name the source, as the default now is the target.
    const switched = await sandbox.run(['migrate-db', '--from', 'json', '--to', 'sqlite', '--switch', '--json'])
    expect(switched.code, switched.stderr).to.equal(0)
    const userConfig = path.join(sandbox.home, '.config/hivemind/config.json')
    expect(JSON.parse(switched.stdout)).to.deep.include({switched: userConfig, verified: true})
    expect(JSON.parse(readFileSync(userConfig, 'utf8'))).to.deep.equal({database: {backend: 'sqlite'}})
  })

  it('--switch creates the per-user config directory 0700 and the file 0600 (umask 022); an existing directory keeps its mode', async () => {
    const json = BACKENDS.json!
    const source = json.location(sandbox, 'source')
    await seed(json, source, variedClients(3))
    const args = ['migrate-db', ...json.flags('from', source), '--to', 'sqlite', '--to-path', path.join(sandbox.root, 'hive.db'), '--switch', '--quiet']
    const result = await runCli(args, {env: sandbox.env, cwd: sandbox.home, umask: 0o022})
    expect(result.code, result.stderr).to.equal(0)
    const dir = path.join(sandbox.home, '.config/hivemind')
    expect(statSync(dir).mode & 0o777).to.equal(0o700)
    expect(statSync(path.join(dir, 'config.json')).mode & 0o777).to.equal(0o600)

    rmSync(dir, {recursive: true})
    mkdirSync(dir, {mode: 0o750})
    chmodSync(dir, 0o750)
    const again = await runCli(args, {env: sandbox.env, cwd: sandbox.home, umask: 0o022})
    expect(again.code, again.stderr).to.equal(0)
    expect(statSync(dir).mode & 0o777).to.equal(0o750)
  })

  it('--switch rewrites the project config atomically and keeps a backup; YAML comments survive', async () => {
    const project = path.join(sandbox.home, 'project')
    mkdirSync(project)
    const config = path.join(project, '.hivemindrc')
    writeFileSync(config, '# our hive\ndatabase:\n  backend: json # old\n  json:\n    path: ./clients.json\n')
    const json = BACKENDS.json!
    await seed(json, path.join(project, 'clients.json'), variedClients(10))
    const target = path.join(project, 'hive.db')
    const result = await sandbox.run(['migrate-db', '--to', 'sqlite', '--to-path', target, '--switch', '--quiet'], {cwd: project})
    expect(result.code, result.stderr).to.equal(0)
    const text = readFileSync(config, 'utf8')
    // The target is in the project: written relative to the config file, as the project's other paths are.
    expect(text).to.contain('# our hive').and.to.contain('backend: sqlite').and.to.contain('path: ./hive.db')
    expect(readdirSync(project).filter((entry) => entry.endsWith('.bak'))).to.have.length(1)
    const listed = await sandbox.run(['list-clients', '--json', '--quiet'], {cwd: project})
    expect(JSON.parse(listed.stdout)).to.have.length(9)
    const where = await sandbox.run(['print-config', '--json'], {cwd: project})
    expect(JSON.parse(where.stdout).settings).to.deep.include.members([{key: 'database.sqlite.path', value: target, source: {kind: 'file', path: config, key: 'database.sqlite.path'}, from: './.hivemindrc database.sqlite.path'}])
    // Run again (a deploy step): the file already says it; no rewrite, no second, identical backup.
    const switchedText = readFileSync(config, 'utf8')
    const again = await sandbox.run(['migrate-db', '--from', 'json', '--from-path', path.join(project, 'clients.json'), '--to', 'sqlite', '--to-path', target, '--switch'], {cwd: project})
    expect(again.code, again.stderr).to.equal(0)
    expect(again.stdout).to.contain(`Switched: ${config} now selects sqlite already; left as it was.`)
    expect(readFileSync(config, 'utf8')).to.equal(switchedText)
    expect(readdirSync(project).filter((entry) => entry.endsWith('.bak'))).to.have.length(1)
  })

  it('--switch while HIVEMIND_DB_BACKEND / HIVEMIND_DB_PATH select the old database: the file is switched, and a warning names the variables that still win', async () => {
    const json = BACKENDS.json!
    const source = path.join(sandbox.root, 'old.json')
    await seed(json, source, variedClients(3))
    const env = {HIVEMIND_DB_BACKEND: 'json', HIVEMIND_DB_PATH: source}
    const result = await sandbox.run(['migrate-db', '--to', 'sqlite', '--switch'], {env})
    expect(result.code, result.stderr).to.equal(0)
    expect(result.stdout).to.match(/^Switched: .*config\.json now selects sqlite \(created\)\.$/m)
    expect(result.stderr).to.contain(`Warning: commands still use json ${source} (env HIVEMIND_DB_BACKEND), not the new database: the environment outranks the config file. Unset HIVEMIND_DB_BACKEND, HIVEMIND_DB_PATH where commands run`)
    // Without the variables, commands use the new database and nothing is said.
    const plain = await sandbox.run(['migrate-db', '--from', 'json', '--from-path', source, '--to', 'sqlite', '--switch'])
    expect(plain.code, plain.stderr).to.equal(0)
    expect(plain.stderr).not.to.contain('Warning')
  })

  it('--switch with a JavaScript config file is refused before anything is copied (it could not be rewritten afterwards)', async () => {
    const project = path.join(sandbox.home, 'project')
    mkdirSync(project)
    const json = BACKENDS.json!
    const source = path.join(project, 'clients.json')
    await seed(json, source, variedClients(3))
    writeFileSync(path.join(project, '.hivemindrc.cjs'), `module.exports = {database: {backend: 'json', json: {path: ${JSON.stringify(source)}}}}\n`)
    const target = path.join(project, 'hive.db')
    const result = await sandbox.run(['migrate-db', '--to', 'sqlite', '--to-path', target, '--switch'], {cwd: project})
    expect(result.code).to.equal(1)
    expect(errorLine(result)).to.equal(`Error: ${path.join(project, '.hivemindrc.cjs')} is a JavaScript config file; --switch cannot rewrite it`)
    expect(result.stderr).to.contain(`Hint: run without --switch, then set {"database":{"backend":"sqlite","sqlite":{"path":"${target}"}}} in it by hand`)
    expect(existsSync(target)).to.equal(false)
    expect(existsSync(path.join(sandbox.home, '.local/state/hivemind-core/migrations.json'))).to.equal(false)
  })

  it('without --switch it prints the exact setting to change', async () => {
    const json = BACKENDS.json!
    const source = json.location(sandbox, 'source')
    await seed(json, source, variedClients(3))
    const target = path.join(sandbox.root, 'hive.db')
    const result = await sandbox.run(['migrate-db', '--from', 'json', '--from-path', source, '--to', 'sqlite', '--to-path', target, '--quiet'])
    expect(result.code, result.stderr).to.equal(0)
    expect(result.stdout).to.contain(`{"database":{"backend":"sqlite","sqlite":{"path":"${target}"}}}`)
  })

  it('a hint about the source or the target names that side\'s flags (--from-path, --to-redis-url…), not --db-path or --redis-url', async () => {
    const json = BACKENDS.json!
    const source = json.location(sandbox, 'source')
    await seed(json, source, variedClients(3))
    const directory = path.join(sandbox.root, 'a-directory')
    mkdirSync(directory)
    const notADatabase = path.join(sandbox.root, 'not-a-database.db')
    writeFileSync(notADatabase, 'x'.repeat(4096))
    const cases: Array<[string[], string]> = [
      [['--from', 'json', '--from-path', source, '--to', 'json', '--to-path', directory], 'Hint: check the database path (--to-path, database.json.path)'],
      [['--from', 'sqlite', '--from-path', notADatabase, '--to', 'json', '--to-path', path.join(sandbox.root, 'new.json')], 'Hint: check --from-path / database.sqlite.path'],
      [['--from', 'json', '--from-path', source, '--to', 'sqlite', '--to-path', notADatabase], 'Hint: check --to-path / database.sqlite.path'],
      // Nothing listens on port 1.
      [['--from', 'json', '--from-path', source, '--to', 'redis', '--to-redis-url', 'redis://127.0.0.1:1/0'], 'Hint: start redis-server, or check --to-redis-url / --to-redis-host / --to-redis-port (database.redis.* in the config file)'],
    ]
    const before = digestFiles([source, notADatabase])
    for (const [args, hint] of cases) {
      const result = await sandbox.run(['migrate-db', ...args, '--quiet'])
      expectCleanFailure(result, 1)
      expect(result.stderr.split('\n'), args.join(' ')).to.include(hint)
    }
    // The current database as the source (no --from): its hint names --db-path, the flag that selects it.
    const current = await sandbox.run(['migrate-db', '--db-backend', 'sqlite', '--db-path', notADatabase, '--to', 'json', '--to-path', path.join(sandbox.root, 'new.json'), '--quiet'])
    expectCleanFailure(current, 1)
    expect(current.stderr.split('\n')).to.include('Hint: check --db-path / database.sqlite.path')
    expect(digestFiles([source, notADatabase])).to.equal(before)
    expect(existsSync(path.join(sandbox.root, 'new.json'))).to.equal(false)
    // A mistyped option key of one side names that side's flag in the error itself.
    const typo = await sandbox.run(['migrate-db', '--from', 'json', '--from-path', source, '--to', 'json', '--to-path', path.join(sandbox.root, 'new.json'), '--to-option', 'lockwaitms=5'])
    expectCleanFailure(typo, 1)
    expect(typo.stderr.split('\n')).to.include('Error: --to-option: the json backend has no option "lockwaitms"')
    expect(typo.stderr).to.contain('Hint: did you mean lockWaitMs?')
    // A value the backend refuses when it opens names this side's flag too.
    const badUrl = await sandbox.run(['migrate-db', '--from', 'json', '--from-path', source, '--to', 'redis', '--to-redis-url', 'http://cache:6379/0', '--quiet'])
    expectCleanFailure(badUrl, 1)
    expect(badUrl.stderr.split('\n')[0]).to.equal('Error: flag --to-redis-url: the Redis URL must start with redis:// or rediss://, not http://')
  })

  describe('a Redis password inside --to-redis-url', () => {
    const password = 's3cretPW'
    let guarded: RedisServer

    before(async () => {
      guarded = await startRedisServer({password})
    })

    after(async () => {
      await guarded?.stop()
    })

    const urlWithPassword = () => `redis://:${password}@127.0.0.1:${guarded.port}/2`

    it('is left out of the printed setting (which can then be pasted as it is) and said where to go instead', async () => {
      const json = BACKENDS.json!
      const source = json.location(sandbox, 'source')
      await seed(json, source, variedClients(3))
      const result = await sandbox.run(['migrate-db', ...json.flags('from', source), '--to', 'redis', '--to-redis-url', urlWithPassword(), '--to-option', 'keyPrefix=hint:'])
      expect(result.code, result.stderr).to.equal(0)
      expect(result.stdout + result.stderr).to.not.contain(password)
      expect(result.stdout).to.contain(`"url":"redis://127.0.0.1:${guarded.port}/2"`)
      expect(result.stdout).to.contain('set HIVEMIND_REDIS_PASSWORD in the environment, or database.redis.password in')
    })

    it('--switch --json: the summary on stdout, and where the password goes on stderr (it is not in the file)', async () => {
      const json = BACKENDS.json!
      const source = json.location(sandbox, 'source')
      await seed(json, source, variedClients(3))
      const result = await sandbox.run(['migrate-db', ...json.flags('from', source), '--to', 'redis', '--to-redis-url', urlWithPassword(), '--to-option', 'keyPrefix=jsonswitch:', '--switch', '--json', '--quiet'])
      expect(result.code, result.stderr).to.equal(0)
      expect(JSON.parse(result.stdout)).to.deep.include({copied: 3, verified: true})
      expect(result.stderr).to.contain('set HIVEMIND_REDIS_PASSWORD in the environment, or database.redis.password in')
      expect(result.stdout + result.stderr).to.not.contain(password)
    })

    it('--switch stores the URL without its password, and commands then work with HIVEMIND_REDIS_PASSWORD', async () => {
      const json = BACKENDS.json!
      const source = json.location(sandbox, 'source')
      await seed(json, source, variedClients(3))
      const result = await sandbox.run(['migrate-db', ...json.flags('from', source), '--to', 'redis', '--to-redis-url', urlWithPassword(), '--to-option', 'keyPrefix=switched:', '--switch'])
      expect(result.code, result.stderr).to.equal(0)
      expect(result.stdout + result.stderr).to.not.contain(password)
      const config = path.join(sandbox.home, '.config/hivemind/config.json')
      const text = readFileSync(config, 'utf8')
      expect(text).to.not.contain(password)
      expect(JSON.parse(text)).to.deep.equal({database: {backend: 'redis', redis: {url: `redis://127.0.0.1:${guarded.port}/2`, keyPrefix: 'switched:'}}})
      expect(result.stdout).to.contain('set HIVEMIND_REDIS_PASSWORD in the environment, or database.redis.password in')
      // The file's URL without the password is still the new database: no "commands still use" warning.
      expect(result.stderr).to.not.contain('commands still use')
      const listed = await sandbox.run(['list-clients', '--json', '--all', '--quiet'], {env: {HIVEMIND_REDIS_PASSWORD: password}})
      expect(listed.code, listed.stderr).to.equal(0)
      expect(JSON.parse(listed.stdout)).to.have.length(3)
    })

    it('--switch with the password in the environment says that the variable is not written and must stay set', async () => {
      const json = BACKENDS.json!
      const source = json.location(sandbox, 'source')
      await seed(json, source, variedClients(2))
      const result = await sandbox.run(['migrate-db', ...json.flags('from', source), '--to', 'redis', '--to-redis-url', guarded.url, '--to-option', 'keyPrefix=envpw:', '--switch'], {env: {HIVEMIND_REDIS_PASSWORD: password}})
      expect(result.code, result.stderr).to.equal(0)
      expect(result.stdout).to.contain('HIVEMIND_REDIS_PASSWORD (from the environment) is not written there: keep it set where commands run.')
      expect(result.stderr).to.not.contain('commands still use')
    })
  })

  it('after verification failed because the source changed during the copy (exit 4), the same command resumes: rewrites what differs, exit 0', async () => {
    const json = BACKENDS.json!
    const sqlite = BACKENDS.sqlite!
    const source = json.location(sandbox, 'source')
    const target = sqlite.location(sandbox, 'target')
    await seed(json, source, variedClients(4000))
    // One record per transaction: the copy takes seconds, long enough to change the source meanwhile.
    const args = [...json.flags('from', source), ...sqlite.flags('to', target), '--quiet', '--batch-size', '1']
    const running = sandbox.run(['migrate-db', ...args])
    // The mark is written after the plan has read the source and before the first record is copied.
    const marks = path.join(sandbox.home, '.local/state/hivemind-core/migrations.json')
    while (!(existsSync(marks) && readFileSync(marks, 'utf8').includes('"incomplete"'))) await new Promise((resolve) => setTimeout(resolve, 20))
    // The copy waits for this write lock on the target while the source changes: without it, a
    // copy that outran the change (a busy machine, CI) verified clean and the test failed.
    const holder = new Database(target, {timeout: 10_000})
    try {
      holder.exec('BEGIN IMMEDIATE')
      await withStore(json, source, (store) => store.update(1, {name: 'changed during the copy'}))
    } finally {
      if (holder.inTransaction) holder.exec('ROLLBACK')
      holder.close()
    }
    const failed = await running
    expect(failed.code, failed.stderr).to.equal(4)
    expect(failed.stderr).to.contain('different: 1 (name)').and.to.contain('re-run the same command (it resumes)')

    const resumed = await sandbox.run(['migrate-db', ...args, '--json'])
    expect(resumed.code, resumed.stderr).to.equal(0)
    expect(JSON.parse(resumed.stdout)).to.deep.include({copied: 1, skipped: 3999, verified: true})
    expect(await contents(sqlite, target)).to.deep.equal(await contents(json, source))
    // No longer marked incomplete: other commands stop warning.
    const shown = await sandbox.run(['show-client', '1', '--json', '--db-backend', 'sqlite', '--db-path', target])
    expect(shown.code, shown.stderr).to.equal(0)
    expect(shown.stderr).to.not.contain('INCOMPLETE')
    expect(JSON.parse(shown.stdout)).to.deep.include({name: 'changed during the copy'})
  })

  it('an empty current database while the upstream clients.json beside it holds clients: a warning naming it, and --switch refuses (exit 3) instead of pointing every command at an empty hive', async () => {
    const json = BACKENDS.json!
    const sqlite = BACKENDS.sqlite!
    const data = path.join(sandbox.home, '.local/share/hivemind-core')
    mkdirSync(data, {recursive: true})
    await seed(json, path.join(data, 'clients.json'), variedClients(3))
    // An empty clients.db beside it: now the default, and empty.
    await seed(sqlite, path.join(data, 'clients.db'), [])
    const target = sqlite.location(sandbox, 'target')
    const plain = await sandbox.run(['migrate-db', '--to', 'sqlite', '--to-path', target])
    expect(plain.code, plain.stderr).to.equal(0)
    expect(plain.stderr).to.contain('is empty, but:').and.to.contain(`${path.join(data, 'clients.json')} holds 3 client(s)`)
    const switched = await sandbox.run(['migrate-db', '--to', 'sqlite', '--to-path', sqlite.location(sandbox, 'other'), '--switch'])
    expect(switched.code, switched.stderr).to.equal(3)
    expect(switched.stderr).to.contain('--switch would point every command at a copy of an empty hive')
    expect(existsSync(path.join(sandbox.home, '.config/hivemind-core/config.json'))).to.equal(false)
  })

  it('without --switch, the setting to paste works where it is pasted: under "hivemind" in a package.json; and the environment that outranks it is named', async () => {
    const json = BACKENDS.json!
    const project = path.join(sandbox.root, 'project')
    mkdirSync(project)
    await seed(json, path.join(project, 'hub.json'), variedClients(2))
    writeFileSync(path.join(project, 'package.json'), JSON.stringify({name: 'hub', hivemind: {database: {backend: 'json', json: {path: 'hub.json'}}}}))
    const inPackage = await sandbox.run(['migrate-db', '--to', 'sqlite', '--to-path', path.join(project, 'hub.db'), '--quiet'], {cwd: project})
    expect(inPackage.code, inPackage.stderr).to.equal(0)
    expect(inPackage.stdout).to.contain(`set in ${path.join(project, 'package.json')}: {"hivemind":{"database":{"backend":"sqlite"`)
    const byEnvironment = await sandbox.run(['migrate-db', '--to', 'sqlite', '--to-path', path.join(sandbox.root, 'env.db'), '--quiet'], {env: {HIVEMIND_DB_BACKEND: 'json', HIVEMIND_DB_PATH: path.join(project, 'hub.json')}})
    expect(byEnvironment.code, byEnvironment.stderr).to.equal(0)
    expect(byEnvironment.stdout).to.contain('The environment outranks the config file: unset HIVEMIND_DB_BACKEND, HIVEMIND_DB_PATH where commands run as well.')
    const byFlag = await sandbox.run(['migrate-db', '--db-backend', 'json', '--db-path', path.join(project, 'hub.json'), '--to', 'sqlite', '--to-path', path.join(sandbox.root, 'flag.db'), '--quiet'])
    expect(byFlag.code, byFlag.stderr).to.equal(0)
    expect(byFlag.stdout).to.contain(`Commands still use json ${path.join(project, 'hub.json')} (backend from flag --db-backend, path from flag --db-path)`)
  })

  it('a source that is itself an incomplete migration is named as such', async () => {
    const json = BACKENDS.json!
    const sqlite = BACKENDS.sqlite!
    const source = json.location(sandbox, 'source')
    const middle = sqlite.location(sandbox, 'middle')
    await seed(json, source, variedClients(3))
    expect((await migrate(json, source, sqlite, middle)).code).to.equal(0)
    const marks = path.join(sandbox.home, '.local/state/hivemind-core/migrations.json')
    const content = JSON.parse(readFileSync(marks, 'utf8')) as Record<string, {state: string}>
    content[`sqlite ${middle}`]!.state = 'incomplete'
    writeFileSync(marks, JSON.stringify(content))
    const onward = await migrate(sqlite, middle, json, json.location(sandbox, 'onward'), [])
    expect(onward.stderr).to.contain(`Warning: the source is itself an INCOMPLETE migration from json ${source}`)
  })

  it('--merge onto a target whose own client holds the access key of a client to copy: the dry run and the real run both refuse (exit 3, MIGRATION_REFUSED), naming both ids; nothing written', async () => {
    const json = BACKENDS.json!
    const sqlite = BACKENDS.sqlite!
    const source = json.location(sandbox, 'source')
    const target = sqlite.location(sandbox, 'target')
    await seed(json, source, [1, 2, 3].map((id) => buildClient(id, {api_key: `key-${id}`, name: `s${id}`})))
    await seed(sqlite, target, [buildClient(1, {api_key: 'key-1', name: 's1'}), buildClient(10, {api_key: 'key-3', name: 'other'})])
    const before = await contents(sqlite, target)
    for (const extra of [['--dry-run'], []]) {
      const result = await migrate(json, source, sqlite, target, ['--merge', '--json', ...extra])
      expect(result.code, result.stderr).to.equal(3)
      const {error} = JSON.parse(result.stdout) as {error: {code: string; message: string; suggestion: string}}
      expect(error.code).to.equal('MIGRATION_REFUSED')
      expect(error.message).to.contain("holds 1 client(s) of its own with the access key of a client to copy: 3 (its access key is client 10's there)")
      expect(error.suggestion).not.to.contain('--access-key')
      expect(result.stdout + result.stderr).not.to.contain('key-3')
    }
    expect(await contents(sqlite, target)).to.deep.equal(before)
  })

  it('a client deleted from the source after a completed migration: exit 3 naming it (the target still lets it in), and --force brings the target back to the source', async () => {
    const json = BACKENDS.json!
    const sqlite = BACKENDS.sqlite!
    const source = json.location(sandbox, 'source')
    const target = sqlite.location(sandbox, 'target')
    await seed(json, source, variedClients(5))
    expect((await migrate(json, source, sqlite, target)).code).to.equal(0)
    // Deleted by hand (a store only revokes): the clients file without client 3.
    const document = JSON.parse(readFileSync(source, 'utf8')) as Record<string, unknown>
    delete document['3']
    writeFileSync(source, JSON.stringify(document, null, 4))
    const refused = await migrate(json, source, sqlite, target)
    expect(refused.code, refused.stderr).to.equal(3)
    expect(refused.stderr).to.contain('no longer has 1 client(s) it had when it was migrated').and.to.contain('ids 3.').and.to.contain('their access keys still work there')
    const forced = await migrate(json, source, sqlite, target, ['--force'])
    expect(forced.code, forced.stderr).to.equal(0)
    expect(await contents(sqlite, target)).to.deep.equal(await contents(json, source))
  })

  for (const toName of ['json', 'sqlite', 'redis'] as const) {
    it(`while a migration copies into ${toName}, add-client there is refused and changes nothing; a client a process that opened the target earlier adds is never overwritten`, async () => {
      const json = BACKENDS.json!
      const to = BACKENDS[toName]!
      const source = json.location(sandbox, 'source')
      const target = to.location(sandbox, 'target')
      // One record per write: enough of them that the copy is still running seconds later
      // (a json write rewrites the whole file, so it needs far fewer).
      const count = toName === 'json' ? 800 : 20_000
      await seed(json, source, variedClients(count))
      const running = sandbox.run(['migrate-db', ...json.flags('from', source), ...to.flags('to', target), '--quiet', '--batch-size', '1'])
      const marks = path.join(sandbox.home, '.local/state/hivemind-core/migrations.json')
      while (!(existsSync(marks) && readFileSync(marks, 'utf8').includes('"incomplete"'))) await new Promise((resolve) => setTimeout(resolve, 20))
      const dbFlags = backendsUnderTest(() => redis)[toName].dbFlags(target)
      const refused = await sandbox.run(['add-client', '--name', 'tablet', '--quiet', ...dbFlags])
      expect(refused.code, refused.stderr).to.equal(1)
      expect(refused.stderr).to.contain('this database is an INCOMPLETE migration from json').and.to.contain('nothing was changed')
      // What the refusal cannot stop: a process that had the target open already. Where the
      // target has an id counter, its client gets an id past every id being copied.
      const late = toName === 'json' ? undefined : await withStore(to, target, (store) => store.add({api_key: 'opened-before-the-mark', name: 'late'}))
      const finished = await running
      if (late) {
        expect(late.client_id).to.be.greaterThan(count)
        // The target now holds a client the source has not: not presented as done.
        expect(finished.code, finished.stderr).to.equal(4)
        expect((await contents(to, target)).some((record) => record.includes('opened-before-the-mark'))).to.equal(true)
      } else {
        expect(finished.code, finished.stderr).to.equal(0)
        expect(await contents(to, target)).to.deep.equal(await contents(json, source))
      }
    })
  }

  for (const [fromName, toName] of [['sqlite', 'redis'], ['redis', 'sqlite']] as const) {
    it(`${fromName} → ${toName}: the id counter comes along, so ids of clients removed from the source are not handed out again`, async () => {
      const from = BACKENDS[fromName]!
      const to = BACKENDS[toName]!
      const source = from.location(sandbox, 'source')
      const target = to.location(sandbox, 'target')
      // Clients 4-50 existed once and were removed (e.g. replaced by a migrate-db --force): the counter remembers them.
      await withStore(from, source, async (store) => {
        await store.putMany!(variedClients(3))
        await store.reserveIds!(50)
      })
      const migrated = await migrate(from, source, to, target)
      expect(migrated.code, migrated.stderr).to.equal(0)
      const added = await sandbox.run(['add-client', '--name', 'after', '--json', '--quiet', ...backendsUnderTest(() => redis)[toName].dbFlags(target)])
      expect(added.code, added.stderr).to.equal(0)
      expect((JSON.parse(added.stdout) as {client_id: number}).client_id).to.equal(51)
    })
  }

  describe('a run that wrote nothing', () => {
    it('because the target was locked leaves no incomplete mark: clients enrolled in the target afterwards are refused (exit 3), never overwritten', async () => {
      const sqlite = BACKENDS.sqlite!
      const json = BACKENDS.json!
      const source = sqlite.location(sandbox, 'source')
      const target = json.location(sandbox, 'target')
      await seed(sqlite, source, variedClients(6))
      // Another writer holds the target's lock (fresh, so not taken over as stale).
      mkdirSync(`${target}.lock`)
      const locked = await migrate(sqlite, source, json, target, ['--to-option', 'lockWaitMs=200'])
      expect(locked.code, locked.stderr).to.equal(1)
      expect(locked.stderr).to.contain('is locked by another process')
      rmSync(`${target}.lock`, {recursive: true})
      // Commands then use the target, and enrol clients there: ids 1 and 2, as in the source.
      for (const name of ['own-1', 'own-2']) {
        const added = await sandbox.run(['add-client', '--name', name, '--db-backend', 'json', '--db-path', target, '--quiet'])
        expect(added.code, added.stderr).to.equal(0)
      }
      const before = digest(target)
      const again = await migrate(sqlite, source, json, target)
      expect(again.code, again.stderr).to.equal(3)
      expect(again.stderr).to.contain('differ from the source')
      expect(digest(target)).to.equal(before)
    })

    it('an interrupted run resumed while the source is unchanged takes a differing target record for a conflict (exit 3), not for its own', async () => {
      const sqlite = BACKENDS.sqlite!
      const json = BACKENDS.json!
      const source = sqlite.location(sandbox, 'source')
      const target = json.location(sandbox, 'target')
      const elsewhere = json.location(sandbox, 'elsewhere')
      await seed(sqlite, source, variedClients(6))
      // A completed run elsewhere gives the mark an interrupted run of this source would have left.
      const done = await migrate(sqlite, source, json, elsewhere)
      expect(done.code, done.stderr).to.equal(0)
      const marksFile = path.join(sandbox.home, '.local/state/hivemind-core/migrations.json')
      const marks = JSON.parse(readFileSync(marksFile, 'utf8')) as Record<string, {state: string}>
      marks[`json ${target}`] = {...marks[`json ${elsewhere}`]!, state: 'incomplete'}
      writeFileSync(marksFile, JSON.stringify(marks))
      // The interrupted run copied client 1 only; someone then changed it in the target.
      const [first] = variedClients(6)
      await seed(json, target, [{...first!, name: 'changed in the target'}])
      const before = digest(target)
      const resumed = await migrate(sqlite, source, json, target)
      expect(resumed.code, resumed.stderr).to.equal(3)
      expect(resumed.stderr).to.contain('1 record(s) that differ from the source: 1 (name)')
      expect(digest(target)).to.equal(before)
    })
  })

  describe('after a completed migration', () => {
    const json = BACKENDS.json!
    const sqlite = BACKENDS.sqlite!
    let source: string
    let target: string

    beforeEach(async () => {
      source = json.location(sandbox, 'source')
      target = sqlite.location(sandbox, 'target')
      await seed(json, source, variedClients(20))
      const first = await migrate(json, source, sqlite, target)
      expect(first.code, first.stderr).to.equal(0)
    })

    it('a target changed since (commands use it) is left alone: exit 0, "already done", nothing written', async () => {
      await withStore(sqlite, target, async (store) => {
        await store.add({name: 'added in the target', api_key: 'key-target-added'})
        await store.update(2, {name: 'renamed in the target'})
      })
      const before = await contents(sqlite, target)
      const result = await migrate(json, source, sqlite, target, ['--json'])
      expect(result.code, result.stderr).to.equal(0)
      expect(JSON.parse(result.stdout)).to.deep.include({copied: 0, skipped: 19, verified: true})
      expect(await contents(sqlite, target)).to.deep.equal(before)
      const said = await migrate(json, source, sqlite, target)
      expect(said.stdout).to.contain('Already done').and.to.contain('(1 record(s) added, 1 changed); it was left untouched')
    })

    it('a source changed since, onto a target that has not changed: brought up to date (exit 0), and the next run finds nothing to do', async () => {
      await withStore(json, source, async (store) => {
        await store.add({name: 'added in the old source', api_key: 'key-source-added'})
        await store.update(3, {name: 'renamed in the old source', metadata: {room: 'hall', floor: 2}})
        await store.revoke(4)
      })
      const sourceDigest = digest(source)
      const targetBefore = await contents(sqlite, target)
      // Not --quiet: the notice saying why it copies is on stderr.
      const dryRun = await sandbox.run(['migrate-db', ...json.flags('from', source), ...sqlite.flags('to', target), '--dry-run'])
      expect(dryRun.code, dryRun.stderr).to.equal(0)
      expect(dryRun.stderr).to.contain('and the target has not: a real run brings it up to date')
      expect(dryRun.stdout).to.contain('Dry run: would copy 3 record(s)')
      expect(await contents(sqlite, target)).to.deep.equal(targetBefore)
      const result = await migrate(json, source, sqlite, target, ['--json'])
      expect(result.code, result.stderr).to.equal(0)
      expect(JSON.parse(result.stdout)).to.deep.include({copied: 3, verified: true})
      expect(await contents(sqlite, target)).to.deep.equal(await contents(json, source))
      expect(digest(source)).to.equal(sourceDigest)
      const again = await migrate(json, source, sqlite, target)
      expect(again.code, again.stderr).to.equal(0)
      expect(again.stdout).to.contain('Nothing to copy')
    })

    it('a source changed since is refused (exit 3) when the target changed too: neither side loses anything silently', async () => {
      await withStore(sqlite, target, (store) => store.add({name: 'added in the target', api_key: 'key-target-added'}))
      await withStore(json, source, (store) => store.add({name: 'added in the old source', api_key: 'key-source-added'}))
      const sourceDigest = digest(source)
      const before = await contents(sqlite, target)
      const result = await migrate(json, source, sqlite, target)
      expect(result.code).to.equal(3)
      expect(result.stderr).to.contain(`json ${source} has changed since it was migrated to sqlite ${target}`).and.to.contain('nothing was written')
      expect(result.stderr).to.contain('--merge adds it')
      expect(result.stderr).to.not.contain('    at ')
      expect(await contents(sqlite, target)).to.deep.equal(before)
      expect(digest(source)).to.equal(sourceDigest)
    })
  })

  describe('after a completed --merge that kept records of the target\'s own', () => {
    const json = BACKENDS.json!
    const sqlite = BACKENDS.sqlite!
    let source: string
    let target: string
    /** The target's own records (ids 500, 501), as the merge kept them. */
    let own: string[]

    beforeEach(async () => {
      source = json.location(sandbox, 'source')
      target = sqlite.location(sandbox, 'target')
      await seed(json, source, variedClients(20))
      await seed(sqlite, target, variedClients(2, 500))
      own = await contents(sqlite, target)
      const merged = await migrate(json, source, sqlite, target, ['--merge'])
      expect(merged.code, merged.stderr).to.equal(0)
    })

    it('a re-run without flags says that neither side changed (the kept records are not "added"), exit 0; once the target does change, it says what changed', async () => {
      const again = await migrate(json, source, sqlite, target)
      expect(again.code, again.stderr).to.equal(0)
      expect(again.stdout).to.contain('Already done').and.to.contain('The target has not changed since either (it also holds 2 record(s) of its own, kept by --merge).')
      expect(again.stdout).to.not.contain('added')

      await withStore(sqlite, target, (store) => store.add({name: 'added in the target', api_key: 'key-target-added'}))
      const changed = await migrate(json, source, sqlite, target)
      expect(changed.code, changed.stderr).to.equal(0)
      expect(changed.stdout).to.contain('The target has changed since (1 record(s) added); it was left untouched.')
    })

    it('a source changed since, onto a target that has not: brought up to date (exit 0), the kept records still there, unchanged', async () => {
      await withStore(json, source, async (store) => {
        await store.add({name: 'added in the old source', api_key: 'key-source-added'})
        await store.update(3, {name: 'renamed in the old source'})
      })
      const result = await migrate(json, source, sqlite, target, ['--json'])
      expect(result.code, result.stderr).to.equal(0)
      expect(JSON.parse(result.stdout)).to.deep.include({copied: 2, verified: true})
      const byId = (lines: string[]) => lines.map((line) => JSON.parse(line) as ClientRecord).sort((a, b) => a.client_id - b.client_id).map((record) => canonicalJson(record))
      expect(byId(await contents(sqlite, target))).to.deep.equal(byId([...(await contents(json, source)), ...own]))
      const after = await migrate(json, source, sqlite, target)
      expect(after.code, after.stderr).to.equal(0)
      expect(after.stdout).to.contain('The target has not changed since either')
    })

    it('a source changed since is refused (exit 3) when a kept record changed in the target too', async () => {
      await withStore(sqlite, target, (store) => store.update(500, {name: 'renamed in the target'}))
      await withStore(json, source, (store) => store.add({name: 'added in the old source', api_key: 'key-source-added'}))
      const before = await contents(sqlite, target)
      const result = await migrate(json, source, sqlite, target)
      expect(result.code).to.equal(3)
      expect(result.stderr).to.contain('has changed since it was migrated').and.to.contain("(1 of the source's missing)")
      expect(await contents(sqlite, target)).to.deep.equal(before)
    })
  })

  it('R10: killed at random points, the source is unchanged and a re-run completes with identical records', async function () {
    this.timeout(300_000)
    const json = BACKENDS.json!
    const sqlite = BACKENDS.sqlite!
    const source = json.location(sandbox, 'source')
    await seed(json, source, variedClients(3000))
    const sourceDigest = digest(source)
    const expected = await contents(json, source)
    for (let round = 0; round < 8; round++) {
      const target = sqlite.location(sandbox, `target-${round}`)
      const args = [CLI, 'migrate-db', ...json.flags('from', source), ...sqlite.flags('to', target), '--quiet', '--batch-size', '100']
      const child: ChildProcess = spawn(process.execPath, args, {env: sandbox.env, cwd: sandbox.home, stdio: 'ignore'})
      const exited = new Promise<void>((resolve) => child.on('close', () => resolve()))
      await new Promise((resolve) => setTimeout(resolve, 300 + Math.random() * 1500))
      child.kill('SIGKILL')
      await exited
      expect(digest(source), `round ${round}`).to.equal(sourceDigest)
      const rerun = await migrate(json, source, sqlite, target)
      expect(rerun.code, `round ${round}: ${rerun.stderr}`).to.equal(0)
      expect(await contents(sqlite, target)).to.deep.equal(expected)
    }
  })

  describe('a clients.db written by the Python hivemind-core, as the source', () => {
    let pyDir: string
    let py: string
    let records: ClientRecord[]
    let pyDigest: string
    /** TMPDIR of the CLI: where the store puts its private copy of the source. */
    let tmp: string

    beforeEach(() => {
      pyDir = path.join(sandbox.root, 'python')
      mkdirSync(pyDir)
      py = path.join(pyDir, 'py.db')
      records = writePythonClientsDb(py)
      pyDigest = digest(py)
      tmp = path.join(sandbox.root, 'tmp')
      mkdirSync(tmp)
    })

    const run = (args: string[]) => sandbox.run(['migrate-db', '--from', 'sqlite', '--from-path', py, '--quiet', ...args], {env: {TMPDIR: tmp}})
    /** The source is byte-identical, alone in its directory, and no private copy is left. */
    const expectUntouched = () => {
      expect(digest(py)).to.equal(pyDigest)
      expect(readdirSync(pyDir)).to.deep.equal(['py.db'])
      expect(readdirSync(tmp)).to.deep.equal([])
    }
    const expected = () => records.map((record) => canonicalJson(record))

    it('--dry-run writes nothing: the source keeps every byte (no schema upgrade, no WAL)', async () => {
      const result = await run(['--to', 'json', '--to-path', path.join(sandbox.root, 'new.json'), '--dry-run'])
      expect(result.code, result.stderr).to.equal(0)
      expect(result.stdout).to.contain('Dry run: would copy 3 record(s)')
      expectUntouched()
      expect(existsSync(path.join(sandbox.root, 'new.json'))).to.equal(false)
    })

    it('a real migration to json copies every row, tombstone included, and leaves the source byte-identical', async () => {
      const target = path.join(sandbox.root, 'new.json')
      const result = await run(['--to', 'json', '--to-path', target])
      expect(result.code, result.stderr).to.equal(0)
      expectUntouched()
      expect(await contents(BACKENDS.json!, target)).to.deep.equal(expected())
      // A re-run reads the untouched source again and finds nothing to do.
      const again = await run(['--to', 'json', '--to-path', target])
      expect(again.code, again.stderr).to.equal(0)
      expect(again.stdout).to.contain('Nothing to copy')
      expectUntouched()
    })

    it('a real migration to another sqlite file copies every row and leaves the source byte-identical', async () => {
      const target = path.join(sandbox.root, 'new.db')
      const result = await run(['--to', 'sqlite', '--to-path', target])
      expect(result.code, result.stderr).to.equal(0)
      expectUntouched()
      expect(await contents(BACKENDS.sqlite!, target)).to.deep.equal(expected())
    })

    it('a Python hub killed mid-write left a hot journal: the committed rows are migrated, and the file and its journal keep every byte', async () => {
      leaveHotJournal(py)
      const left = {db: digest(py), journal: digest(`${py}-journal`)}
      const target = path.join(sandbox.root, 'new.json')
      const result = await run(['--to', 'json', '--to-path', target])
      expect(result.code, result.stderr).to.equal(0)
      expect(await contents(BACKENDS.json!, target)).to.deep.equal(expected())
      expect({db: digest(py), journal: digest(`${py}-journal`)}).to.deep.equal(left)
      expect(readdirSync(pyDir)).to.deep.equal(['py.db', 'py.db-journal'])
      expect(readdirSync(tmp)).to.deep.equal([])
    })

    it('--dry-run into an existing Python clients.db leaves the target byte-identical too', async () => {
      const targetDir = path.join(sandbox.root, 'python-target')
      mkdirSync(targetDir)
      const target = path.join(targetDir, 'target.db')
      writePythonClientsDb(target)
      const targetDigest = digest(target)
      const result = await run(['--to', 'sqlite', '--to-path', target, '--dry-run', '--merge'])
      expect(result.code, result.stderr).to.equal(0)
      expect(result.stdout).to.contain('would copy 0 record(s) (3 in the source, 3 already in the target)')
      expectUntouched()
      expect(digest(target)).to.equal(targetDigest)
      expect(readdirSync(targetDir)).to.deep.equal(['target.db'])
    })
  })

  it('usage errors: same database on both sides, unknown backend, --merge with --force', async () => {
    const json = BACKENDS.json!
    const source = json.location(sandbox, 'source')
    await seed(json, source, variedClients(2))
    expect((await migrate(json, source, json, source)).code).to.equal(2)
    const unknown = await sandbox.run(['migrate-db', '--to', 'mongo'])
    expect(unknown.code).to.equal(1)
    expect(unknown.stderr).to.contain('unknown database backend "mongo"')
    expect((await sandbox.run(['migrate-db', '--to', 'sqlite', '--merge', '--force'])).code).to.equal(2)
  })

  it('one Redis hive reached under two host names (localhost, 127.0.0.1) is the same database: exit 2, even with --force, nothing removed', async () => {
    const redisBackend = BACKENDS.redis!
    const prefix = redisBackend.location(sandbox, 'one')
    await seed(redisBackend, prefix, variedClients(3))
    const before = await contents(redisBackend, prefix)
    const result = await sandbox.run([
      'migrate-db', '--from', 'redis', '--from-redis-url', `redis://localhost:${redis!.port}/0`, '--from-option', `keyPrefix=${prefix}`,
      '--to', 'redis', '--to-redis-url', `redis://127.0.0.1:${redis!.port}/0`, '--to-option', `keyPrefix=${prefix}`, '--force', '--quiet',
    ])
    expect(result.code, result.stderr).to.equal(2)
    expect(result.stderr).to.contain(`source and target are the same database (redis redis://127.0.0.1:${redis!.port}/0 prefix ${prefix})`)
    expect(await contents(redisBackend, prefix)).to.deep.equal(before)
  })

  it('a --to-redis-* or --from-redis-* flag for a side that is not redis is a usage error (exit 2), nothing opened or written', async () => {
    const json = BACKENDS.json!
    const source = json.location(sandbox, 'source')
    await seed(json, source, variedClients(2))
    const target = path.join(sandbox.root, 'target.db')
    const cases: Array<[string[], string]> = [
      [['--from', 'json', '--from-path', source, '--to', 'sqlite', '--to-path', target, '--to-redis-url', 'redis://elsewhere:6379/0'], 'Error: --to-redis-url applies to a redis target, and the target is sqlite'],
      [['--from', 'json', '--from-path', source, '--from-redis-db', '3', '--to', 'sqlite', '--to-path', target], 'Error: --from-redis-db applies to a redis source, and the source is json'],
    ]
    for (const [args, error] of cases) {
      const result = await sandbox.run(['migrate-db', ...args, '--quiet'])
      expect(result.code, result.stderr).to.equal(2)
      expect(result.stderr.split('\n')[0]).to.equal(error)
      expect(existsSync(target)).to.equal(false)
    }
  })

  it('one file under another name (a symbolic link, a relative path) is the same database: exit 2 before the target is opened, every byte and mode kept', async () => {
    for (const backend of [BACKENDS.sqlite!, BACKENDS.json!]) {
      const source = backend.location(sandbox, `alias-${backend.name}`)
      await seed(backend, source, variedClients(3))
      chmodSync(source, 0o644)
      const link = path.join(sandbox.root, `link-to-${path.basename(source)}`)
      symlinkSync(source, link)
      const before = digest(source)
      for (const alias of [link, path.relative(sandbox.home, source)]) {
        const result = await sandbox.run(['migrate-db', ...backend.flags('from', source), ...backend.flags('to', alias), '--quiet'])
        expect(result.code, result.stderr).to.equal(2)
        expect(result.stderr).to.contain(`source and target are the same database (${backend.name} ${source})`)
        expect(digest(source)).to.equal(before)
        expect(statSync(source).mode & 0o777).to.equal(0o644)
      }
      expect(existsSync(path.join(sandbox.home, '.local/state/hivemind-core/migrations.json'))).to.equal(false)
    }
  })
})
