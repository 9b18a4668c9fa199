/**
 * Third-party backend plugins as users install them: fixture packages under
 * test/fixtures/plugins/ are added to the BUILT CLI with `plugins link` inside a throw-away HOME
 * (plugins live under $XDG_DATA_HOME/hivemind-core, so nothing leaks between tests), and real CLI
 * processes are run against them.
 */
import {statSync, writeFileSync} from 'node:fs'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

import {expect} from 'chai'

import type {ListBackendsResult} from '../../src/commands/list-backends.js'
import {type CliSandbox, createSandbox} from '../helpers/sandbox.js'

const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/plugins')
const BUILT_IN = ['json', 'redis', 'sqlite']

/** `plugins link --no-install <fixture>` (the fixtures have no dependencies to install). */
async function link(sandbox: CliSandbox, fixture: string): Promise<void> {
  const result = await sandbox.run(['plugins', 'link', '--no-install', path.join(FIXTURES, fixture)])
  expect(result.code, result.stderr).to.equal(0)
}

async function listBackends(sandbox: CliSandbox): Promise<ListBackendsResult & {stderr: string}> {
  const result = await sandbox.run(['list-backends', '--json'])
  expect(result.code, result.stderr).to.equal(0)
  return {...(JSON.parse(result.stdout) as ListBackendsResult), stderr: result.stderr}
}

/** add-client then list-clients on the default (sqlite) store: the built-in backends still work. */
async function expectBuiltInsWork(sandbox: CliSandbox): Promise<string> {
  const added = await sandbox.run(['add-client', '--name', 'kitchen', '--json'])
  expect(added.code, added.stderr).to.equal(0)
  expect(JSON.parse(added.stdout)).to.deep.include({client_id: 1, name: 'kitchen'})
  const listed = await sandbox.run(['list-clients', '--json'])
  expect(listed.code, listed.stderr).to.equal(0)
  expect((JSON.parse(listed.stdout) as Array<{name: string}>).map((client) => client.name)).to.deep.equal(['kitchen'])
  expect(sandbox.exists('.local/share/hivemind-core/clients.db')).to.equal(true)
  return added.stderr + listed.stderr
}

