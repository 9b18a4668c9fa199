import {expect} from 'chai'

import {client, errorLine, expectCleanFailure, runCliOnTerminal, Sandbox} from '../helpers/cli.js'

const KEY = 'kitchen-access-key-0001'
const PASSWORD = 'kitchen-password-0001'
const CRYPTO = '0123456789abcdef'

describe('delete-client', () => {
  let template: Sandbox
  let sandbox: Sandbox
  const kitchen = client({client_id: 1, name: 'kitchen', api_key: KEY, password: PASSWORD, crypto_key: CRYPTO, is_admin: true})
  const office = client({client_id: 2, name: 'office', api_key: 'office-access-key-02', password: 'office-password-02'})

  before(async function () {
    this.timeout(60_000)
    template = Sandbox.create()
    await template.addClient('--name', 'kitchen', '--access-key', KEY, '--password', PASSWORD, '--crypto-key', CRYPTO, '--admin')
    await template.addClient('--name', 'office', '--access-key', 'office-access-key-02', '--password', 'office-password-02')
  })
  after(() => template.cleanup())
  beforeEach(() => {
    sandbox = template.clone()
  })
  afterEach(() => sandbox.cleanup())

  it('in a script without --yes: refuses (exit 2) and changes nothing', async () => {
    const before = sandbox.digest()
    const [text, json] = await Promise.all([sandbox.run(['delete-client', '1']), sandbox.run(['delete-client', '1', '--json', '-q'])])
    expectCleanFailure(text, 2, [KEY, PASSWORD, CRYPTO])
    expect(text.stdout).to.equal('')
    expect(text.stderr).to.equal(
      `${sandbox.databaseLine}\nError: refusing to revoke client 1 (kitchen) without confirmation\nHint: pass --yes to confirm in a script\n`,
    )
    expectCleanFailure(json, 2, [KEY, PASSWORD, CRYPTO])
    expect(JSON.parse(json.stdout)).to.deep.equal({
      error: {code: 'USAGE', message: 'refusing to revoke client 1 (kitchen) without confirmation', suggestion: 'pass --yes to confirm in a script'},
    })
    expect(sandbox.digest()).to.equal(before)
  })

  it('--yes revokes: a tombstone keeps the id and name, the secrets are cleared', async () => {
    const result = await sandbox.run(['delete-client', '1', '--yes'])
    expect(result.code, result.stderr).to.equal(0)
    expect(result.stdout).to.equal('Revoked client 1 (kitchen); its access key no longer works.\n')
    expect(result.stderr).to.equal(`${sandbox.databaseLine}\n`)
    expect(await sandbox.records()).to.deep.equal([{...kitchen, api_key: 'revoked', password: null, crypto_key: null}, office])
    // Hidden from the default listing.
    expect((await sandbox.json<Array<{client_id: number}>>(['list-clients'])).map((record) => record.client_id)).to.deep.equal([2])
  })

  it('--json prints {client_id, name, revoked, changed}; revoking again is "already revoked", exit 0', async () => {
    const first = await sandbox.run(['delete-client', '2', '--yes', '--json', '-q'])
    expect(first.code, first.stderr).to.equal(0)
    const printed = JSON.parse(first.stdout) as Record<string, unknown>
    expect(Object.keys(printed)).to.deep.equal(['client_id', 'name', 'revoked', 'changed'])
    expect(printed).to.deep.equal({client_id: 2, name: 'office', revoked: true, changed: true})
    const before = sandbox.digest()
    // A tombstone needs no confirmation: nothing is left to lose.
    const [again, againJson] = await Promise.all([sandbox.run(['delete-client', '2', '-q']), sandbox.json(['delete-client', '2'])])
    expect(again.code, again.stderr).to.equal(0)
    expect(again.stdout).to.equal('client 2 (office) was already revoked.\n')
    expect(againJson).to.deep.equal({client_id: 2, name: 'office', revoked: true, changed: false})
    expect(sandbox.digest()).to.equal(before)
  })

  it('accepts the access key as NODE_ID; afterwards neither that key nor "revoked" names a client', async () => {
    const result = await sandbox.run(['delete-client', KEY, '--yes', '-q'])
    expect(result.code, result.stderr).to.equal(0)
    expect(result.stdout).to.equal('Revoked client 1 (kitchen); its access key no longer works.\n')
    const before = sandbox.digest()
    const [oldKey, revokedKey, show] = await Promise.all([
      sandbox.run(['delete-client', KEY, '--yes']),
      sandbox.run(['make-admin', 'revoked']),
      sandbox.run(['show-client', 'revoked']),
    ])
    for (const failed of [oldKey, revokedKey, show]) {
      expectCleanFailure(failed, 1, [KEY])
      expect(errorLine(failed)).to.equal('Error: no client with that access key (NODE_ID is a client id or an access key)')
    }
    expect(sandbox.digest()).to.equal(before)
  })

  it('rejects a missing NODE_ID (exit 2, even with --yes), unknown ids and garbage, changing nothing', async function () {
    this.timeout(60_000)
    const before = sandbox.digest()
    const cases: Array<[string[], number, string | undefined]> = [
      [['delete-client', '--yes'], 2, 'Error: missing NODE_ID (a client id or an access key)'],
      [['delete-client', '99', '--yes'], 1, 'Error: no client with id 99'],
      [['delete-client', '0', '--yes'], 1, 'Error: no client with id 0'],
      [['delete-client', '-1', '--yes'], 1, 'Error: NODE_ID must be a positive client id or an access key, got -1'],
      [['delete-client', '1.5', '--yes'], 1, 'Error: NODE_ID must be a positive client id or an access key, got 1.5'],
      [['delete-client', 'kitchen', '--yes'], 1, 'Error: no client with that access key (NODE_ID is a client id or an access key)'],
      [['delete-client', '1', '--yes', '--no-such-flag'], 2, undefined],
      [['delete-client', '1', '2', '--yes'], 2, undefined],
    ]
    const results = await Promise.all(cases.map(([args]) => sandbox.run(args)))
    for (const [index, result] of results.entries()) {
      const [args, code, error] = cases[index]!
      expectCleanFailure(result, code, [KEY, PASSWORD, CRYPTO])
      if (error) expect(errorLine(result), args.join(' ')).to.equal(error)
    }
    expect(sandbox.digest()).to.equal(before)
  })

  it('on a terminal asks first: "n" cancels (exit 1, nothing changed), "y" revokes', async function () {
    this.timeout(60_000)
    const before = sandbox.digest()
    const prompt = '(y/N)'
    const declined = await runCliOnTerminal(['delete-client', '1', '-q'], {env: sandbox.env, cwd: sandbox.home, prompt, answer: 'n\r'})
    if (declined === undefined) this.skip()
    expect(declined!.stdout).to.include('Revoke client 1 (kitchen)? Its satellite will be locked out.')
    expect(declined!.stdout).to.include('Error: cancelled; nothing was changed')
    expect(declined!.stdout).not.to.include('    at ')
    expect(declined!.code).to.equal(1)
    expect(sandbox.digest()).to.equal(before)

    const accepted = await runCliOnTerminal(['delete-client', '1', '-q'], {env: sandbox.env, cwd: sandbox.home, prompt, answer: 'y\r'})
    expect(accepted!.code, accepted!.stdout).to.equal(0)
    expect(accepted!.stdout).to.include('Revoked client 1 (kitchen); its access key no longer works.')
    expect((await sandbox.records())[0]).to.deep.equal({...kitchen, api_key: 'revoked', password: null, crypto_key: null})
  })

  it('on a terminal, revoking the only client of the hive says so', async function () {
    this.timeout(60_000)
    expect((await sandbox.run(['delete-client', '2', '--yes', '-q'])).code).to.equal(0)
    const result = await runCliOnTerminal(['delete-client', '1', '-q'], {env: sandbox.env, cwd: sandbox.home, prompt: '(y/N)', answer: 'n\r'})
    if (result === undefined) this.skip()
    // The terminal is 80 columns wide: the prompt wraps.
    expect(result!.stdout.replaceAll('\r\n', ' ')).to.include('Revoke client 1 (kitchen)? It is the ONLY client of this hive. Its satellite will be locked out.')
    expect(result!.code).to.equal(1)
  })
})
