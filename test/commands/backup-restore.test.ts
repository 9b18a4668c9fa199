import {execFileSync} from 'node:child_process'
import {mkdirSync, readdirSync, readFileSync, statSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {expect} from 'chai'

import {resolvePaths} from '../../src/config/paths.js'
import {canonicalJson} from '../../src/core/client.js'
import {readMark, writeMark} from '../../src/migrate/marker.js'
import {backendsUnderTest, contents, seed} from '../helpers/backends-under-test.js'
import {type RedisServer, startRedisServer} from '../helpers/redis-server.js'
import {type CliSandbox, createSandbox} from '../helpers/sandbox.js'
import {variedClients} from '../helpers/varied-clients.js'
import {writePythonClientsDb} from '../plugins/sqlite/helpers.js'

let redis: RedisServer | undefined
const BACKENDS = backendsUnderTest(() => redis)
const PASSPHRASE = 'correct horse battery staple'

describe('backup-db / restore-db', function () {
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

  const withPass = (passphrase = PASSPHRASE) => ({env: {HIVEMIND_BACKUP_PASSPHRASE: passphrase}})

  for (const name of ['sqlite', 'json', 'redis'] as const) {
    for (const encrypted of [false, true]) {
      it(`${name}${encrypted ? ', encrypted' : ''}: backup → restore into an empty ${name} gives canonically equal records, tombstones included`, async () => {
        const backend = BACKENDS[name]
        const source = backend.location(sandbox.root, 'source')
        const target = backend.location(sandbox.root, 'target')
        const records = variedClients(60)
        await seed(backend, source, records)
        const expected = records.map((record) => canonicalJson(record))
        const file = path.join(sandbox.root, `hive.backup${encrypted ? '.enc' : ''}`)

        const backup = await sandbox.run(['backup-db', ...backend.dbFlags(source), '--out', file, '--json', '--quiet', ...(encrypted ? ['--encrypt'] : [])], encrypted ? withPass() : {})
        expect(backup.code, backup.stderr).to.equal(0)
        expect(JSON.parse(backup.stdout)).to.deep.include({file, backend: name, count: 60, encrypted})
        expect(statSync(file).mode & 0o777).to.equal(0o600)
        const text = readFileSync(file, 'utf8')
        const header = JSON.parse(text.slice(0, text.indexOf('\n'))) as Record<string, unknown>
        expect(header).to.deep.include({format: 'hivemind-core-backup', version: 1, backend: name, count: 60, encrypted})
        if (encrypted) {
          // Nothing of any record is readable without the passphrase.
          for (const record of records) {
            if (record.password) expect(text).not.to.include(record.password)
            expect(text).not.to.include(`"${record.api_key}"`)
          }
          expect(header.kdf).to.deep.include({name: 'scrypt'})
        } else {
          expect(header.sha256).to.match(/^[0-9a-f]{64}$/)
          expect(text.split('\n').slice(1, -1)).to.deep.equal(expected)
        }

        const restore = await sandbox.run(['restore-db', file, ...backend.toFlags(target), '--json', '--quiet'], encrypted ? withPass() : {})
        expect(restore.code, restore.stderr).to.equal(0)
        expect(JSON.parse(restore.stdout)).to.deep.include({records: 60, written: 60, verified: true})
        expect(await contents(backend, target)).to.deep.equal(expected)
        expect(await contents(backend, source)).to.deep.equal(expected)
      })
    }
  }

  it('restores a backup of one backend into another (sqlite → redis), into the CURRENT database by default', async () => {
    const from = BACKENDS.sqlite
    const to = BACKENDS.redis
    const source = from.location(sandbox.root, 'source')
    const target = to.location(sandbox.root, 'target')
    const records = variedClients(25)
    await seed(from, source, records)
    const file = path.join(sandbox.root, 'hive.backup')
    expect((await sandbox.run(['backup-db', ...from.dbFlags(source), '--out', file, '-q'])).code).to.equal(0)
    const restore = await sandbox.run(['restore-db', file, ...to.dbFlags(target), '-q'])
    expect(restore.code, restore.stderr).to.equal(0)
    expect(await contents(to, target)).to.deep.equal(records.map((record) => canonicalJson(record)))
  })

  it('a hint about a target named with --to-* flags names those flags; about the current database, --db-path', async () => {
    const from = BACKENDS.json
    const source = from.location(sandbox.root, 'source')
    await seed(from, source, variedClients(3))
    const file = path.join(sandbox.root, 'hive.backup')
    expect((await sandbox.run(['backup-db', ...from.dbFlags(source), '--out', file, '-q'])).code).to.equal(0)
    const directory = path.join(sandbox.root, 'a-directory')
    mkdirSync(directory)
    const toSide = await sandbox.run(['restore-db', file, '--to', 'json', '--to-path', directory, '-q'])
    expect(toSide.code, toSide.stderr).to.equal(1)
    expect(toSide.stderr.split('\n')).to.include('Hint: check the database path (--to-path, database.json.path)')
    const current = await sandbox.run(['restore-db', file, '--db-backend', 'json', '--db-path', directory, '-q'])
    expect(current.code, current.stderr).to.equal(1)
    expect(current.stderr.split('\n')).to.include('Hint: check the database path (--db-path, database.json.path)')
    expect(readdirSync(directory)).to.deep.equal([])
  })

  it('refuses a non-empty target (exit 3) unless --merge or --force, like migrate-db', async () => {
    const backend = BACKENDS.json
    const source = backend.location(sandbox.root, 'source')
    const target = backend.location(sandbox.root, 'target')
    const records = variedClients(10)
    await seed(backend, source, records)
    const file = path.join(sandbox.root, 'hive.backup')
    expect((await sandbox.run(['backup-db', ...backend.dbFlags(source), '--out', file, '-q'])).code).to.equal(0)

    // The target holds a record that is not in the backup (id 50).
    const [extra] = variedClients(1, 50)
    await seed(backend, target, [extra!])
    const bytes = readFileSync(target)
    const refused = await sandbox.run(['restore-db', file, ...backend.toFlags(target), '-q'])
    expect(refused.code, refused.stderr).to.equal(3)
    expect(refused.stderr).to.match(/not empty/)
    expect(readFileSync(target).equals(bytes)).to.equal(true)

    const merged = await sandbox.run(['restore-db', file, ...backend.toFlags(target), '--merge', '-q', '--json'])
    expect(merged.code, merged.stderr).to.equal(0)
    expect(await contents(backend, target)).to.deep.equal([...records, extra!].map((record) => canonicalJson(record)))

    const forced = await sandbox.run(['restore-db', file, ...backend.toFlags(target), '--force', '-q'])
    expect(forced.code, forced.stderr).to.equal(0)
    expect(await contents(backend, target)).to.deep.equal(records.map((record) => canonicalJson(record)))
    // Which clients --force removed is said, and kept in the audit trail (QA: it said nothing).
    expect(forced.stdout).to.contain('(emptied first: 1 record(s) not in the backup removed, ids 50)')
    const audit = await sandbox.run(['audit', '--json', '-q', '--event', 'restore'])
    const restores = JSON.parse(audit.stdout) as Array<{details: Record<string, unknown>}>
    expect(restores.at(-1)!.details).to.deep.include({cleared: true, removed: 1, removedIds: [50], policy: 'force'})
  })

  it('an interrupted restore finishes when the same command runs again; a target marked by another backup is still refused', async () => {
    const backend = BACKENDS.json
    const source = backend.location(sandbox.root, 'source')
    const records = variedClients(12)
    await seed(backend, source, records)
    const file = path.join(sandbox.root, 'hive.backup')
    expect((await sandbox.run(['backup-db', ...backend.dbFlags(source), '--out', file, '-q'])).code).to.equal(0)
    const stateDir = resolvePaths(sandbox.env).stateDir

    // What a run killed after its first batch leaves: part of the backup in the target, marked incomplete.
    const target = backend.location(sandbox.root, 'target')
    await seed(backend, target, records.slice(0, 5))
    await writeMark(stateDir, `json ${target}`, {from: `backup ${file}`, state: 'incomplete'})
    const resumed = await sandbox.run(['restore-db', file, ...backend.toFlags(target), '-q', '--json'])
    expect(resumed.code, resumed.stderr).to.equal(0)
    expect(JSON.parse(resumed.stdout)).to.deep.include({written: 7, identical: 5, verified: true})
    expect(await contents(backend, target)).to.deep.equal(records.map((record) => canonicalJson(record)))
    expect(readMark(stateDir, `json ${target}`)).to.deep.include({state: 'complete'})

    const other = backend.location(sandbox.root, 'other')
    await seed(backend, other, records.slice(0, 5))
    await writeMark(stateDir, `json ${other}`, {from: `backup ${path.join(sandbox.root, 'another.backup')}`, state: 'incomplete'})
    const bytes = readFileSync(other)
    const refused = await sandbox.run(['restore-db', file, ...backend.toFlags(other), '-q'])
    expect(refused.code, refused.stderr).to.equal(3)
    expect(refused.stderr).to.contain('all identical to the backup\'s, and the backup has 7 more')
    expect(readFileSync(other).equals(bytes)).to.equal(true)
  })

  it("an interrupted restore --force is finished only by --force: without it the target's own differing clients are refused, not overwritten (QA)", async () => {
    const backend = BACKENDS.json
    const source = backend.location(sandbox.root, 'source')
    const records = variedClients(12)
    await seed(backend, source, records)
    const file = path.join(sandbox.root, 'hive.backup')
    expect((await sandbox.run(['backup-db', ...backend.dbFlags(source), '--out', file, '-q'])).code).to.equal(0)
    const stateDir = resolvePaths(sandbox.env).stateDir

    // What `restore-db --force` killed before its clear committed leaves: the target's own
    // clients (ids 1-3, other satellites than the backup's), marked incomplete by that run.
    const target = backend.location(sandbox.root, 'target')
    const own = records.slice(0, 3).map((record) => ({...record, name: `own ${record.client_id}`, api_key: `own-key-${record.client_id}`}))
    await seed(backend, target, own)
    await writeMark(stateDir, `json ${target}`, {from: `backup ${file}`, state: 'incomplete', by: 'restore-db', policy: 'force'})
    const bytes = readFileSync(target)

    const warned = await sandbox.run(['list-clients', ...backend.dbFlags(target), '--json'])
    expect(warned.stderr).to.contain('finish it by re-running the same hivemind-core restore-db command (with --force, as it was run)')
    for (const flags of [['--merge'], [], ['--merge', '--dry-run'], ['--dry-run']]) {
      const refused = await sandbox.run(['restore-db', file, ...backend.toFlags(target), ...flags, '-q'])
      expect(refused.code, `${flags.join(' ')}: ${refused.stderr}`).to.equal(3)
      expect(refused.stderr).to.contain('holds 3 record(s) that differ from the backup')
      expect(refused.stderr).to.contain('Hint: an interrupted run of this same copy used --force: re-run it with --force to finish it')
      expect(readFileSync(target).equals(bytes), flags.join(' ')).to.equal(true)
    }
    // A mark of an older version says neither the policy nor the backup's fingerprint: the file is
    // the same backup, so a differing record cannot be one the interrupted run wrote either.
    await writeMark(stateDir, `json ${target}`, {from: `backup ${file}`, state: 'incomplete'})
    const oldMark = await sandbox.run(['restore-db', file, ...backend.toFlags(target), '-q'])
    expect(oldMark.code, oldMark.stderr).to.equal(3)
    expect(readFileSync(target).equals(bytes)).to.equal(true)

    await writeMark(stateDir, `json ${target}`, {from: `backup ${file}`, state: 'incomplete', by: 'restore-db', policy: 'force'})
    const finished = await sandbox.run(['restore-db', file, ...backend.toFlags(target), '--force', '-q'])
    expect(finished.code, finished.stderr).to.equal(0)
    expect(await contents(backend, target)).to.deep.equal(records.map((record) => canonicalJson(record)))
    expect(readMark(stateDir, `json ${target}`)).to.deep.include({state: 'complete', by: 'restore-db'})
  })

  it('two clients sharing an access key: backup-db refuses to take the backup, and restore-db refuses such a file before writing anything, --force included (QA)', async () => {
    // A Redis hive hand-edited so that clients 2 and 3 hold one key: Redis stores it as it is.
    const redisSide = BACKENDS.redis
    const hive = redisSide.location(sandbox.root, 'shared')
    const records = variedClients(3)
    await seed(redisSide, hive, records)
    const {Redis} = await import('ioredis')
    const client = new Redis(redis!.url)
    try {
      await client.hset(`${hive}{hive}client:3`, 'api_key', records[1]!.api_key)
    } finally {
      client.disconnect()
    }
    const refusedBackup = await sandbox.run(['backup-db', ...redisSide.dbFlags(hive), '--out', path.join(sandbox.root, 'shared.backup'), '-q'])
    expect(refusedBackup.code, refusedBackup.stderr).to.equal(1)
    expect(refusedBackup.stderr).to.contain('clients 2 and 3 share an access key, so a backup of it could not be restored; nothing was written')
    expect(readdirSync(sandbox.root)).not.to.include('shared.backup')

    // Such a file (written by hand, with a valid checksum) is refused by restore-db, the target kept.
    const unsigned = {format: 'hivemind-core-backup', version: 1, encrypted: false, backend: 'redis', location: hive, createdAt: new Date().toISOString(), count: 3}
    const body = records.map((record, index) => `${canonicalJson(index === 2 ? {...record, api_key: records[1]!.api_key} : record)}\n`).join('')
    const {createHash} = await import('node:crypto')
    const header = {...unsigned, sha256: createHash('sha256').update(`${JSON.stringify(unsigned)}\n${body}`).digest('hex')}
    const file = path.join(sandbox.root, 'crafted.backup')
    writeFileSync(file, `${JSON.stringify(header)}\n${body}`, {mode: 0o600})
    const target = BACKENDS.sqlite.location(sandbox.root, 'target')
    await seed(BACKENDS.sqlite, target, variedClients(20, 100))
    const before = await contents(BACKENDS.sqlite, target)
    for (const flags of [['--force', '--dry-run'], ['--force']]) {
      const refused = await sandbox.run(['restore-db', file, ...BACKENDS.sqlite.toFlags(target), ...flags, '-q'])
      expect(refused.code, refused.stderr).to.equal(1)
      expect(refused.stderr).to.contain('crafted.backup: clients 2 and 3 share an access key, which no database can hold')
      expect(await contents(BACKENDS.sqlite, target)).to.deep.equal(before)
    }
  })

  it('backs up a Python clients.db without changing it: no schema upgrade, no WAL, nothing left beside it', async () => {
    const dir = path.join(sandbox.root, 'python')
    mkdirSync(dir)
    const db = path.join(dir, 'clients.db')
    const records = writePythonClientsDb(db)
    const before = readFileSync(db)
    const tmp = path.join(sandbox.root, 'tmp')
    mkdirSync(tmp)
    const file = path.join(sandbox.root, 'hive.backup')
    const backup = await sandbox.run(['backup-db', '--db-path', db, '--out', file, '--json', '--quiet'], {env: {TMPDIR: tmp}})
    expect(backup.code, backup.stderr).to.equal(0)
    expect(JSON.parse(backup.stdout)).to.deep.include({file, backend: 'sqlite', location: db, count: 3})
    const text = readFileSync(file, 'utf8')
    expect(text.split('\n').slice(1, -1)).to.deep.equal(records.map((record) => canonicalJson(record)))
    expect(readFileSync(db).equals(before)).to.equal(true)
    expect(readdirSync(dir)).to.deep.equal(['clients.db'])
    expect(readdirSync(tmp)).to.deep.equal([])
  })

  it('refuses to overwrite an existing backup file unless --force', async () => {
    const backend = BACKENDS.json
    const source = backend.location(sandbox.root, 'source')
    await seed(backend, source, variedClients(3))
    const file = path.join(sandbox.root, 'hive.backup')
    writeFileSync(file, 'precious')
    const refused = await sandbox.run(['backup-db', ...backend.dbFlags(source), '--out', file, '-q'])
    expect(refused.code).to.equal(1)
    expect(refused.stderr).to.match(/already exists/)
    expect(readFileSync(file, 'utf8')).to.equal('precious')
    expect((await sandbox.run(['backup-db', ...backend.dbFlags(source), '--out', file, '-q', '--force'])).code).to.equal(0)
    // A named pipe (a reader waiting on it, say) is not replaced by a regular file, --force or not (QA).
    const fifo = path.join(sandbox.root, 'pipe')
    execFileSync('mkfifo', [fifo])
    for (const [command, flag] of [['backup-db', '--out'], ['export-clients', '--path']] as const) {
      const forced = await sandbox.run([command, ...backend.dbFlags(source), flag, fifo, '-q', '--force'])
      expect(forced.code, forced.stderr).to.equal(1)
      expect(forced.stderr).to.equal(`Error: ${fifo} is a named pipe (FIFO), not a file: it is not replaced, --force or not\nHint: choose another ${flag}\n`)
      expect(statSync(fifo).isFIFO()).to.equal(true)
    }
  })

  it('--out a directory writes the backup inside it under the default name; a directory that does not exist is refused and not created', async () => {
    const backend = BACKENDS.json
    const source = backend.location(sandbox.root, 'source')
    await seed(backend, source, variedClients(3))
    const directory = path.join(sandbox.root, 'backups')
    mkdirSync(directory)
    for (const args of [['--out', directory], ['--out', directory, '--force']]) {
      const result = await sandbox.run(['backup-db', ...backend.dbFlags(source), ...args, '-q', '--json'])
      expect(result.code, result.stderr).to.equal(0)
      const written = JSON.parse(result.stdout) as {file: string}
      expect(path.dirname(written.file)).to.equal(directory)
      expect(path.basename(written.file)).to.match(/^clients-json-\d{8}T\d{6}Z\.backup$/)
      expect(statSync(written.file).mode & 0o777).to.equal(0o600)
      expect(readFileSync(written.file, 'utf8').split('\n').length).to.equal(5)
    }
    for (const out of [path.join(sandbox.root, 'missing', 'hive.backup'), path.join(sandbox.root, 'missing') + path.sep]) {
      const refused = await sandbox.run(['backup-db', ...backend.dbFlags(source), '--out', out, '-q'])
      expect(refused.code).to.equal(1)
      expect(refused.stderr.split('\n')[0]).to.match(new RegExp(`^Error: cannot write .*: the directory ${path.join(sandbox.root, 'missing')} does not exist$`))
      expect(refused.stderr).not.to.contain('    at ')
      expect(readdirSync(sandbox.root)).not.to.include('missing')
    }
  })

  it('writes into $XDG_DATA_HOME/hivemind-core/backups by default, directory 0700', async () => {
    const backend = BACKENDS.sqlite
    const source = backend.location(sandbox.root, 'source')
    await seed(backend, source, variedClients(3))
    const result = await sandbox.run(['backup-db', ...backend.dbFlags(source), '-q', '--json'])
    expect(result.code, result.stderr).to.equal(0)
    const {file} = JSON.parse(result.stdout) as {file: string}
    expect(path.dirname(file)).to.equal(path.join(sandbox.home, '.local/share/hivemind-core/backups'))
    expect(statSync(path.dirname(file)).mode & 0o777).to.equal(0o700)
    expect(statSync(file).mode & 0o777).to.equal(0o600)
  })

  it('--encrypt without a passphrase and without a terminal is a usage error, and writes nothing', async () => {
    const backend = BACKENDS.json
    const source = backend.location(sandbox.root, 'source')
    await seed(backend, source, variedClients(3))
    const file = path.join(sandbox.root, 'x.enc')
    const result = await sandbox.run(['backup-db', ...backend.dbFlags(source), '--out', file, '--encrypt', '-q'])
    expect(result.code).to.equal(2)
    expect(result.stderr).to.equal('Error: a backup passphrase is needed and there is no terminal to ask for it\nHint: set HIVEMIND_BACKUP_PASSPHRASE in the environment\n')
    // Set but empty (a script's variable left unfilled): said as such.
    const empty = await sandbox.run(['backup-db', ...backend.dbFlags(source), '--out', file, '--encrypt', '-q'], {env: {HIVEMIND_BACKUP_PASSPHRASE: ''}})
    expect(empty.code).to.equal(2)
    expect(empty.stderr).to.equal('Error: HIVEMIND_BACKUP_PASSPHRASE is set but empty, and there is no terminal to ask for the passphrase\nHint: give HIVEMIND_BACKUP_PASSPHRASE the passphrase\n')
    expect(sandbox.exists(file)).to.equal(false)
    // A passphrase that is a word of the message itself is not masked in it (QA: "too ********").
    const short = await sandbox.run(['backup-db', ...backend.dbFlags(source), '--out', file, '--encrypt', '-q'], withPass('short'))
    expect(short.code).to.equal(1)
    expect(short.stderr.split('\n')[0]).to.equal('Error: the backup passphrase is too short (at least 8 characters)')
    expect(sandbox.exists(file)).to.equal(false)
  })

  describe('a bad backup is a clear error and leaves the target untouched', () => {
    let source: string
    let target: string
    let plainFile: string
    let encryptedFile: string
    const backend = BACKENDS.json

    beforeEach(async () => {
      source = backend.location(sandbox.root, 'source')
      target = backend.location(sandbox.root, 'target')
      await seed(backend, source, variedClients(20))
      // A target with other content: --force would replace it, so only the error can protect it.
      await seed(backend, target, variedClients(5, 100))
      plainFile = path.join(sandbox.root, 'hive.backup')
      encryptedFile = path.join(sandbox.root, 'hive.backup.enc')
      expect((await sandbox.run(['backup-db', ...backend.dbFlags(source), '--out', plainFile, '-q'])).code).to.equal(0)
      expect((await sandbox.run(['backup-db', ...backend.dbFlags(source), '--out', encryptedFile, '--encrypt', '-q'], withPass())).code).to.equal(0)
    })

    async function expectRefused(file: string, pattern: RegExp, passphrase = PASSPHRASE): Promise<void> {
      const before = readFileSync(target)
      const result = await sandbox.run(['restore-db', file, ...backend.toFlags(target), '--force', '-q'], withPass(passphrase))
      expect(result.code, result.stdout).to.equal(1)
      expect(result.stderr).to.match(pattern)
      expect(result.stderr).not.to.match(/\n\s+at /) // no stack trace
      expect(readFileSync(target).equals(before), 'target changed').to.equal(true)
    }

    function mutate(file: string, change: (bytes: Buffer) => Buffer): string {
      const out = `${file}.bad`
      writeFileSync(out, change(readFileSync(file)))
      return out
    }

    const flip = (at: (bytes: Buffer) => number) => (bytes: Buffer) => {
      const copy = Buffer.from(bytes)
      const index = at(copy)
      // Another printable character at the same place (keeps the file valid UTF-8).
      copy[index] = copy[index] === 0x41 ? 0x42 : 0x41
      return copy
    }

    it('wrong passphrase', async () => {
      await expectRefused(encryptedFile, /wrong passphrase/, 'not the passphrase at all')
    })

    it('encrypted, truncated', async () => {
      await expectRefused(mutate(encryptedFile, (bytes) => bytes.subarray(0, bytes.length - 40)), /modified or is truncated|truncated/)
    })

    it('encrypted, one byte of the payload flipped', async () => {
      await expectRefused(mutate(encryptedFile, flip((bytes) => bytes.length - 100)), /modified or is truncated/)
    })

    it('encrypted, one byte of the header flipped (the header is authenticated)', async () => {
      const text = readFileSync(encryptedFile, 'utf8')
      const at = text.indexOf('"createdAt":"') + '"createdAt":"'.length + 2
      await expectRefused(mutate(encryptedFile, flip(() => at)), /modified|damaged/)
    })

    it('plain, truncated', async () => {
      await expectRefused(mutate(plainFile, (bytes) => bytes.subarray(0, Math.floor(bytes.length * 0.7))), /checksum mismatch/)
    })

    it('plain, one byte of a record flipped', async () => {
      await expectRefused(mutate(plainFile, flip((bytes) => bytes.length - 30)), /checksum mismatch/)
    })

    it('plain, one byte of the header flipped', async () => {
      const text = readFileSync(plainFile, 'utf8')
      const at = text.indexOf('"location":"') + '"location":"'.length + 3
      await expectRefused(mutate(plainFile, flip(() => at)), /checksum mismatch/)
    })

    it('not a backup at all: a clients.json, with the command that loads one', async () => {
      for (const text of ['{"1": {}}\n', '{\n    "1": {\n        "client_id": 1\n    }\n}\n']) {
        const file = path.join(sandbox.root, 'clients.json')
        writeFileSync(file, text)
        await expectRefused(file, /not a hivemind-core backup.*\nHint: a clients\.json \(of the Python hivemind-core too\) or an export-clients file is loaded with: hivemind-core import-clients FILE\n$/)
      }
    })
  })
})