describe('third-party backend plugins (plugins link)', function () {
  this.timeout(120_000)
  let sandbox: CliSandbox

  beforeEach(() => {
    sandbox = createSandbox()
  })

  afterEach(() => sandbox.cleanup())

  it('a plugin whose hook throws on load is reported, and the built-in backends keep working', async () => {
    await link(sandbox, 'broken')
    const listed = await listBackends(sandbox)
    expect(listed.backends.map((backend) => backend.name)).to.deep.equal(BUILT_IN)
    expect(listed.backends.every((backend) => backend.plugin === 'hivemind-core' && backend.builtIn)).to.equal(true)
    expect(listed.failures).to.deep.equal([
      {plugin: 'hivemind-fixture-broken', hookFailed: true, message: 'its hivemind:backends hook failed: fixture plugin failed on purpose while loading'},
    ])
    expect(listed.stderr).to.contain('hivemind-fixture-broken: its hivemind:backends hook failed: fixture plugin failed on purpose while loading')

    const human = await sandbox.run(['list-backends'])
    expect(human.code, human.stderr).to.equal(0)
    expect(human.stdout).to.match(/sqlite\s+│ hivemind-core \(built in\)/)
    expect(human.stderr).to.contain('Problems with installed plugins')

    await expectBuiltInsWork(sandbox)
  })

  it('a plugin whose hook never answers is reported after the hook timeout, and commands still finish', async () => {
    await link(sandbox, 'hangs')
    // The fixture's hook waits ten minutes and holds the event loop open meanwhile.
    const env = {HIVEMIND_PLUGIN_HOOK_TIMEOUT_MS: '1500'}
    const started = Date.now()
    const result = await sandbox.run(['list-backends', '--json'], {env})
    const elapsed = Date.now() - started
    expect(result.code, result.stderr).to.equal(0)
    const listed = JSON.parse(result.stdout) as ListBackendsResult
    expect(listed.backends.map((backend) => backend.name)).to.deep.equal(BUILT_IN)
    expect(listed.failures).to.deep.equal([
      {plugin: 'hivemind-fixture-hangs', hookFailed: true, timedOut: true, message: 'its hivemind:backends hook did not answer within 1500 ms (a hook should only return descriptors; connecting belongs in create())'},
    ])
    // Far below the hook's ten minutes: the command neither waited for it nor stayed alive after.
    expect(elapsed).to.be.below(60_000)
    const added = await sandbox.run(['add-client', '--name', 'kitchen', '--json'], {env})
    expect(added.code, added.stderr).to.equal(0)
    expect(JSON.parse(added.stdout)).to.deep.include({client_id: 1, name: 'kitchen'})
    // Every command waited for it: each one says so, and how to be rid of it.
    expect(added.stderr).to.contain('Warning: plugin hivemind-fixture-hangs: its hivemind:backends hook did not answer within 1500 ms')
    expect(added.stderr).to.contain('every command waits for it: fix it, or remove it with hivemind-core plugins uninstall hivemind-fixture-hangs')
  })

  it('a plugin whose hook never settles while holding nothing open is reported too, instead of every command exiting 13 in silence', async () => {
    await link(sandbox, 'never-settles')
    const env = {HIVEMIND_PLUGIN_HOOK_TIMEOUT_MS: '1500'}
    const result = await sandbox.run(['list-backends', '--json'], {env})
    expect(result.code, result.stderr).to.equal(0)
    const listed = JSON.parse(result.stdout) as ListBackendsResult
    expect(listed.backends.map((backend) => backend.name)).to.deep.equal(BUILT_IN)
    expect(listed.failures).to.deep.equal([
      {plugin: 'hivemind-fixture-never-settles', hookFailed: true, timedOut: true, message: 'its hivemind:backends hook did not answer within 1500 ms (a hook should only return descriptors; connecting belongs in create())'},
    ])
    const added = await sandbox.run(['add-client', '--name', 'kitchen', '--json'], {env})
    expect(added.code, added.stderr).to.equal(0)
    expect(JSON.parse(added.stdout)).to.deep.include({client_id: 1, name: 'kitchen'})
    expect(added.stderr).to.contain('Warning: plugin hivemind-fixture-never-settles: its hivemind:backends hook did not answer within 1500 ms')
  })

  it("a backend whose probe never answers does not stop commands on an empty database of another backend; doctor reports its diagnose that never answers (QA: exit 13 in silence, or a hang)", async function () {
    this.timeout(90_000)
    await link(sandbox, 'probe-hangs')
    const empty = path.join(sandbox.home, 'empty.db')
    const listed = await sandbox.run(['list-clients', '--db-path', empty, '--json'])
    expect(listed.code, listed.stderr).to.equal(0)
    expect(JSON.parse(listed.stdout)).to.deep.equal([])
    const added = await sandbox.run(['add-client', '--db-path', empty, '--name', 'kitchen', '--json'])
    expect(added.code, added.stderr).to.equal(0)
    const doctor = await sandbox.run(['doctor', '--db-backend', 'stuck', '--json'])
    const report = JSON.parse(doctor.stdout) as {findings: Array<{id: string; severity: string; message: string}>}
    expect(report.findings).to.deep.include({id: 'diagnose-failed', severity: 'warning', message: "the stuck backend's own checks did not answer within 15 s (plugin hivemind-fixture-probe-hangs)"})
  })

  it("a plugin's create() failing with a plain Error names the backend and the plugin; a diagnose() result that is not findings is a warning of doctor (QA: neither was named, and doctor failed)", async () => {
    await link(sandbox, 'odd-checks')
    const added = await sandbox.run(['add-client', '--db-backend', 'oddcheck', '--name', 'kitchen'])
    expect(added.code).to.equal(1)
    expect(added.stderr).to.contain('Error: oddcheck oddcheck: the oddcheck backend (plugin hivemind-fixture-odd-checks) failed to open it: driver module "fancydb" not found')
    expect(added.stderr).not.to.contain('    at ')
    // Its synchronous probe is taken as a promise would be: nothing there, an empty listing.
    const listed = await sandbox.run(['list-clients', '--db-backend', 'oddcheck', '--json', '-q'])
    expect(listed.code, listed.stderr).to.equal(0)
    expect(JSON.parse(listed.stdout)).to.deep.equal([])
    const doctor = await sandbox.run(['doctor', '--db-backend', 'oddcheck', '--json'])
    // Its probe says there is no database yet, so doctor does not open it: the warning alone.
    expect(doctor.code).to.equal(0)
    const findings = (JSON.parse(doctor.stdout) as {findings: Array<{id: string; severity: string; message: string}>}).findings
    expect(findings.map((finding) => `${finding.id} ${finding.severity}`)).to.deep.equal(['diagnose-failed warning'])
    expect(findings[0]!.message).to.contain('(plugin hivemind-fixture-odd-checks) returned something that is not a list of findings')
  })

  it("a plugin's error quoting its secret option or a URL password is printed without them", async () => {
    await link(sandbox, 'leaky')
    const token = 'SUPERSECRET-TOKEN-42'
    const url = 'leaky://user:Url-Pass-99@server/db'
    for (const [args, env] of [
      [['--db-option', `url=${url}`], {HIVEMIND_LEAKY_TOKEN: token}],
      [['--db-option', `token=${token}`, '--db-option', `url=${url}`, '--json'], {}],
    ] as Array<[string[], NodeJS.ProcessEnv]>) {
      const result = await sandbox.run(['list-clients', '--db-backend', 'leaky', ...args], {env})
      expect(result.code).to.equal(1)
      expect(result.stdout + result.stderr).to.contain('could not open leaky://user:********@server/db with token ********')
      expect(result.stdout + result.stderr).not.to.contain(token).and.not.to.contain('Url-Pass-99')
      // The warning about a secret on the command line names this backend's variables.
      expect(result.stderr).to.contain('prefer the environment (HIVEMIND_LEAKY_<OPTION>) or the config file')
    }
  })

  it('a plugin claiming a built-in name ("sqlite") is reported naming both, ignored, and selecting sqlite says so', async () => {
    await link(sandbox, 'claims-sqlite')
    const listed = await listBackends(sandbox)
    expect(listed.backends.find((backend) => backend.name === 'sqlite')).to.deep.include({plugin: 'hivemind-core', builtIn: true})
    expect(listed.ambiguous).to.deep.equal([])
    expect(listed.failures).to.have.length(1)
    expect(listed.failures[0]).to.deep.include({plugin: 'hivemind-fixture-claims-sqlite', backend: 'sqlite'})
    expect(listed.failures[0]!.message).to.contain('built into hivemind-core').and.contain("hivemind-fixture-claims-sqlite's backend of that name is ignored")

    // The impostor's create() throws: these commands succeeding proves the built-in one is used.
    const stderr = await expectBuiltInsWork(sandbox)
    expect(stderr).to.contain('Warning: plugin hivemind-fixture-claims-sqlite also provides a backend "sqlite"; it is ignored and the one built into hivemind-core is used')
  })

  it('two plugins claiming one name: a clear error naming both, the name cannot be selected, the rest works', async () => {
    await link(sandbox, 'twin-a')
    await link(sandbox, 'twin-b')
    const listed = await listBackends(sandbox)
    expect(listed.backends.map((backend) => backend.name)).to.deep.equal(BUILT_IN)
    expect(listed.ambiguous).to.deep.equal([{name: 'twin', plugins: ['hivemind-fixture-twin-a', 'hivemind-fixture-twin-b']}])
    expect(listed.failures).to.have.length(1)
    expect(listed.failures[0]!.message).to.equal(
      'backend "twin" is provided by 2 plugins: hivemind-fixture-twin-a and hivemind-fixture-twin-b; none of them is used until all but one are uninstalled (hivemind-core plugins uninstall <plugin>)',
    )

    const byFlag = await sandbox.run(['list-clients', '--db-backend', 'twin'])
    expect(byFlag.code).to.equal(1)
    expect(byFlag.stderr).to.contain('Error: database backend "twin" (from flag --db-backend) is ambiguous: it is provided by hivemind-fixture-twin-a and hivemind-fixture-twin-b')
    const asJson = await sandbox.run(['list-clients', '--db-backend', 'twin', '--json'])
    expect(asJson.code).to.equal(1)
    expect(JSON.parse(asJson.stdout).error).to.include({code: 'BACKEND_CONFLICT'})

    writeFileSync(path.join(sandbox.home, '.hivemindrc.json'), JSON.stringify({database: {backend: 'twin'}}))
    const byConfig = await sandbox.run(['list-clients'])
    expect(byConfig.code).to.equal(1)
    expect(byConfig.stderr).to.contain('"twin" (from ./.hivemindrc.json').and.contain('is ambiguous: it is provided by hivemind-fixture-twin-a and hivemind-fixture-twin-b')

    const migrate = await sandbox.run(['migrate-db', '--to', 'twin', '--db-backend', 'sqlite'])
    expect(migrate.code).to.equal(1)
    expect(migrate.stderr).to.contain('"twin" (from flag --to) is ambiguous')

    // Uninstalling one of the two settles it.
    const uninstalled = await sandbox.run(['plugins', 'uninstall', 'hivemind-fixture-twin-b'])
    expect(uninstalled.code, uninstalled.stderr).to.equal(0)
    const after = await listBackends(sandbox)
    expect(after.ambiguous).to.deep.equal([])
    expect(after.failures).to.deep.equal([])
    expect(after.backends.find((backend) => backend.name === 'twin')).to.deep.include({plugin: 'hivemind-fixture-twin-a', builtIn: false})

    await sandbox.run(['plugins', 'uninstall', 'hivemind-fixture-twin-a'])
    writeFileSync(path.join(sandbox.home, '.hivemindrc.json'), '{}')
    await expectBuiltInsWork(sandbox)
  })

  it('linking a plugin into a new HOME leaves the data directory our databases share with the plugin manager 0700 (QA: 0755, and doctor then reported it)', async () => {
    await link(sandbox, 'claims-sqlite')
    const dataDir = path.join(sandbox.home, '.local/share/hivemind-core')
    expect((statSync(dataDir).mode & 0o777).toString(8)).to.equal('700')
    await expectBuiltInsWork(sandbox)
    const doctor = await sandbox.run(['doctor', '--json'])
    const findings = (JSON.parse(doctor.stdout) as {findings: Array<{id: string; message: string}>}).findings
    expect(findings.filter((finding) => finding.message.includes(dataDir))).to.deep.equal([])
  })

  it('installing plugins never changes which backend an existing config file (or the default) selects', async () => {
    const selected = async () => {
      const result = await sandbox.run(['print-config', '--json'])
      expect(result.code, result.stderr).to.equal(0)
      const printed = JSON.parse(result.stdout) as {settings: Array<{key: string; value: unknown}>}
      return Object.fromEntries(printed.settings.filter((setting) => setting.key.startsWith('database.')).map((setting) => [setting.key, setting.value]))
    }
    const defaults = await selected()
    expect(defaults['database.backend']).to.equal('sqlite')

    const config = path.join(sandbox.home, '.hivemindrc.json')
    writeFileSync(config, JSON.stringify({database: {backend: 'json', json: {path: './hive.json'}}}))
    const configured = await selected()
    expect(configured).to.deep.include({'database.backend': 'json', 'database.json.path': path.join(sandbox.home, 'hive.json')})

    for (const fixture of ['broken', 'claims-sqlite', 'twin-a', 'twin-b']) await link(sandbox, fixture)
    expect(await selected()).to.deep.equal(configured)
    writeFileSync(config, '{}')
    expect(await selected()).to.deep.equal(defaults)
  })
})
