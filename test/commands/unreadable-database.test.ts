/**
 * A database this user may not read is an error naming what refuses, never an empty hive: a
 * listing or export run as the wrong user used to print "No clients" (or a header-only CSV) and
 * exit 0. Needs root (to create files another user cannot reach, and to run the CLI as nobody).
 */
import {spawnSync} from 'node:child_process'
import {chmodSync, chownSync, mkdirSync} from 'node:fs'
import path from 'node:path'

import {expect} from 'chai'

import {BIN, expectCleanFailure, Sandbox} from '../helpers/cli.js'

/** The user "nobody". */
const NOBODY = 65_534

/** True when this runner can run the CLI as nobody (root, setpriv installed, the checkout readable). */
function canRunAsNobody(): boolean {
  if (process.getuid?.() !== 0) return false
  const probe = spawnSync('setpriv', ['--reuid', String(NOBODY), '--regid', String(NOBODY), '--clear-groups', process.execPath, '-e', `require('fs').accessSync(${JSON.stringify(BIN)})`])
  return probe.status === 0
}

describe('a database the user may not read', function () {
  let sandbox: Sandbox
  let locked: string

  // Created once: no test writes to the locked databases (each checks that).
  before(async function () {
    if (!canRunAsNobody()) this.skip()
    sandbox = Sandbox.create()
    // The sandbox itself is open to nobody; only `locked` (root's, 0700) is not.
    chmodSync(sandbox.root, 0o777)
    chmodSync(sandbox.home, 0o777)
    for (const dir of [sandbox.env.XDG_DATA_HOME!, sandbox.env.XDG_CONFIG_HOME!, sandbox.env.XDG_STATE_HOME!]) {
      mkdirSync(dir, {recursive: true})
      chmodSync(dir, 0o777)
    }
    locked = path.join(sandbox.root, 'locked')
    mkdirSync(locked, {mode: 0o700})
    for (const backend of ['sqlite', 'json']) {
      const added = await sandbox.run(['add-client', '--db-backend', backend, '--db-path', path.join(locked, `clients.${backend === 'sqlite' ? 'db' : 'json'}`), '--name', 'kitchen', '-q'])
      expect(added.code, added.stderr).to.equal(0)
    }
  })

  after(() => sandbox?.cleanup())

  for (const [backend, file] of [['sqlite', 'clients.db'], ['json', 'clients.json']] as const) {
    it(`${backend}: list-clients, show-client and export-clients fail naming the refusal instead of reporting no clients`, async () => {
      const flags = ['--db-backend', backend, '--db-path', path.join(locked, file), '-q']
      const before = sandbox.digest(path.join(locked, file))
      for (const args of [['list-clients'], ['show-client', '1'], ['export-clients']]) {
        const result = await sandbox.run([...args, ...flags], {asUid: NOBODY})
        expectCleanFailure(result, 1)
        expect(result.stdout, args[0]).to.equal('')
        expect(result.stderr, args[0]).to.match(/EACCES|permission denied/)
        expect(result.stderr, args[0]).to.contain(path.join(locked, file))
      }
      expect(sandbox.digest(path.join(locked, file))).to.equal(before)
    })
  }

  it('migrate-db from a source the user may not read names the refusal (the source is read through a private copy)', async () => {
    const result = await sandbox.run(['migrate-db', '--from', 'sqlite', '--from-path', path.join(locked, 'clients.db'), '--to', 'json', '--to-path', path.join(sandbox.home, 'out.json'), '-q'], {asUid: NOBODY})
    expectCleanFailure(result, 1)
    expect(result.stderr).to.contain(`permission denied on the directory ${locked}`)
  })

  it("sqlite, the user's own file: a read-only one leaves read-only -wal/-shm files behind, and the write after a chmod names them; an unreadable one gets chmod as the hint", async () => {
    const own = path.join(sandbox.root, 'own')
    mkdirSync(own)
    chownSync(own, NOBODY, NOBODY)
    const file = path.join(own, 'clients.db')
    const flags = ['--db-backend', 'sqlite', '--db-path', file, '-q']
    // Its own audit trail too (the shared one was created by root).
    const asNobody = {asUid: NOBODY, env: {XDG_STATE_HOME: path.join(own, 'state')}}
    const created = await sandbox.run(['add-client', ...flags], asNobody)
    expect(created.code, created.stderr).to.equal(0)
    chmodSync(file, 0o400)
    expect((await sandbox.run(['list-clients', ...flags], asNobody)).code).to.equal(0)
    chmodSync(file, 0o600)
    const write = await sandbox.run(['add-client', ...flags], asNobody)
    expectCleanFailure(write, 1)
    expect(write.stderr).to.equal(
      `Error: ${file} cannot be written (SQLITE_READONLY): its companion file clients.db-shm is read-only for this user (mode 0400)\n` +
        `Hint: make the companion files writable too: chmod 600 '${file}-wal' '${file}-shm' (do not delete them while a process may use the database)\n`,
    )
    chmodSync(`${file}-wal`, 0o600)
    chmodSync(`${file}-shm`, 0o600)
    expect((await sandbox.run(['add-client', ...flags], asNobody)).code).to.equal(0)
    chmodSync(file, 0o000)
    const unreadable = await sandbox.run(['list-clients', ...flags], asNobody)
    expectCleanFailure(unreadable, 1)
    expect(unreadable.stderr).to.contain(`Hint: the file is yours: give yourself access with chmod 600 '${file}'`)
  })

  it('sqlite: an unreadable file (in a directory the user may enter) names the file, not "check that the directory exists"', async () => {
    chmodSync(locked, 0o755)
    try {
      const result = await sandbox.run(['list-clients', '--db-path', path.join(locked, 'clients.db'), '-q'], {asUid: NOBODY})
      expectCleanFailure(result, 1)
      expect(result.stderr).to.contain(`permission denied on ${path.join(locked, 'clients.db')}`)
    } finally {
      chmodSync(locked, 0o700)
    }
  })
})
