import {spawn} from 'node:child_process'
import {readFileSync, statSync, symlinkSync, writeFileSync} from 'node:fs'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

import {expect} from 'chai'

import type {AuditEntry} from '../../src/audit/entry.js'
import {type RedisServer, startRedisServer} from '../helpers/redis-server.js'
import {type CliSandbox, createSandbox} from '../helpers/sandbox.js'

const SRC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src')

function auditFile(sandbox: CliSandbox): string {
  return path.join(sandbox.home, '.local/state/hivemind-core/audit.log')
}

/** Every line of the file, each parsed (fails the test on a torn or invalid line). */
function lines(file: string): AuditEntry[] {
  const text = readFileSync(file, 'utf8')
  expect(text.endsWith('\n'), 'the file ends with a complete line').to.equal(true)
  return text.slice(0, -1).split('\n').map((line) => JSON.parse(line) as AuditEntry)
}

/** 32 hex characters, distinct per n (so the test can grep for each). */
const secret = (kind: string, n: number) => `${kind}${String(n).padStart(2, '0')}`.padEnd(32, 'f').replaceAll(/[^0-9a-f]/g, 'e')

describe('audit trail', function () {
  this.timeout(180_000)
  let sandbox: CliSandbox

  beforeEach(() => {
    sandbox = createSandbox()
  })

  afterEach(() => sandbox.cleanup())

  it('20 concurrent add-client processes → 20 well-formed lines, file 0600, and no secret of any client in it', async () => {
    const secrets: string[] = []
    const results = await Promise.all(Array.from({length: 20}, (_, n) => {
      const key = secret('a', n)
      const password = secret('b', n)
      const cryptoKey = `crypt${String(n).padStart(2, '0')}-secret!`.padEnd(16, '#')
      secrets.push(key, password, cryptoKey)
      return sandbox.run(['add-client', '--db-backend', 'json', '--name', `sat-${n}`, '--access-key', key, '--password', password, '--crypto-key', cryptoKey, '-q'])
    }))
    for (const result of results) expect(result.code, result.stderr).to.equal(0)

    const file = auditFile(sandbox)
    expect(statSync(file).mode & 0o777).to.equal(0o600)
    const entries = lines(file)
    expect(entries).to.have.length(20)
    expect(entries.map((entry) => entry.client_id).sort((a, b) => a! - b!)).to.deep.equal(Array.from({length: 20}, (_, n) => n + 1))
    expect(new Set(entries.map((entry) => entry.name))).to.deep.equal(new Set(Array.from({length: 20}, (_, n) => `sat-${n}`)))
    for (const entry of entries) {
      expect(entry).to.include({v: 1, event: 'add', command: 'add-client'})
      expect(entry.user).to.be.a('string').and.not.empty
      expect(entry.host).to.be.a('string').and.not.empty
      expect(Number.isNaN(Date.parse(entry.time))).to.equal(false)
      expect(entry.changes).to.deep.include({api_key: {secret: 'set'}, password: {secret: 'set'}, crypto_key: {secret: 'set'}})
    }

    // Changes of every other kind, then the whole file must still hold no secret.
    const importFile = path.join(sandbox.root, 'import.json')
    const importedKey = secret('c', 99)
    const importedPassword = secret('d', 99)
    secrets.push(importedKey, importedPassword)
    writeFileSync(importFile, JSON.stringify({'50': {client_id: 50, api_key: importedKey, password: importedPassword, name: 'imported'}}))
    for (const args of [
      ['rename-client', '3', '--name', 'kitchen'],
      ['make-admin', '3'],
      ['allow-msg', 'speak', '3'],
      ['blacklist-skill', 'skill-weather', '4'],
      ['delete-client', '5', '--yes'],
      ['import-clients', importFile],
    ]) {
      const result = await sandbox.run([...args, '--db-backend', 'json', '-q'])
      expect(result.code, `${args.join(' ')}: ${result.stderr}`).to.equal(0)
    }
    const after = lines(file)
    expect(after.slice(20).map((entry) => [entry.event, entry.client_id, entry.command])).to.deep.equal([
      ['rename', 3, 'rename-client'],
      ['admin', 3, 'make-admin'],
      ['permission', 3, 'allow-msg'],
      ['permission', 4, 'blacklist-skill'],
      ['revoke', 5, 'delete-client'],
      ['import', 50, 'import-clients'],
    ])
    // Ids were handed out in whatever order the processes got the lock.
    const nameOf3 = entries.find((entry) => entry.client_id === 3)!.name
    expect(after[20]!.changes).to.deep.equal({name: {from: nameOf3, to: 'kitchen'}})
    expect(after[22]!.changes).to.deep.equal({allowed_types: {added: ['speak'], removed: []}})
    const text = readFileSync(file, 'utf8')
    for (const value of secrets) expect(text, 'a secret leaked into the audit file').not.to.include(value)
  })

  it('concurrent writers appending through the audit API never tear or lose a line', async () => {
    const file = path.join(sandbox.root, 'shared-audit.log')
    const script = path.join(sandbox.root, 'writer.mts')
    writeFileSync(script, `
import {AuditTrail, FileAuditSink} from ${JSON.stringify(path.join(SRC, 'audit/trail.js'))}
const trail = new AuditTrail([new FileAuditSink(${JSON.stringify(file)})], 'test')
const writer = process.argv[2]
for (let n = 0; n < 100; n++) {
  await trail.record({event: 'update', client_id: n, name: 'w' + writer + '-' + n + '-' + 'x'.repeat(n * 37 % 3000)})
}
`)
    const run = (writer: number) => new Promise<number | null>((resolve) => {
      const child = spawn(process.execPath, ['--import', 'tsx', script, String(writer)], {stdio: 'ignore'})
      child.on('close', resolve)
    })
    const codes = await Promise.all(Array.from({length: 12}, (_, writer) => run(writer)))
    expect(codes).to.deep.equal(Array.from({length: 12}, () => 0))
    const entries = lines(file)
    expect(entries).to.have.length(1200)
    const names = new Set(entries.map((entry) => entry.name!.replace(/-x*$/, '')))
    expect(names.size).to.equal(1200)
  })

  it('audit --json filters by client, event and time; the human form prints one line per entry', async () => {
    for (const name of ['one', 'two', 'three']) expect((await sandbox.run(['add-client', '--db-backend', 'json', '--name', name, '-q'])).code).to.equal(0)
    expect((await sandbox.run(['make-admin', '2', '--db-backend', 'json', '-q'])).code).to.equal(0)
    expect((await sandbox.run(['delete-client', '3', '--yes', '--db-backend', 'json', '-q'])).code).to.equal(0)

    const audit = async (...args: string[]) => {
      const result = await sandbox.run(['audit', '--json', '-q', ...args])
      expect(result.code, result.stderr).to.equal(0)
      return JSON.parse(result.stdout) as AuditEntry[]
    }
    expect((await audit()).map((entry) => entry.event)).to.deep.equal(['add', 'add', 'add', 'admin', 'revoke'])
    expect((await audit('--client', '2')).map((entry) => entry.event)).to.deep.equal(['add', 'admin'])
    expect((await audit('--client', 'three')).map((entry) => entry.event)).to.deep.equal(['add', 'revoke'])
    expect((await audit('--event', 'revoke,admin')).map((entry) => entry.client_id)).to.deep.equal([2, 3])
    expect((await audit('--event', 'add', '--client', '1')).map((entry) => entry.client_id)).to.deep.equal([1])
    expect(await audit('--since', '1h')).to.have.length(5)
    expect(await audit('--since', new Date(Date.now() + 3_600_000).toISOString())).to.have.length(0)

    const unknown = await sandbox.run(['audit', '--event', 'nope'])
    expect(unknown.code).to.equal(2)
    const human = await sandbox.run(['audit', '--client', '2', '-q'])
    expect(human.code, human.stderr).to.equal(0)
    const printed = human.stdout.trim().split('\n')
    expect(printed).to.have.length(2)
    expect(printed[1]).to.match(/admin .* make-admin client 2 \(two\) is_admin: false → true$/)
  })

  it('the human form names each entry\'s database when the entries shown are about more than one (QA: client 1 of two databases read as one client added twice)', async () => {
    const other = path.join(sandbox.home, 'other.json')
    expect((await sandbox.run(['add-client', '--name', 'hub-a', '-q'])).code).to.equal(0)
    expect((await sandbox.run(['add-client', '--name', 'hub-b', '--db-backend', 'json', '--db-path', other, '-q'])).code).to.equal(0)
    const both = await sandbox.run(['audit', '--client', '1', '-q'])
    expect(both.code, both.stderr).to.equal(0)
    const lines = both.stdout.trim().split('\n')
    expect(lines).to.have.length(2)
    expect(lines[0]).to.match(new RegExp(`add-client client 1 \\(hub-a\\) in sqlite ${path.join(sandbox.home, '.local/share/hivemind-core/clients.db')} `))
    expect(lines[1]).to.match(new RegExp(`add-client client 1 \\(hub-b\\) in json ${other} `))
    // One database among the entries shown: no need to repeat it on every line.
    const one = await sandbox.run(['audit', '--client', 'hub-a', '-q'])
    expect(one.stdout).not.to.contain(' in sqlite ')
  })

  it('a value holding a line break (an imported metadata key) cannot forge an entry in the human form (QA)', async () => {
    const forged = '2026-01-01T00:00:00.000Z  revoke     root@hub delete-client client 1 (victim) api_key: revoked'
    const file = path.join(sandbox.root, 'evil.json')
    const record = {client_id: 7, api_key: 'evilkey123456789', name: 'helper', allowed_types: ['speak'], password: 'evilpass12345678', metadata: {[`x\n${forged}`]: 1}}
    writeFileSync(file, JSON.stringify({7: record}, null, 4))
    const imported = await sandbox.run(['import-clients', file, '--db-backend', 'json', '-q'])
    expect(imported.code, imported.stderr).to.equal(0)
    const human = await sandbox.run(['audit', '-q'])
    expect(human.code, human.stderr).to.equal(0)
    const printed = human.stdout.trimEnd().split('\n')
    expect(printed, human.stdout).to.have.length(1)
    expect(printed[0]).to.contain(`keys x\\n${forged}`)
  })

  it('backup-db, restore-db and migrate-db write one summary line each', async () => {
    expect((await sandbox.run(['add-client', '--db-backend', 'json', '--name', 'one', '-q'])).code).to.equal(0)
    const file = path.join(sandbox.root, 'b.backup')
    expect((await sandbox.run(['backup-db', '--db-backend', 'json', '--out', file, '-q'])).code).to.equal(0)
    expect((await sandbox.run(['restore-db', file, '--to', 'json', '--to-path', path.join(sandbox.root, 'r.json'), '-q'])).code).to.equal(0)
    expect((await sandbox.run(['migrate-db', '--from', 'json', '--to', 'sqlite', '-q'])).code).to.equal(0)
    const entries = lines(auditFile(sandbox))
    expect(entries.map((entry) => entry.event)).to.deep.equal(['add', 'backup', 'restore', 'migrate'])
    expect(entries[1]!.details).to.deep.include({file, count: 1, encrypted: false})
    expect(entries[2]!.details).to.deep.include({file, records: 1, written: 1, verified: true})
    expect(entries[3]!.details).to.deep.include({copied: 1, verified: true})
  })

  it('audit.file in the config file moves the trail', async () => {
    writeFileSync(path.join(sandbox.home, '.hivemindrc.json'), JSON.stringify({audit: {file: 'trail/custom.log'}}))
    expect((await sandbox.run(['add-client', '--db-backend', 'json', '-q'])).code).to.equal(0)
    expect(lines(path.join(sandbox.home, 'trail/custom.log'))).to.have.length(1)
    expect(sandbox.exists('.local/state/hivemind-core/audit.log')).to.equal(false)
  })

  it('an audit file that is the database file (or a link to it) is refused before the change, which would have appended audit lines to clients.json (QA)', async () => {
    const database = path.join(sandbox.home, 'hive.json')
    expect((await sandbox.run(['add-client', '--db-backend', 'json', '--db-path', database, '-q'])).code).to.equal(0)
    const before = readFileSync(database)
    symlinkSync(database, path.join(sandbox.home, 'link.json'))
    for (const [env, from] of [[{HIVEMIND_AUDIT_FILE: database}, 'env HIVEMIND_AUDIT_FILE'], [{HIVEMIND_AUDIT_FILE: path.join(sandbox.home, 'link.json')}, 'env HIVEMIND_AUDIT_FILE']] as const) {
      const refused = await sandbox.run(['add-client', '--db-backend', 'json', '--db-path', database, '-q'], {env})
      expect(refused.code, refused.stderr).to.equal(1)
      expect(refused.stderr).to.equal(`Error: ${path.join(sandbox.home, env.HIVEMIND_AUDIT_FILE === database ? 'hive.json' : 'link.json')} is the database itself (${database}): writing there would destroy it\nHint: choose another audit file (this one is ${from}); nothing was changed\n`)
      expect(readFileSync(database).equals(before), 'database unchanged').to.equal(true)
    }
    // From the config file, and for SQLite's companion files too.
    writeFileSync(path.join(sandbox.home, '.hivemindrc.json'), JSON.stringify({audit: {file: 'hive.db-wal'}}))
    const wal = await sandbox.run(['add-client', '--db-backend', 'sqlite', '--db-path', path.join(sandbox.home, 'hive.db'), '-q'])
    expect(wal.code, wal.stderr).to.equal(1)
    expect(wal.stderr).to.contain(`belongs to the database ${path.join(sandbox.home, 'hive.db')}: writing there would corrupt it\nHint: choose another audit file (this one is ./.hivemindrc.json audit.file); nothing was changed`)
    expect(sandbox.exists('hive.db')).to.equal(false)
    // The default clients.json beside the selected database (the Python hub's) is refused too.
    const upstream = path.join(sandbox.home, '.local/share/hivemind-core/clients.json')
    const beside = await sandbox.run(['add-client', '--db-backend', 'sqlite', '--db-path', path.join(sandbox.home, 'other.db'), '-q'], {env: {HIVEMIND_AUDIT_FILE: upstream}})
    expect(beside.code, beside.stderr).to.equal(1)
    expect(beside.stderr.split('\n')[0]).to.equal(`Error: ${upstream} is the database itself (${upstream}): writing there would destroy it`)
    // An unset variable in the audit file's path is refused before the change too, naming where it was set (QA: the client was added first).
    writeFileSync(path.join(sandbox.home, '.hivemindrc.json'), JSON.stringify({audit: {file: '$AUDIT_DIR/audit.log'}}))
    for (const args of [['add-client', '--db-backend', 'json', '--db-path', database, '-q'], ['audit']]) {
      const unset = await sandbox.run(args)
      expect(unset.code, unset.stderr).to.equal(1)
      expect(unset.stderr).to.equal('Error: ./.hivemindrc.json audit.file: environment variable AUDIT_DIR is not set\nHint: set it, or write the path without it\n')
    }
    expect(readFileSync(database).equals(before), 'database unchanged').to.equal(true)
    writeFileSync(path.join(sandbox.home, '.hivemindrc.json'), '{}')
    // A read-only command does not write the trail: it still works.
    expect((await sandbox.run(['list-clients', '--db-backend', 'json', '--db-path', database, '-q'], {env: {HIVEMIND_AUDIT_FILE: database}})).code).to.equal(0)
  })

  describe('with the redis backend', () => {
    let redis: RedisServer

    before(async () => {
      redis = await startRedisServer()
    })

    after(async () => {
      await redis?.stop()
    })

    it('audit.redisStream also appends to a stream on the hive\'s server, which audit --source redis reads', async () => {
      const env = {HIVEMIND_DB_BACKEND: 'redis', HIVEMIND_REDIS_URL: redis.url, HIVEMIND_AUDIT_REDIS_STREAM: '1'}
      expect((await sandbox.run(['add-client', '--name', 'r1', '-q'], {env})).code).to.equal(0)
      // A second "host": another HOME, so another local file, same stream.
      const other = createSandbox()
      try {
        const result = await other.run(['add-client', '--name', 'r2', '-q'], {env})
        expect(result.code, result.stderr).to.equal(0)
      } finally {
        other.cleanup()
      }
      const read = await sandbox.run(['audit', '--source', 'redis', '--json', '-q'], {env})
      expect(read.code, read.stderr).to.equal(0)
      expect((JSON.parse(read.stdout) as AuditEntry[]).map((entry) => entry.name)).to.deep.equal(['r1', 'r2'])
      expect(lines(auditFile(sandbox)).map((entry) => entry.name)).to.deep.equal(['r1'])
    })
  })
})
