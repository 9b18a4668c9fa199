import {existsSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {expect} from 'chai'

import {errorLine, expectCleanFailure, Sandbox} from '../helpers/cli.js'

describe('print-config', () => {
  let sandbox: Sandbox
  beforeEach(() => {
    sandbox = Sandbox.create()
  })
  afterEach(() => sandbox.cleanup())

  const defaults = (dbPath: string) => [
    {key: 'database.backend', value: 'sqlite', source: {kind: 'default'}, from: 'default'},
    {key: 'database.sqlite.path', value: dbPath, source: {kind: 'default'}, from: 'default'},
    {key: 'database.sqlite.busyTimeoutMs', value: 10_000, source: {kind: 'default'}, from: 'default'},
    {key: 'listen.host', value: '0.0.0.0', source: {kind: 'default'}, from: 'default'},
    {key: 'listen.port', value: 5678, source: {kind: 'default'}, from: 'default'},
    {key: 'agent.url', value: 'ws://127.0.0.1:8181/core', source: {kind: 'default'}, from: 'default'},
    {key: 'audit.file', value: path.join(sandbox.home, '.local', 'state', 'hivemind-core', 'audit.log'), source: {kind: 'default'}, from: 'default'},
    {key: 'audit.redisStream', value: false, source: {kind: 'default'}, from: 'default'},
    {key: 'audit.streamMaxLen', value: 1_000_000, source: {kind: 'default'}, from: 'default'},
  ]

  it('prints the defaults and where they come from, without opening or creating the database', async () => {
    const [text, json] = await Promise.all([sandbox.run(['print-config']), sandbox.run(['print-config', '--json'])])
    expect(text.code, text.stderr).to.equal(0)
    expect(text.stderr).to.equal('')
    const lines = text.stdout.split('\n')
    expect(lines[0]).to.equal(
      `Config file: none (searched .hivemindrc* and hivemind.config.* from ${sandbox.home} upwards, then the per-user config directory)`,
    )
    expect(lines[5]).to.equal(`│ database.sqlite.path          │ ${sandbox.dbPath} │ default │`)
    expect(json.code, json.stderr).to.equal(0)
    expect(JSON.parse(json.stdout)).to.deep.equal({configFile: null, settings: defaults(sandbox.dbPath)})
    expect(existsSync(sandbox.dbPath)).to.equal(false)
  })

  it('names the origin of each setting: config file, environment, flag', async () => {
    const config = path.join(sandbox.home, '.hivemindrc.json')
    writeFileSync(config, JSON.stringify({database: {sqlite: {path: 'data/hive.db'}}, listen: {port: 6000}, audit: {file: 'logs/audit.log', streamMaxLen: 5000}}))
    const [fromFile, fromEnv, fromFlag] = await Promise.all([
      sandbox.json<{configFile: string; settings: Array<Record<string, unknown>>}>(['print-config']),
      sandbox.run(['print-config', '--json'], {env: {HIVEMIND_LISTEN_PORT: '7000'}}),
      sandbox.run(['print-config', '--json', '--db-path', '/tmp/elsewhere.db']),
    ])
    expect(fromFile.configFile).to.equal(config)
    expect(fromFile.settings[1]).to.deep.equal({
      key: 'database.sqlite.path', value: path.join(sandbox.home, 'data', 'hive.db'),
      source: {kind: 'file', path: config, key: 'database.sqlite.path'}, from: './.hivemindrc.json database.sqlite.path',
    })
    expect(fromFile.settings[4]).to.deep.include({key: 'listen.port', value: 6000, from: './.hivemindrc.json listen.port'})
    // The audit settings too (QA: print-config did not show them), relative to the file's directory.
    expect(fromFile.settings.slice(6)).to.deep.equal([
      {key: 'audit.file', value: path.join(sandbox.home, 'logs', 'audit.log'), source: {kind: 'file', path: config, key: 'audit.file'}, from: './.hivemindrc.json audit.file'},
      {key: 'audit.redisStream', value: false, source: {kind: 'default'}, from: 'default'},
      {key: 'audit.streamMaxLen', value: 5000, source: {kind: 'file', path: config, key: 'audit.streamMaxLen'}, from: './.hivemindrc.json audit.streamMaxLen'},
    ])
    expect(fromEnv.code, fromEnv.stderr).to.equal(0)
    expect((JSON.parse(fromEnv.stdout) as {settings: unknown[]}).settings[4]).to.deep.include({key: 'listen.port', value: 7000, from: 'env HIVEMIND_LISTEN_PORT'})
    const auditFromEnv = await sandbox.run(['print-config', '--json'], {env: {HIVEMIND_AUDIT_FILE: 'here.log', HIVEMIND_AUDIT_REDIS_STREAM: 'yes'}})
    expect(auditFromEnv.code, auditFromEnv.stderr).to.equal(0)
    expect((JSON.parse(auditFromEnv.stdout) as {settings: unknown[]}).settings.slice(6, 8)).to.deep.equal([
      {key: 'audit.file', value: path.join(sandbox.home, 'here.log'), source: {kind: 'env', name: 'HIVEMIND_AUDIT_FILE'}, from: 'env HIVEMIND_AUDIT_FILE'},
      {key: 'audit.redisStream', value: true, source: {kind: 'env', name: 'HIVEMIND_AUDIT_REDIS_STREAM'}, from: 'env HIVEMIND_AUDIT_REDIS_STREAM'},
    ])
    expect(fromFlag.code, fromFlag.stderr).to.equal(0)
    expect((JSON.parse(fromFlag.stdout) as {settings: unknown[]}).settings[1]).to.deep.include({key: 'database.sqlite.path', value: '/tmp/elsewhere.db', from: 'flag --db-path'})
  })

  it('bad settings fail with one line and exit 1; usage errors exit 2', async () => {
    const broken = path.join(sandbox.root, 'broken.json')
    writeFileSync(broken, '{"database": ')
    const unknownKey = path.join(sandbox.root, 'unknown.json')
    writeFileSync(unknownKey, JSON.stringify({bogus: 1}))
    const cases: Array<[string[], NodeJS.ProcessEnv, number, string | undefined]> = [
      [['--db-backend', 'nope'], {}, 1, 'Error: unknown database backend "nope" (from flag --db-backend); available: json, redis, sqlite'],
      [[], {HIVEMIND_DB_BACKEND: 'mongo'}, 1, 'Error: unknown database backend "mongo" (from env HIVEMIND_DB_BACKEND); available: json, redis, sqlite'],
      [['--db-option', 'foo=bar'], {}, 1, 'Error: --db-option: the sqlite backend has no option "foo"'],
      // A value of the wrong form is a usage error, like one of the wrong type (QA: it exited 1).
      [['--db-option', 'nokv'], {}, 2, 'Error: --db-option must look like key=value, got "nokv"'],
      [['--config', path.join(sandbox.root, 'missing.json')], {}, 1, `Error: config file ${path.join(sandbox.root, 'missing.json')} does not exist`],
      [['--config', sandbox.root], {}, 1, `Error: config file ${sandbox.root} is a directory`],
      [['--config', broken], {}, 1, undefined],
      [['--config', unknownKey], {}, 1, `Error: ${unknownKey}: "bogus" is not a known setting (known: database, listen, agent, audit)`],
      [[], {HIVEMIND_LISTEN_PORT: 'not-a-port'}, 1, undefined],
      [['--no-such-flag'], {}, 2, undefined],
      [['extra'], {}, 2, undefined],
    ]
    const results = await Promise.all(cases.map(([args, env]) => sandbox.run(['print-config', ...args], {env})))
    for (const [index, result] of results.entries()) {
      const [args, , code, error] = cases[index]!
      expectCleanFailure(result, code)
      if (error) expect(errorLine(result), args.join(' ')).to.equal(error)
      expect(result.stdout).to.equal('')
    }
    // Option keys are camelCase; the hint names the one meant.
    const lowerCase = await sandbox.run(['print-config', '--db-option', 'busytimeoutms=5000'])
    expectCleanFailure(lowerCase, 1)
    expect(lowerCase.stderr).to.equal('Error: --db-option: the sqlite backend has no option "busytimeoutms"\nHint: did you mean busyTimeoutMs? its options are: path, busyTimeoutMs\n')
    expect(errorLine(results[6]!), 'a broken config file is named').to.equal(`Error: cannot read config file ${broken}: invalid JSON at line 1, column 14: a value was expected`)
  })
})
