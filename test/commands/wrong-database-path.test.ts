/**
 * A --db-path that cannot be the hive (a typo, a wrong directory): refused by every command in one
 * line saying what is wrong, never read as an empty hive, and nothing is written there.
 * - another program's SQLite database: it keeps every byte (no hivemind tables, no switch to WAL);
 * - a path under a file (ENOTDIR): named as such, not as "no clients" nor as a permission problem;
 * - a directory or a named pipe: named as such (reading a FIFO would block the command forever).
 */
import {spawnSync} from 'node:child_process'
import {existsSync, mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import Database from 'better-sqlite3'
import {expect} from 'chai'

import {digestFiles, errorLine, expectCleanFailure, Sandbox} from '../helpers/cli.js'

describe('a foreign SQLite database as --db-path', function () {
  this.timeout(60_000)
  let sandbox: Sandbox
  let file: string

  beforeEach(() => {
    sandbox = Sandbox.create()
    mkdirSync(path.join(sandbox.root, 'app'))
    file = path.join(sandbox.root, 'app', 'notes.db')
    const db = new Database(file)
    db.exec("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT); INSERT INTO notes (body) VALUES ('keep me')")
    db.close()
  })
  afterEach(() => sandbox.cleanup())

  for (const args of [['list-clients'], ['show-client', '1'], ['add-client', '--name', 'kitchen'], ['export-clients', '--format', 'json']]) {
    it(`${args[0]}: refused in one line naming the file and its table, every byte kept`, async () => {
      const before = digestFiles([file])
      const result = await sandbox.run([...args, '--db-backend', 'sqlite', '--db-path', file])
      expectCleanFailure(result, 1)
      expect(errorLine(result)).to.equal(`Error: ${file} is an SQLite database of something else (it has the table "notes" and no clients table); nothing was written to it`)
      expect(result.stderr).to.contain("point --db-path (or database.sqlite.path) at the hive's clients.db, or at a new file")
      expect(digestFiles([file])).to.equal(before)
      expect(existsSync(`${file}-wal`), '-wal left').to.equal(false)
      expect(existsSync(`${file}-shm`), '-shm left').to.equal(false)
      const check = new Database(file, {readonly: true})
      try {
        expect(check.pragma('journal_mode', {simple: true})).to.equal('delete')
        expect(check.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").pluck().all()).to.deep.equal(['notes'])
      } finally {
        check.close()
      }
    })
  }
})

describe('a --db-path under a file', function () {
  this.timeout(60_000)
  let sandbox: Sandbox
  let blocker: string

  before(() => {
    sandbox = Sandbox.create()
    blocker = path.join(sandbox.root, 'not-a-dir')
    writeFileSync(blocker, 'x\n')
  })
  after(() => sandbox.cleanup())

  for (const backend of ['sqlite', 'json']) {
    for (const args of [['list-clients'], ['show-client', '1'], ['export-clients'], ['add-client', '--name', 'kitchen']]) {
      it(`${backend} ${args[0]}: "<dir> is a file, not a directory", exit 1, no "No clients"`, async () => {
        const file = path.join(blocker, 'hive', `clients.${backend === 'json' ? 'json' : 'db'}`)
        const result = await sandbox.run([...args, '--db-backend', backend, '--db-path', file, '-q'])
        expectCleanFailure(result, 1)
        expect(errorLine(result)).to.match(new RegExp(`^Error: cannot [a-z ]+ ${file.replaceAll(/[.*+?^${}()|[\]\\]/g, '\\$&')}: ${blocker.replaceAll(/[.*+?^${}()|[\]\\]/g, '\\$&')} is a file, not a directory$`))
        expect(result.stderr).to.contain(`check the database path (--db-path, database.${backend}.path)`)
        expect(result.stdout).to.equal('')
      })
    }
  }

  it('migrate-db from a source under a file names it too (not "permission denied")', async () => {
    const result = await sandbox.run(['migrate-db', '--from', 'sqlite', '--from-path', path.join(blocker, 'clients.db'), '--to', 'json', '--to-path', path.join(sandbox.root, 'out.json'), '-q'])
    expectCleanFailure(result, 1)
    expect(errorLine(result)).to.equal(`Error: cannot open ${path.join(blocker, 'clients.db')}: ${blocker} is a file, not a directory`)
    expect(existsSync(path.join(sandbox.root, 'out.json'))).to.equal(false)
  })
})

describe('a --db-path naming a directory or a named pipe', function () {
  this.timeout(60_000)
  let sandbox: Sandbox
  let fifo: string

  before(() => {
    sandbox = Sandbox.create()
    fifo = path.join(sandbox.root, 'pipe')
    expect(spawnSync('mkfifo', [fifo]).status).to.equal(0)
  })
  after(() => sandbox.cleanup())

  for (const backend of ['sqlite', 'json']) {
    for (const [label, kind] of [['pipe', 'a named pipe (FIFO)'], ['dir', 'a directory']] as const) {
      it(`${backend}: list-clients, add-client and migrate-db name ${kind} at once (no hang), exit 1`, async () => {
        const location = label === 'pipe' ? fifo : sandbox.root
        const what = backend === 'json' ? 'a clients file' : 'an SQLite database'
        const results = await Promise.all([
          sandbox.run(['list-clients', '--db-backend', backend, '--db-path', location, '-q']),
          sandbox.run(['add-client', '--name', 'x', '--db-backend', backend, '--db-path', location, '-q']),
          sandbox.run(['migrate-db', '--from', backend, '--from-path', location, '--to', backend === 'json' ? 'sqlite' : 'json', '--to-path', path.join(sandbox.root, `out-${backend}-${label}`), '-q']),
        ])
        for (const result of results) {
          expectCleanFailure(result, 1)
          expect(errorLine(result)).to.equal(`Error: ${location} is ${kind}, not ${what}`)
        }
      })
    }
  }
})

describe('a damaged SQLite file or one that is not SQLite at all', function () {
  this.timeout(60_000)
  let sandbox: Sandbox

  before(() => {
    sandbox = Sandbox.create()
  })
  after(() => sandbox.cleanup())

  it('a truncated clients.db is "damaged" (restore it), a file of other bytes "not a valid SQLite database" (check the path); bytes unchanged', async () => {
    const whole = path.join(sandbox.root, 'whole.db')
    const db = new Database(whole)
    db.exec('CREATE TABLE filler (body TEXT)')
    const insert = db.prepare('INSERT INTO filler (body) VALUES (?)')
    for (let row = 0; row < 200; row++) insert.run('x'.repeat(500))
    db.close()
    const truncated = path.join(sandbox.root, 'truncated.db')
    writeFileSync(truncated, readFileSync(whole).subarray(0, 40_960))
    const garbage = path.join(sandbox.root, 'garbage.db')
    writeFileSync(garbage, 'x'.repeat(8192))
    for (const [file, error, hint] of [
      [truncated, `Error: ${truncated} is an SQLite database, but damaged (SQLITE_CORRUPT); nothing was changed`, `Hint: restore it from a backup (hivemind-core restore-db), or recover what is readable with: sqlite3 '${truncated}' .recover | sqlite3 recovered.db`],
      [garbage, `Error: ${garbage} is not a valid SQLite database (SQLITE_NOTADB)`, 'Hint: check --db-path / database.sqlite.path'],
    ]) {
      const before = digestFiles([file!])
      const result = await sandbox.run(['list-clients', '--db-backend', 'sqlite', '--db-path', file!, '-q'])
      expectCleanFailure(result, 1)
      expect(result.stderr.split('\n').filter(Boolean)).to.deep.equal([error, hint])
      expect(digestFiles([file!])).to.equal(before)
    }
  })
})

describe('a new database under the other backend\'s file name', function () {
  this.timeout(60_000)
  let sandbox: Sandbox

  beforeEach(() => {
    sandbox = Sandbox.create()
  })
  afterEach(() => sandbox.cleanup())

  it('sqlite is not created as clients.json, where the Python hivemind-core would take it for a damaged clients.json and write over it (QA); nothing is created', async () => {
    const file = path.join(sandbox.home, '.local/share/hivemind-core/clients.json')
    const result = await sandbox.run(['add-client', '--name', 'kitchen', '--db-path', file, '-q'])
    expectCleanFailure(result, 1)
    expect(errorLine(result)).to.equal(`Error: ${file} does not exist, and an SQLite database is not created under a name ending in .json (a clients.json's)`)
    expect(result.stderr).to.contain('Hint: for a clients.json there, add --db-backend json')
    expect(existsSync(file)).to.equal(false)
    // Named as what it is, it works.
    const json = await sandbox.run(['add-client', '--name', 'kitchen', '--db-backend', 'json', '--db-path', file, '-q'])
    expect(json.code, json.stderr).to.equal(0)
  })

  it('a clients.json is not created as new.db when a clients.json in the data directory made json the default (QA); nothing is created', async () => {
    const dataDir = path.join(sandbox.home, '.local/share/hivemind-core')
    mkdirSync(dataDir, {recursive: true})
    writeFileSync(path.join(dataDir, 'clients.json'), '{}\n', {mode: 0o600})
    const file = path.join(sandbox.root, 'new.db')
    const result = await sandbox.run(['add-client', '--name', 'kitchen', '--db-path', file, '-q'])
    expectCleanFailure(result, 1)
    expect(errorLine(result)).to.equal(`Error: ${file} does not exist, and a clients.json is not created under a name ending in .db (an SQLite database's)`)
    expect(result.stderr).to.contain('Hint: for an SQLite database there, add --db-backend sqlite')
    expect(existsSync(file)).to.equal(false)
    const sqlite = await sandbox.run(['add-client', '--name', 'kitchen', '--db-backend', 'sqlite', '--db-path', file, '-q'])
    expect(sqlite.code, sqlite.stderr).to.equal(0)
  })
})
