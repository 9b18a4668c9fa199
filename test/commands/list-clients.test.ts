import {spawn} from 'node:child_process'
import {existsSync, mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {expect} from 'chai'

import {buildClient} from '../../src/core/client.js'
import {backendsUnderTest, seed} from '../helpers/backends-under-test.js'
import {BIN, client, CLIENT_KEYS, expectCleanFailure, Sandbox} from '../helpers/cli.js'
import {type RedisServer, startRedisServer} from '../helpers/redis-server.js'
import {type CliSandbox, createSandbox} from '../helpers/sandbox.js'

describe('list-clients', () => {
  // Read-only command: one hive for the whole describe.
  let sandbox: Sandbox
  const kitchen = client({client_id: 1, name: 'kitchen', api_key: 'aaaa1111bbbb2222', password: 'pppp1111qqqq2222', crypto_key: '0123456789abcdef'})
  const office = client({client_id: 2, name: 'Büro', api_key: 'cccc3333dddd4444', password: 'rrrr3333ssss4444', is_admin: true})
  const gone = client({client_id: 3, name: 'gone', api_key: 'revoked', password: null})
  const secrets = ['aaaa1111bbbb2222', 'pppp1111qqqq2222', '0123456789abcdef', 'cccc3333dddd4444', 'rrrr3333ssss4444', 'eeee5555ffff6666', 'tttt5555uuuu6666']

  before(async function () {
    this.timeout(60_000)
    sandbox = Sandbox.create()
    await sandbox.addClient('--name', 'kitchen', '--access-key', 'aaaa1111bbbb2222', '--password', 'pppp1111qqqq2222', '--crypto-key', '0123456789abcdef')
    await sandbox.addClient('--name', 'Büro', '--access-key', 'cccc3333dddd4444', '--password', 'rrrr3333ssss4444', '--admin')
    await sandbox.addClient('--name', 'gone', '--access-key', 'eeee5555ffff6666', '--password', 'tttt5555uuuu6666')
    const revoked = await sandbox.run(['delete-client', '3', '--yes', '--quiet'])
    expect(revoked.code, revoked.stderr).to.equal(0)
  })
  after(() => sandbox.cleanup())

  it('prints a table of the live clients with masked access keys', async () => {
    const result = await sandbox.run(['list-clients'])
    expect(result.code, result.stderr).to.equal(0)
    expect(result.stderr).to.equal(`${sandbox.databaseLine}\n`)
    expect(result.stdout).to.equal(
      [
        '┌────┬─────────┬──────────────┬───────┬───────────────┬───────────┬─────────┐',
        '│ id │ name    │ access key   │ admin │ allowed types │ last seen │ revoked │',
        '├────┼─────────┼──────────────┼───────┼───────────────┼───────────┼─────────┤',
        '│ 1  │ kitchen │ aaaa******** │ no    │ 8             │ never     │ no      │',
        '│ 2  │ Büro    │ cccc******** │ yes   │ 8             │ never     │ no      │',
        '└────┴─────────┴──────────────┴───────┴───────────────┴───────────┴─────────┘',
        '',
      ].join('\n'),
    )
    for (const secret of secrets) expect(result.stdout).not.to.include(secret)
  })

  it('--all adds the tombstones; --show-secrets adds the password and crypto key columns', async () => {
    const [all, shown] = await Promise.all([sandbox.run(['list-clients', '--all', '-q']), sandbox.run(['list-clients', '--all', '--show-secrets', '-q'])])
    expect(all.code, all.stderr).to.equal(0)
    expect(all.stderr).to.equal('')
    expect(all.stdout).to.equal(
      [
        '┌────┬─────────┬──────────────┬───────┬───────────────┬───────────┬─────────┐',
        '│ id │ name    │ access key   │ admin │ allowed types │ last seen │ revoked │',
        '├────┼─────────┼──────────────┼───────┼───────────────┼───────────┼─────────┤',
        '│ 1  │ kitchen │ aaaa******** │ no    │ 8             │ never     │ no      │',
        '│ 2  │ Büro    │ cccc******** │ yes   │ 8             │ never     │ no      │',
        '│ 3  │ gone    │ revoked      │ no    │ 8             │ never     │ yes     │',
        '└────┴─────────┴──────────────┴───────┴───────────────┴───────────┴─────────┘',
        '',
      ].join('\n'),
    )
    expect(shown.code, shown.stderr).to.equal(0)
    expect(shown.stdout).to.equal(
      [
        '┌────┬─────────┬──────────────────┬───────┬───────────────┬───────────┬─────────┬──────────────────┬──────────────────┐',
        '│ id │ name    │ access key       │ admin │ allowed types │ last seen │ revoked │ password         │ crypto key       │',
        '├────┼─────────┼──────────────────┼───────┼───────────────┼───────────┼─────────┼──────────────────┼──────────────────┤',
        '│ 1  │ kitchen │ aaaa1111bbbb2222 │ no    │ 8             │ never     │ no      │ pppp1111qqqq2222 │ 0123456789abcdef │',
        '│ 2  │ Büro    │ cccc3333dddd4444 │ yes   │ 8             │ never     │ no      │ rrrr3333ssss4444 │                  │',
        '│ 3  │ gone    │ revoked          │ no    │ 8             │ never     │ yes     │                  │                  │',
        '└────┴─────────┴──────────────────┴───────┴───────────────┴───────────┴─────────┴──────────────────┴──────────────────┘',
        '',
      ].join('\n'),
    )
    // The revoked client's old secrets are gone for good.
    expect(shown.stdout).not.to.include('eeee5555ffff6666')
    expect(shown.stdout).not.to.include('tttt5555uuuu6666')
  })

  it('--json prints the records with upstream field names and masked secrets', async () => {
    const result = await sandbox.run(['list-clients', '--json'])
    expect(result.code, result.stderr).to.equal(0)
    expect(result.stderr).to.equal(`${sandbox.databaseLine}\n`)
    const records = JSON.parse(result.stdout) as Array<Record<string, unknown>>
    for (const record of records) expect(Object.keys(record)).to.deep.equal(CLIENT_KEYS)
    expect(records).to.deep.equal([
      {...kitchen, api_key: 'aaaa********', password: '********', crypto_key: '********'},
      {...office, api_key: 'cccc********', password: '********'},
    ])
    for (const secret of secrets) expect(result.stdout).not.to.include(secret)
  })

  it('--json --all --show-secrets prints every record in full, tombstones included', async () => {
    expect(await sandbox.records()).to.deep.equal([kitchen, office, gone])
  })

  it('an empty or missing database lists no clients and is not created', async () => {
    const empty = Sandbox.create()
    try {
      const [text, json] = await Promise.all([empty.run(['list-clients']), empty.run(['list-clients', '--json', '--all'])])
      expect(text.code, text.stderr).to.equal(0)
      expect(text.stdout).to.equal('No clients. Enrol one with: hivemind-core add-client --name <name>\n')
      expect(text.stderr).to.equal(`${empty.databaseLine}\n`)
      expect(json.code, json.stderr).to.equal(0)
      expect(JSON.parse(json.stdout)).to.deep.equal([])
      expect(existsSync(empty.dbPath)).to.equal(false)
    } finally {
      empty.cleanup()
    }
  })

  it('names where the database comes from: --db-path flag, HIVEMIND_DB_PATH', async () => {
    const other = path.join(sandbox.root, 'other.db')
    const [byFlag, byEnv] = await Promise.all([
      sandbox.run(['list-clients', '--db-path', other]),
      sandbox.run(['list-clients'], {env: {HIVEMIND_DB_PATH: other}}),
    ])
    expect(byFlag.code, byFlag.stderr).to.equal(0)
    expect(byFlag.stderr.split('\n')[0]).to.equal(`Database: sqlite ${other} (backend from default, path from flag --db-path)`)
    expect(byEnv.code, byEnv.stderr).to.equal(0)
    expect(byEnv.stderr.split('\n')[0]).to.equal(`Database: sqlite ${other} (backend from default, path from env HIVEMIND_DB_PATH)`)
    // The default database holds clients: the guard says so when the chosen one is missing.
    expect(byFlag.stderr).to.include(`Note: this database is missing, but:\n  sqlite ${sandbox.dbPath} holds 2 client(s).`)
  })

  it('shows when each client was last seen, relative to now', async () => {
    const hive = Sandbox.create()
    try {
      const now = Date.now() / 1000
      const file = path.join(hive.root, 'clients.json')
      writeFileSync(file, JSON.stringify({
        1: {client_id: 1, api_key: 'seen-two-hours-ago', name: 'a', last_seen: now - 2 * 3600 - 60},
        2: {client_id: 2, api_key: 'seen-three-days-ago', name: 'b', last_seen: now - 3 * 86_400 - 60},
        3: {client_id: 3, api_key: 'never-seen-at-all', name: 'c', last_seen: -1},
      }))
      expect((await hive.run(['import-clients', file, '-q'])).code).to.equal(0)
      const result = await hive.run(['list-clients', '-q'])
      expect(result.code, result.stderr).to.equal(0)
      const lastSeen = result.stdout.split('\n').slice(3, 6).map((line) => line.split('│')[6]!.trim())
      expect(lastSeen).to.deep.equal(['2 hours ago', '3 days ago', 'never'])
    } finally {
      hive.cleanup()
    }
  })

  it('shows control characters of a stored name escaped: an old clients.json cannot drive the terminal', async () => {
    const hive = Sandbox.create()
    try {
      const file = path.join(hive.root, 'clients.json')
      const name = '\u001B]0;pwned\u0007\u001B[2J\u001B[31mEVIL'
      writeFileSync(file, JSON.stringify({1: {client_id: 1, api_key: 'k1', name, password: 'pw', crypto_key: null}}))
      const flags = ['--db-backend', 'json', '--db-path', file, '-q']
      const escaped = String.raw`\x1b]0;pwned\x07\x1b[2J\x1b[31mEVIL`
      for (const args of [['list-clients'], ['show-client', '1'], ['rename-client', '1', '--name', 'kitchen']]) {
        const result = await hive.run([...args, ...flags])
        expect(result.code, result.stderr).to.equal(0)
        expect(result.stdout + result.stderr, args[0]).not.to.match(/[\u001B\u0007]/)
        if (args[0] !== 'rename-client') expect(result.stdout, args[0]).to.contain(escaped)
      }
      // The data itself is kept as it was (only the terminal output is escaped)… until renamed.
      expect(JSON.parse(readFileSync(file, 'utf8'))['1'].name).to.equal('kitchen')
    } finally {
      hive.cleanup()
    }
  })

  it('shows tabs and line breaks of stored values escaped: a name cannot forge a line of output', async () => {
    const hive = Sandbox.create()
    try {
      const file = path.join(hive.root, 'clients.json')
      const name = 'kitchen\nClient 2 (bridge) is now an admin.\tx\r'
      writeFileSync(file, JSON.stringify({1: {client_id: 1, api_key: 'k\t1', name, description: 'two\nlines', password: 'pw', crypto_key: null, skill_blacklist: ['a\nb']}}))
      const flags = ['--db-backend', 'json', '--db-path', file, '-q']
      const escaped = String.raw`kitchen\nClient 2 (bridge) is now an admin.\tx\r`
      const expectedLines: Record<string, string[]> = {
        'make-admin': [`Client 1 (${escaped}) is now an admin.`],
        'show-client': [`client 1 (${escaped})`, String.raw`  description:        two\nlines`, String.raw`  access key:         k\t1`],
      }
      for (const args of [['make-admin', '1'], ['show-client', '1', '--show-secrets'], ['list-clients', '--show-secrets']]) {
        const result = await hive.run([...args, ...flags])
        expect(result.code, result.stderr).to.equal(0)
        expect(result.stdout, args[0]).not.to.match(/[\t\r]/)
        expect(result.stdout.split('\n').filter((line) => /^\W*Client 2/.test(line)), args[0]).to.deep.equal([])
        for (const line of expectedLines[args[0]!] ?? []) expect(result.stdout.split('\n'), args[0]).to.include(line)
        if (args[0] === 'list-clients') expect(result.stdout).to.contain(escaped)
      }
    } finally {
      hive.cleanup()
    }
  })

  it('rejects unknown flags and stray arguments (exit 2) without touching the database', async () => {
    const before = sandbox.digest()
    const [unknown, stray, badValue] = await Promise.all([
      sandbox.run(['list-clients', '--no-such-flag']),
      sandbox.run(['list-clients', '--all', 'extra']),
      sandbox.run(['list-clients', '--all=yes']),
    ])
    for (const result of [unknown, stray, badValue]) {
      expectCleanFailure(result, 2, secrets)
      expect(result.stdout).to.equal('')
    }
    // One error line and where to look, not the command's whole help.
    expect(unknown.stderr).to.equal('Error: Nonexistent flag: --no-such-flag\nHint: see hivemind-core list-clients --help\n')
    expect(badValue.stderr.split('\n').filter(Boolean)).to.have.length(2)
    expect(sandbox.digest()).to.equal(before)
  })
})

describe('list-clients of a large hive', function () {
  this.timeout(120_000)
  const COUNT = 3000
  let redis: RedisServer
  let sandbox: CliSandbox
  const backends = backendsUnderTest(() => redis)
  const hive = 'large:'

  before(async () => {
    redis = await startRedisServer()
    sandbox = createSandbox()
    await seed(backends.redis, hive, Array.from({length: COUNT}, (_, index) => buildClient(index + 1, {api_key: `key-${index + 1}-${'x'.repeat(20)}`, name: `satellite ${index + 1}`})))
  })

  after(async () => {
    sandbox?.cleanup()
    await redis?.stop()
  })

  /** Runs the CLI with stdout to a reader that starts reading only after `delayMs`: nothing may be cut off when the process leaves. */
  function runIntoSlowReader(args: string[], delayMs: number): Promise<{code: number | null; stdout: string}> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [BIN, ...args], {cwd: sandbox.home, env: sandbox.env, stdio: ['ignore', 'pipe', 'ignore']})
      child.stdout.pause()
      const chunks: Buffer[] = []
      setTimeout(() => {
        child.stdout.on('data', (chunk: Buffer) => chunks.push(chunk))
        child.stdout.resume()
      }, delayMs)
      child.on('error', reject)
      child.on('close', (code) => resolve({code, stdout: Buffer.concat(chunks).toString('utf8')}))
    })
  }

  it('on Redis: every client reaches a slow reader, as JSON and as a table (nothing cut off at exit)', async () => {
    const json = await runIntoSlowReader(['list-clients', ...backends.redis.dbFlags(hive), '-q', '--json'], 500)
    expect(json.code).to.equal(0)
    const listed = JSON.parse(json.stdout) as Array<{client_id: number; name: string}>
    expect(listed.map((record) => record.client_id)).to.deep.equal(Array.from({length: COUNT}, (_, index) => index + 1))
    const table = await runIntoSlowReader(['list-clients', ...backends.redis.dbFlags(hive), '-q'], 500)
    expect(table.code).to.equal(0)
    const lines = table.stdout.trimEnd().split('\n')
    // Top border, header, separator, one line per client, bottom border; every line as wide as the first.
    expect(lines).to.have.length(COUNT + 4)
    expect(lines.at(-2)).to.match(new RegExp(`^│ ${COUNT} +│ satellite ${COUNT} +│`))
    expect(new Set(lines.map((line) => line.length)).size).to.equal(1)
  })
})

