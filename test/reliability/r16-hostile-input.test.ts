/**
 * R16: hostile input to every command (huge, control characters, unicode, negative and
 * non-numeric ids, unknown flags). Passes when every call exits 0, 1 or 2 (here: exactly the
 * expected one), no stack trace is printed, no stored secret is shown, and the data is unchanged
 * after the rejected calls.
 *
 * NUL cannot be tested through argv: an argument vector is a list of C strings, so no process can
 * pass one (Node refuses to spawn it). NUL reaches the CLI only through files: see the
 * import-clients tests (nul.json) and the config-file case below.
 */
import {readFileSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {expect} from 'chai'

import {type CliResult, expectNoSecrets, expectNoStackTrace, pooled, ROOT, Sandbox} from '../helpers/cli.js'

const KEY = 'kitchen-access-key-0001'
const PASSWORD = 'kitchen-password-0001'
const CRYPTO = '0123456789abcdef'
const SECRETS = [KEY, PASSWORD, CRYPTO]

/** 100,000 characters: far beyond any field, still within one argv string (128 KiB). */
const HUGE = 'x'.repeat(100_000)
/** Control characters, a terminal escape, bidi override, zero-width and astral characters. */
const GARBAGE = '\u001b[2J\u0007💥\u202eevil\u200b\u0301'
/** Not ids: negative, hex, exponent, Arabic-Indic digit, the tombstone key, a float, minus zero. */
const NOT_IDS = ['-1', '0x1', '1e3', '٣', 'revoked', '1.0', '-0', '-99999999999999999999']

interface Case {
  args: string[]
  code: number
  env?: NodeJS.ProcessEnv
}

const FLAG_COMMANDS = [
  'make-admin', 'revoke-admin', 'allow-broadcast', 'blacklist-broadcast', 'allow-escalate', 'blacklist-escalate', 'allow-propagate', 'blacklist-propagate',
]
const LIST_COMMANDS = ['allow-msg', 'blacklist-msg', 'allow-skill', 'blacklist-skill', 'allow-intent', 'blacklist-intent']

/** The hostile calls of one command that takes NODE_ID (after `before`, followed by `after`). */
function nodeCases(command: string, index: number, before: string[] = [], after: string[] = []): Case[] {
  const notId = NOT_IDS[index % NOT_IDS.length]!
  // "-1" and "-0" look like flags to a parser; put them after "--" half of the time.
  const tail = index % 2 === 0 ? [...after, '--', notId] : [notId, ...after]
  return [
    {args: [command, ...before, '1', ...after, '--no-such-flag', ...(index % 2 === 0 ? ['--json'] : [])], code: 2},
    {args: [command, ...before, HUGE, ...after], code: 1},
    {args: [command, ...before, GARBAGE, ...after], code: 1},
    {args: [command, ...before, ...tail], code: 1},
  ]
}

function allCases(): Case[] {
  const cases: Case[] = []
  FLAG_COMMANDS.forEach((command, index) => cases.push(...nodeCases(command, index)))
  LIST_COMMANDS.forEach((command, index) => {
    cases.push(...nodeCases(command, index + FLAG_COMMANDS.length, ['speak']))
    // Hostile values: huge, control characters, empty.
    cases.push({args: [command, HUGE, '1'], code: 1}, {args: [command, GARBAGE, '1'], code: 1})
  })
  cases.push(...nodeCases('show-client', 3))
  cases.push(...nodeCases('delete-client', 4, [], ['--yes']))
  cases.push(...nodeCases('rename-client', 5, [], ['--name', 'new-name']))
  cases.push(
    {args: ['rename-client', '1', '--name', HUGE], code: 1},
    {args: ['rename-client', '1', '--name', GARBAGE], code: 1},
    {args: ['add-client', '--name', HUGE], code: 1},
    {args: ['add-client', '--name', GARBAGE], code: 1},
    {args: ['add-client', '--access-key', HUGE], code: 1},
    {args: ['add-client', '--access-key', GARBAGE], code: 1},
    {args: ['add-client', '--crypto-key', '💥'.repeat(15)], code: 1},
    {args: ['add-client', '--json', '--no-such-flag', '--access-key', KEY], code: 2},
    {args: ['add-client', HUGE], code: 2},
    {args: ['list-clients', HUGE], code: 2},
    {args: ['list-clients', '--no-such-flag', '--json'], code: 2},
    {args: ['list-clients', '--db-backend', GARBAGE], code: 1},
    {args: ['list-clients', '--db-option', `${GARBAGE}=1`], code: 1},
    // A flag value of the wrong type: a usage error, as oclif's own type checks make it.
    {args: ['show-client', '1', '--db-option', 'busyTimeoutMs=-5e999'], code: 2},
    {args: ['list-backends', GARBAGE], code: 2},
    {args: ['list-backends', '--no-such-flag'], code: 2},
    {args: ['print-config', HUGE], code: 2},
    {args: ['print-config', '--db-backend', HUGE], code: 1},
    {args: ['print-config', '--no-such-flag', '--json'], code: 2},
    {args: ['export-clients', '--path', `/${HUGE}`], code: 1},
    {args: ['export-clients', '--path', `/nonexistent-dir-${GARBAGE}/x.csv`], code: 1},
    {args: ['export-clients', '--format', GARBAGE], code: 2},
    {args: ['export-clients', '--no-such-flag'], code: 2},
    {args: ['import-clients', HUGE], code: 1},
    {args: ['import-clients', GARBAGE], code: 1},
    {args: ['import-clients', '/dev/null'], code: 1},
    {args: ['import-clients', '--no-such-flag', 'x.json'], code: 2},
    {args: ['migrate-db', '--to', GARBAGE], code: 1},
    {args: ['migrate-db', '--no-such-flag'], code: 2},
    {args: ['migrate-db'], code: 2},
    {args: ['listen', '--port', HUGE], code: 2},
    {args: ['listen', '--no-such-flag'], code: 2},
    {args: ['audit', '--since', GARBAGE], code: 2},
    {args: ['audit', '--no-such-flag'], code: 2},
    {args: ['backup-db', '--out', `/${HUGE}`], code: 1},
    {args: ['backup-db', '--no-such-flag'], code: 2},
    {args: ['restore-db', HUGE], code: 1},
    {args: ['restore-db', '/dev/null'], code: 1},
    {args: ['doctor', '--no-such-flag'], code: 2},
    {args: ['help', HUGE], code: 2},
    {args: ['help', 'add-client', '--json'], code: 2},
    // Hostile environment.
    {args: ['make-admin', '1'], code: 1, env: {HIVEMIND_DB_BACKEND: GARBAGE}},
    {args: ['make-admin', '1'], code: 1, env: {HIVEMIND_DB_PATH: '/'}},
    {args: ['make-admin', '1'], code: 1, env: {HIVEMIND_LISTEN_PORT: HUGE}},
  )
  return cases
}

describe('R16: hostile input to every command', () => {
  let sandbox: Sandbox

  before(async function () {
    this.timeout(60_000)
    sandbox = Sandbox.create()
    await sandbox.addClient('--name', 'kitchen', '--access-key', KEY, '--password', PASSWORD, '--crypto-key', CRYPTO)
    await sandbox.addClient('--name', 'gone')
    expect((await sandbox.run(['delete-client', '2', '--yes', '-q'])).code).to.equal(0)
  })
  after(() => sandbox.cleanup())

  it('covers every command of the CLI', () => {
    const manifest = JSON.parse(readFileSync(path.join(ROOT, 'oclif.manifest.json'), 'utf8')) as {commands: Record<string, unknown>}
    const covered = new Set(allCases().map((item) => item.args[0]))
    expect([...covered].sort()).to.deep.equal(Object.keys(manifest.commands).sort())
  })

  it('exits 1 or 2 as expected, prints no stack trace and no secret, and changes nothing', async function () {
    this.timeout(600_000)
    const records = await sandbox.records()
    const digest = sandbox.digest()
    const cases = allCases()
    const results = await pooled(cases.map(({args, env}) => () => sandbox.run(args, {env})), 3)
    const failures: string[] = []
    for (const [index, result] of results.entries()) {
      const {args, code, env} = cases[index]!
      const label = `${args.map((arg) => (arg.length > 40 ? `${arg.slice(0, 20)}…(${arg.length})` : JSON.stringify(arg))).join(' ')}${env ? ` with ${Object.keys(env).join(',')}` : ''}`
      try {
        expect([0, 1, 2], 'exit code').to.include(result.code)
        expect(result.code, 'exit code').to.equal(code)
        expectNoStackTrace(result)
        expectNoSecrets(result, SECRETS)
        expectOneErrorLine(result)
      } catch (error) {
        failures.push(`${label}: ${(error as Error).message}\n  stderr: ${result.stderr.slice(0, 300)}`)
      }
    }
    expect(failures, failures.join('\n')).to.deep.equal([])
    expect(sandbox.digest(), 'database file changed').to.equal(digest)
    expect(await sandbox.records()).to.deep.equal(records)
  })

  it('NUL and escapes from files: a config file whose database path holds NUL fails cleanly', async () => {
    const clone = sandbox.clone()
    try {
      writeFileSync(path.join(clone.home, '.hivemindrc.json'), JSON.stringify({database: {sqlite: {path: 'a\u0000b.db'}}}))
      const digest = clone.digest()
      const result = await clone.run(['add-client', '--name', 'x'])
      expect(result.code).to.equal(1)
      expectNoStackTrace(result)
      expect(clone.digest()).to.equal(digest)
    } finally {
      clone.cleanup()
    }
  })

  it('accepted unicode (bidi override, combining marks, astral) is stored and listed (--json) exactly; human output escapes only the override, which would reorder the line', async () => {
    const clone = sandbox.clone()
    try {
      const name = '\u202eevil\u0301\u0301 🧨 東京'
      const added = await clone.addClient('--name', name)
      expect(added.client_id).to.equal(3)
      expect(added.name).to.equal(name)
      const shown = await clone.run(['show-client', '3', '-q'])
      expect(shown.code, shown.stderr).to.equal(0)
      expect(shown.stdout.split('\n')[0]).to.equal(`client 3 (${String.raw`\u202e`}${name.slice(1)})`)
      const listed = await clone.json<Array<{name: string}>>(['list-clients'])
      expect(listed.map((record) => record.name)).to.deep.equal(['kitchen', name])
    } finally {
      clone.cleanup()
    }
  })
})

/** A failed call says what went wrong in one `Error: ` line (ours) or oclif's usage error block. */
function expectOneErrorLine(result: CliResult): void {
  if (result.code === 0) return
  const text = `${result.stderr}${result.stdout}`
  const ours = text.split('\n').filter((line) => line.startsWith('Error: ') || line.includes('"error"'))
  const oclifs = text.split('\n').filter((line) => line.startsWith(' ›   Error: '))
  expect(ours.length + oclifs.length, 'error lines').to.equal(1)
}
