import {expect} from 'chai'

import {client, errorLine, expectCleanFailure, pooled, Sandbox} from '../helpers/cli.js'

const KEY = 'kitchen-access-key-0001'
const PASSWORD = 'kitchen-password-0001'

describe('rename-client', () => {
  let template: Sandbox
  let sandbox: Sandbox
  const kitchen = client({client_id: 1, name: 'kitchen', api_key: KEY, password: PASSWORD})
  const gone = client({client_id: 2, name: 'gone', api_key: 'revoked'})

  before(async function () {
    this.timeout(60_000)
    template = Sandbox.create()
    await template.addClient('--name', 'kitchen', '--access-key', KEY, '--password', PASSWORD)
    await template.addClient('--name', 'gone')
    expect((await template.run(['delete-client', '2', '--yes', '-q'])).code).to.equal(0)
  })
  after(() => template.cleanup())
  beforeEach(() => {
    sandbox = template.clone()
  })
  afterEach(() => sandbox.cleanup())

  it('renames (unicode kept exactly) and changes nothing else', async () => {
    const result = await sandbox.run(['rename-client', '1', '--name', 'Küche 🍳 東京'])
    expect(result.code, result.stderr).to.equal(0)
    expect(result.stdout).to.equal('Renamed client 1 to "Küche 🍳 東京".\n')
    expect(result.stderr).to.equal(`${sandbox.databaseLine}\n`)
    expect(await sandbox.records()).to.deep.equal([{...kitchen, name: 'Küche 🍳 東京'}, gone])
  })

  it('--json prints {client_id, name, changed}; by access key; the same name again is "already", exit 0', async () => {
    const renamed = await sandbox.run(['rename-client', KEY, '--name', 'pantry', '--json', '-q'])
    expect(renamed.code, renamed.stderr).to.equal(0)
    const printed = JSON.parse(renamed.stdout) as Record<string, unknown>
    expect(Object.keys(printed)).to.deep.equal(['client_id', 'name', 'changed'])
    expect(printed).to.deep.equal({client_id: 1, name: 'pantry', changed: true})
    const before = sandbox.digest()
    const [again, againJson] = await Promise.all([
      sandbox.run(['rename-client', '1', '--name', 'pantry', '-q']),
      sandbox.json(['rename-client', '1', '--name', 'pantry']),
    ])
    expect(again.code, again.stderr).to.equal(0)
    expect(again.stdout).to.equal('client 1 (pantry) already has that name.\n')
    expect(againJson).to.deep.equal({client_id: 1, name: 'pantry', changed: false})
    expect(sandbox.digest()).to.equal(before)
  })

  it('accepts a name of exactly 255 characters', async () => {
    const name = 'n'.repeat(255)
    expect(await sandbox.json(['rename-client', '1', '--name', name])).to.deep.equal({client_id: 1, name, changed: true})
  })

  it('rejects control characters, over-long names, unknown or revoked clients and usage errors, changing nothing', async function () {
    this.timeout(120_000)
    const before = sandbox.digest()
    const control = 'Error: the name must not contain control characters (newline, NUL, …)'
    const cases: Array<[string[], number, string | undefined]> = [
      [['1', '--name', 'bad\u0001name'], 1, control],
      [['1', '--name', 'two\nlines'], 1, control],
      [['1', '--name', 'clear\u001b[2Jscreen'], 1, control],
      [['1', '--name', 'del\u007f'], 1, control],
      [['1', '--name', 'c1\u0085control'], 1, control],
      [['1', '--name', ''], 1, 'Error: the name must not be empty'],
      [['1', '--name', ' \u3000 '], 1, 'Error: the name must not be blank'],
      [['1', '--name', 'x'.repeat(256)], 1, 'Error: the name is too long (256 characters; at most 255)'],
      [['1', '--name', 'x'.repeat(10_000)], 1, 'Error: the name is too long (10000 characters; at most 255)'],
      [['99', '--name', 'x'], 1, 'Error: no client with id 99'],
      [['2', '--name', 'x'], 1, 'Error: client 2 is revoked; its permissions can no longer change'],
      [['-3', '--name', 'x'], 1, 'Error: NODE_ID must be a positive client id or an access key, got -3'],
      [['1'], 2, undefined],
      [['1', '--name'], 2, undefined],
      [['1', '--name', 'x', '--no-such-flag'], 2, undefined],
      [['1', '2', '--name', 'x'], 2, undefined],
    ]
    const results = await pooled(cases.map(([args]) => () => sandbox.run(['rename-client', ...args])))
    for (const [index, result] of results.entries()) {
      const [args, code, error] = cases[index]!
      expectCleanFailure(result, code, [KEY, PASSWORD])
      if (error) expect(errorLine(result), args.join(' ').slice(0, 60)).to.equal(error)
      expect(result.stdout).to.equal('')
    }
    expect(sandbox.digest()).to.equal(before)
  })
})
