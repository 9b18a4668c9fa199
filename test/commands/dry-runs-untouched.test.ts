/**
 * Commands that only look at a database leave a clients.db of the Python hivemind-core exactly as
 * it is (no schema upgrade, no WAL switch, nothing beside it): `import-clients --dry-run`,
 * `restore-db --dry-run` and `doctor`. (migrate-db and backup-db: test/commands/migrate-db.test.ts
 * and backup-restore.test.ts.)
 */
import {mkdirSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {expect} from 'chai'

import {Sandbox} from '../helpers/cli.js'
import {fileDigest, sqliteSiblings, writePythonClientsDb} from '../plugins/sqlite/helpers.js'

describe('dry runs and doctor on a Python clients.db', () => {
  let sandbox: Sandbox
  let py: string

  beforeEach(() => {
    sandbox = Sandbox.create()
    mkdirSync(path.join(sandbox.root, 'python'))
    py = path.join(sandbox.root, 'python', 'clients.db')
    writePythonClientsDb(py)
  })

  afterEach(() => sandbox.cleanup())

  it('import-clients --dry-run, restore-db --dry-run and doctor leave it byte-identical with nothing beside it', async () => {
    const before = fileDigest(py)
    const incoming = path.join(sandbox.root, 'incoming.json')
    writeFileSync(incoming, JSON.stringify({7: {client_id: 7, api_key: 'a-new-satellite-key', name: 'den', password: 'a-new-password'}}))
    const dryImport = await sandbox.run(['import-clients', incoming, '--dry-run', '--db-path', py, '-q'])
    expect(dryImport.code, dryImport.stderr).to.equal(0)
    expect(dryImport.stdout).to.contain('Would import 1 new client(s)')
    expect(fileDigest(py), 'after import-clients --dry-run').to.equal(before)

    // A backup of another hive, restored as a dry run into the Python file.
    const other = path.join(sandbox.root, 'other.json')
    expect((await sandbox.run(['import-clients', incoming, '--db-backend', 'json', '--db-path', other, '-q'])).code).to.equal(0)
    const backup = path.join(sandbox.root, 'other.backup')
    expect((await sandbox.run(['backup-db', '--db-backend', 'json', '--db-path', other, '--out', backup, '-q'])).code).to.equal(0)
    const dryRestore = await sandbox.run(['restore-db', backup, '--to', 'sqlite', '--to-path', py, '--merge', '--dry-run', '-q'])
    expect(dryRestore.code, dryRestore.stderr).to.equal(0)
    expect(fileDigest(py), 'after restore-db --dry-run').to.equal(before)

    const doctor = await sandbox.run(['doctor', '--db-path', py, '-q'])
    expect(doctor.stdout + doctor.stderr).to.contain(py)
    expect(fileDigest(py), 'after doctor').to.equal(before)
    expect(sqliteSiblings(py)).to.deep.equal([])
  })
})
