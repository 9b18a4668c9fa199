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

  it('lists the built-in sqlite backend (table and --json)', async () => {
    const [text, json] = await Promise.all([sandbox.run(['list-backends']), sandbox.run(['list-backends', '--json'])])
    expect(text.code, text.stderr).to.equal(0)
    expect(text.stderr).to.equal('')
    const summary = 'SQLite file through TypeORM + better-sqlite3 (the default; compatible with upstream clients.db)'
    expect(text.stdout.split('\n')[1]).to.match(/^│ backend │ from plugin\s+│ options\s+│ summary\s+│$/)
    expect(text.stdout.split('\n')[3]).to.equal(`│ sqlite  │ hivemind-core │ path, busyTimeoutMs │ ${summary} │`)
    expect(json.code, json.stderr).to.equal(0)
    expect(JSON.parse(json.stdout)).to.deep.equal({
      backends: [{name: 'sqlite', summary, plugin: 'hivemind-core', options: ['path', 'busyTimeoutMs']}],
      failures: [],
    })
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
    'delete-client', 'export-clients', 'import-clients', 'list-backends', 'list-clients', 'make-admin', 'print-config',
    'rename-client', 'revoke-admin', 'show-client',
  ]

  it('exists, with a summary, examples and --json', () => {
    expect(Object.keys(manifest.commands).sort()).to.deep.equal(expected)
    for (const id of expected) {
      const command = manifest.commands[id]!
      expect(command.summary, id).to.be.a('string').and.not.be.empty
      expect(command.examples, id).to.be.an('array').and.not.be.empty
      expect(command.flags, id).to.have.property('json')
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
