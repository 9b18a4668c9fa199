/**
 * The documentation that users copy from must stay true: the example config validates, and the
 * README's command reference is what `oclif readme` generates from the commands today.
 */
import {execFile} from 'node:child_process'
import {copyFileSync, readFileSync} from 'node:fs'
import path from 'node:path'
import {fileURLToPath} from 'node:url'
import {promisify} from 'node:util'

import {expect} from 'chai'

import {type CliSandbox, createSandbox} from './helpers/sandbox.js'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')

describe('documentation', () => {
  let sandbox: CliSandbox

  beforeEach(() => {
    sandbox = createSandbox()
  })

  afterEach(() => sandbox.cleanup())

  it('.hivemindrc.example is a valid config file with the documented defaults', async () => {
    copyFileSync(path.join(root, '.hivemindrc.example'), path.join(sandbox.home, '.hivemindrc'))
    const result = await sandbox.run(['print-config', '--json'])
    expect(result.code, result.stderr).to.equal(0)
    const printed = JSON.parse(result.stdout) as {configFile: string; settings: Array<{key: string; value: unknown}>}
    expect(printed.configFile).to.equal(path.join(sandbox.home, '.hivemindrc'))
    const values = Object.fromEntries(printed.settings.map((setting) => [setting.key, setting.value]))
    expect(values).to.deep.include({
      'database.backend': 'sqlite',
      'database.sqlite.path': path.join(sandbox.home, '.local/share/hivemind-core/clients.db'),
      'database.sqlite.busyTimeoutMs': 10_000,
      'listen.host': '0.0.0.0',
      'listen.port': 5678,
      'agent.url': 'ws://127.0.0.1:8181/core',
    })
    const json = await sandbox.run(['print-config', '--json', '--db-backend', 'json'])
    expect(json.code, json.stderr).to.equal(0)
    expect(JSON.parse(json.stdout).settings).to.deep.include({
      key: 'database.json.path',
      value: path.join(sandbox.home, '.local/share/hivemind-core/clients.json'),
      source: {kind: 'file', path: path.join(sandbox.home, '.hivemindrc'), key: 'database.json.path'},
      from: `./.hivemindrc database.json.path`,
    })
  })

  it('the README command reference is up to date (npm run readme regenerates it)', async function () {
    this.timeout(60_000)
    const {stdout} = await promisify(execFile)(process.execPath, [path.join(root, 'node_modules/oclif/bin/run.js'), 'readme', '--dry-run', '--no-aliases'], {
      cwd: root,
      env: {...process.env, OCLIF_SKIP_UPDATE_NOTIFIER: '1'},
      maxBuffer: 16 * 1024 * 1024,
    })
    const section = (text: string) => text.slice(text.indexOf('<!-- commands -->'), text.indexOf('<!-- commandsstop -->'))
    const generated = section(stdout.slice(stdout.indexOf('\n') + 1))
    expect(generated.length).to.be.greaterThan(1000)
    expect(section(readFileSync(path.join(root, 'README.md'), 'utf8'))).to.equal(generated)
  })
})
