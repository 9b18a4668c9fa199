import {spawnSync} from 'node:child_process'
import {chmodSync, mkdirSync, readdirSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import Database from 'better-sqlite3'
import {expect} from 'chai'
import {Redis} from 'ioredis'

import type {DoctorResult} from '../../src/commands/doctor.js'
import {resolvePaths} from '../../src/config/paths.js'
import {writeMark} from '../../src/migrate/marker.js'
import {redisBackend} from '../../src/plugins/redis/index.js'
import {fileDigest, leaveHotJournal, writePythonClientsDb} from '../plugins/sqlite/helpers.js'
import {freePort, type RedisServer, startRedisServer} from '../helpers/redis-server.js'
import {type CliSandbox, createSandbox} from '../helpers/sandbox.js'
import {variedClients} from '../helpers/varied-clients.js'

describe('doctor', function () {
  this.timeout(120_000)
  let sandbox: CliSandbox
  let openRedis: RedisServer
  let goodRedis: RedisServer
  const PASSWORD = 'doctor-test-password-8e1f'

  before(async () => {
    // As the test helper starts it: no password, no persistence.
    openRedis = await startRedisServer()
    goodRedis = await startRedisServer({password: PASSWORD, args: ['--appendonly', 'yes']})
  })

  after(async () => {
    await openRedis?.stop()
    await goodRedis?.stop()
  })

  beforeEach(() => {
    sandbox = createSandbox()
  })

  afterEach(() => sandbox.cleanup())

  const doctor = async (...args: string[]) => {
    const result = await sandbox.run(['doctor', '--json', ...args])
    return {code: result.code, stderr: result.stderr, report: JSON.parse(result.stdout) as DoctorResult}
  }
  const writeConfig = (content: unknown, mode: number) => {
    const file = path.join(sandbox.home, '.hivemindrc.json')
    writeFileSync(file, JSON.stringify(content))
    chmodSync(file, mode)
    return file
  }

  it('a deliberately bad setup: every problem is reported with a fix, and the exit code is 1', async () => {
    // A full JSON store at the default location, readable by everyone…
    expect((await sandbox.run(['add-client', '--db-backend', 'json', '--name', 'kitchen', '-q'])).code).to.equal(0)
    const clientsJson = path.join(sandbox.home, '.local/share/hivemind-core/clients.json')
    chmodSync(clientsJson, 0o644)
    // …while the config selects an EMPTY hive on a Redis without password or persistence…
    writeConfig({database: {backend: 'redis', redis: {url: openRedis.url, keyPrefix: 'empty:'}}}, 0o644)
    // …and the Python hivemind-core is configured for yet another backend.
    const upstreamDir = path.join(sandbox.home, '.config/hivemind-core')
    mkdirSync(upstreamDir, {recursive: true, mode: 0o700})
    writeFileSync(path.join(upstreamDir, 'server.json'), JSON.stringify({database: {module: 'hivemind-json-db-plugin'}}), {mode: 0o600})

    const {code, report} = await doctor()
    expect(code).to.equal(1)
    expect(report.ok).to.equal(false)
    const ids = report.findings.filter((finding) => finding.severity === 'problem').map((finding) => finding.id)
    expect(ids).to.include.members(['file-mode', 'redis-no-password', 'redis-no-persistence', 'store-empty-elsewhere-full', 'upstream-backend-differs'])
    const byId = (id: string) => report.findings.find((finding) => finding.id === id)!
    expect(byId('file-mode').message).to.include(clientsJson).and.include('0644')
    expect(byId('file-mode').fix).to.equal(`chmod 600 '${clientsJson}'`)
    expect(byId('store-empty-elsewhere-full').message).to.include('holds 1 client')
    expect(byId('store-empty-elsewhere-full').fix).to.match(/migrate-db --from json --from-path \S+clients\.json --to redis/)
    for (const finding of report.findings.filter((item) => item.severity === 'problem')) expect(finding.fix, finding.id).to.be.a('string').and.not.empty

    const human = await sandbox.run(['doctor'])
    expect(human.code).to.equal(1)
    expect(human.stdout).to.match(/PROBLEM: .*accepts commands without a password/)
    expect(human.stdout).to.match(/\d+ problem\(s\) found\./)
  })

  it('each chmod fix, pasted into a shell as printed, fixes its finding, also for a path with spaces, quotes and ;', async () => {
    const dir = path.join(sandbox.home, "my hive's (test)")
    const file = path.join(dir, 'clients; & co.db')
    expect((await sandbox.run(['add-client', '--db-path', file, '--name', 'kitchen', '-q'])).code).to.equal(0)
    chmodSync(file, 0o644)
    chmodSync(dir, 0o755)
    const before = await doctor('--db-path', file)
    const fixes = before.report.findings.filter((finding) => finding.id === 'file-mode' || finding.id === 'dir-mode').map((finding) => finding.fix!)
    expect(fixes).to.have.length(2)
    for (const fix of fixes) {
      const shell = spawnSync('sh', ['-c', fix], {encoding: 'utf8'})
      expect(shell.status, `${fix}: ${shell.stderr}`).to.equal(0)
    }
    const after = await doctor('--db-path', file)
    expect(after.report.findings.map((finding) => finding.id)).not.to.include.members(['file-mode']).and.not.to.include('dir-mode')
  })

  it('a database in a directory every user shares (mode 1777, like /tmp) gets a warning to move it, never chmod 700 of that directory; a writable one says others could replace files (QA)', async () => {
    const shared = path.join(sandbox.root, 'shared')
    mkdirSync(shared)
    chmodSync(shared, 0o1777)
    const file = path.join(shared, 'clients.db')
    expect((await sandbox.run(['add-client', '--db-path', file, '--name', 'kitchen', '-q'])).code).to.equal(0)
    const {report} = await doctor('--db-path', file)
    const finding = report.findings.find((item) => item.message.startsWith(shared))
    expect(finding, JSON.stringify(report.findings)).to.deep.include({id: 'dir-shared', severity: 'warning'})
    expect(finding!.message).to.contain('(mode 01777)')
    expect(finding!.fix).to.contain('private directory').and.not.match(/^chmod/)
    expect(report.findings.map((item) => item.fix ?? '').join('\n')).not.to.contain(`chmod 700 '${shared}'`)

    chmodSync(shared, 0o777)
    const writable = await doctor('--db-path', file)
    const open = writable.report.findings.find((item) => item.id === 'dir-mode' && item.message.startsWith(shared))
    expect(open!.message).to.contain('they can create, rename and delete files in it')
    expect(open!.fix).to.equal(`chmod 700 '${shared}'`)
  })

  it('a config file holding the Redis password that others can read is a problem; the password never appears in the report', async () => {
    expect((await sandbox.run(['add-client', '--db-backend', 'redis', '--redis-url', goodRedis.url, '-q'], {env: {HIVEMIND_REDIS_PASSWORD: PASSWORD}})).code).to.equal(0)
    const file = writeConfig({database: {backend: 'redis', redis: {url: goodRedis.url, password: PASSWORD}}}, 0o644)
    const result = await sandbox.run(['doctor', '--json'])
    expect(result.code).to.equal(1)
    const report = JSON.parse(result.stdout) as DoctorResult
    expect(report.findings.map((finding) => finding.id)).to.deep.equal(['config-password-readable'])
    expect(report.findings[0]!.fix).to.equal(`chmod 600 '${file}'`)
    expect(result.stdout + result.stderr).not.to.include(PASSWORD)

    chmodSync(file, 0o600)
    expect((await doctor()).code).to.equal(0)
  })

  it("a password in any backend's URL in a readable config file is a problem too; the plugin manager's package.json beside clients.db is not", async () => {
    expect((await sandbox.run(['add-client', '-q'])).code).to.equal(0)
    // What `plugins install` leaves in the data directory (the umask's 0644): no secret in it.
    writeFileSync(path.join(sandbox.home, '.local/share/hivemind-core/package.json'), '{"private": true, "oclif": {"plugins": []}}', {mode: 0o644})
    chmodSync(path.join(sandbox.home, '.local/share/hivemind-core/package.json'), 0o644)
    const file = writeConfig({database: {backend: 'sqlite', postgres: {url: `postgres://hive:${PASSWORD}@db.example/hive`}}}, 0o644)
    const result = await sandbox.run(['doctor', '--json'])
    expect(result.code, result.stdout).to.equal(1)
    const report = JSON.parse(result.stdout) as DoctorResult
    expect(report.findings.map((finding) => finding.id)).to.deep.equal(['config-password-readable'])
    expect(report.findings[0]!.message).to.equal(`${file} holds a password in database.postgres.url and is readable by others (mode 0644)`)
    expect(result.stdout + result.stderr).not.to.include(PASSWORD)
    chmodSync(file, 0o600)
    expect((await doctor()).code).to.equal(0)
  })

  it('an unreachable Redis is a problem, and the report still names where doctor looked', async () => {
    const port = await freePort()
    const result = await sandbox.run(['doctor', '--db-backend', 'redis', '--redis-url', `redis://127.0.0.1:${port}/0`])
    expect(result.code, result.stderr).to.equal(1)
    expect(result.stderr).to.match(new RegExp(`^Database: redis \\S*127\\.0\\.0\\.1:${port}\\b`, 'm'))
    expect(result.stdout).to.match(/^PROBLEM: .*127\.0\.0\.1:\d+/m)
  })

  it('a good Redis setup (password, persistence, loopback, 0600 config, clients present) reports nothing and exits 0', async () => {
    writeConfig({database: {backend: 'redis', redis: {url: goodRedis.url, password: PASSWORD, keyPrefix: 'good:'}}}, 0o600)
    expect((await sandbox.run(['add-client', '--name', 'kitchen', '-q'])).code).to.equal(0)
    const {code, report, stderr} = await doctor()
    expect(report.findings, stderr).to.deep.equal([])
    expect(code).to.equal(0)
    expect(report).to.deep.include({ok: true, problems: 0})
  })

  it("a Redis hive whose keys disagree (hand edits): each kind is reported with its ids and a fix, no access key printed, nothing changed; a healthy hive with a tombstone reports nothing", async () => {
    // A prefix holding SCAN's pattern characters: the record keys must still be found.
    const keyPrefix = 'doc[1]*?:'
    const store = await redisBackend.create({url: goodRedis.url, password: PASSWORD, keyPrefix, connectTimeoutMs: 2000, reconnect: false}, {paths: {home: '', dataDir: '', configDir: '', stateDir: ''}, mode: 'write', warn() {}})
    await store.open()
    const records = variedClients(12).map((record) => ({...record, api_key: `doctor-key-${record.client_id}-7f3a`}))
    try {
      await store.putMany!(records)
      await store.revoke(2)
    } finally {
      await store.close()
    }
    writeConfig({database: {backend: 'redis', redis: {url: goodRedis.url, password: PASSWORD, keyPrefix}}}, 0o600)
    const healthy = await doctor()
    expect(healthy.report.findings, healthy.stderr).to.deep.equal([])

    const redis = new Redis(goodRedis.port, {password: PASSWORD})
    const key = (name: string) => `${keyPrefix}{hive}${name}`
    try {
      await redis.del(key('client:3'))
      await redis.zrem(key('ids'), '4')
      await redis.zrem(key('live'), '4')
      await redis.hdel(key('index'), 'doctor-key-5-7f3a')
      await redis.zrem(key('live'), '6')
      await redis.hset(key('index'), 'doctor-stale-key', '7')
      const snapshot = async () => {
        const keys = (await redis.keys(`${keyPrefix.replaceAll(/[*?[\]]/g, '\\$&')}*`)).sort()
        return Promise.all(keys.map(async (name) => [name, (await redis.dumpBuffer(name))?.toString('hex')]))
      }
      const before = await snapshot()
      // 11 record hashes, index, ids, live, last_id, revision, meta.
      expect(before).to.have.length(17)
      const {code, report, stderr} = await doctor()
      expect(code, stderr).to.equal(1)
      const found = Object.fromEntries(report.findings.map((finding) => [finding.id, finding]))
      // Listing fails on id 3 (no record): the generic read check says so too.
      expect(Object.keys(found).sort()).to.deep.equal(['redis-index-dangling', 'redis-listed-without-record', 'redis-live-not-indexed', 'redis-live-set-differs', 'redis-record-not-listed', 'store-record-unreadable'])
      expect(found['redis-listed-without-record']!.message).to.match(/1 client id\(s\) .* \(id 3\)$/)
      expect(found['redis-record-not-listed']!.message).to.match(/\(id 4\)$/)
      expect(found['redis-live-not-indexed']!.message).to.match(/cannot connect \(id 5\)$/)
      // 6 is active but not in the live set; 3 is in it without a record.
      expect(found['redis-live-set-differs']!.message).to.match(/\(id 3, 6\)$/)
      expect(found['redis-index-dangling']).to.deep.include({severity: 'warning'})
      expect(found['redis-index-dangling']!.message).to.match(/\(id 3, 7\)$/)
      for (const finding of report.findings) expect(finding.fix, finding.id).to.be.a('string').and.not.be.empty
      // Commands for the ids found, addressed to the hive's own server (a bare redis-cli would go to
      // whatever listens on 6379), with the way to give the password.
      const cli = `redis-cli -h 127.0.0.1 -p ${goodRedis.port} -n 0`
      expect(found['redis-live-not-indexed']!.fix).to.contain(`${cli} HGET '${keyPrefix}{hive}client:5' api_key`)
      for (const finding of report.findings.filter((item) => item.id.startsWith('redis-'))) {
        expect(finding.fix, finding.id).to.contain(cli).and.to.contain('REDISCLI_AUTH').and.not.to.contain('<id>')
      }
      const printed = JSON.stringify(report) + stderr
      for (const record of records) expect(printed).to.not.contain(record.api_key)
      expect(printed).to.not.contain('doctor-stale-key').and.not.contain(PASSWORD)
      expect(await snapshot()).to.deep.equal(before)

      // The printed commands, run as printed, repair what they are about.
      for (const id of ['redis-listed-without-record', 'redis-record-not-listed', 'redis-live-not-indexed', 'redis-live-set-differs']) {
        const fix = found[id]!.fix!
        const commands = fix.slice(fix.indexOf('redis-cli'), fix.indexOf(' (with the password'))
        const ran = spawnSync('bash', ['-c', commands], {env: {...process.env, REDISCLI_AUTH: PASSWORD}, encoding: 'utf8'})
        expect(ran.status, `${id}: ${commands}\n${ran.stderr}`).to.equal(0)
      }
      const repaired = await doctor()
      expect(repaired.report.findings.map((finding) => finding.id), repaired.stderr).to.deep.equal(['redis-index-dangling'])

      // Counters another tool overwrote (every write script refuses to run): reported with the SET
      // that repairs each, which works as printed.
      await redis.set(key('last_id'), '011')
      await redis.set(key('revision'), 'abc')
      const counters = await doctor()
      const invalid = counters.report.findings.filter((finding) => finding.id === 'redis-counter-invalid')
      expect(invalid.map((finding) => finding.message), counters.stderr).to.deep.equal([
        `Redis: the counter ${key('last_id')} does not hold a whole number: every write (add-client, delete-client, listen's last_seen…) is refused until it does`,
        `Redis: the counter ${key('revision')} does not hold a whole number: every write (add-client, delete-client, listen's last_seen…) is refused until it does`,
      ])
      expect(invalid[0]!.fix).to.contain(`${cli} SET '${key('last_id')}' 12 (the highest id in the hive)`)
      for (const finding of invalid) {
        const command = finding.fix!.slice(0, finding.fix!.indexOf(' ('))
        expect(spawnSync('bash', ['-c', command], {env: {...process.env, REDISCLI_AUTH: PASSWORD}}).status, command).to.equal(0)
      }
      expect((await doctor()).report.findings.map((finding) => finding.id)).to.deep.equal(['redis-index-dangling'])

      // A server that may evict keys when full.
      await redis.config('SET', 'maxmemory', '500mb')
      await redis.config('SET', 'maxmemory-policy', 'allkeys-lru')
      try {
        const evicting = await doctor()
        const eviction = evicting.report.findings.find((finding) => finding.id === 'redis-evicts-keys')
        expect(eviction, evicting.stderr).to.deep.include({severity: 'problem'})
        expect(eviction!.fix).to.contain(`${cli} CONFIG SET maxmemory-policy noeviction`)
        await redis.config('SET', 'maxmemory-policy', 'volatile-lru')
        expect((await doctor()).report.findings.map((finding) => finding.id)).to.deep.equal(['redis-index-dangling'])
      } finally {
        await redis.config('SET', 'maxmemory', '0')
        await redis.config('SET', 'maxmemory-policy', 'noeviction')
      }

      // A key of the wrong type stops the check, not doctor: a warning says so.
      await redis.del(key('index'))
      await redis.set(key('index'), 'not a hash')
      const unchecked = await doctor()
      const warning = unchecked.report.findings.find((finding) => finding.id === 'redis-consistency-unchecked')
      expect(warning, unchecked.stderr).to.deep.include({severity: 'warning'})
      expect(warning!.message).to.contain("the hive's keys could not be checked")
      expect(unchecked.report.findings.filter((finding) => finding.id.startsWith('redis-') && finding.id !== 'redis-consistency-unchecked')).to.deep.equal([])
    } finally {
      await redis.flushdb()
      redis.disconnect()
    }
  })

  it('a record damaged by a hand edit (sqlite, redis) is a problem naming it, which list-clients would fail on; nothing is changed', async () => {
    expect((await sandbox.run(['add-client', '--name', 'kitchen', '-q'])).code).to.equal(0)
    expect((await sandbox.run(['add-client', '--name', 'hall', '-q'])).code).to.equal(0)
    const file = path.join(sandbox.home, '.local/share/hivemind-core/clients.db')
    const db = new Database(file)
    db.prepare("UPDATE clients SET is_admin = 'maybe' WHERE client_id = 2").run()
    db.close()
    const before = fileDigest(file)
    const sqlite = await doctor()
    expect(sqlite.code, sqlite.stderr).to.equal(1)
    expect(sqlite.report.findings.map((finding) => finding.id)).to.deep.equal(['store-record-unreadable'])
    expect(sqlite.report.findings[0]!.message).to.contain('row 2: field "is_admin" must be a boolean')
    expect(sqlite.report.findings[0]!.fix).to.contain('restore-db')
    expect(fileDigest(file)).to.equal(before)

    const keyPrefix = 'damaged:'
    writeConfig({database: {backend: 'redis', redis: {url: goodRedis.url, password: PASSWORD, keyPrefix}}}, 0o600)
    // Its id follows the SQLite database's clients (add-client keeps ids apart from a default location holding clients).
    const added = await sandbox.run(['add-client', '--name', 'kitchen', '-q', '--json'])
    expect(added.code, added.stderr).to.equal(0)
    const {client_id: id} = JSON.parse(added.stdout) as {client_id: number}
    const redis = new Redis(goodRedis.port, {password: PASSWORD})
    try {
      await redis.hset(`${keyPrefix}{hive}client:${id}`, 'allowed_types', 'not a list')
      const damaged = await doctor()
      expect(damaged.code, damaged.stderr).to.equal(1)
      expect(damaged.report.findings.map((finding) => finding.id)).to.deep.equal(['store-record-unreadable'])
      expect(damaged.report.findings[0]!.message).to.contain('allowed_types')
    } finally {
      await redis.flushdb()
      redis.disconnect()
    }
  })

  it('a clients.db a killed writer left with a hot journal is a warning (exit 0) that says nothing is lost; both files stay byte-identical', async () => {
    const dir = path.join(sandbox.home, 'python')
    mkdirSync(dir, {mode: 0o700})
    const file = path.join(dir, 'clients.db')
    writePythonClientsDb(file)
    chmodSync(file, 0o600)
    const args = ['--db-backend', 'sqlite', '--db-path', file]
    expect((await doctor(...args)).report.findings).to.deep.equal([])
    leaveHotJournal(file)
    chmodSync(`${file}-journal`, 0o600)
    const before = {db: fileDigest(file), journal: fileDigest(`${file}-journal`)}
    const {code, report, stderr} = await doctor(...args)
    expect(code, stderr).to.equal(0)
    expect(report.findings.map((finding) => [finding.id, finding.severity])).to.deep.equal([['sqlite-hot-journal', 'warning']])
    expect(report.findings[0]!.message).to.contain(file).and.to.contain('Nothing is lost')
    expect({db: fileDigest(file), journal: fileDigest(`${file}-journal`)}).to.deep.equal(before)
    expect(readdirSync(dir).sort()).to.deep.equal(['clients.db', 'clients.db-journal'])
  })

  it('a database marked as an incomplete migration is a problem naming its source and how to finish it (QA: doctor said nothing)', async () => {
    const dir = path.join(sandbox.home, 'hive')
    mkdirSync(dir, {mode: 0o700})
    const file = path.join(dir, 'hive.json')
    expect((await sandbox.run(['add-client', '--db-backend', 'json', '--db-path', file, '-q'])).code).to.equal(0)
    const args = ['--db-backend', 'json', '--db-path', file]
    expect((await doctor(...args)).report.findings).to.deep.equal([])
    await writeMark(resolvePaths(sandbox.env).stateDir, `json ${file}`, {from: 'sqlite /srv/old.db', state: 'incomplete', by: 'migrate-db', policy: 'force'})
    const {code, report} = await doctor(...args)
    expect(code).to.equal(1)
    expect(report.findings).to.deep.equal([
      {
        id: 'migration-incomplete',
        severity: 'problem',
        message: 'the selected database is an INCOMPLETE migration from sqlite /srv/old.db (migrate-db is copying into it, or was interrupted): it may lack clients of the source, and commands that change clients refuse it',
        fix: 'let it finish, or finish it by re-running the same hivemind-core migrate-db command (with --force, as it was run)',
      },
    ])
  })

  it("server.json that does not parse, under a config that selects the backend, is a warning; one selecting another backend is a problem whose fix names our backend's plugin", async () => {
    expect((await sandbox.run(['add-client', '--name', 'kitchen', '-q'])).code).to.equal(0)
    writeConfig({database: {backend: 'sqlite'}}, 0o600)
    const serverJson = path.join(sandbox.home, '.config/hivemind-core/server.json')
    mkdirSync(path.dirname(serverJson), {recursive: true, mode: 0o700})
    writeFileSync(serverJson, '{"database": {"module": "hivemind-json-db-plugin",}}', {mode: 0o600})
    const unreadable = await doctor()
    expect(unreadable.code).to.equal(0)
    expect(unreadable.report.findings).to.deep.equal([
      {id: 'upstream-config-unreadable', severity: 'warning', message: `${serverJson} (the Python hivemind-core's config) cannot be read (it is not valid JSON); its database choice could not be compared`},
    ])
    writeFileSync(serverJson, '{"database": {"module": "Hivemind-JSON-DB-Plugin"}}', {mode: 0o600})
    const differs = await doctor()
    expect(differs.code).to.equal(1)
    expect(differs.report.findings).to.deep.equal([
      {
        id: 'upstream-backend-differs',
        severity: 'problem',
        message: `${serverJson} selects Hivemind-JSON-DB-Plugin (json) but hivemind-core uses sqlite: the Python hivemind-core and this one see different clients`,
        fix: `use one database: hivemind-core migrate-db --to json --switch, or set "database": {"module": "hivemind-sqlite-db-plugin"} in ${serverJson}`,
      },
    ])
  })

  it('a config selecting a backend that is not installed (a plugin uninstalled) is a problem doctor reports, not a failure of doctor (QA)', async () => {
    writeConfig({database: {backend: 'tiny-file'}}, 0o600)
    const {code, report} = await doctor()
    expect(code).to.equal(1)
    expect(report.findings).to.have.length(1)
    expect(report.findings[0]).to.deep.include({id: 'backend-unknown', severity: 'problem'})
    expect(report.findings[0]!.message).to.contain('unknown database backend "tiny-file" (from ./.hivemindrc.json database.backend); available: json, redis, sqlite')
    expect(report.findings[0]!.fix).to.contain('install the plugin that provides it')
    const human = await sandbox.run(['doctor'])
    expect(human.code).to.equal(1)
    expect(human.stdout).to.contain('PROBLEM: unknown database backend "tiny-file"')
  })

  it("a Redis server.json chose with a wrong password: the fix says the settings came from server.json, as the commands' hints do (QA: it gave only the HIVEMIND_REDIS_PASSWORD advice)", async () => {
    const serverJson = path.join(sandbox.home, '.config/hivemind-core/server.json')
    mkdirSync(path.dirname(serverJson), {recursive: true, mode: 0o700})
    writeFileSync(serverJson, JSON.stringify({database: {module: 'hivemind-redis-db-plugin', 'hivemind-redis-db-plugin': {host: goodRedis.host, port: goodRedis.port, password: 'wrong-password-77'}}}), {mode: 0o600})
    const {code, report, stderr} = await doctor()
    expect(code).to.equal(1)
    const withFix = report.findings.filter((finding) => finding.severity === 'problem' && finding.fix)
    expect(withFix.length, JSON.stringify(report.findings)).to.be.greaterThan(0)
    for (const finding of withFix) expect(finding.fix, finding.id).to.contain(`these database settings came from database.hivemind-redis-db-plugin in ${serverJson}`)
    expect(JSON.stringify(report) + stderr).not.to.contain('wrong-password-77')
  })

  it('an audit setting that cannot be resolved is a problem, which commands that change clients would refuse (QA: doctor said no problems)', async () => {
    expect((await sandbox.run(['add-client', '--name', 'kitchen', '-q'])).code).to.equal(0)
    writeConfig({audit: {file: '$AUDIT_DIR/audit.log'}}, 0o600)
    const {code, report} = await doctor()
    expect(code).to.equal(1)
    expect(report.findings).to.deep.equal([
      {id: 'audit-settings-invalid', severity: 'problem', message: 'the audit trail cannot be written: ./.hivemindrc.json audit.file: environment variable AUDIT_DIR is not set', fix: 'set it, or write the path without it'},
    ])
  })

  it('a good default (sqlite) setup reports nothing and exits 0; a 0644 backup is then found', async () => {
    expect((await sandbox.run(['add-client', '--name', 'kitchen', '-q'])).code).to.equal(0)
    const good = await doctor()
    expect(good.report.findings).to.deep.equal([])
    expect(good.code).to.equal(0)

    const backup = await sandbox.run(['backup-db', '-q', '--json'])
    expect(backup.code, backup.stderr).to.equal(0)
    const {file} = JSON.parse(backup.stdout) as {file: string}
    chmodSync(file, 0o644)
    const bad = await doctor()
    expect(bad.code).to.equal(1)
    expect(bad.report.findings.map((finding) => [finding.id, finding.message.includes(file) && finding.message.includes('backup')])).to.deep.equal([['file-mode', true]])
  })
})
