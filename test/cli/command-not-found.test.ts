/**
 * Words the CLI cannot take as a command (src/cli/command-not-found.ts), and the note oclif adds
 * to a missing argument (src/base-command.ts): real CLI processes, a real database that must not
 * change.
 */
import {expect} from 'chai'

import {expectCleanFailure, Sandbox} from '../helpers/cli.js'

describe('words that are not a command', function () {
  this.timeout(60_000)
  let sandbox: Sandbox

  before(async () => {
    sandbox = Sandbox.create()
    const added = await sandbox.run(['add-client', '--name', 'kitchen', '-q'])
    expect(added.code, added.stderr).to.equal(0)
  })

  after(() => sandbox.cleanup())

  it('an argument after a command that takes none is an unexpected argument of that command', async () => {
    const before = sandbox.digest()
    const [one, two, json, flagValue] = await Promise.all([
      sandbox.run(['list-clients', 'extra']),
      sandbox.run(['list-clients', 'extra', 'more', '-q']),
      sandbox.run(['list-clients', 'extra', '--json']),
      sandbox.run(['list-clients', 'extra', '--db-path', 'other.db']),
    ])
    for (const result of [one, two, json, flagValue]) expectCleanFailure(result, 2)
    // The value of a flag is not an argument.
    expect(flagValue.stderr).to.equal(one.stderr)
    // Not "command list-clients:extra not found".
    expect(one.stderr).to.equal('Error: Unexpected argument: extra\nHint: see hivemind-core list-clients --help\n')
    expect(one.stdout).to.equal('')
    expect(two.stderr).to.equal('Error: Unexpected arguments: extra, more\nHint: see hivemind-core list-clients --help\n')
    expect(JSON.parse(json.stdout)).to.deep.equal({error: {code: 'USAGE', message: 'Unexpected argument: extra', suggestion: 'see hivemind-core list-clients --help'}})
    expect(sandbox.digest()).to.equal(before)
  })

  it('a misspelt command names the closest one; a word like no command names none', async () => {
    const before = sandbox.digest()
    const [typo, unknown] = await Promise.all([sandbox.run(['add-clint', '--name', 'hall']), sandbox.run(['frobnicate'])])
    for (const result of [typo, unknown]) expectCleanFailure(result, 2)
    expect(typo.stderr).to.equal('Error: unknown command: add-clint\nHint: did you mean hivemind-core add-client? see hivemind-core --help for the list of commands\n')
    expect(unknown.stderr).to.equal('Error: unknown command: frobnicate\nHint: see hivemind-core --help for the list of commands\n')
    expect(sandbox.digest()).to.equal(before)
  })

  it('help for a misspelt command names the closest one, as the command itself does (exit 2); help for a real one still works', async () => {
    const [typo, unknown, real] = await Promise.all([sandbox.run(['help', 'add-clint']), sandbox.run(['help', 'frobnicate']), sandbox.run(['help', 'add-client'])])
    for (const result of [typo, unknown]) expectCleanFailure(result, 2)
    expect(typo.stderr).to.equal('Error: unknown command: add-clint\nHint: did you mean hivemind-core add-client? see hivemind-core --help for the list of commands\n')
    expect(unknown.stderr).to.equal('Error: unknown command: frobnicate\nHint: see hivemind-core --help for the list of commands\n')
    expect(real.code, real.stderr).to.equal(0)
    expect(real.stdout).to.contain('USAGE\n  $ hivemind-core add-client')
  })

  it('a misspelt command followed by its arguments names the command alone, and the closest one', async () => {
    const result = await sandbox.run(['delete-clients', '5'])
    expectCleanFailure(result, 2)
    expect(result.stderr).to.equal('Error: unknown command: delete-clients\nHint: did you mean hivemind-core delete-client? see hivemind-core --help for the list of commands\n')
  })

  it("a missing argument is not explained by a repeatable flag that was not given (oclif's note)", async () => {
    const [without, withFlag] = await Promise.all([sandbox.run(['allow-msg']), sandbox.run(['allow-msg', '--db-option', 'busyTimeoutMs=100'])])
    for (const result of [without, withFlag]) expectCleanFailure(result, 2)
    expect(without.stderr).to.equal('Error: Missing 1 required arg: msg_type  bus message type, e.g. speak\nHint: see hivemind-core allow-msg --help\n')
    // Given, the flag did take the argument: then the note is the explanation.
    expect(withFlag.stderr).to.contain('Note: --db-option allows multiple values')
  })
})

describe('a mistyped flag, or two flags that exclude each other', function () {
  this.timeout(60_000)
  let sandbox: Sandbox

  before(() => {
    sandbox = Sandbox.create()
  })

  after(() => sandbox.cleanup())

  it('names the closest flag of the command (its database flags included), and never what followed "=" (it may be a password)', async () => {
    const [path, password, json, far] = await Promise.all([
      sandbox.run(['list-clients', '--db-pth', 'other.db']),
      sandbox.run(['add-client', '--redis-pasword=Secret-Password-9']),
      sandbox.run(['add-client', '--redis-pasword=Secret-Password-9', '--json']),
      sandbox.run(['list-clients', '--zzzzzzzz']),
    ])
    for (const result of [path, password, json, far]) expectCleanFailure(result, 2, ['Secret-Password-9'])
    expect(path.stderr).to.equal('Error: Nonexistent flag: --db-pth\nHint: did you mean --db-path? see hivemind-core list-clients --help\n')
    expect(password.stderr).to.equal('Error: Nonexistent flag: --redis-pasword=…\nHint: did you mean --redis-password? see hivemind-core add-client --help\n')
    expect(JSON.parse(json.stdout)).to.deep.equal({error: {code: 'USAGE', message: 'Nonexistent flag: --redis-pasword=…', suggestion: 'did you mean --redis-password? see hivemind-core add-client --help'}})
    expect(far.stderr).to.equal('Error: Nonexistent flag: --zzzzzzzz\nHint: see hivemind-core list-clients --help\n')
  })

  it('--merge with --force is said once', async () => {
    const result = await sandbox.run(['migrate-db', '--to', 'json', '--merge', '--force'])
    expectCleanFailure(result, 2)
    expect(result.stderr).to.equal('Error: --force and --merge cannot be used together\nHint: see hivemind-core migrate-db --help\n')
  })
})
