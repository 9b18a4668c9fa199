/**
 * --db-path pointing at another program's SQLite database (a typo, a wrong directory): every
 * command refuses it, and the file keeps every byte: no hivemind tables, no switch to WAL.
 */
import {existsSync, mkdirSync} from 'node:fs'
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
