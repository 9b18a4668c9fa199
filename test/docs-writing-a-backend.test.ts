/**
 * docs/writing-a-backend.md, followed word for word: the files it shows (between its
 * `<!-- tiny-file:FILE -->` markers) are written as a package in a temp directory, the package's
 * own test runs the conformance suite with mocha, and the package is linked into the BUILT CLI,
 * which then adds and lists clients through it.
 *
 * One step is simulated: `npm install hivemind-core` becomes a symlink to this checkout (the
 * package is not on a registry here, and npm must not touch the shared install).
 */
import {execFile} from 'node:child_process'
import {mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {fileURLToPath} from 'node:url'
import {promisify} from 'node:util'

import {expect} from 'chai'

import {type CliSandbox, createSandbox} from './helpers/sandbox.js'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const DOC = path.join(root, 'docs/writing-a-backend.md')

/** The files the doc shows, by name: each is the fenced block right after its marker. */
export function filesOfDoc(markdown: string): Map<string, string> {
  const files = new Map<string, string>()
  for (const match of markdown.matchAll(/<!-- tiny-file:([\w./-]+) -->\n```\w*\n([\s\S]*?)\n```/g)) {
    files.set(match[1]!, `${match[2]!}\n`)
  }
  return files
}

describe('docs/writing-a-backend.md, followed word for word', function () {
  this.timeout(180_000)
  let sandbox: CliSandbox
  let plugin: string

  before(() => {
    sandbox = createSandbox()
    plugin = path.join(sandbox.root, 'hivemind-backend-tiny-file')
    const files = filesOfDoc(readFileSync(DOC, 'utf8'))
    expect([...files.keys()]).to.deep.equal(['package.json', 'index.js', 'test/store.test.js'])
    for (const [name, text] of files) {
      mkdirSync(path.dirname(path.join(plugin, name)), {recursive: true})
      writeFileSync(path.join(plugin, name), text)
    }
    // "npm install --no-save ../hivemind-core" (a folder install is a symlink).
    mkdirSync(path.join(plugin, 'node_modules'))
    symlinkSync(root, path.join(plugin, 'node_modules/hivemind-core'), 'dir')
  })

  after(() => sandbox.cleanup())

  it('the minimal backend is a few dozen lines', () => {
    const lines = filesOfDoc(readFileSync(DOC, 'utf8')).get('index.js')!.split('\n').filter((line) => line.trim() !== '')
    expect(lines.length).to.be.within(30, 100)
  })

  it("passes the exported conformance suite, run from the plugin's own folder with mocha", async () => {
    const mocha = path.join(root, 'node_modules/mocha/bin/mocha.js')
    const {stdout} = await promisify(execFile)(process.execPath, [mocha, '--no-config', '--forbid-only', '--reporter', 'dot', '--timeout', '120000', 'test/store.test.js'], {
      cwd: plugin,
      env: {PATH: process.env.PATH, HOME: sandbox.home, TMPDIR: os.tmpdir()},
      maxBuffer: 16 * 1024 * 1024,
    }).catch((error: {stdout?: string; stderr?: string}) => {
      throw new Error(`the doc's plugin fails its conformance suite:\n${error.stdout ?? ''}\n${error.stderr ?? ''}`)
    })
    const passing = /(\d+) passing/.exec(stdout)
    expect(Number(passing?.[1]), stdout).to.be.greaterThan(40)
    expect(stdout).not.to.match(/failing/)
  })

  it('links into the CLI, is listed with its origin, and add-client / list-clients go through it', async () => {
    const linked = await sandbox.run(['plugins', 'link', '.'], {cwd: plugin})
    expect(linked.code, linked.stderr).to.equal(0)

    const backends = await sandbox.run(['list-backends', '--json'])
    expect(backends.code, backends.stderr).to.equal(0)
    expect(JSON.parse(backends.stdout).backends).to.deep.include({
      name: 'tiny-file',
      summary: 'every client in one JSON file (the example of docs/writing-a-backend.md)',
      plugin: 'hivemind-backend-tiny-file',
      builtIn: false,
      options: ['path'],
    })

    const added = await sandbox.run(['add-client', '--db-backend', 'tiny-file', '--name', 'kitchen', '--json'])
    expect(added.code, added.stderr).to.equal(0)
    const client = JSON.parse(added.stdout) as {client_id: number; api_key: string}
    expect(client.client_id).to.equal(1)
    expect(added.stderr).to.contain(`Database: tiny-file ${path.join(sandbox.home, '.local/share/hivemind-core/tiny-file.json')}`)
    const listed = await sandbox.run(['list-clients', '--db-backend', 'tiny-file', '--json'])
    expect(listed.code, listed.stderr).to.equal(0)
    expect(JSON.parse(listed.stdout)).to.have.length(1).and.to.have.nested.property('[0].name', 'kitchen')
    // A duplicate key is a one-line error, not a crash.
    const duplicate = await sandbox.run(['add-client', '--db-backend', 'tiny-file', '--access-key', client.api_key, '--quiet'])
    expect(duplicate.code).to.equal(1)
    expect(duplicate.stderr).to.contain('Error: that access key is already used by client 1').and.not.contain('HIVEMIND_DEBUG')
    expect(sandbox.exists('.local/share/hivemind-core/clients.db')).to.equal(false)
    rmSync(path.join(sandbox.home, '.local/share/hivemind-core/tiny-file.json'))
  })
})
