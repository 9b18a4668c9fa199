import {mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'

import {expect} from 'chai'

import {defaultBackend, envName, resolveOtherBackendOptions, resolveSettings, type SettingsInput} from '../../src/config/settings.js'
import {MemoryStore} from '../../src/core/memory-store.js'
import {BackendRegistry} from '../../src/core/registry.js'
import type {BackendDescriptor} from '../../src/core/store.js'
import {jsonBackend} from '../../src/plugins/json/index.js'
import {upstreamRedisPlugin} from '../../src/plugins/redis/upstream.js'
import {sqliteBackend} from '../../src/plugins/sqlite/index.js'

/** A second backend with the option kinds the settings layer handles (never opened here). */
const remoteBackend: BackendDescriptor = {
  name: 'redis',
  summary: 'a backend with network options, for resolution tests',
  optionsSchema: {
    url: {type: 'string', description: 'server url', default: 'redis://127.0.0.1:6379/0'},
    host: {type: 'string', description: 'host'},
    port: {type: 'integer', description: 'port'},
    password: {type: 'string', description: 'password', secret: true, nullable: true},
    db: {type: 'integer', description: 'db', minimum: 0, maximum: 2_147_483_647},
    keyPrefix: {type: 'string', description: 'prefix', default: 'hivemind:'},
  },
  describeLocation: (options) => String(options.url),
  create: () => new MemoryStore(),
  upstream: upstreamRedisPlugin,
}

describe('settings resolution', () => {
  let root: string
  let home: string
  let project: string
  let registry: BackendRegistry

  beforeEach(() => {
    root = mkdtempSync(path.join(os.tmpdir(), 'hm-settings-'))
    home = path.join(root, 'home')
    project = path.join(home, 'project')
    mkdirSync(path.join(project, 'sub', 'deeper'), {recursive: true})
    registry = new BackendRegistry()
    registry.register(sqliteBackend, 'hivemind-core')
    registry.register(remoteBackend, 'test-plugin')
  })

  afterEach(() => rmSync(root, {recursive: true, force: true}))

  const input = (overrides: Partial<SettingsInput> = {}): SettingsInput => ({
    flags: {},
    env: {HOME: home},
    cwd: project,
    registry,
    ...overrides,
  })

  const writeConfig = (dir: string, content: unknown, name = '.hivemindrc.json') => {
    const file = path.join(dir, name)
    writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content))
    return file
  }

  describe('precedence: flag > env > file > default', () => {
    it('defaults to sqlite in $XDG_DATA_HOME/hivemind-core/clients.db', async () => {
      const settings = await resolveSettings(input())
      expect(settings.backend).to.deep.equal({value: 'sqlite', source: {kind: 'default'}})
      expect(settings.backendOptions.path!.value).to.equal(path.join(home, '.local/share/hivemind-core/clients.db'))
      const xdg = await resolveSettings(input({env: {HOME: home, XDG_DATA_HOME: path.join(root, 'data')}}))
      expect(xdg.backendOptions.path!.value).to.equal(path.join(root, 'data/hivemind-core/clients.db'))
    })

    it('a config file overrides the defaults, relative paths resolve against the file', async () => {
      const file = writeConfig(project, {database: {backend: 'sqlite', sqlite: {path: './db/clients.db'}}})
      const settings = await resolveSettings(input({cwd: path.join(project, 'sub', 'deeper')}))
      expect(settings.configFile?.path).to.equal(file)
      expect(settings.backendOptions.path!.value).to.equal(path.join(project, 'db/clients.db'))
      expect(settings.backendOptions.path!.source).to.deep.equal({kind: 'file', path: file, key: 'database.sqlite.path'})
      expect(settings.backend.source.kind).to.equal('file')
    })

    it('the environment overrides the file', async () => {
      writeConfig(project, {database: {backend: 'sqlite', sqlite: {path: './db/clients.db'}}})
      const settings = await resolveSettings(input({env: {HOME: home, HIVEMIND_DB_PATH: 'env.db', HIVEMIND_DB_BACKEND: 'sqlite'}}))
      expect(settings.backendOptions.path!.value).to.equal(path.join(project, 'env.db'))
      expect(settings.backendOptions.path!.source).to.deep.equal({kind: 'env', name: 'HIVEMIND_DB_PATH'})
      expect(settings.backend.source).to.deep.equal({kind: 'env', name: 'HIVEMIND_DB_BACKEND'})
    })

    it('flags override the environment', async () => {
      writeConfig(project, {database: {backend: 'redis'}})
      const settings = await resolveSettings(input({
        flags: {'db-backend': 'sqlite', 'db-path': '/tmp/flag.db'},
        env: {HOME: home, HIVEMIND_DB_PATH: 'env.db', HIVEMIND_DB_BACKEND: 'redis'},
      }))
      expect(settings.backend).to.deep.equal({value: 'sqlite', source: {kind: 'flag', name: '--db-backend'}})
      expect(settings.backendOptions.path).to.deep.equal({value: '/tmp/flag.db', source: {kind: 'flag', name: '--db-path'}})
    })

    it('resolves each option independently (a flag for one key, the file for another)', async () => {
      writeConfig(project, {database: {backend: 'redis', redis: {url: 'redis://file:1/0', keyPrefix: 'file:'}}})
      const settings = await resolveSettings(input({flags: {'redis-port': 7000}, env: {HOME: home, HIVEMIND_REDIS_PASSWORD: 'hunter2'}}))
      expect(settings.backend.value).to.equal('redis')
      expect(settings.backendOptions.port).to.deep.equal({value: 7000, source: {kind: 'flag', name: '--redis-port'}})
      expect(settings.backendOptions.password).to.deep.equal({value: 'hunter2', source: {kind: 'env', name: 'HIVEMIND_REDIS_PASSWORD'}})
      expect(settings.backendOptions.keyPrefix!.value).to.equal('file:')
      expect(settings.backendOptions.url!.value).to.equal('redis://file:1/0')
    })

    it('--config and HIVEMIND_CONFIG name the file instead of searching; the flag wins', async () => {
      writeConfig(project, {database: {sqlite: {path: 'searched.db'}}})
      const envFile = writeConfig(root, {database: {sqlite: {path: 'env.db'}}}, 'env.json')
      const flagFile = writeConfig(root, {database: {sqlite: {path: 'flag.db'}}}, 'flag.json')
      const fromEnv = await resolveSettings(input({env: {HOME: home, HIVEMIND_CONFIG: envFile}}))
      expect(fromEnv.backendOptions.path!.value).to.equal(path.join(root, 'env.db'))
      const fromFlag = await resolveSettings(input({flags: {config: flagFile}, env: {HOME: home, HIVEMIND_CONFIG: envFile}}))
      expect(fromFlag.backendOptions.path!.value).to.equal(path.join(root, 'flag.db'))
      expect(fromFlag.configFile).to.deep.equal({path: flagFile, how: 'explicit'})
    })

    it('finds YAML, package.json#hivemind and hivemind.config.cjs files', async () => {
      writeFileSync(path.join(project, '.hivemindrc.yaml'), 'database:\n  sqlite:\n    path: yaml.db\n')
      expect((await resolveSettings(input())).backendOptions.path!.value).to.equal(path.join(project, 'yaml.db'))
      rmSync(path.join(project, '.hivemindrc.yaml'))
      writeFileSync(path.join(project, 'package.json'), JSON.stringify({name: 'x', hivemind: {database: {sqlite: {path: 'pkg.db'}}}}))
      expect((await resolveSettings(input())).backendOptions.path!.value).to.equal(path.join(project, 'pkg.db'))
      rmSync(path.join(project, 'package.json'))
      writeFileSync(path.join(project, 'hivemind.config.cjs'), 'module.exports = {database: {sqlite: {path: "cjs.db"}}}\n')
      expect((await resolveSettings(input())).backendOptions.path!.value).to.equal(path.join(project, 'cjs.db'))
    })
  })

  describe('an empty config file', () => {
    for (const [name, content] of [['.hivemindrc', ''], ['.hivemindrc.json', '  \n'], ['.hivemindrc.yaml', '# nothing set yet\n']] as const) {
      it(`${name} (${JSON.stringify(content)}) is the config file, all defaults: the search stops there instead of applying one further up`, async () => {
        writeConfig(home, {database: {sqlite: {path: 'from-home.db'}}})
        const file = writeConfig(project, content, name)
        const settings = await resolveSettings(input())
        expect(settings.configFile).to.deep.equal({path: file, how: 'search'})
        expect(settings.backendOptions.path!.value).to.equal(path.join(home, '.local/share/hivemind-core/clients.db'))
      })
    }

    it('a package.json without a "hivemind" key is not one: the search goes on', async () => {
      const found = writeConfig(home, {database: {sqlite: {path: 'from-home.db'}}})
      writeFileSync(path.join(project, 'package.json'), JSON.stringify({name: 'unrelated'}))
      const settings = await resolveSettings(input())
      expect(settings.configFile).to.deep.equal({path: found, how: 'search'})
      expect(settings.backendOptions.path!.value).to.equal(path.join(home, 'from-home.db'))
    })
  })

  describe('defaults for an existing upstream install', () => {
    it('selects json when clients.json exists and clients.db does not', () => {
      const dataDir = path.join(home, '.local/share/hivemind-core')
      mkdirSync(dataDir, {recursive: true})
      const paths = {home, dataDir, configDir: '', stateDir: ''}
      expect(defaultBackend(paths).value).to.equal('sqlite')
      writeFileSync(path.join(dataDir, 'clients.json'), '{}')
      expect(defaultBackend(paths).value).to.equal('json')
      writeFileSync(path.join(dataDir, 'clients.db'), '')
      expect(defaultBackend(paths).value).to.equal('sqlite')
    })

    it('says so when a clients.db beside clients.json takes over: its clients are out of sight', () => {
      const dataDir = path.join(home, '.local/share/hivemind-core')
      mkdirSync(dataDir, {recursive: true})
      const paths = {home, dataDir, configDir: '', stateDir: ''}
      writeFileSync(path.join(dataDir, 'clients.db'), '')
      expect(defaultBackend(paths).source).to.deep.equal({kind: 'default'})
      writeFileSync(path.join(dataDir, 'clients.json'), '{}')
      expect(defaultBackend(paths)).to.deep.equal({
        value: 'sqlite',
        source: {kind: 'default', note: `${path.join(dataDir, 'clients.db')} exists, so ${path.join(dataDir, 'clients.json')} beside it is not used`},
      })
    })
  })

  describe('expansion', () => {
    it('expands ~, $XDG_* (with spec defaults when unset) and ${VAR}', async () => {
      writeConfig(project, {database: {sqlite: {path: '$XDG_DATA_HOME/x/${NAME}.db'}}})
      const settings = await resolveSettings(input({env: {HOME: home, NAME: 'hive'}}))
      expect(settings.backendOptions.path!.value).to.equal(path.join(home, '.local/share/x/hive.db'))
      const tilde = await resolveSettings(input({flags: {'db-path': '~/t.db'}}))
      expect(tilde.backendOptions.path!.value).to.equal(path.join(home, 't.db'))
    })

    it('an unset variable in a path is an error naming it, not an empty string', async () => {
      writeConfig(project, {database: {sqlite: {path: '$NOPE/clients.db'}}})
      await expectError(resolveSettings(input()), 'CONFIG_INVALID', ['.hivemindrc.json database.sqlite.path', 'NOPE'])
    })
  })

  describe('invalid input is an error naming the file and the key', () => {
    const cases: Array<[string, string, string[]]> = [
      ['unparsable JSON', '{"database": {', ['.hivemindrc.json']],
      ['a wrong type', JSON.stringify({database: {sqlite: {path: 42}}}), ['database.sqlite.path', 'number']],
      ['an unknown key', JSON.stringify({database: {sqlite: {pth: 'x'}}}), ['database.sqlite.pth']],
      ['an unknown top-level key', JSON.stringify({databse: {}}), ['"databse"']],
      ['a bad port', JSON.stringify({listen: {port: 99_999}}), ['listen.port']],
      ['a non-object', '[1,2]', ['top level']],
    ]
    for (const [what, content, mentions] of cases) {
      it(`rejects ${what}`, async () => {
        const file = writeConfig(project, content)
        await expectError(resolveSettings(input()), 'CONFIG_INVALID', [file, ...mentions])
      })
    }

    it('rejects an unknown backend when it is the one selected (BACKEND_UNKNOWN: the plugin providing it may just be missing)', async () => {
      writeConfig(project, JSON.stringify({database: {backend: 'mongo'}}))
      await expectError(resolveSettings(input()), 'BACKEND_UNKNOWN', ['.hivemindrc.json database.backend', 'mongo', 'sqlite'])
    })

    it('never echoes a secret of the wrong type', async () => {
      writeConfig(project, {database: {redis: {password: 123_456_789}}})
      const error = await expectError(resolveSettings(input()), 'CONFIG_INVALID', ['database.redis.password'])
      expect(error.message).not.to.contain('123456789')
    })

    it('an explicit config file of a kind cosmiconfig cannot read (.txt) says which names work, not "fix the syntax"', async () => {
      const file = writeConfig(root, '{}', 'settings.txt')
      const error = await expectError(resolveSettings(input({flags: {config: file}})), 'CONFIG_INVALID', [file, '.txt'])
      expect((error as Error & {suggestion?: string}).suggestion).to.equal('give it a name ending in .json, .yaml, .yml, .js, .cjs or .mjs (no extension: YAML or JSON)')
    })

    it('a TypeScript config file, found or named, is refused with what works instead (TypeScript is installed here, so cosmiconfig would have run it)', async () => {
      // A file further up that would apply if the .ts one were skipped.
      writeConfig(home, {database: {sqlite: {path: 'home.db'}}})
      mkdirSync(path.join(project, '.config'))
      // The search looks for .ts names only; .mts and .cts files are read when named.
      const cases: Array<[string, boolean]> = [['.hivemindrc.ts', true], ['hivemind.config.ts', true], ['.config/hivemindrc.ts', true], ['settings.mts', false], ['settings.cts', false]]
      for (const [name, searched] of cases) {
        const file = writeConfig(project, 'export default {database: {sqlite: {path: "ts.db"}}}\n', name)
        for (const flags of searched ? [{}, {config: file}] : [{config: file}]) {
          const error = await expectError(resolveSettings(input({flags})), 'CONFIG_INVALID', [file, 'TypeScript config files are not supported'])
          expect((error as Error & {suggestion?: string}).suggestion, name).to.contain('.hivemindrc.json')
        }
        rmSync(file)
      }
    })

    it('an explicit config file that does not exist is an error', async () => {
      await expectError(resolveSettings(input({flags: {config: 'missing.json'}})), 'CONFIG_NOT_FOUND', ['missing.json'])
    })

    it('an unknown --db-backend lists the available backends', async () => {
      await expectError(resolveSettings(input({flags: {'db-backend': 'foo'}})), 'BACKEND_UNKNOWN', ['"foo"', 'redis, sqlite'])
    })

    it('--db-path on a backend without a path is an error', async () => {
      await expectError(resolveSettings(input({flags: {'db-backend': 'redis', 'db-path': 'x'}})), 'BACKEND_OPTIONS_INVALID', ['--db-path', 'redis'])
    })

    it('a misspelt key under database is named as not a setting, with what the section holds', async () => {
      writeConfig(project, {database: {backnd: 'sqlite'}})
      await expectError(resolveSettings(input()), 'CONFIG_INVALID', ['database.backnd is not a setting: database.backend selects the backend', 'redis, sqlite'])
      writeConfig(project, {database: {sqlite: 'x'}})
      await expectError(resolveSettings(input()), 'CONFIG_INVALID', ['database.sqlite must be an object of sqlite backend options, found the string "x"'])
    })

    it('an empty path is an error naming where it was given (it resolved to the working directory)', async () => {
      await expectError(resolveSettings(input({flags: {'db-path': ''}})), 'BACKEND_OPTIONS_INVALID', ['flag --db-path: the path is empty'])
      await expectError(resolveSettings(input({flags: {'db-option': ['path=']}})), 'BACKEND_OPTIONS_INVALID', ['flag --db-option path: the path is empty'])
      writeConfig(project, {database: {sqlite: {path: ''}}})
      // (the config file's own check already said so)
      await expectError(resolveSettings(input()), 'CONFIG_INVALID', ['database.sqlite.path must not be empty'])
    })

    it("an integer option outside its schema's range is an error naming where it was set, whichever the source", async () => {
      await expectError(resolveSettings(input({flags: {'db-option': ['busyTimeoutMs=-5']}})), 'BACKEND_OPTIONS_INVALID', ['flag --db-option busyTimeoutMs (database.sqlite.busyTimeoutMs) must be at least 0, got -5'])
      await expectError(resolveSettings(input({env: {HOME: home, HIVEMIND_SQLITE_BUSY_TIMEOUT_MS: '-1'}})), 'BACKEND_OPTIONS_INVALID', ['env HIVEMIND_SQLITE_BUSY_TIMEOUT_MS', 'at least 0, got -1'])
      writeConfig(project, {database: {sqlite: {busyTimeoutMs: -5}}})
      await expectError(resolveSettings(input()), 'CONFIG_INVALID', ['./.hivemindrc.json database.sqlite.busyTimeoutMs must be at least 0, got -5'])
      writeConfig(project, {database: {sqlite: {busyTimeoutMs: 0}}})
      expect((await resolveSettings(input())).backendOptions.busyTimeoutMs!.value).to.equal(0)
    })

    it('HIVEMIND_LISTEN_PORT outside 0-65535 is an error naming it (as --port is)', async () => {
      for (const port of ['70000', '-1']) {
        await expectError(resolveSettings(input({env: {HOME: home, HIVEMIND_LISTEN_PORT: port}})), 'BACKEND_OPTIONS_INVALID', [`HIVEMIND_LISTEN_PORT must be between 0 and 65535, got ${port}`])
      }
      expect((await resolveSettings(input({env: {HOME: home, HIVEMIND_LISTEN_PORT: '0'}}))).listen.port.value).to.equal(0)
    })

    it('a non-integer environment value for an integer option is an error', async () => {
      await expectError(resolveSettings(input({env: {HOME: home, HIVEMIND_DB_BACKEND: 'redis', HIVEMIND_REDIS_PORT: 'abc'}})), 'BACKEND_OPTIONS_INVALID', ['HIVEMIND_REDIS_PORT'])
    })
  })

  describe('notices', () => {
    it('warns about a password on the command line and about flags of another backend', async () => {
      const settings = await resolveSettings(input({flags: {'redis-password': 'pw', 'redis-host': 'h'}}))
      expect(settings.notices.join('\n')).to.contain('--redis-host is ignored').and.to.contain('visible to other local users')
      expect(settings.notices.join('\n')).not.to.contain('pw ')
    })

    it('warns once about a password inside a URL flag or a secret --db-option, for the selected backend and for another side (migrate-db --to-*)', async () => {
      const warning = 'a password on the command line is visible to other local users (ps)'
      const withUrl = await resolveSettings(input({flags: {'db-backend': 'redis', 'redis-url': 'redis://:Sekrit@h:1/0'}}))
      expect(withUrl.notices.filter((notice) => notice.includes(warning))).to.have.length(1)
      expect(withUrl.notices.join('\n')).not.to.contain('Sekrit')
      expect(withUrl.notices.join('\n')).to.contain('prefer the environment (HIVEMIND_REDIS_PASSWORD)')
      const withOption = await resolveSettings(input({flags: {'db-backend': 'redis', 'db-option': ['password=Sekrit'], 'redis-password': 'Sekrit'}}))
      expect(withOption.notices.filter((notice) => notice.includes(warning))).to.have.length(1)
      const plain = await resolveSettings(input({flags: {'db-backend': 'redis', 'redis-url': 'redis://h:1/0'}}))
      expect(plain.notices.join('\n')).not.to.contain(warning)
      resolveOtherBackendOptions(plain, registry.get('redis', 'test'), {'redis-url': 'redis://user:Sekrit@h:1/0'}, {})
      expect(plain.notices.filter((notice) => notice.includes(warning))).to.have.length(1)
    })

    it("warns when the config file's only backend section is not the backend the default chose (QA: a database.sqlite section was silently ignored beside an upstream clients.json)", async () => {
      const dataDir = path.join(home, '.local/share/hivemind-core')
      mkdirSync(dataDir, {recursive: true})
      writeFileSync(path.join(dataDir, 'clients.json'), '{}')
      writeConfig(project, {database: {sqlite: {path: './hive.db'}}})
      registry.register(jsonBackend, 'hivemind-core')
      const beside = await resolveSettings(input())
      expect(beside.backend.value).to.equal('json')
      const notice = beside.notices.find((text) => text.includes('database.sqlite section'))
      expect(notice).to.equal(
        `./.hivemindrc.json has a database.sqlite section but no database.backend, so its sqlite options are not used: the default backend json (${path.join(dataDir, 'clients.json')} exists and ${path.join(dataDir, 'clients.db')} does not) is. ` +
          'Add "backend": "sqlite" to its database section to use sqlite, or "backend": "json" to keep json (and this warning goes)',
      )
      // The section of the backend the default chose, a named backend, or one chosen by flag or environment: no warning.
      rmSync(path.join(dataDir, 'clients.json'))
      expect((await resolveSettings(input())).notices.join('\n')).not.to.contain('no database.backend')
      writeConfig(project, {database: {redis: {url: 'redis://h:1/0'}}})
      expect((await resolveSettings(input())).notices.join('\n')).to.contain('has a database.redis section but no database.backend')
      expect((await resolveSettings(input({flags: {'db-backend': 'sqlite'}}))).notices.join('\n')).not.to.contain('no database.backend')
      expect((await resolveSettings(input({env: {HOME: home, HIVEMIND_DB_BACKEND: 'sqlite'}}))).notices.join('\n')).not.to.contain('no database.backend')
      writeConfig(project, {database: {backend: 'sqlite', redis: {url: 'redis://h:1/0'}}})
      expect((await resolveSettings(input())).notices.join('\n')).not.to.contain('no database.backend')
    })

    it('warns about a config section named a letter or two off an installed backend, whose options nothing uses (QA: database.sqllite was silently ignored)', async () => {
      writeConfig(project, {database: {sqllite: {path: './hive.db'}, postgres: {url: 'postgres://h/db'}}})
      const settings = await resolveSettings(input())
      expect(settings.backend.value).to.equal('sqlite')
      expect(settings.notices).to.deep.equal(['./.hivemindrc.json: database.sqllite is not an installed backend, so nothing uses its options; did you mean database.sqlite?'])
    })

    it('warns that HIVEMIND_DB_PATH is ignored when the selected backend has no file path (QA: a unit file left it after the switch to Redis)', async () => {
      const redis = await resolveSettings(input({flags: {'db-backend': 'redis'}, env: {HOME: home, HIVEMIND_DB_PATH: '/srv/old.db'}}))
      expect(redis.notices).to.deep.equal(['HIVEMIND_DB_PATH is ignored: the redis backend has no file path'])
      const sqlite = await resolveSettings(input({env: {HOME: home, HIVEMIND_DB_PATH: '/srv/old.db'}}))
      expect(sqlite.notices).to.deep.equal([])
      expect(sqlite.backendOptions.path?.value).to.equal('/srv/old.db')
    })
  })

  describe("the Python hub's server.json (a layer below the config file)", () => {
    const writeServerJson = (content: unknown) => {
      const dir = path.join(home, '.config', 'hivemind-core')
      mkdirSync(dir, {recursive: true})
      writeFileSync(path.join(dir, 'server.json'), typeof content === 'string' ? content : JSON.stringify(content))
      return path.join(dir, 'server.json')
    }

    it('selects the backend of its database plugin with the options it gives, and its listener and agent; the config file, the environment and flags outrank it', async () => {
      registry.register(jsonBackend, 'hivemind-core')
      const file = writeServerJson({
        network_protocol: {'hivemind-websocket-plugin': {host: '127.0.0.1', port: 6000}},
        agent_protocol: {module: 'hivemind-ovos-agent-plugin', 'hivemind-ovos-agent-plugin': {host: 'bus.lan', port: 8182}},
        database: {module: 'hivemind-json-db-plugin', 'hivemind-json-db-plugin': {name: 'hive', subfolder: 'old'}},
      })
      const settings = await resolveSettings(input())
      expect(settings.backend).to.deep.equal({value: 'json', source: {kind: 'file', path: file, key: 'database.module'}})
      expect(settings.backendOptions.path).to.deep.equal({value: path.join(home, '.local/share/old/hive.json'), source: {kind: 'file', path: file, key: 'database.hivemind-json-db-plugin'}})
      expect(settings.listen.host.value).to.equal('127.0.0.1')
      expect(settings.listen.port).to.deep.equal({value: 6000, source: {kind: 'file', path: file, key: 'network_protocol.hivemind-websocket-plugin.port'}})
      expect(settings.agent.url.value).to.equal('ws://bus.lan:8182/core')
      expect(settings.notices).to.deep.equal([])
      writeConfig(project, {database: {backend: 'sqlite'}, listen: {port: 7000}})
      const ours = await resolveSettings(input())
      expect([ours.backend.value, ours.listen.port.value, ours.agent.url.value]).to.deep.equal(['sqlite', 7000, 'ws://bus.lan:8182/core'])
      expect(ours.backendOptions.path?.source).to.deep.equal({kind: 'default'})
      expect((await resolveSettings(input({env: {HOME: home, HIVEMIND_LISTEN_PORT: '7100'}}))).listen.port.value).to.equal(7100)
    })

    it('"ssl": true names the certificate files, with the Python hub\'s defaults ($XDG_DATA_HOME/hivemind/hivemind.crt) and ~ expanded', async () => {
      writeServerJson({network_protocol: {'hivemind-websocket-plugin': {ssl: true}}})
      expect((await resolveSettings(input())).upstream?.tls).to.deep.equal({certFile: path.join(home, '.local/share/hivemind/hivemind.crt'), keyFile: path.join(home, '.local/share/hivemind/hivemind.key')})
      writeServerJson({network_protocol: {'hivemind-websocket-plugin': {ssl: true, cert_dir: '~/certs', cert_name: 'hub'}}})
      expect((await resolveSettings(input())).upstream?.tls).to.deep.equal({certFile: path.join(home, 'certs/hub.crt'), keyFile: path.join(home, 'certs/hub.key')})
      writeServerJson({network_protocol: {'hivemind-websocket-plugin': {ssl: false, cert_dir: '~/certs'}}})
      expect((await resolveSettings(input())).upstream?.tls).to.equal(undefined)
    })

    it('the Redis plugin gives its server; the plugin name and capitals work wherever a backend is named', async () => {
      const file = writeServerJson({database: {module: 'hivemind-redis-db-plugin', 'hivemind-redis-db-plugin': {name: 'clients', host: 'cache.lan', port: 6380, db: 2, password: ''}}})
      const settings = await resolveSettings(input())
      expect(settings.backend.value).to.equal('redis')
      expect(settings.backendOptions.host).to.deep.equal({value: 'cache.lan', source: {kind: 'file', path: file, key: 'database.hivemind-redis-db-plugin'}})
      expect([settings.backendOptions.port?.value, settings.backendOptions.db?.value, settings.backendOptions.password]).to.deep.equal([6380, 2, undefined])
      expect((await resolveSettings(input({flags: {'db-backend': 'SQLite'}}))).backend.value).to.equal('sqlite')
      expect((await resolveSettings(input({flags: {'db-backend': 'hivemind-sqlite-db-plugin'}}))).backend.value).to.equal('sqlite')
    })

    it('what cannot be used is said, never fatal (unless the file is unreadable and would choose the database): an unknown plugin, another agent, a bad port, a value of the wrong type or out of range', async () => {
      const file = writeServerJson('{"database": ')
      // It may select the database: with nothing above it choosing one, that is an error, not the default (QA: a trailing comma moved the hub to an empty database).
      try {
        await resolveSettings(input())
        expect.fail('resolved a database beside an unreadable server.json')
      } catch (error) {
        expect((error as Error).message).to.equal(`${file} (the Python hivemind-core's config) cannot be read (it is not valid JSON), and it may select the database: none is chosen until it is fixed`)
      }
      expect((await resolveSettings(input({flags: {'db-backend': 'sqlite'}}))).notices).to.deep.equal([`${file} (the Python hivemind-core's config) cannot be read (it is not valid JSON): none of its settings are used`])
      writeServerJson({
        network_protocol: {'hivemind-websocket-plugin': {port: 99_999}},
        agent_protocol: {module: 'hivemind-persona-agent-plugin'},
        database: {module: 'hivemind-mongo-db-plugin'},
      })
      const settings = await resolveSettings(input())
      expect(settings.notices).to.deep.equal([
        `${file}: network_protocol.hivemind-websocket-plugin.port is not a port number (1-65535); the default is used`,
        `${file} selects the agent hivemind-persona-agent-plugin; hivemind-core speaks only to an OVOS message bus (hivemind-ovos-agent-plugin), so agent.url keeps its own setting`,
        `${file} selects the database plugin hivemind-mongo-db-plugin, which no installed backend reads (redis, sqlite); it is not used`,
      ])
      expect([settings.backend.value, settings.listen.port.value]).to.deep.equal(['sqlite', 5678])
      writeServerJson({database: {module: 'hivemind-redis-db-plugin', 'hivemind-redis-db-plugin': {port: '6379', db: -1}}})
      expect((await resolveSettings(input())).notices).to.deep.equal([
        `${file}: database.hivemind-redis-db-plugin gives redis option port a value that does not fit: it must be an integer, found the string "6379"; it is not used`,
        `${file}: database.hivemind-redis-db-plugin gives redis option db a value that does not fit: it must be between 0 and 2147483647, found -1; it is not used`,
      ])
      writeServerJson({agent_protocol: {module: 'hivemind-ovos-agent-plugin', 'hivemind-ovos-agent-plugin': {host: '127.0.0.1', port: '8190'}}})
      const agent = await resolveSettings(input())
      expect(agent.notices).to.deep.equal([`${file}: agent_protocol.hivemind-ovos-agent-plugin needs a host name and a port number (1-65535); agent.url keeps its own setting`])
      expect(agent.agent.url).to.deep.equal({value: 'ws://127.0.0.1:8181/core', source: {kind: 'default'}})
      writeServerJson({agent_protocol: {'hivemind-ovos-agent-plugin': {host: '[::1]', port: 8182}}})
      expect((await resolveSettings(input())).agent.url.value).to.equal('ws://[::1]:8182/core')
    })

    it("server.json's database section is used only when nothing above it sets an option of that backend (QA: its host and password replaced a --redis-url's, and went to the server a --redis-port named)", async () => {
      writeServerJson({database: {module: 'hivemind-redis-db-plugin', 'hivemind-redis-db-plugin': {host: 'old.lan', port: 6380, db: 7, password: 'Sekrit9'}}})
      const byFlag = await resolveSettings(input({flags: {'redis-url': 'redis://new.lan:6379/0'}}))
      expect(byFlag.backend.value).to.equal('redis')
      expect(Object.fromEntries(Object.entries(byFlag.backendOptions).filter(([key]) => ['url', 'host', 'port', 'db', 'password'].includes(key)).map(([key, sourced]) => [key, sourced.value]))).to.deep.equal({url: 'redis://new.lan:6379/0'})
      const byPort = await resolveSettings(input({flags: {'redis-port': 6390}}))
      expect([byPort.backendOptions.host, byPort.backendOptions.password]).to.deep.equal([undefined, undefined])
      const byEnv = await resolveSettings(input({env: {HOME: home, HIVEMIND_REDIS_URL: 'redis://env.lan/0'}}))
      expect(byEnv.backendOptions.host).to.equal(undefined)
      writeConfig(project, {database: {redis: {url: 'redis://file.lan/5'}}})
      const byFile = await resolveSettings(input())
      expect([byFile.backendOptions.url?.value, byFile.backendOptions.db]).to.deep.equal(['redis://file.lan/5', undefined])
      // A config file whose only section is another backend's than server.json chose: said, as beside the default.
      writeConfig(project, {database: {sqlite: {path: './x.db'}}})
      expect((await resolveSettings(input())).notices.join('\n')).to.contain(`./.hivemindrc.json has a database.sqlite section but no database.backend, so its sqlite options are not used: the backend redis of ${path.join(home, '.config/hivemind-core/server.json')} database.module is.`)
      // A config file that selects the backend but sets none of its options still gets server.json's server.
      writeConfig(project, {database: {backend: 'redis'}})
      expect((await resolveSettings(input())).backendOptions.host?.value).to.equal('old.lan')
    })
  })

  it('derives env names from option keys', () => {
    expect(envName('keyPrefix')).to.equal('KEY_PREFIX')
    expect(envName('busyTimeoutMs')).to.equal('BUSY_TIMEOUT_MS')
  })
})

async function expectError(promise: Promise<unknown>, code: string, mentions: string[]): Promise<Error & {code: string}> {
  try {
    await promise
  } catch (error) {
    const typed = error as Error & {code: string}
    expect(typed.code, typed.message).to.equal(code)
    for (const mention of mentions) expect(typed.message).to.contain(mention)
    expect(typed.message).not.to.contain('\n')
    return typed
  }
  throw new Error(`expected a ${code} error`)
}
