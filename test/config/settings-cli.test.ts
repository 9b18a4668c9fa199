/**
 * The one settings path, seen from real CLI processes: every command resolves the same database.
 */
import {mkdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {expect} from 'chai'

import {writeModuleLogHook} from '../helpers/loaded-modules.js'
import {startRedisServer} from '../helpers/redis-server.js'
import {type CliSandbox, createSandbox} from '../helpers/sandbox.js'

describe('settings through the CLI', () => {
  let sandbox: CliSandbox

  beforeEach(() => {
    sandbox = createSandbox()
  })

  afterEach(() => sandbox.cleanup())

  it('add-client and list-clients from subdirectories of a project use its .hivemindrc.json database', async () => {
    const project = path.join(sandbox.home, 'project')
    mkdirSync(path.join(project, 'a', 'b'), {recursive: true})
    mkdirSync(path.join(project, 'c'), {recursive: true})
    writeFileSync(path.join(project, '.hivemindrc.json'), JSON.stringify({database: {backend: 'sqlite', sqlite: {path: './hive.db'}}}))

    const added = await sandbox.run(['add-client', '--name', 'kitchen', '--json'], {cwd: path.join(project, 'a', 'b')})
    expect(added.code, added.stderr).to.equal(0)
    expect(added.stderr).to.contain(`Database: sqlite ${path.join(project, 'hive.db')} (from ${path.join(project, '.hivemindrc.json')})`)

    const listed = await sandbox.run(['list-clients', '--json'], {cwd: path.join(project, 'c')})
    expect(listed.code, listed.stderr).to.equal(0)
    const records = JSON.parse(listed.stdout) as Array<{client_id: number; name: string}>
    expect(records.map((record) => [record.client_id, record.name])).to.deep.equal([[1, 'kitchen']])
    // And nothing went to the default location.
    const outside = await sandbox.run(['list-clients', '--json', '--quiet'], {cwd: sandbox.home})
    expect(JSON.parse(outside.stdout)).to.deep.equal([])
  })

  it('each level overrides the next: flag > env > file > default', async () => {
    writeFileSync(path.join(sandbox.home, '.hivemindrc.json'), JSON.stringify({database: {sqlite: {path: 'file.db'}}}))
    const cases: Array<[string[], NodeJS.ProcessEnv, string, string]> = [
      [[], {}, path.join(sandbox.home, 'file.db'), '.hivemindrc.json database.sqlite.path'],
      [[], {HIVEMIND_DB_PATH: path.join(sandbox.home, 'env.db')}, path.join(sandbox.home, 'env.db'), 'env HIVEMIND_DB_PATH'],
      [['--db-path', path.join(sandbox.home, 'flag.db')], {HIVEMIND_DB_PATH: path.join(sandbox.home, 'env.db')}, path.join(sandbox.home, 'flag.db'), 'flag --db-path'],
    ]
    for (const [flags, env, expectedPath, expectedSource] of cases) {
      const result = await sandbox.run(['print-config', '--json', ...flags], {env})
      expect(result.code, result.stderr).to.equal(0)
      const printed = JSON.parse(result.stdout) as {settings: Array<{key: string; value: unknown; from: string}>}
      const setting = printed.settings.find((entry) => entry.key === 'database.sqlite.path')!
      expect(setting.value).to.equal(expectedPath)
      expect(setting.from).to.contain(expectedSource)
    }
    const fallback = await sandbox.run(['print-config', '--json'], {cwd: '/'})
    const defaults = JSON.parse(fallback.stdout) as {settings: Array<{key: string; value: unknown; from: string}>}
    expect(defaults.settings.find((entry) => entry.key === 'database.sqlite.path')).to.deep.include({
      value: path.join(sandbox.home, '.local/share/hivemind-core/clients.db'),
      from: 'default',
    })
  })

  it('reads the per-user config file ($XDG_CONFIG_HOME/hivemind/config.json) when no project file exists', async () => {
    const userDir = path.join(sandbox.home, '.config', 'hivemind')
    mkdirSync(userDir, {recursive: true})
    writeFileSync(path.join(userDir, 'config.json'), JSON.stringify({database: {sqlite: {path: '~/user.db'}}}))
    const result = await sandbox.run(['add-client', '--name', 'x'])
    expect(result.code, result.stderr).to.equal(0)
    expect(result.stderr).to.contain(`Database: sqlite ${path.join(sandbox.home, 'user.db')}`)
  })

  it('an invalid config file is a one-line error naming file and key, exit 1, and nothing is created', async () => {
    const file = path.join(sandbox.home, '.hivemindrc.json')
    writeFileSync(file, JSON.stringify({database: {backend: 'sqlite', sqlite: {path: ['not', 'a', 'path']}}}))
    const result = await sandbox.run(['add-client', '--name', 'x'])
    expect(result.code).to.equal(1)
    expect(result.stderr).to.match(new RegExp(`^Error: ${escape(file)}: database.sqlite.path must be a file path`))
    expect(result.stderr).not.to.contain('    at ')
    expect(sandbox.exists('.local/share/hivemind-core/clients.db')).to.equal(false)

    writeFileSync(file, '{"database": ')
    const unparsable = await sandbox.run(['list-clients'])
    expect(unparsable.code).to.equal(1)
    expect(unparsable.stderr).to.contain(file).and.to.contain('cannot read config file')
  })

  it('a HIVEMIND_* variable one or two letters off a setting is named with the setting meant (a typo in a unit file silently chose another database); other names are left alone', async () => {
    const result = await sandbox.run(['list-clients'], {
      env: {HIVEMIND_DBPATH: '/elsewhere/clients.db', HIVEMIND_REDIS_PASWORD: 'Secret-Value-7', HIVEMIND_SQLITE_BUSYTIMEOUT_MS: '100', HIVEMIND_CORE_NPM_REGISTRY: 'https://registry.example', HIVEMIND_SOMETHING_ELSE: '1'},
    })
    expect(result.code, result.stderr).to.equal(0)
    const warnings = result.stderr.split('\n').filter((line) => line.startsWith('Warning: '))
    expect(warnings).to.deep.equal([
      'Warning: HIVEMIND_DBPATH is not a hivemind-core setting and is ignored; did you mean HIVEMIND_DB_PATH?',
      'Warning: HIVEMIND_REDIS_PASWORD is not a hivemind-core setting and is ignored; did you mean HIVEMIND_REDIS_PASSWORD?',
      'Warning: HIVEMIND_SQLITE_BUSYTIMEOUT_MS is not a hivemind-core setting and is ignored; did you mean HIVEMIND_SQLITE_BUSY_TIMEOUT_MS?',
    ])
    expect(result.stderr).not.to.contain('Secret-Value-7')
  })

  it('a config file that does not parse is named with line and column, and none of its text (it may hold a password) is shown', async () => {
    const file = path.join(sandbox.home, '.hivemindrc.json')
    const password = 'Pw-in-the-config-file'
    const hint = 'Hint: JSON takes double quotes around names and strings, lower-case true, false and null, and no comments or trailing commas'
    for (const [text, where] of [
      [`{"database": {"redis": {"password": "${password}"}},\n "x": 1,}`, 'line 2, column 9: a property name in double quotes was expected'],
      [`{"database": {"redis": {"password": "${password}"}} x`, 'line 1, column 63: unexpected character'],
      [`{"database": {"redis": {"password": "${password}"}}, "x": tru}`, 'line 1, column 69: unexpected character'],
      // Single quotes, as in Python: the JSON parser's own message quoted the text around them.
      [`{"database": {"redis": {\n  "password": '${password}'}}}`, 'line 2, column 15: unexpected character'],
      [password, 'line 1, column 1: unexpected character'],
      [`{"database": {"redis": {"password": "${password}`, 'line 1, column 37: unterminated string'],
    ] as const) {
      writeFileSync(file, text)
      const result = await sandbox.run(['list-clients'])
      expect(result.code).to.equal(1)
      expect(result.stderr).to.equal(`Error: cannot read config file ${file}: invalid JSON at ${where}\n${hint}\n`)
      expect(result.stderr).not.to.contain(password.slice(0, 4))
    }
    // The same mistake in package.json, which cosmiconfig reads for its own settings.
    rmSync(file)
    const pkg = path.join(sandbox.home, 'package.json')
    writeFileSync(pkg, `{"name": "hub", "hivemind": {"database": {"redis": {"password": '${password}'}}}}`)
    const fromPackage = await sandbox.run(['list-clients'])
    expect(fromPackage.code).to.equal(1)
    expect(fromPackage.stderr).to.equal(`Error: cannot read config file ${pkg}: invalid JSON at line 1, column 65: unexpected character\n${hint}\n`)
    rmSync(pkg)
    // A byte order mark (Windows Notepad) is not a mistake.
    writeFileSync(file, '\uFEFF{"database": {"backend": "json"}}')
    const withMark = await sandbox.run(['print-config', '--json'])
    expect(withMark.code, withMark.stderr).to.equal(0)
    expect(withMark.stdout).to.contain('"json"')
    writeFileSync(file, '{}')
    const script = path.join(sandbox.home, '.hivemindrc.cjs')
    writeFileSync(script, 'throw new Error("no settings today")')
    const thrown = await sandbox.run(['list-clients', '--config', script])
    expect(thrown.code).to.equal(1)
    expect(thrown.stderr).to.equal(`Error: cannot read config file: ${script}: no settings today\nHint: fix the error in this file (it is run to read the settings)\n`)
  })

  it('the guard\'s migrate-db hint names the selected database the way the command was given it (--redis-url → --to-option url=…, password masked)', async () => {
    expect((await sandbox.run(['add-client', '--name', 'kitchen'])).code).to.equal(0)
    const redis = await startRedisServer({password: 'guard-secret'})
    try {
      const url = `redis://:guard-secret@127.0.0.1:${redis.port}/0`
      const result = await sandbox.run(['list-clients', '--db-backend', 'redis', '--redis-url', url])
      expect(result.code, result.stderr).to.equal(0)
      const defaultDb = path.join(sandbox.home, '.local/share/hivemind-core/clients.db')
      expect(result.stderr).to.contain(
        `to move them here: hivemind-core migrate-db --from sqlite --from-path ${defaultDb} --to redis --to-option url=redis://:********@127.0.0.1:${redis.port}/0`,
      )
      expect(result.stderr + result.stdout).not.to.contain('guard-secret')
    } finally {
      await redis.stop()
    }
  })

  it("the config file's Redis password is sent only to the server the file names: not to another one a flag or migrate-db's --to-redis-url selects", async () => {
    const guarded = await startRedisServer({password: 'file-server-secret'})
    const other = await startRedisServer()
    try {
      writeFileSync(path.join(sandbox.home, '.hivemindrc.json'), JSON.stringify({database: {backend: 'redis', redis: {url: guarded.url, password: 'file-server-secret'}}}), {mode: 0o600})
      expect((await sandbox.run(['add-client', '--name', 'kitchen', '-q'])).code).to.equal(0)
      const authCalls = async () => {
        const {Redis} = await import('ioredis')
        const client = new Redis({port: other.port, lazyConnect: true})
        try {
          await client.connect()
          return /cmdstat_auth:calls=(\d+)/.exec(await client.info('commandstats'))?.[1] ?? '0'
        } finally {
          client.disconnect()
        }
      }
      const listed = await sandbox.run(['list-clients', '-q', '--redis-url', other.url])
      expect(listed.code, listed.stderr).to.equal(0)
      expect(listed.stderr).to.contain("Warning: the config file's database.redis.password belongs to the server it names, and is not sent to the one flag --redis-url names")
      const migrated = await sandbox.run(['migrate-db', '--to', 'redis', '--to-redis-url', other.url, '--to-option', 'keyPrefix=moved:', '-q', '--json'])
      expect(migrated.code, migrated.stderr).to.equal(0)
      expect(JSON.parse(migrated.stdout)).to.deep.include({copied: 1, verified: true})
      expect(migrated.stderr).not.to.contain('[WARN]')
      expect(await authCalls()).to.equal('0')
      // The same server with another database number or prefix is still the file's server: its password applies.
      const sameServer = await sandbox.run(['list-clients', '-q', '--redis-db', '3'])
      expect(sameServer.code, sameServer.stderr).to.equal(0)
      expect(sameServer.stderr).not.to.contain('is not sent')
    } finally {
      await guarded.stop()
      await other.stop()
    }
  })

  it('an option a backend rejects is named with where it was set (config file key, environment variable, flag), exit 1', async () => {
    writeFileSync(path.join(sandbox.home, '.hivemindrc.json'), JSON.stringify({database: {backend: 'redis', redis: {url: 'http://cache:6379/0'}}}))
    const cases: Array<[string[], NodeJS.ProcessEnv, string]> = [
      [[], {}, 'Error: ./.hivemindrc.json database.redis.url: the Redis URL must start with redis:// or rediss://, not http://'],
      [[], {HIVEMIND_REDIS_URL: 'redis://cache:6379/zero'}, "Error: env HIVEMIND_REDIS_URL: the Redis URL's path must be a database number"],
      [['--redis-url', 'redis://cache:6379/0?db=2'], {}, 'Error: flag --redis-url: the Redis URL has a query string (?…), which hivemind-core does not read'],
    ]
    for (const [args, env, error] of cases) {
      const result = await sandbox.run(['list-clients', ...args], {env})
      expect(result.code, result.stderr).to.equal(1)
      expect(result.stderr.split('\n').find((line) => line.startsWith('Error:'))).to.satisfy((line: string) => line.startsWith(error))
    }
  })

  it('a flag value of the wrong type or out of range is a usage error (exit 2) whichever check finds it; the same value from the environment exits 1', async () => {
    const cases: Array<[string[], NodeJS.ProcessEnv, number, string]> = [
      // oclif's own checks (the flag's type and minimum)...
      [['--redis-db', '-1'], {}, 2, 'Error: Parsing --redis-db'],
      [['--redis-db', 'abc'], {}, 2, 'Error: Parsing --redis-db'],
      // ...and ours (the option's maximum, --db-option values): the same kind of mistake.
      [['--redis-db', '2147483648'], {}, 2, 'Error: flag --redis-db (database.redis.db) must be between 0 and 2147483647, got 2147483648'],
      [['--db-option', 'db=x'], {}, 2, 'Error: --db-option db must be an integer'],
      [[], {HIVEMIND_REDIS_DB: '2147483648'}, 1, 'Error: env HIVEMIND_REDIS_DB (database.redis.db) must be between 0 and 2147483647, got 2147483648'],
      [[], {HIVEMIND_REDIS_DB: 'x'}, 1, 'Error: HIVEMIND_REDIS_DB must be an integer'],
    ]
    for (const [args, env, code, error] of cases) {
      const result = await sandbox.run(['list-clients', '--db-backend', 'redis', ...args], {env})
      expect(result.code, `${args.join(' ')} ${JSON.stringify(env)}: ${result.stderr}`).to.equal(code)
      expect(result.stderr.split('\n').find((line) => line.startsWith('Error:'))).to.satisfy((line: string) => line.startsWith(error), result.stderr)
    }
  })

  it('an unknown backend fails listing the available ones', async () => {
    const result = await sandbox.run(['list-clients', '--db-backend', 'foo'])
    expect(result.code).to.equal(1)
    expect(result.stderr).to.match(/^Error: unknown database backend "foo" \(from flag --db-backend\); available: .*sqlite/)
    const close = await sandbox.run(['list-clients', '--db-backend', 'Sqlit'])
    expect(close.code).to.equal(1)
    expect(close.stderr).to.contain('Hint: did you mean "sqlite"? pick one of the available backends')
  })

  it('a config file selecting a backend that is not installed (its plugin uninstalled) fails naming it, and --db-backend or HIVEMIND_DB_BACKEND still reach the others', async () => {
    writeFileSync(path.join(sandbox.home, '.hivemindrc.json'), JSON.stringify({database: {backend: 'postgres', postgres: {url: 'postgres://u@db/hive'}, sqlite: {path: 'hive.db'}}}))
    const selected = await sandbox.run(['list-clients'])
    expect(selected.code).to.equal(1)
    expect(selected.stderr).to.match(/^Error: unknown database backend "postgres" \(from \.\/\.hivemindrc\.json database\.backend\); available: json, redis, sqlite/)
    const byFlag = await sandbox.run(['add-client', '--name', 'kitchen', '--db-backend', 'sqlite'])
    expect(byFlag.code, byFlag.stderr).to.equal(0)
    expect(byFlag.stderr).to.contain(`Database: sqlite ${path.join(sandbox.home, 'hive.db')}`)
    const byEnv = await sandbox.run(['list-clients', '--json'], {env: {HIVEMIND_DB_BACKEND: 'sqlite'}})
    expect(byEnv.code, byEnv.stderr).to.equal(0)
    expect((JSON.parse(byEnv.stdout) as Array<{name: string}>).map((client) => client.name)).to.deep.equal(['kitchen'])
  })

  it('the agreement guard points at the location that holds the clients', async () => {
    expect((await sandbox.run(['add-client', '--name', 'kitchen'])).code).to.equal(0)
    const elsewhere = path.join(sandbox.home, 'other.db')
    const result = await sandbox.run(['list-clients', '--db-path', elsewhere])
    expect(result.code).to.equal(0)
    const defaultDb = path.join(sandbox.home, '.local/share/hivemind-core/clients.db')
    expect(result.stderr).to.contain('Note: this database is missing, but:')
    expect(result.stderr).to.contain(`sqlite ${defaultDb} holds 1 client(s)`)
    expect(result.stderr).to.contain(`--db-backend sqlite --db-path ${defaultDb}`)
    // A read-only command did not create the file it was pointed at.
    expect(sandbox.exists('other.db')).to.equal(false)
    // --quiet silences the Database line and the guard.
    const quiet = await sandbox.run(['list-clients', '--db-path', elsewhere, '--quiet'])
    expect(quiet.stderr).to.equal('')
  })

  it('an upstream install (clients.json, no clients.db) is detected by default', async () => {
    const dataDir = path.join(sandbox.home, '.local/share/hivemind-core')
    mkdirSync(dataDir, {recursive: true})
    writeFileSync(path.join(dataDir, 'clients.json'), '{}')
    const result = await sandbox.run(['print-config', '--json'])
    const printed = JSON.parse(result.stdout) as {settings: Array<{key: string; value: unknown; from: string}>}
    expect(printed.settings[0]).to.deep.include({key: 'database.backend', value: 'json'})
    expect(printed.settings[0]!.from).to.contain('clients.json exists')
  })

  it('hivemind-core --help does not load TypeORM or better-sqlite3', async () => {
    const log = path.join(sandbox.root, 'loaded.txt')
    const hook = path.join(sandbox.root, 'hook.mjs')
    writeModuleLogHook(hook, log)
    const help = await sandbox.run(['--help'], {env: {NODE_OPTIONS: `--import ${hook}`}})
    expect(help.code, help.stderr).to.equal(0)
    expect(help.stdout).to.contain('add-client')
    const loaded = readFileSync(log, 'utf8')
    expect(loaded).to.contain('hook installed').and.to.contain('@oclif/core')
    for (const library of ['/typeorm/', '/better-sqlite3/', '/ioredis/']) expect(loaded).not.to.contain(library)
  })
})

function escape(text: string): string {
  return text.replaceAll(/[.*+?^${}()|[\]\\]/g, '\\$&')
}
