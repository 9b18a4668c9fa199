import {existsSync} from 'node:fs'

import {expect} from 'chai'

import {client, CLIENT_KEYS, DEFAULT_ALLOWED_TYPES, errorLine, expectCleanFailure, pooled, Sandbox} from '../helpers/cli.js'

const KEY = 'kitchen-access-key-0001'
const PASSWORD = 'kitchen-password-0001'
const CRYPTO = '0123456789abcdef'
const SECRETS = [KEY, PASSWORD, CRYPTO]

describe('show-client', () => {
  // Read-only command: one hive for the whole describe.
  let sandbox: Sandbox
  const kitchen = client({
    client_id: 1, name: 'kitchen', api_key: KEY, password: PASSWORD, crypto_key: CRYPTO, is_admin: true,
    allowed_types: [...DEFAULT_ALLOWED_TYPES, 'speak'], skill_blacklist: ['skill-a'], can_escalate: false,
  })

  before(async function () {
    this.timeout(60_000)
    sandbox = Sandbox.create()
    await sandbox.addClient('--name', 'kitchen', '--access-key', KEY, '--password', PASSWORD, '--crypto-key', CRYPTO, '--admin')
    await sandbox.addClient('--name', 'gone')
    const setup = [
      ['delete-client', '2', '--yes'],
      ['allow-msg', 'speak', '1'],
      ['blacklist-skill', 'skill-a', '1'],
      ['blacklist-escalate', '1'],
    ]
    for (const args of setup) expect((await sandbox.run([...args, '-q'])).code, args.join(' ')).to.equal(0)
  })
  after(() => sandbox.cleanup())

  it('prints every permission with the secrets masked', async () => {
    const result = await sandbox.run(['show-client', '1'])
    expect(result.code, result.stderr).to.equal(0)
    expect(result.stderr).to.equal(`${sandbox.databaseLine}\n`)
    expect(result.stdout).to.equal(
      [
        'client 1 (kitchen)',
        '  description:        (none)',
        '  access key:         kitc********',
        '  password:           ********',
        '  crypto key:         ********',
        '  admin:              yes',
        '  last seen:          never',
        `  may send:           ${[...DEFAULT_ALLOWED_TYPES, 'speak'].join(', ')}`,
        '  never sent to it:   (none)',
        '  blacklisted skills: skill-a',
        '  blacklisted intents: (none)',
        '  broadcast / escalate / propagate: yes / no / yes',
        '',
      ].join('\n'),
    )
    for (const secret of SECRETS) expect(result.stdout).not.to.include(secret)
  })

  it('--show-secrets shows them; --json prints the record (exact keys), by id or access key', async () => {
    const [shown, masked, byKey] = await Promise.all([
      sandbox.run(['show-client', '1', '--show-secrets', '-q']),
      sandbox.json<Record<string, unknown>>(['show-client', '1']),
      sandbox.json<Record<string, unknown>>(['show-client', KEY, '--show-secrets']),
    ])
    expect(shown.code, shown.stderr).to.equal(0)
    expect(shown.stdout.split('\n').slice(2, 5)).to.deep.equal([
      `  access key:         ${KEY}`,
      `  password:           ${PASSWORD}`,
      `  crypto key:         ${CRYPTO}`,
    ])
    expect(Object.keys(masked)).to.deep.equal(CLIENT_KEYS)
    expect(masked).to.deep.equal({...kitchen, api_key: 'kitc********', password: '********', crypto_key: '********'})
    expect(byKey).to.deep.equal(kitchen)
  })

  it('shows a tombstone as REVOKED', async () => {
    const result = await sandbox.run(['show-client', '2', '-q'])
    expect(result.code, result.stderr).to.equal(0)
    expect(result.stdout.split('\n').slice(0, 5)).to.deep.equal([
      'client 2 (gone) — REVOKED',
      '  description:        (none)',
      '  access key:         revoked',
      '  password:           (none)',
      '  crypto key:         (none)',
    ])
  })

  it('rejects unknown, negative and non-numeric NODE_IDs without touching the database (a missing one means the only client here: permissions.test.ts)', async function () {
    this.timeout(120_000)
    const before = sandbox.digest()
    const notFoundKey = 'Error: no client with that access key (NODE_ID is a client id or an access key)'
    const cases: Array<[string[], number, string | undefined]> = [
      [['99'], 1, 'Error: no client with id 99'],
      [['0'], 1, 'Error: no client with id 0'],
      [['-1'], 1, 'Error: NODE_ID must be a positive client id or an access key, got -1'],
      [['0.5'], 1, 'Error: NODE_ID must be a positive client id or an access key, got 0.5'],
      [['1abc'], 1, notFoundKey],
      [['revoked'], 1, notFoundKey],
      [[`${KEY}x`], 1, notFoundKey],
      [['1', '2'], 2, undefined],
      [['1', '--no-such-flag'], 2, undefined],
    ]
    const results = await pooled(cases.map(([args]) => () => sandbox.run(['show-client', ...args])))
    for (const [index, result] of results.entries()) {
      const [args, code, error] = cases[index]!
      expectCleanFailure(result, code, [...SECRETS, `${KEY}x`])
      if (error) expect(errorLine(result), args.join(' ').slice(0, 60)).to.equal(error)
      expect(result.stdout).to.equal('')
    }
    expect(sandbox.digest()).to.equal(before)
  })

  it('in a fresh home: "no client", and no database is created', async () => {
    const fresh = Sandbox.create()
    try {
      const result = await fresh.run(['show-client', '1'])
      expectCleanFailure(result, 1)
      expect(errorLine(result)).to.equal('Error: no client with id 1')
      expect(existsSync(fresh.dbPath)).to.equal(false)
    } finally {
      fresh.cleanup()
    }
  })
})
