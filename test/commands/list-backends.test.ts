import {readFileSync} from 'node:fs'
import path from 'node:path'

import {expect} from 'chai'

import {expectCleanFailure, ROOT, Sandbox} from '../helpers/cli.js'

describe('list-backends', () => {
  let sandbox: Sandbox
  before(() => {
    sandbox = Sandbox.create()
  })
  after(() => sandbox.cleanup())

  it('lists the built-in backends with their origin (table and --json)', async () => {
    const [text, json] = await Promise.all([sandbox.run(['list-backends']), sandbox.run(['list-backends', '--json'])])
    expect(text.code, text.stderr).to.equal(0)
    expect(text.stderr).to.equal('')
    const summary = 'SQLite file through TypeORM + better-sqlite3 (the default; compatible with upstream clients.db)'
    const lines = text.stdout.split('\n')
    expect(lines[1]).to.match(/^│ backend │ from plugin\s+│ options\s+│ summary\s+│$/)
    expect(lines.slice(3, 6).map((line) => line.split('│')[1]!.trim())).to.deep.equal(['json', 'redis', 'sqlite'])
    expect(lines[5]).to.match(new RegExp(`^│ sqlite  │ hivemind-core \\(built in\\) │ path, busyTimeoutMs\\s+│ ${summary.replaceAll(/[()+;]/g, '\\$&')}\\s+│$`))
    expect(json.code, json.stderr).to.equal(0)
    const listed = JSON.parse(json.stdout) as {backends: Array<Record<string, unknown>>; ambiguous: unknown[]; failures: unknown[]}
    expect(listed.backends.map((backend) => backend.name)).to.deep.equal(['json', 'redis', 'sqlite'])
    expect(listed.backends[2]).to.deep.equal({name: 'sqlite', summary, plugin: 'hivemind-core', builtIn: true, options: ['path', 'busyTimeoutMs']})
    expect(listed.ambiguous).to.deep.equal([])
    expect(listed.failures).to.deep.equal([])
  })

  it('rejects unknown flags and arguments with exit 2', async () => {
    const results = await Promise.all([sandbox.run(['list-backends', '--no-such-flag']), sandbox.run(['list-backends', 'sqlite'])])
    for (const result of results) expectCleanFailure(result, 2)
  })
})

describe('every command', () => {
  const manifest = JSON.parse(readFileSync(path.join(ROOT, 'oclif.manifest.json'), 'utf8')) as {
    commands: Record<string, {summary?: string; examples?: string[]; flags: Record<string, unknown>}>
  }
  const expected = [
    'add-client', 'allow-broadcast', 'allow-escalate', 'allow-intent', 'allow-msg', 'allow-propagate', 'allow-skill',
    'blacklist-broadcast', 'blacklist-escalate', 'blacklist-intent', 'blacklist-msg', 'blacklist-propagate', 'blacklist-skill',
    'audit', 'backup-db', 'delete-client', 'doctor', 'export-clients', 'import-clients', 'list-backends', 'list-clients', 'listen',
    'make-admin', 'migrate-db', 'print-config', 'rename-client', 'restore-db', 'revoke-admin', 'show-client', 'help',
  ]
  /** `listen` runs until stopped and logs JSON lines itself, `help` prints text for people: a --json result makes no sense there. */
  const withoutJson = new Set(['listen', 'help'])

  it('exists, with a summary, examples and --json', () => {
    expect(Object.keys(manifest.commands).sort()).to.deep.equal([...expected].sort())
    for (const id of expected) {
      const command = manifest.commands[id]!
      expect(command.summary, id).to.be.a('string').and.not.be.empty
      expect(command.examples, id).to.be.an('array').and.not.be.empty
      if (!withoutJson.has(id)) expect(command.flags, id).to.have.property('json')
    }
  })

  it('--help exits 0 and shows the summary', async () => {
    const sandbox = Sandbox.create()
    try {
      const result = await sandbox.run(['make-admin', '--help'])
      expect(result.code, result.stderr).to.equal(0)
      expect(result.stdout).to.include('Make a client an admin.')
      expect(result.stdout).to.include('EXAMPLES')
    } finally {
      sandbox.cleanup()
    }
  })
})
