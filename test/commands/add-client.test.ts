import {chmodSync, mkdirSync, statSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import Database from 'better-sqlite3'
import {expect} from 'chai'

import {client, errorLine, expectCleanFailure, modeOf, pooled, Sandbox} from '../helpers/cli.js'

const HEX32 = /^[0-9a-f]{32}$/

describe('add-client', () => {
  let sandbox: Sandbox
  beforeEach(() => {
    sandbox = Sandbox.create()
  })
  afterEach(() => sandbox.cleanup())

  it('enrols a client, prints its credentials once and stores exactly that', async () => {
    const result = await sandbox.run(['add-client', '--name', 'kitchen'])
    expect(result.code, result.stderr).to.equal(0)
    expect(result.stderr).to.equal(`${sandbox.databaseLine}\n`)
    // The Python hivemind-core's lines, word for word: provisioning scripts parse them.
    const lines = result.stdout.split('\n')
    expect(lines).to.have.length(10)
    expect(lines.slice(0, 5)).to.deep.equal(['Credentials added to database!', '', 'Node ID: 1', 'Admin Privileges: False', 'Friendly Name: kitchen'])
    const key = /^Access Key: (\S+)$/.exec(lines[5]!)?.[1]
    const password = /^Password: (\S+)$/.exec(lines[6]!)?.[1]
    expect(key).to.match(HEX32)
    expect(password).to.match(HEX32)
    expect(key).not.to.equal(password)
    expect(lines.slice(7)).to.deep.equal([
      'Encryption Key: None',
      'Save these credentials now: they are not shown again.',
      '',
    ])
    expect(await sandbox.records()).to.deep.equal([client({client_id: 1, api_key: key!, password: password!, name: 'kitchen'})])
  })

  it('--json prints exactly the new credentials; given secrets are kept as given', async () => {
    const first = await sandbox.run(['add-client', '--json', '--quiet'])
    expect(first.code, first.stderr).to.equal(0)
    expect(first.stderr).to.equal('')
    const printed = JSON.parse(first.stdout) as Record<string, unknown>
    expect(Object.keys(printed)).to.deep.equal(['client_id', 'name', 'api_key', 'password', 'crypto_key', 'is_admin'])
    expect(printed).to.include({client_id: 1, name: 'HiveMind-Node-1', crypto_key: null, is_admin: false})
    expect(printed.api_key).to.match(HEX32)
    expect(printed.password).to.match(HEX32)

    const second = await sandbox.addClient(
      '--name', 'Küche 🍳 東京', '--description', 'über the fridge', '--access-key', 'my-access-key-0001',
      '--password', 'my-password-0001', '--crypto-key', '0123456789abcdef', '--admin',
    )
    expect(second).to.deep.equal({
      client_id: 2, name: 'Küche 🍳 東京', api_key: 'my-access-key-0001', password: 'my-password-0001', crypto_key: '0123456789abcdef', is_admin: true,
    })
    expect(await sandbox.records()).to.deep.equal([
      client({client_id: 1, name: 'HiveMind-Node-1', api_key: printed.api_key as string, password: printed.password as string}),
      client({
        client_id: 2, name: 'Küche 🍳 東京', description: 'über the fridge', api_key: 'my-access-key-0001', password: 'my-password-0001',
        crypto_key: '0123456789abcdef', is_admin: true,
      }),
    ])
  })

  it('rejects bad input with one error line, exit 1 or 2, no secret echoed and the data unchanged', async function () {
    this.timeout(120_000)
    const existing = await sandbox.addClient('--name', 'kitchen', '--access-key', 'taken-access-key-01', '--password', 'taken-password-001')
    const before = sandbox.digest()
    const secret = 'S3cretPassw0rd-never-shown'
    const cases: Array<{args: string[]; code: number; error?: string}> = [
      {args: ['--crypto-key', '0123456789abcde', '--password', secret], code: 1, error: 'Error: the crypto key must be exactly 16 characters (got 15)'},
      {args: ['--crypto-key', '0123456789abcdefX', '--password', secret], code: 1, error: 'Error: the crypto key must be exactly 16 characters (got 17)'},
      {args: ['--crypto-key', '0123456789abcd\u00e9f', '--password', secret], code: 1, error: 'Error: the crypto key must be 16 ASCII characters (it holds characters of more than one byte, 17 bytes in all)'},
      {args: ['--crypto-key', '', '--password', secret], code: 1, error: 'Error: the crypto key must not be empty'},
      {args: ['--access-key', 'taken-access-key-01', '--password', secret], code: 1, error: 'Error: that access key is already used by client 1'},
      {args: ['--access-key', 'revoked', '--password', secret], code: 1, error: 'Error: "revoked" is reserved and cannot be an access key'},
      ...['1', '0042', '-7', '3.0', '.5', '+2'].map((numeric) => ({
        args: ['--access-key', numeric, '--password', secret],
        code: 1,
        error: 'Error: an access key made only of digits would be taken for a client id by the commands that take NODE_ID',
      })),
      {args: ['--access-key', '', '--password', secret], code: 1, error: 'Error: the access key must not be empty'},
      {args: ['--access-key', `${secret} x`], code: 1, error: 'Error: the access key must not contain spaces or control characters'},
      {args: ['--access-key', 'k'.repeat(256)], code: 1, error: 'Error: the access key is too long (at most 255 characters)'},
      {args: ['--password', `${secret}\n`], code: 1, error: 'Error: the password must not contain spaces or control characters'},
      {args: ['--name', 'bad\u0001name', '--password', secret], code: 1, error: 'Error: the name must not contain control characters (newline, NUL, …)'},
      {args: ['--name', 'two\nlines', '--password', secret], code: 1, error: 'Error: the name must not contain control characters (newline, NUL, …)'},
      {args: ['--name', 'esc\u001b[31mred', '--password', secret], code: 1, error: 'Error: the name must not contain control characters (newline, NUL, …)'},
      {args: ['--name', 'x'.repeat(10_000), '--password', secret], code: 1, error: 'Error: the name is too long (10000 characters; at most 255)'},
      {args: ['--name', '', '--password', secret], code: 1, error: 'Error: the name must not be empty'},
      {args: ['--name', '   ', '--password', secret], code: 1, error: 'Error: the name must not be blank'},
      {args: ['--description', 'tab\there', '--password', secret], code: 1, error: 'Error: the description must not contain control characters (newline, NUL, …)'},
      {args: ['--no-such-flag', '--password', secret], code: 2},
      {args: ['--password', secret, 'stray-argument'], code: 2},
      {args: ['--name'], code: 2},
    ]
    const results = await pooled(cases.map(({args}) => () => sandbox.run(['add-client', ...args])))
    for (const [index, result] of results.entries()) {
      const {args, code, error} = cases[index]!
      expectCleanFailure(result, code, [secret, existing.password!])
      if (error) expect(errorLine(result), args.join(' ').slice(0, 80)).to.equal(error)
      expect(result.stdout, args.join(' ').slice(0, 80)).to.equal('')
    }
    expect(sandbox.digest()).to.equal(before)
    expect(await sandbox.records()).to.deep.equal([client({client_id: 1, name: 'kitchen', api_key: 'taken-access-key-01', password: 'taken-password-001'})])
  })

  it('--json failures are JSON with a code, exit 1 for bad input and 2 for usage, with no secret echoed', async () => {
    const secret = 'S3cretPassw0rd-never-shown'
    const [bad, unknownFlag] = await Promise.all([
      sandbox.run(['add-client', '--json', '--quiet', '--crypto-key', 'short', '--password', secret]),
      sandbox.run(['add-client', '--json', '--quiet', '--no-such-flag', '--password', secret]),
    ])
    expectCleanFailure(bad, 1, [secret, 'short'])
    expect(JSON.parse(bad.stdout)).to.deep.equal({error: {code: 'INVALID_INPUT', message: 'the crypto key must be exactly 16 characters (got 5)'}})
    expectCleanFailure(unknownFlag, 2, [secret])
    expect(JSON.parse(unknownFlag.stdout)).to.deep.equal({error: {code: 'USAGE', message: 'Nonexistent flag: --no-such-flag', suggestion: 'see hivemind-core add-client --help'}})
  })

  it('creates the data directory 0700 and the database 0600 under umask 022 and 000 (R14)', async () => {
    const open = Sandbox.create()
    try {
      const [strict, loose] = await Promise.all([
        sandbox.run(['add-client', '--quiet'], {umask: 0o022}),
        open.run(['add-client', '--quiet'], {umask: 0o000}),
      ])
      expect(strict.code, strict.stderr).to.equal(0)
      expect(loose.code, loose.stderr).to.equal(0)
      for (const box of [sandbox, open]) {
        expect(modeOf(statSync(box.dataDir).mode), box.dataDir).to.equal('700')
        expect(modeOf(statSync(box.dbPath).mode), box.dbPath).to.equal('600')
      }
      // Only our own directory is private; its parents keep the usual mode.
      expect(modeOf(statSync(path.dirname(sandbox.dataDir)).mode)).to.equal('755')
    } finally {
      open.cleanup()
    }
  })

  it('a write tightens clients.db, -wal and -shm back to 0600 (R14)', async () => {
    await sandbox.addClient('--name', 'first')
    // Someone loosened the file; SQLite gives -wal and -shm the mode of the database file.
    chmodSync(sandbox.dbPath, 0o644)
    // A reader keeps the WAL alive after the CLI exits (the last connection to close removes it).
    const reader = new Database(sandbox.dbPath)
    try {
      expect(reader.prepare('SELECT COUNT(*) AS n FROM clients').get()).to.deep.equal({n: 1})
      expect(modeOf(statSync(`${sandbox.dbPath}-wal`).mode)).to.equal('644')
      const result = await sandbox.run(['add-client', '--name', 'second', '--quiet'], {umask: 0o000})
      expect(result.code, result.stderr).to.equal(0)
      expect(reader.prepare('SELECT COUNT(*) AS n FROM clients').get()).to.deep.equal({n: 2})
      for (const suffix of ['', '-wal', '-shm']) {
        expect(modeOf(statSync(`${sandbox.dbPath}${suffix}`).mode), `clients.db${suffix}`).to.equal('600')
      }
    } finally {
      reader.close()
    }
  })

  it('on an empty database beside an upstream clients.json, ids start after its highest, so the documented migrate-db --merge keeps every id (QA: both got id 1 and --merge refused for good)', async () => {
    mkdirSync(sandbox.dataDir, {recursive: true})
    const upstream = path.join(sandbox.dataDir, 'clients.json')
    writeFileSync(upstream, JSON.stringify({
      1: {client_id: 1, api_key: 'a'.repeat(32), name: 'py-sat', password: 'b'.repeat(32)},
      4: {client_id: -1, api_key: 'revoked'},
    }, null, 4))
    const added = await sandbox.run(['add-client', '--name', 'fresh', '--db-backend', 'sqlite'])
    expect(added.code, added.stderr).to.equal(0)
    expect(added.stdout.split('\n')[2]).to.equal('Node ID: 5')
    expect(added.stderr).to.contain('Note: ids here start after 4, the highest id there, so that moving those clients here later (migrate-db --merge) keeps every id')
    const merged = await sandbox.run(['migrate-db', '--from', 'json', '--to', 'sqlite', '--merge', '-q', '--json'])
    expect(merged.code, merged.stderr).to.equal(0)
    expect((await sandbox.records()).map((record) => [record.client_id, record.name])).to.deep.equal([[1, 'py-sat'], [4, ''], [5, 'fresh']])
    // Once the database holds clients, its own counter decides.
    expect((await sandbox.addClient('--name', 'next', '--db-backend', 'sqlite')).client_id).to.equal(6)
  })

  it("takes the Python hivemind-core's --admin True / --admin False as well as a bare --admin (QA: 'Unexpected argument: True')", async () => {
    const cases: Array<[string[], boolean]> = [
      [['--admin', 'True'], true],
      [['--admin', 'false'], false],
      [['--admin=yes'], true],
      [['--admin', '0'], false],
      [['--admin'], true],
      [['--no-admin'], false],
    ]
    for (const [flags, admin] of cases) {
      // eslint-disable-next-line no-await-in-loop -- one id after the other
      const added = await sandbox.addClient('--name', 'hub', ...flags)
      expect(added.is_admin, flags.join(' ')).to.equal(admin)
    }
    const wrong = await sandbox.run(['add-client', '--admin', 'maybe'])
    expectCleanFailure(wrong, 2)
    const inline = await sandbox.run(['add-client', '--admin=x'])
    expectCleanFailure(inline, 2)
    expect(errorLine(inline)).to.equal('Error: --admin=x is not a yes or no')
  })

  it('never reuses an id, even after the newest client is revoked', async () => {
    await sandbox.addClient('--name', 'one')
    await sandbox.addClient('--name', 'two')
    expect((await sandbox.run(['delete-client', '2', '--yes', '--quiet'])).code).to.equal(0)
    const third = await sandbox.addClient('--name', 'three')
    expect(third.client_id).to.equal(3)
    expect((await sandbox.records()).map((record) => [record.client_id, record.api_key === 'revoked'])).to.deep.equal([[1, false], [2, true], [3, false]])
  })
})
