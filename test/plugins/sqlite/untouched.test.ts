/**
 * A sqlite location read by a store opened with `leaveUntouched` (migrate-db's source, backup-db)
 * or looked at by the probe (the agreement guard) stays byte-identical, and nothing is left beside
 * it: no -wal, -shm or -journal file, no private copy in the temp directory. Real files throughout.
 */
import {mkdirSync, readdirSync, statSync} from 'node:fs'
import path from 'node:path'

import Database from 'better-sqlite3'
import {expect} from 'chai'

import {canonicalJson} from '../../../src/core/client.js'
import type {ClientStore} from '../../../src/core/store.js'
import {probeSqliteFile} from '../../../src/plugins/sqlite/probe.js'
import {createSqliteStore, fileDigest, leaveHotJournal, sqliteSiblings, tempDir, writePythonClientsDb} from './helpers.js'

async function listAll(store: ClientStore): Promise<string[]> {
  const all: string[] = []
  for await (const record of store.list({includeRevoked: true})) all.push(canonicalJson(record))
  return all
}

describe('sqlite: locations left untouched', () => {
  let dir: string
  let remove: () => void
  /** TMPDIR of this process during a test: where a store would put its private copy. */
  let tmp: string
  let savedTmpdir: string | undefined

  beforeEach(() => {
    ;({dir, remove} = tempDir())
    tmp = path.join(dir, 'tmp')
    mkdirSync(tmp)
    savedTmpdir = process.env.TMPDIR
    process.env.TMPDIR = tmp
  })

  afterEach(() => {
    if (savedTmpdir === undefined) delete process.env.TMPDIR
    else process.env.TMPDIR = savedTmpdir
    remove()
  })

  describe('a store opened with leaveUntouched', () => {
    it('reads a Python clients.db (tombstone included) through a private copy: the file keeps every byte, and the copy (0700 dir, 0600 file) goes on close', async () => {
      const file = path.join(dir, 'py', 'clients.db')
      mkdirSync(path.dirname(file))
      const records = writePythonClientsDb(file)
      const before = fileDigest(file)
      const store = await createSqliteStore(file, 'read', () => {}, {leaveUntouched: true})
      await store.open()
      try {
        expect(store.location).to.equal(file)
        expect(await listAll(store)).to.deep.equal(records.map((record) => canonicalJson(record)))
        expect(await store.count()).to.equal(2)
        expect((await store.getByApiKey(records[0]!.api_key))?.client_id).to.equal(1)
        // The copy lives in a private directory of the temp dir while the store is open.
        const [copyDir, ...others] = readdirSync(tmp)
        expect(others).to.deep.equal([])
        expect(statSync(path.join(tmp, copyDir!)).mode & 0o777).to.equal(0o700)
        for (const entry of readdirSync(path.join(tmp, copyDir!))) expect(statSync(path.join(tmp, copyDir!, entry)).mode & 0o777, entry).to.equal(0o600)
      } finally {
        await store.close()
      }
      expect(fileDigest(file)).to.equal(before)
      expect(readdirSync(path.dirname(file))).to.deep.equal(['clients.db'])
      expect(readdirSync(tmp)).to.deep.equal([])
    })

    it('refuses writes (STORE_READ_ONLY) and changes nothing', async () => {
      const file = path.join(dir, 'clients.db')
      writePythonClientsDb(file)
      const before = fileDigest(file)
      const store = await createSqliteStore(file, 'read', () => {}, {leaveUntouched: true})
      await store.open()
      try {
        const error = await store.add({name: 'new', api_key: 'key-new'}).then(() => undefined, (error_: unknown) => error_ as {code?: string})
        expect(error?.code).to.equal('STORE_READ_ONLY')
      } finally {
        await store.close()
      }
      expect(fileDigest(file)).to.equal(before)
      expect(sqliteSiblings(file)).to.deep.equal([])
    })

    it('revision() moves when another connection (the Python hub) commits to the original, and the next read sees the new row', async () => {
      const file = path.join(dir, 'clients.db')
      writePythonClientsDb(file)
      const store = await createSqliteStore(file, 'read', () => {}, {leaveUntouched: true})
      await store.open()
      try {
        const first = await store.revision()
        expect(await store.revision()).to.equal(first)
        expect(await store.count({includeRevoked: true})).to.equal(3)
        // What the Python hivemind-core's add-client does: a plain INSERT, rollback journal.
        const python = new Database(file)
        python.prepare("INSERT INTO clients (client_id, api_key, name, allowed_types) VALUES (4, 'k4', 'added by python', '[]')").run()
        python.close()
        const written = fileDigest(file)
        expect(await store.revision()).not.to.equal(first)
        expect((await store.get(4))?.name).to.equal('added by python')
        expect(await store.count({includeRevoked: true})).to.equal(4)
        expect(fileDigest(file)).to.equal(written)
        // The copy it replaced is gone: one copy at a time.
        const [copyDir] = readdirSync(tmp)
        expect(readdirSync(path.join(tmp, copyDir!)).filter((entry) => entry.endsWith('.db'))).to.have.length(1)
      } finally {
        await store.close()
      }
      expect(sqliteSiblings(file)).to.deep.equal([])
      expect(readdirSync(tmp)).to.deep.equal([])
    })

    it('reads a clients.db a killed writer left with a hot journal: the last committed records, from a copy rolled back in private; the file and its journal keep every byte', async () => {
      const file = path.join(dir, 'clients.db')
      const records = writePythonClientsDb(file)
      leaveHotJournal(file)
      const before = {file: fileDigest(file), journal: fileDigest(`${file}-journal`)}
      const store = await createSqliteStore(file, 'read', () => {}, {leaveUntouched: true})
      await store.open()
      try {
        expect(await listAll(store)).to.deep.equal(records.map((record) => canonicalJson(record)))
        expect((await store.getByApiKey(records[2]!.api_key))?.name).to.equal('HiveMind-Node-3')
        const revision = await store.revision()
        expect(await store.revision()).to.equal(revision)
        const [copyDir, ...others] = readdirSync(tmp)
        expect(others).to.deep.equal([])
        for (const entry of readdirSync(path.join(tmp, copyDir!))) expect(statSync(path.join(tmp, copyDir!, entry)).mode & 0o777, entry).to.equal(0o600)
      } finally {
        await store.close()
      }
      expect({file: fileDigest(file), journal: fileDigest(`${file}-journal`)}).to.deep.equal(before)
      expect(sqliteSiblings(file)).to.deep.equal(['clients.db-journal'])
      expect(readdirSync(tmp)).to.deep.equal([])
    })

    it('after a hot journal: revision() moves when another process rolls it back and commits, and the next read sees that commit', async () => {
      const file = path.join(dir, 'clients.db')
      writePythonClientsDb(file)
      leaveHotJournal(file)
      const store = await createSqliteStore(file, 'read', () => {}, {leaveUntouched: true})
      await store.open()
      try {
        const first = await store.revision()
        expect(await store.count({includeRevoked: true})).to.equal(3)
        // The Python hub restarts: its first write rolls the journal back, then commits.
        const python = new Database(file)
        python.prepare("INSERT INTO clients (client_id, api_key, name, allowed_types) VALUES (4, 'k4', 'added after the crash', '[]')").run()
        python.close()
        expect(sqliteSiblings(file)).to.deep.equal([])
        expect(await store.revision()).not.to.equal(first)
        expect(await store.count({includeRevoked: true})).to.equal(4)
        expect((await store.get(4))?.name).to.equal('added after the crash')
        expect((await store.get(1))?.name).to.equal('kitchen')
      } finally {
        await store.close()
      }
      expect(readdirSync(tmp)).to.deep.equal([])
    })

    it('reads a database already in our schema and in WAL mode directly (no copy), refuses writes there too, and leaves it byte-identical with no -wal/-shm', async () => {
      const file = path.join(dir, 'ours.db')
      const writer = await createSqliteStore(file)
      await writer.open()
      await writer.add({name: 'kitchen', api_key: 'key-kitchen'})
      await writer.close()
      expect(sqliteSiblings(file)).to.deep.equal([])
      const before = fileDigest(file)
      const store = await createSqliteStore(file, 'read', () => {}, {leaveUntouched: true})
      await store.open()
      try {
        expect(readdirSync(tmp), 'no private copy').to.deep.equal([])
        expect((await store.get(1))?.name).to.equal('kitchen')
        const refused = await store.update(1, {name: 'changed'}).then(() => undefined, (error: unknown) => error as {code?: string})
        expect(refused?.code).to.equal('STORE_READ_ONLY')
        expect(fileDigest(file)).to.equal(before)
        const revision = await store.revision()
        const other = await createSqliteStore(file)
        await other.open()
        await other.add({name: 'hall', api_key: 'key-hall'})
        await other.close()
        expect(await store.revision()).not.to.equal(revision)
        expect((await store.get(2))?.name).to.equal('hall')
      } finally {
        await store.close()
      }
      const after = fileDigest(file)
      // Only the other writer changed it; reading it again leaves it as that writer left it.
      const again = await createSqliteStore(file, 'read', () => {}, {leaveUntouched: true})
      await again.open()
      expect(await again.count()).to.equal(2)
      await again.close()
      expect(fileDigest(file)).to.equal(after)
      expect(before).not.to.equal(after)
      expect(sqliteSiblings(file)).to.deep.equal([])
    })

    it('a file that does not exist is an error and is not created', async () => {
      const file = path.join(dir, 'missing.db')
      const store = await createSqliteStore(file, 'read', () => {}, {leaveUntouched: true})
      const error = await store.open().then(() => undefined, (error_: unknown) => error_ as {code?: string})
      expect(error?.code).to.equal('STORE_UNAVAILABLE')
      expect(readdirSync(dir)).to.deep.equal(['tmp'])
    })
  })

  describe('the probe (agreement guard)', () => {
    it('counts the live clients and leaves the file byte-identical with nothing beside it: a WAL database, a Python clients.db, one another process has open', async () => {
      // Our own database, in WAL mode, closed: a read-only connection would create -wal/-shm
      // and, unable to checkpoint, leave them behind.
      const ours = path.join(dir, 'ours.db')
      const writer = await createSqliteStore(ours)
      await writer.open()
      await writer.add({name: 'kitchen', api_key: 'key-kitchen'})
      await writer.add({name: 'hall', api_key: 'key-hall'})
      await writer.close()
      expect(sqliteSiblings(ours)).to.deep.equal([])
      const oursBefore = fileDigest(ours)
      expect(probeSqliteFile(ours)).to.deep.equal({exists: true, clients: 2, lastId: 2, location: ours})
      expect(sqliteSiblings(ours)).to.deep.equal([])
      expect(fileDigest(ours)).to.equal(oursBefore)

      const python = path.join(dir, 'clients.db')
      writePythonClientsDb(python)
      const pythonBefore = fileDigest(python)
      expect(probeSqliteFile(python)).to.deep.equal({exists: true, clients: 2, lastId: 3, location: python})
      expect(sqliteSiblings(python)).to.deep.equal([])
      expect(fileDigest(python)).to.equal(pythonBefore)

      // A database in use: its -wal/-shm belong to the process that has it open.
      const busy = await createSqliteStore(ours)
      await busy.open()
      try {
        await busy.add({name: 'porch', api_key: 'key-porch'})
        const siblings = sqliteSiblings(ours).sort()
        expect(siblings).to.deep.equal(['ours.db-shm', 'ours.db-wal'])
        expect(probeSqliteFile(ours)).to.deep.equal({exists: true, clients: 3, lastId: 3, location: ours})
        expect(sqliteSiblings(ours).sort()).to.deep.equal(siblings)
        await busy.add({name: 'attic', api_key: 'key-attic'})
      } finally {
        await busy.close()
      }
      expect(sqliteSiblings(ours)).to.deep.equal([])
    })
  })
})