describe("list-clients on the Python hivemind-core's server.json database", () => {
  const PASSWORD = 'server-json-redis-secret-1'
  let sandbox: Sandbox
  let redis: RedisServer

  before(async function () {
    this.timeout(30_000)
    redis = await startRedisServer({password: PASSWORD})
    sandbox = Sandbox.create()
  })
  after(async () => {
    await redis?.stop()
    sandbox?.cleanup()
  })

  function writeServerJson(database: Record<string, unknown>): string {
    const file = path.join(sandbox.env.XDG_CONFIG_HOME!, 'hivemind-core', 'server.json')
    mkdirSync(path.dirname(file), {recursive: true})
    writeFileSync(file, JSON.stringify({database}))
    return file
  }

  it('a wrong Redis password from server.json is said to come from there, not only with the usual HIVEMIND_REDIS_PASSWORD hint (QA: following that alone moved the command to localhost:6379)', async () => {
    const file = writeServerJson({module: 'hivemind-redis-db-plugin', 'hivemind-redis-db-plugin': {host: redis.host, port: redis.port, password: 'not-the-password-9'}})
    const result = await sandbox.run(['list-clients'])
    expectCleanFailure(result, 1, [PASSWORD, 'not-the-password-9'])
    expect(result.stderr).to.contain(`Redis at ${redis.host}:${redis.port}: authentication failed (wrong password)`)
    expect(result.stderr).to.contain(`these database settings came from database.hivemind-redis-db-plugin in ${file} (the Python hivemind-core's config): to change them, change them there`)
    // The right password there: the same command works.
    writeServerJson({module: 'hivemind-redis-db-plugin', 'hivemind-redis-db-plugin': {host: redis.host, port: redis.port, password: PASSWORD}})
    const fixed = await sandbox.run(['list-clients', '-q'])
    expect(fixed.code, fixed.stderr).to.equal(0)
  })

  it('a clients file of the json plugin that does not parse names server.json as where it was chosen; a database set on the command line gets no such note', async () => {
    const file = writeServerJson({module: 'hivemind-json-db-plugin', 'hivemind-json-db-plugin': {name: 'broken', subfolder: 'old-hive'}})
    const broken = path.join(sandbox.env.XDG_DATA_HOME!, 'old-hive', 'broken.json')
    mkdirSync(path.dirname(broken), {recursive: true})
    writeFileSync(broken, '{"1": {"client_id": 1,')
    const result = await sandbox.run(['list-clients'])
    expectCleanFailure(result, 1)
    expect(result.stderr).to.contain(broken)
    expect(result.stderr).to.contain(`these database settings came from database.hivemind-json-db-plugin in ${file}`)
    expect(readFileSync(broken, 'utf8')).to.equal('{"1": {"client_id": 1,')
    const flagged = await sandbox.run(['list-clients', '--db-backend', 'json', '--db-path', broken])
    expectCleanFailure(flagged, 1)
    expect(flagged.stderr).to.contain(broken)
    expect(flagged.stderr).not.to.contain('server.json')
  })
})
