/**
 * `hivemind-core listen` as users run it: the built CLI in a sandboxed HOME, clients enrolled with
 * the real add-client, a satellite speaking the wire protocol, a fake OVOS bus, delete-client from
 * another process, signals. (npm run build first; npm test does.)
 */
import {copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import net from 'node:net'
import path from 'node:path'

import {expect} from 'chai'

import {createTestPki, type TestPki} from '../helpers/certs.js'
import {FakeBus} from '../helpers/fake-bus.js'
import {HiveTestClient} from '../helpers/hive-client.js'
import {type ListenerProcess, startListener} from '../helpers/listener-process.js'
import {ROOT} from '../helpers/cli.js'
import {type CliSandbox, createSandbox, runCli} from '../helpers/sandbox.js'
import {freePort, startRedisServer} from '../helpers/redis-server.js'
import {canHoldRecoveryLock, holdRecoveryLock} from '../helpers/sqlite-recovery-lock.js'

interface Added {
  client_id: number
  api_key: string
  password: string
  crypto_key: string | null
}

describe('hivemind-core listen (built CLI)', function () {
  this.timeout(60_000)
  let sandbox: CliSandbox
  let bus: FakeBus
  let listener: ListenerProcess | undefined
  const clients: HiveTestClient[] = []

  beforeEach(async () => {
    sandbox = createSandbox()
    bus = await FakeBus.start()
  })

  afterEach(async () => {
    for (const client of clients.splice(0)) client.close()
    await listener?.stop('SIGKILL')
    listener = undefined
    await bus.stop()
    sandbox.cleanup()
  })

  const add = async (...args: string[]): Promise<Added> => {
    const result = await sandbox.run(['add-client', '--json', '--quiet', ...args])
    expect(result.code, result.stderr).to.equal(0)
    return JSON.parse(result.stdout) as Added
  }

  const connect = async (added: Added) => {
    const client = await HiveTestClient.connect({port: listener!.port, accessKey: added.api_key, password: added.password})
    clients.push(client)
    return client
  }

  it('a clients.db removed (or replaced) under a running listener: it serves no client of the old file from then on, and says why and what to do (QA: it went on accepting them in silence)', async () => {
    const kitchen = await add('--name', 'kitchen')
    listener = await startListener(['--agent-url', bus.url], {env: sandbox.env, cwd: sandbox.home})
    const connected = await connect(kitchen)
    const database = path.join(sandbox.home, '.local/share/hivemind-core/clients.db')
    for (const suffix of ['', '-wal', '-shm']) rmSync(`${database}${suffix}`, {force: true})
    await listener.waitForLog(/"event":"store\.unusable"/, 5000)
    expect(listener.stderr()).to.contain(`${database} was removed while this process had it open: the file it still reads is no longer the database, so it serves no client from it`)
    // The satellite connected before is closed too (QA: a client revoked in a new file stayed connected), told to retry.
    expect(await connected.waitClosed(5000)).to.deep.equal({code: 1013, reason: 'database unavailable, retry later'})
    const unusable = listener.stderr().split('\n').filter((line) => line.includes('"event":"store.unusable"')).map((line) => JSON.parse(line) as {level: string; connections_closed: number; suggestion: string})
    expect(unusable).to.have.length(1)
    expect(unusable[0]).to.deep.include({level: 'error', connections_closed: 1})
    expect(unusable[0]!.suggestion).to.match(/^restart hivemind-core listen/)
    // New connections are told to retry; their log lines are budgeted (QA: any peer, even without a key, made one line each).
    for (let attempt = 0; attempt < 25; attempt++) {
      const again = await HiveTestClient.open({port: listener.port, accessKey: attempt === 0 ? kitchen.api_key : `no-such-key-${attempt}`})
      clients.push(again)
      expect((await again.waitClosed(5000)).code).to.equal(1013)
    }
    expect(listener.stderr().split('\n').filter((line) => line.includes('"event":"auth.store_unavailable"'))).to.have.length(20)
    // A restart opens the database now there (a new, empty one): the old client is refused for good.
    await listener.stop('SIGTERM')
    listener = await startListener(['--agent-url', bus.url], {env: sandbox.env, cwd: sandbox.home})
    const refused = await HiveTestClient.open({port: listener.port, accessKey: kitchen.api_key})
    clients.push(refused)
    expect((await refused.waitClosed(5000)).code).to.equal(1008)
  })

  it('serves a client created with add-client: utterance to the agent, reply back; delete-client disconnects it within a second; SIGTERM is graceful', async () => {
    const kitchen = await add('--name', 'kitchen')
    listener = await startListener(['--agent-url', bus.url, '--log-level', 'debug'], {env: sandbox.env, cwd: sandbox.home})
    // Same resolution as add-client, and said on startup.
    expect(listener.stderr()).to.match(/"event":"listener\.database","database":"sqlite [^"]*clients\.db/)

    const satellite = await connect(kitchen)
    await bus.until(() => bus.connections > 0)
    bus.onMessage = (message) => bus.reply(message, 'speak', {utterance: 'It is noon.'})
    satellite.sendBus('recognizer_loop:utterance', {utterances: ['what time is it'], lang: 'en-us'})
    const arrived = await bus.waitFor('recognizer_loop:utterance')
    expect(arrived.data.utterances).to.deep.equal(['what time is it'])
    const reply = await satellite.waitFor((f) => f.encrypted && f.message.payload?.type === 'speak')
    expect(reply.message.payload.data.utterance).to.equal('It is noon.')

    // R12: revoked from another process → closed within a second, and refused afterwards.
    const deleted = await sandbox.run(['delete-client', String(kitchen.client_id), '--yes', '--quiet'])
    expect(deleted.code, deleted.stderr).to.equal(0)
    const revokedAt = Date.now()
    const closed = await satellite.waitClosed(5000)
    expect(Date.now() - revokedAt).to.be.at.most(1000)
    expect(closed.code).to.equal(1008)
    const again = await HiveTestClient.open({port: listener.port, accessKey: kitchen.api_key})
    clients.push(again)
    expect((await again.waitClosed()).code).to.equal(1008)

    // R13: a client added while listen runs authenticates within a second.
    const hall = await add('--name', 'hall')
    const addedAt = Date.now()
    const hallClient = await connect(hall)
    expect(Date.now() - addedAt).to.be.at.most(1000)

    // Graceful shutdown: peers get 1001, last_seen flushed, exit 0.
    const code = await listener.stop('SIGTERM')
    expect(code).to.equal(0)
    expect((await hallClient.waitClosed()).code).to.equal(1001)
    const shown = await sandbox.run(['show-client', String(hall.client_id), '--json', '--quiet'])
    expect((JSON.parse(shown.stdout) as {last_seen: number}).last_seen).to.be.greaterThan(0)

    // R15: no secret in anything the listener logged at debug level.
    for (const secret of [kitchen.api_key, kitchen.password, hall.api_key, hall.password]) {
      expect(listener.stderr()).not.to.contain(secret)
      expect(listener.stdout()).not.to.contain(secret)
    }
    // Its stderr is JSON lines only (log shippers parse it line by line).
    for (const line of listener.stderr().split('\n').filter(Boolean)) expect(() => JSON.parse(line), line).not.to.throw()
  })

  it('stderr stays JSON lines when a notice is due (the agreement guard), and an agent bus that does not answer is one warning, not silence', async () => {
    // Clients in the default clients.json while listen is pointed at an empty sqlite database: every
    // command prints the guard's note as text; listen logs it as an event.
    await add('--name', 'kitchen', '--db-backend', 'json')
    const closedPort = await freePort()
    listener = await startListener(['--agent-url', `ws://127.0.0.1:${closedPort}/core`, '--db-backend', 'sqlite'], {env: sandbox.env, cwd: sandbox.home})
    await listener.waitForLog(/"event":"agent\.unreachable"/, 5000)
    // Retries (every 250 ms and more) stay at debug.
    await new Promise((resolve) => setTimeout(resolve, 1500))
    const lines = listener.stderr().split('\n').filter(Boolean)
    const events = lines.map((line) => JSON.parse(line) as {event: string; level: string; message?: string})
    expect(events.filter((event) => event.event === 'agent.unreachable').map((event) => event.level), lines.join('\n')).to.deep.equal(['warn'])
    const notices = events.filter((event) => event.event === 'listener.notice').map((event) => event.message!)
    // The whole note is one event, not a line each.
    expect(notices, lines.join('\n')).to.have.length(1)
    expect(notices[0]!.split('\n')[0]).to.equal('Note: this database is empty, but:')
    expect(notices[0]).to.contain('clients.json')
    expect(await listener.stop('SIGTERM')).to.equal(0)
  })

  it('stops (exit 1, settings.changed) when migrate-db --switch makes the settings select another database, instead of serving the old one', async () => {
    const kitchen = await add('--name', 'kitchen')
    listener = await startListener(['--agent-url', bus.url], {env: sandbox.env, cwd: sandbox.home})
    const satellite = await connect(kitchen)
    const target = path.join(sandbox.home, 'moved', 'clients.json')
    const switched = await sandbox.run(['migrate-db', '--to', 'json', '--to-path', target, '--switch', '--quiet'])
    expect(switched.code, switched.stderr).to.equal(0)
    expect(switched.stdout).to.contain('A running listen stops within 5 s')
    await listener.waitForLog(/"event":"settings\.changed"/, 15_000)
    const exited = listener.child.exitCode ?? (await new Promise<number | null>((resolve) => listener!.child.once('exit', resolve)))
    expect(exited).to.equal(1)
    const line = listener.stderr().split('\n').find((text) => text.includes('"settings.changed"'))!
    const event = JSON.parse(line) as {level: string; serving: string; configured: string}
    expect(event.level).to.equal('error')
    expect(event.serving).to.match(/^sqlite .*clients\.db$/)
    expect(event.configured).to.equal(`json ${target}`)
    expect((await satellite.waitClosed(5000)).code).to.equal(1001)
    listener = undefined
  })

  it('uses the database a config file names, like add-client, and serves legacy crypto_key clients', async () => {
    writeFileSync(path.join(sandbox.home, '.hivemindrc.json'), JSON.stringify({database: {backend: 'json', json: {path: './hive.json'}}, agent: {url: bus.url}}))
    const legacy = await add('--name', 'old', '--crypto-key', 'sixteen-chars-k!')
    listener = await startListener(['--log-level', 'debug'], {env: sandbox.env, cwd: sandbox.home})
    expect(listener.stderr()).to.contain(`"event":"listener.database","database":"json ${path.join(sandbox.home, 'hive.json')}`)
    const client = await HiveTestClient.connect({port: listener.port, accessKey: legacy.api_key, cryptoKey: 'sixteen-chars-k!'})
    clients.push(client)
    await bus.until(() => bus.connections > 0)
    bus.onMessage = (message) => bus.reply(message, 'speak', {utterance: 'legacy ok'})
    client.sendBus('recognizer_loop:utterance', {utterances: ['hi']})
    await client.waitFor((f) => f.message.payload?.data?.utterance === 'legacy ok')
    expect(await listener.stop('SIGINT')).to.equal(0)
    for (const secret of [legacy.api_key, legacy.password, 'sixteen-chars-k!']) expect(listener.stderr()).not.to.contain(secret)
  })

  it("server.json's allowed_ciphers, allowed_encodings and binarize apply to the handshake; a transport it lists that listen does not serve is a warning; allowing none of ours refuses to start (QA: ignored in silence)", async () => {
    const kitchen = await add('--name', 'kitchen')
    const legacy = await add('--name', 'old', '--crypto-key', 'sixteen-chars-k!')
    const serverJson = path.join(sandbox.home, '.config', 'hivemind-core', 'server.json')
    mkdirSync(path.dirname(serverJson), {recursive: true})
    writeFileSync(serverJson, JSON.stringify({
      binarize: true,
      allowed_encodings: ['JSON-B91', 'JSON-B64'],
      allowed_ciphers: ['CHACHA20-POLY1305'],
      network_protocol: {'hivemind-http-plugin': {host: '0.0.0.0', port: 5679}},
    }))
    listener = await startListener(['--agent-url', bus.url], {env: sandbox.env, cwd: sandbox.home})
    expect(listener.stderr()).to.contain(`${serverJson}: network_protocol.hivemind-http-plugin is not served: hivemind-core serves satellites over WebSocket only`)
    const client = await HiveTestClient.connect({port: listener.port, accessKey: kitchen.api_key, password: kitchen.password, ciphers: ['AES-GCM', 'CHACHA20-POLY1305'], encodings: ['JSON-HEX', 'JSON-B64'], binarize: true})
    clients.push(client)
    expect([client.cipher, client.encoding, client.binary]).to.deep.equal(['CHACHA20-POLY1305', 'JSON-B64', true])
    // A satellite that speaks only what server.json leaves out agrees on nothing.
    let refusal = ''
    await HiveTestClient.connect({port: listener.port, accessKey: kitchen.api_key, password: kitchen.password, ciphers: ['AES-GCM']}).then(
      (connected) => clients.push(connected),
      (error: Error) => (refusal = error.message),
    )
    expect(refusal).to.match(/^closed 1008 /)
    // The crypto_key mode is AES-GCM by protocol: refused too, not a way around the restriction.
    let legacyRefusal = ''
    await HiveTestClient.connect({port: listener.port, accessKey: legacy.api_key, cryptoKey: 'sixteen-chars-k!'})
      .then((connected) => {
        clients.push(connected)
        connected.sendBus('recognizer_loop:utterance', {utterances: ['hi']})
        return connected.waitClosed(5000)
      })
      .then((closed) => (legacyRefusal = `closed ${closed.code} ${closed.reason}`), (error: Error) => (legacyRefusal = error.message))
    expect(legacyRefusal).to.equal('closed 1008 cipher not allowed')
    expect(await listener.stop('SIGTERM')).to.equal(0)
    listener = undefined

    writeFileSync(serverJson, JSON.stringify({allowed_ciphers: 'CHACHA20-POLY1305'}))
    const unreadable = await sandbox.run(['listen', '--agent-url', bus.url, '--port', '0'])
    expect(unreadable.code).to.equal(1)
    expect(unreadable.stderr).to.contain(`${serverJson}: allowed_ciphers is not a list of names, so which ciphers it allows cannot be told`)

    writeFileSync(serverJson, JSON.stringify({allowed_ciphers: ['AES-CBC']}))
    const refused = await sandbox.run(['listen', '--agent-url', bus.url, '--port', '0'])
    expect(refused.code).to.equal(1)
    expect(refused.stderr).to.contain(`${serverJson}: allowed_ciphers allows none of the ciphers hivemind-core speaks (AES-GCM, CHACHA20-POLY1305)`)
  })

  it("an upgraded hub keeps the Python hivemind-core's server.json: its host, port, agent bus and database plugin, below our own config (QA: it bound 0.0.0.0:5678)", async () => {
    const port = await freePort()
    const busUrl = new URL(bus.url)
    const serverJson = path.join(sandbox.home, '.config', 'hivemind-core', 'server.json')
    mkdirSync(path.dirname(serverJson), {recursive: true})
    writeFileSync(serverJson, JSON.stringify({
      agent_protocol: {module: 'hivemind-ovos-agent-plugin', 'hivemind-ovos-agent-plugin': {host: busUrl.hostname, port: Number(busUrl.port)}},
      network_protocol: {'hivemind-websocket-plugin': {host: '127.0.0.1', port, ssl: false}},
      database: {module: 'hivemind-json-db-plugin', 'hivemind-json-db-plugin': {name: 'hive', subfolder: 'old-hub'}},
    }, null, 2))
    const kitchen = await add('--name', 'kitchen')
    const hive = path.join(sandbox.home, '.local', 'share', 'old-hub', 'hive.json')
    expect(existsSync(hive), 'add-client wrote the file the Python hub uses').to.equal(true)
    listener = await startListener([], {env: sandbox.env, cwd: sandbox.home, ownAddress: true})
    expect(listener.port).to.equal(port)
    expect(listener.stderr()).to.contain(`"database":"json ${hive} (from ./.config/hivemind-core/server.json)"`)
    const client = await HiveTestClient.connect({port, accessKey: kitchen.api_key, password: kitchen.password})
    clients.push(client)
    await bus.until(() => bus.connections > 0)
    bus.onMessage = (message) => bus.reply(message, 'speak', {utterance: 'same hub'})
    client.sendBus('recognizer_loop:utterance', {utterances: ['still there?']})
    await client.waitFor((f) => f.message.payload?.data?.utterance === 'same hub')
    expect(await listener.stop('SIGTERM')).to.equal(0)
    // Our own config file outranks it.
    const ours = await freePort()
    writeFileSync(path.join(sandbox.home, '.hivemindrc.json'), JSON.stringify({listen: {port: ours}}))
    listener = await startListener([], {env: sandbox.env, cwd: sandbox.home, ownAddress: true})
    expect(listener.port).to.equal(ours)
    expect(await listener.stop('SIGTERM')).to.equal(0)
  })

  it('SIGINT is graceful even when a library registered an exit handler after listen started', async () => {
    // write-file-atomic registers one (through signal-exit) for the length of every JSON write, and
    // signal-exit re-raises a signal that finds no other handler: listen's own handler must still
    // be installed when that one runs. A preload registers the handler on SIGUSR2, at a moment the
    // test chooses, instead of racing a write.
    const preload = path.join(sandbox.root, 'late-exit-handler.cjs')
    writeFileSync(preload, `process.on('SIGUSR2', () => {
  require(${JSON.stringify(path.join(ROOT, 'node_modules', 'signal-exit'))}).onExit(() => {})
  process.stderr.write('{"event":"test.exit-handler-registered"}\\n')
})
`)
    const added = await add('--name', 'den')
    listener = await startListener(['--agent-url', bus.url, '--log-level', 'debug'], {env: {...sandbox.env, NODE_OPTIONS: `--require ${preload}`}, cwd: sandbox.home})
    await connect(added)
    listener.child.kill('SIGUSR2')
    await listener.waitForLog(/"event":"test.exit-handler-registered"/)
    expect(await listener.stop('SIGINT')).to.equal(0)
    expect(listener.stderr()).to.contain('"event":"listener.signal"').and.to.contain('"event":"listener.stopped"')
  })

  it('a second signal during the shutdown exits at once with 1', async () => {
    const added = await add('--name', 'den')
    listener = await startListener(['--agent-url', bus.url], {env: sandbox.env, cwd: sandbox.home})
    await connect(added)
    const exited = new Promise<number | null>((resolve) => listener!.child.once('exit', (code) => resolve(code)))
    // Both at once: the second is handled long before closing the satellite and the bus is done.
    listener.child.kill('SIGTERM')
    listener.child.kill('SIGINT')
    expect(await exited).to.equal(1)
    expect(listener.stderr()).to.contain('"event":"listener.forced"').and.not.to.contain('"event":"listener.stopped"')
  })

  it('masks a password in the agent URL in every log line, and names a URL that is not ws:// as such', async () => {
    // And a token in its query string (the bus accepts and ignores it).
    const withPassword = `${bus.url.replace('ws://', 'ws://bus:AgentSecretPw@')}?token=AgentSecretToken&v=1`
    listener = await startListener(['--agent-url', withPassword, '--log-level', 'debug'], {env: sandbox.env, cwd: sandbox.home})
    await listener.waitForLog(/"event":"agent.connected"/)
    expect(listener.stderr()).to.contain(`"agent_url":"${bus.url.replace('ws://', 'ws://bus:********@')}?token=********&v=********"`)
    expect(listener.stderr()).not.to.contain('AgentSecretPw').and.not.to.contain('AgentSecretToken')

    for (const bad of ['notaurl', 'http://bus:AgentSecretPw@127.0.0.1:8181/core']) {
      const result = await runCli(['listen', '--host', '127.0.0.1', '--port', '0', '--agent-url', bad], {cwd: sandbox.home, env: sandbox.env})
      // A bad flag, as every bad flag: exit 2 (docs/listen.md, "Exit behaviour").
      expect(result.code, bad).to.equal(2)
      expect(result.stderr, bad).to.contain('Error: flag --agent-url: the agent URL must be a ws:// or wss:// URL, found "')
      expect(result.stderr, bad).not.to.contain('AgentSecretPw')
      expect(result.stderr, bad).not.to.contain('cannot listen')
    }
  })

  it('refuses a bad agent URL before opening the store: no database is created, and one from the environment is a configuration error (exit 1)', async () => {
    const file = path.join(sandbox.home, 'never-created.db')
    const fromFlag = await runCli(['listen', '--host', '127.0.0.1', '--port', '0', '--db-path', file, '--agent-url', 'http://127.0.0.1:8181/core'], {cwd: sandbox.home, env: sandbox.env})
    expect(fromFlag.code).to.equal(2)
    const fromEnv = await runCli(['listen', '--host', '127.0.0.1', '--port', '0', '--db-path', file], {cwd: sandbox.home, env: {...sandbox.env, HIVEMIND_AGENT_URL: 'tcp://127.0.0.1:8181'}})
    expect(fromEnv.code).to.equal(1)
    expect(fromEnv.stderr).to.contain('HIVEMIND_AGENT_URL').and.to.contain('the agent URL must be a ws:// or wss:// URL')
    expect(existsSync(file), 'database created by a listen that refused its agent URL').to.equal(false)
  })

  it('refuses to start on a corrupt JSON database (non-zero exit, no stack trace)', async () => {
    const file = path.join(sandbox.home, 'broken.json')
    writeFileSync(file, '{"1": {"client_id": 1, "api_key": ')
    const result = await runCli(['listen', '--host', '127.0.0.1', '--port', '0', '--db-backend', 'json', '--db-path', file], {cwd: sandbox.home, env: sandbox.env})
    expect(result.code).to.not.equal(0)
    expect(result.stderr).to.contain(file)
    expect(result.stderr).not.to.match(/\n\s+at /)
  })

  it('a port already in use: the error line and its hint, and no JSON line repeating it (exit 1)', async () => {
    const blocker = net.createServer()
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve))
    const {port} = blocker.address() as net.AddressInfo
    try {
      const result = await runCli(['listen', '--host', '127.0.0.1', '--port', String(port), '--quiet'], {cwd: sandbox.home, env: sandbox.env})
      expect(result.code).to.equal(1)
      const lines = result.stderr.split('\n').filter(Boolean)
      expect(lines.filter((line) => !line.startsWith('{'))).to.deep.equal([`Error: cannot listen on 127.0.0.1:${port} (EADDRINUSE)`, 'Hint: another process uses that port: pick another with --port'])
      expect(result.stderr).not.to.contain('server.error')
    } finally {
      blocker.close()
    }
  })

  describe('over TLS (--ssl --cert --key)', function () {
    let pki: TestPki | undefined

    before(function () {
      try {
        pki = createTestPki()
      } catch (error) {
        console.warn(`    (TLS tests skipped, openssl failed: ${(error as Error).message.split('\n')[0]})`)
        this.skip()
      }
    })

    after(() => pki?.cleanup())

    it('serves wss:// with the given certificate: a satellite trusting it completes the handshake and relays a message', async () => {
      const kitchen = await add('--name', 'kitchen')
      listener = await startListener(['--agent-url', bus.url, '--ssl', '--cert', pki!.serverCert, '--key', pki!.serverKey], {env: sandbox.env, cwd: sandbox.home})
      expect(listener.stderr()).to.match(/"event":"listener.started".*"tls":true/)
      const satellite = await HiveTestClient.connect({port: listener.port, accessKey: kitchen.api_key, password: kitchen.password, ca: readFileSync(pki!.ca)})
      clients.push(satellite)
      expect(satellite.socket.url).to.match(/^wss:\/\//)
      await bus.until(() => bus.connections > 0)
      bus.onMessage = (message) => bus.reply(message, 'speak', {utterance: 'over tls'})
      satellite.sendBus('recognizer_loop:utterance', {utterances: ['are we private']})
      expect((await bus.waitFor('recognizer_loop:utterance')).data.utterances).to.deep.equal(['are we private'])
      await satellite.waitFor((f) => f.encrypted && f.message.payload?.data?.utterance === 'over tls')

      // A client that does not trust the certificate gets no connection at all.
      let refused: unknown
      try {
        const untrusting = await HiveTestClient.open({port: listener.port, accessKey: kitchen.api_key, ca: readFileSync(pki!.otherCa)})
        clients.push(untrusting)
      } catch (error) {
        refused = error
      }
      expect(String(refused)).to.match(/certificate/i)
      expect(await listener.stop('SIGTERM')).to.equal(0)
    })

    it('a missing, unreadable, non-PEM or mismatched certificate or key: one line naming the file, exit 1, no stack trace, the store never opened', async () => {
      const cases: Array<{args: string[]; says: RegExp}> = [
        {args: ['--cert', path.join(pki!.dir, 'missing.pem'), '--key', pki!.serverKey], says: /--cert .*missing\.pem cannot be read \(no such file\)/},
        {args: ['--cert', pki!.serverCert, '--key', pki!.dir], says: /--key .* cannot be read \(is a directory\)/},
        {args: ['--cert', pki!.serverKey, '--key', pki!.serverKey], says: /--cert .*server\.key is not a PEM certificate/},
        {args: ['--cert', pki!.serverCert, '--key', pki!.serverCert], says: /--key .*server\.pem is not a PEM private key/},
        {args: ['--cert', pki!.serverCert, '--key', pki!.otherCaKey], says: /--key .*other-ca\.key does not belong to the certificate in --cert .*server\.pem/},
      ]
      for (const {args, says} of cases) {
        // eslint-disable-next-line no-await-in-loop -- one listen at a time, each must exit by itself
        const result = await sandbox.run(['listen', '--host', '127.0.0.1', '--port', '0', '--ssl', ...args])
        expect(result.code, result.stderr).to.equal(1)
        const error = result.stderr.split('\n').filter((line) => line.startsWith('Error:'))
        expect(error, result.stderr).to.have.length(1)
        expect(error[0]).to.match(says)
        expect(result.stderr).not.to.match(/\n\s+at /)
        // Checked before the database: nothing opened, nothing created.
        expect(result.stderr).not.to.contain('Database:')
      }
      expect(sandbox.exists('.local/share/hivemind-core/clients.db')).to.equal(false)
    })

    it("server.json's \"ssl\": true serves wss:// with its cert_dir/cert_name files; missing files refuse to start with what to do; --no-ssl serves ws://", async () => {
      const kitchen = await add('--name', 'kitchen')
      const certDir = path.join(sandbox.home, 'certs')
      const serverJson = path.join(sandbox.home, '.config', 'hivemind-core', 'server.json')
      mkdirSync(path.dirname(serverJson), {recursive: true})
      writeFileSync(serverJson, JSON.stringify({network_protocol: {'hivemind-websocket-plugin': {ssl: true, cert_dir: certDir, cert_name: 'hub'}}}))
      const missing = await sandbox.run(['listen', '--host', '127.0.0.1', '--port', '0', '--agent-url', bus.url])
      expect(missing.code, missing.stderr).to.equal(1)
      expect(missing.stderr).to.equal(
        `Error: ${serverJson} serves wss:// ("ssl": true), and its certificate cannot be used: ${path.join(certDir, 'hub.crt')} cannot be read (no such file)\n` +
          `Hint: hivemind-core does not generate certificates: put the PEM files at ${path.join(certDir, 'hub.crt')} and ${path.join(certDir, 'hub.key')}, or pass --ssl --cert FILE --key FILE, or --no-ssl to serve ws://\n`,
      )
      mkdirSync(certDir)
      copyFileSync(pki!.serverCert, path.join(certDir, 'hub.crt'))
      copyFileSync(pki!.serverKey, path.join(certDir, 'hub.key'))
      listener = await startListener(['--agent-url', bus.url], {env: sandbox.env, cwd: sandbox.home})
      expect(listener.stderr()).to.match(/"event":"listener.started".*"tls":true/)
      const satellite = await HiveTestClient.connect({port: listener.port, accessKey: kitchen.api_key, password: kitchen.password, ca: readFileSync(pki!.ca)})
      clients.push(satellite)
      expect(satellite.socket.url).to.match(/^wss:\/\//)
      expect(await listener.stop('SIGTERM')).to.equal(0)
      listener = await startListener(['--agent-url', bus.url, '--no-ssl'], {env: sandbox.env, cwd: sandbox.home})
      expect(listener.stderr()).to.match(/"event":"listener.started".*"tls":false/)
      expect(await listener.stop('SIGTERM')).to.equal(0)
    })

    it('--ssl without --cert and --key is a usage error that says what is missing (exit 2)', async () => {
      for (const args of [[], ['--cert', pki!.serverCert], ['--key', pki!.serverKey]]) {
        // eslint-disable-next-line no-await-in-loop
        const result = await sandbox.run(['listen', '--ssl', '--port', '0', ...args])
        expect(result.code).to.equal(2)
        expect(result.stderr).to.contain('--ssl needs --cert and --key')
        expect(result.stderr).not.to.match(/\n\s+at /)
      }
    })
  })

  describe('with the JSON file broken by another tool while serving (R6)', function () {
    it('reports "store unavailable" (1013) while the file is unreadable, never "invalid key", and recovers when it is repaired', async function () {
      const {readFileSync, writeFileSync} = await import('node:fs')
      const file = path.join(sandbox.home, 'hive.json')
      const env = {...sandbox.env, HIVEMIND_DB_BACKEND: 'json', HIVEMIND_DB_PATH: file}
      const enrolled = await runCli(['add-client', '--json', '--quiet', '--name', 'r6'], {cwd: sandbox.home, env})
      expect(enrolled.code, enrolled.stderr).to.equal(0)
      const added = JSON.parse(enrolled.stdout) as Added
      listener = await startListener(['--agent-url', bus.url, '--log-level', 'debug'], {env, cwd: sandbox.home})
      const first = await connect(added)

      // Another tool truncates the file mid-write (what upstream's in-place writes do).
      const good = readFileSync(file)
      writeFileSync(file, good.subarray(0, Math.floor(good.length / 2)))
      const during = await HiveTestClient.open({port: listener.port, accessKey: added.api_key})
      clients.push(during)
      const closed = await during.waitClosed()
      expect(closed.code).to.equal(1013)
      expect(closed.reason).to.match(/store unavailable/)
      expect(first.closed).to.equal(undefined)

      // Repaired: the next satellite gets in, without a restart.
      writeFileSync(file, good)
      const recovered = await HiveTestClient.connect({port: listener.port, accessKey: added.api_key, password: added.password, timeoutMs: 5000})
      clients.push(recovered)
      expect(listener.stderr()).not.to.contain(added.api_key)
      expect(await listener.stop('SIGTERM')).to.equal(0)
    })
  })

  describe('with the SQLite file locked by another process while serving (R6)', function () {
    it('reports "store unavailable" (1013) while a WAL recovery holds the locks, never "invalid key", and recovers when it ends', async function () {
      if (!canHoldRecoveryLock()) {
        console.warn('    (skipped: python3 is needed to hold SQLite\'s fcntl locks)')
        this.skip()
      }
      const file = path.join(sandbox.home, 'clients.db')
      const env = {...sandbox.env, HIVEMIND_DB_BACKEND: 'sqlite', HIVEMIND_DB_PATH: file}
      const enrolled = await runCli(['add-client', '--json', '--quiet', '--name', 'r6'], {cwd: sandbox.home, env})
      expect(enrolled.code, enrolled.stderr).to.equal(0)
      const added = JSON.parse(enrolled.stdout) as Added
      // A short busy timeout through the normal option: each lookup waits for it before failing.
      listener = await startListener(['--agent-url', bus.url, '--log-level', 'debug', '--db-option', 'busyTimeoutMs=300'], {env, cwd: sandbox.home})
      const first = await connect(added)

      const lock = await holdRecoveryLock(file)
      let released = false
      try {
        for (let attempt = 0; attempt < 2; attempt++) {
          const during = await HiveTestClient.open({port: listener.port, accessKey: added.api_key})
          clients.push(during)
          const closed = await during.waitClosed()
          expect(closed.code).to.equal(1013)
          expect(closed.reason).to.match(/store unavailable/)
        }
        // The established satellite is not disconnected by the outage, and the listener is up.
        expect(first.closed).to.equal(undefined)
        expect(listener.child.exitCode).to.equal(null)
        await lock.release()
        released = true
      } finally {
        if (!released) await lock.release()
      }

      // The lock is gone: the same key authenticates again without a restart.
      const recovered = await HiveTestClient.connect({port: listener.port, accessKey: added.api_key, password: added.password, timeoutMs: 5000})
      clients.push(recovered)
      expect(listener.stderr()).to.contain('"auth.store_unavailable"')
      expect(listener.stderr()).not.to.contain(added.api_key)
      expect(await listener.stop('SIGTERM')).to.equal(0)
      // Nothing was lost: the record is still there, and the file is sound.
      const shown = await runCli(['show-client', String(added.client_id), '--json', '--quiet'], {cwd: sandbox.home, env})
      expect(shown.code, shown.stderr).to.equal(0)
    })
  })

  describe('with Redis restarted while serving (R6)', function () {
    it('reports "store unavailable" (1013) during the outage, never "invalid key", and recovers', async function () {
      const {mkdtempSync, rmSync} = await import('node:fs')
      const os = await import('node:os')
      // A data directory that survives the restart (the helper's own directory does not).
      const dataDir = mkdtempSync(path.join(os.tmpdir(), 'hivemind-r6-'))
      const persist = ['--dir', dataDir, '--appendonly', 'yes', '--appendfsync', 'always']
      let redis = await startRedisServer({args: persist})
      try {
        const env = {...sandbox.env, HIVEMIND_DB_BACKEND: 'redis', HIVEMIND_REDIS_URL: redis.url}
        const enrolled = await runCli(['add-client', '--json', '--quiet', '--name', 'r6'], {cwd: sandbox.home, env})
        expect(enrolled.code, enrolled.stderr).to.equal(0)
        const added = JSON.parse(enrolled.stdout) as Added
        listener = await startListener(['--agent-url', bus.url, '--log-level', 'debug'], {env, cwd: sandbox.home})
        const first = await connect(added)

        const port = redis.port
        await redis.stop()
        const downAt = Date.now()
        // During the outage: a new connection is told to retry, never that its key is invalid.
        const during = await HiveTestClient.open({port: listener.port, accessKey: added.api_key})
        clients.push(during)
        const closed = await during.waitClosed()
        expect(closed.code).to.equal(1013)
        expect(closed.reason).to.match(/store unavailable/)
        // The established satellite is not disconnected by the outage.
        expect(first.closed).to.equal(undefined)

        redis = await startRedisServer({port, args: persist})
        const outage = Date.now() - downAt
        // Service back within outage + 2.5 s: bounded retries.
        const deadline = Date.now() + 2500
        let recovered: HiveTestClient | undefined
        let attempts = 0
        while (!recovered && Date.now() < deadline && attempts++ < 50) {
          try {
            recovered = await HiveTestClient.connect({port: listener.port, accessKey: added.api_key, password: added.password, timeoutMs: 2000})
          } catch {
            await new Promise((resolve) => setTimeout(resolve, 100))
          }
        }
        expect(recovered, `not back within outage (${outage} ms) + 2.5 s`).to.not.equal(undefined)
        clients.push(recovered!)
        expect(listener.stderr()).to.match(/store\.unavailable|auth\.store_unavailable/)
        expect(listener.stderr()).not.to.contain(added.api_key)
        expect(listener.stderr()).not.to.contain(added.password)
        expect(await listener.stop('SIGTERM')).to.equal(0)
      } finally {
        await redis.stop()
        rmSync(dataDir, {recursive: true, force: true})
      }
    })

    it('a hive that comes back empty (a restart without persistence): satellites are closed as removed, and one error says the database was emptied', async function () {
      const redis = await startRedisServer()
      try {
        const env = {...sandbox.env, HIVEMIND_DB_BACKEND: 'redis', HIVEMIND_REDIS_URL: redis.url}
        const enrolled = await runCli(['add-client', '--json', '--quiet', '--name', 'kitchen'], {cwd: sandbox.home, env})
        expect(enrolled.code, enrolled.stderr).to.equal(0)
        const added = JSON.parse(enrolled.stdout) as Added
        listener = await startListener(['--agent-url', bus.url], {env, cwd: sandbox.home})
        const satellite = await connect(added)
        const {Redis} = await import('ioredis')
        const admin = new Redis({port: redis.port})
        try {
          // What a restart without persistence leaves: nothing.
          await admin.flushdb()
        } finally {
          admin.disconnect()
        }
        expect(await satellite.waitClosed(5000)).to.deep.equal({code: 1008, reason: 'client removed'})
        await listener.waitForLog(/"event":"store\.emptied"/, 5000)
        const events = listener.stderr().split('\n').filter(Boolean).map((line) => JSON.parse(line) as {event: string; level: string; client_id?: number})
        expect(events.find((event) => event.event === 'store.emptied')).to.deep.include({level: 'error'})
        expect(events.find((event) => event.event === 'client.removed')).to.deep.include({client_id: added.client_id})
        expect(events.map((event) => event.event)).not.to.include('client.revoked')
        expect(await listener.stop('SIGTERM')).to.equal(0)
      } finally {
        await redis.stop()
      }
    })
  })
})
