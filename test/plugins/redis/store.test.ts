/**
 * The redis backend against real redis-server processes started by the tests (never the
 * machine's own 6379): key layout, atomicity (R3), fail-fast connection errors (R7, R8, TLS),
 * reconnection, and the CLI end to end.
 */
import {type ChildProcessWithoutNullStreams, spawn} from 'node:child_process'
import {existsSync, writeFileSync} from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

import {expect} from 'chai'
import {Redis} from 'ioredis'

import {buildClient, type ClientRecord, REVOKED_API_KEY} from '../../../src/core/client.js'
import {toUpstreamJson} from '../../../src/core/interchange.js'
import {DuplicateApiKeyError, HivemindError, StoreCorruptError, StoreUnavailableError} from '../../../src/core/errors.js'
import {probeRedis} from '../../../src/plugins/redis/probe.js'
import {PAGE_SIZE, RedisClientStore} from '../../../src/plugins/redis/store.js'
import {runStoreConformance} from '../../../src/testing/index.js'
import {createTestPki, type TestPki} from '../../helpers/certs.js'
import {failure} from '../../helpers/failure.js'
import {type CliResult, type CliSandbox, createSandbox} from '../../helpers/sandbox.js'
import {freePort, type RedisServer, startRedisServer} from '../../helpers/redis-server.js'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..')

/** The Redis Cluster hash tag of a key (the part between the first `{` and the next `}`), or the whole key. */
function hashTag(key: string): string {
  const start = key.indexOf('{')
  if (start < 0) return key
  const end = key.indexOf('}', start + 1)
  return end < 0 || end === start + 1 ? key : key.slice(start + 1, end)
}

/** Every key of the server matching `<prefix>*` (KEYS is fine on a test server). */
async function keysOf(redis: Redis, prefix: string): Promise<string[]> {
  const escaped = prefix.replaceAll(/[*?[\]\\]/g, '\\$&')
  return (await redis.keys(`${escaped}*`)).sort()
}

/** Collects an async iterable. */
async function all<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = []
  for await (const item of iterable) out.push(item)
  return out
}

/**
 * R3's invariant: every index entry points at a record holding that key, every live record is
 * indexed, and the id sets agree with the records.
 */
async function expectConsistent(redis: Redis, store: RedisClientStore): Promise<void> {
  const {keys} = store
  const index = await redis.hgetall(keys.index)
  for (const [apiKey, id] of Object.entries(index)) {
    expect(apiKey).not.to.equal(REVOKED_API_KEY)
    expect(await redis.hget(keys.client(Number(id)), 'api_key'), `index ${apiKey} → ${id}`).to.equal(apiKey)
  }
  const ids = (await redis.zrange(keys.ids, 0, -1)).map(Number)
  const live = (await redis.zrange(keys.live, 0, -1)).map(Number)
  const recordKeys = (await keysOf(redis, keys.clientPrefix)).map((key) => Number(key.slice(keys.clientPrefix.length))).sort((a, b) => a - b)
  expect(ids).to.deep.equal(recordKeys)
  const liveFromRecords: number[] = []
  for (const id of ids) {
    const apiKey = await redis.hget(keys.client(id), 'api_key')
    expect(await redis.hget(keys.client(id), 'client_id')).to.equal(String(id))
    if (apiKey !== REVOKED_API_KEY) {
      liveFromRecords.push(id)
      expect(index[apiKey!], `record ${id} is indexed`).to.equal(String(id))
    }
  }
  expect(live).to.deep.equal(liveFromRecords)
  expect(Object.keys(index)).to.have.length(live.length)
  expect(Number(await redis.get(keys.lastId))).to.be.at.least(Math.max(0, ...ids))
}

/**
 * The commands the CLIENTS sent while `action` ran (MONITOR; commands run inside scripts, shown
 * with source "lua", are left out), between two markers the observer sends.
 */
async function clientCommands(server: RedisServer, observer: Redis, action: () => Promise<unknown>): Promise<string[][]> {
  const monitor = await new Redis({port: server.port, lazyConnect: true}).monitor()
  const seen: Array<{source: string; args: string[]}> = []
  monitor.on('monitor', (_time: string, args: string[], source: string) => seen.push({source, args}))
  try {
    const marker = `marker-${Math.random()}`
    await observer.echo(`${marker}-start`)
    await action()
    await observer.echo(`${marker}-end`)
    const deadline = Date.now() + 5000
    while (!seen.some(({args}) => args[1] === `${marker}-end`) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10))
    const start = seen.findIndex(({args}) => args[1] === `${marker}-start`)
    const end = seen.findIndex(({args}) => args[1] === `${marker}-end`)
    return seen.slice(start + 1, end).filter(({source}) => source !== 'lua').map(({args}) => args)
  } finally {
    monitor.disconnect()
  }
}

/** Runs the built CLI and measures how long it took. */
async function timed(run: () => Promise<CliResult>): Promise<CliResult & {ms: number}> {
  const started = performance.now()
  const result = await run()
  return {...result, ms: Math.round(performance.now() - started)}
}

describe('redis backend', function () {
  this.timeout(60_000)

  let server: RedisServer
  let observer: Redis
  let serial = 0
  const opened: RedisClientStore[] = []

  before(async () => {
    server = await startRedisServer()
    observer = new Redis({port: server.port})
  })

  after(async () => {
    observer?.disconnect()
    await server?.stop()
  })

  afterEach(async () => {
    for (const store of opened.splice(0)) await store.close()
  })

  /** A unique prefix per call: every store made from it starts empty on the shared server. */
  const uniquePrefix = () => `t${process.pid}-${++serial}:`

  /**
   * The factory for the shared conformance suite: a fresh, EMPTY, not yet opened store per call
   * (a unique keyPrefix on the one test server).
   */
  const createStore = (extra: Record<string, unknown> = {}) => new RedisClientStore({port: server.port, keyPrefix: uniquePrefix(), ...extra})

  /** An opened store (closed after the test). */
  async function openStore(extra: Record<string, unknown> = {}): Promise<RedisClientStore> {
    const store = createStore(extra)
    await store.open()
    opened.push(store)
    return store
  }

  /** A second, separately connected store on the same hive. */
  async function sameHive(store: RedisClientStore, extra: Record<string, unknown> = {}): Promise<RedisClientStore> {
    const other = new RedisClientStore({port: server.port, keyPrefix: store.keys.base.replace('{hive}', ''), ...extra})
    await other.open()
    opened.push(other)
    return other
  }

  /**
   * Keeps the test server busy in a script for 1 s (sent from the observer connection) and runs
   * `attempt` until it fails: an attempt that reaches the server before the script does succeeds,
   * and is tried again. Fails the test if no attempt failed before the script ended.
   */
  async function failureWhileBusy(attempt: () => Promise<unknown>): Promise<Error> {
    let done = false
    const busy = observer
      .eval("local t = redis.call('TIME') local start = t[1] * 1000000 + t[2] repeat local n = redis.call('TIME') until n[1] * 1000000 + n[2] - start > 1000000 return 1", 0)
      .finally(() => {
        done = true
      })
    try {
      while (!done) {
        try {
          await attempt()
        } catch (error) {
          return error as Error
        }
        await new Promise((resolve) => setTimeout(resolve, 5))
      }
      throw new Error('no attempt failed while the server was busy')
    } finally {
      await busy
    }
  }

  // The shared conformance suite: a fresh, empty, unopened store per test (its own key prefix);
  // reopening connects a new client to the same hive. Everything after it is redis-specific.
  runStoreConformance('redis', async () => ({store: createStore()}), {
    reopen: async (closed) => new RedisClientStore({port: server.port, keyPrefix: (closed as RedisClientStore).keys.base.slice(0, -'{hive}'.length)}),
    another: async (open) => new RedisClientStore({port: server.port, keyPrefix: (open as RedisClientStore).keys.base.slice(0, -'{hive}'.length)}),
  })

  describe('key layout', () => {
    it('stores a client as one hash, fields as documented, null secrets as absent fields', async () => {
      const store = await openStore()
      const added = await store.add({
        api_key: 'key-a',
        password: 'pw-a',
        crypto_key: null,
        name: 'kitchen',
        is_admin: true,
        can_escalate: false,
        last_seen: 1_732_547_000.25,
        skill_blacklist: ['skill.a'],
        allowed_types: [],
        metadata: {room: 'kitchen', nested: {n: 1}},
      })
      expect(added.client_id).to.equal(1)
      const {keys} = store
      expect(keys.client(1)).to.equal(`${keys.base}client:1`)
      expect(await observer.hgetall(keys.client(1))).to.deep.equal({
        client_id: '1',
        api_key: 'key-a',
        name: 'kitchen',
        description: '',
        is_admin: '1',
        last_seen: '1732547000.25',
        intent_blacklist: '[]',
        skill_blacklist: '["skill.a"]',
        message_blacklist: '[]',
        allowed_types: '[]',
        password: 'pw-a',
        can_broadcast: '1',
        can_escalate: '0',
        can_propagate: '1',
        metadata: '{"room":"kitchen","nested":{"n":1}}',
      })
      expect(await observer.hgetall(keys.index)).to.deep.equal({'key-a': '1'})
      expect(await observer.zrange(keys.ids, 0, -1, 'WITHSCORES')).to.deep.equal(['1', '1'])
      expect(await observer.zrange(keys.live, 0, -1, 'WITHSCORES')).to.deep.equal(['1', '1'])
      expect(await observer.get(keys.lastId)).to.equal('1')
      expect(await observer.get(keys.revision)).to.equal('1')
      expect(await observer.hgetall(keys.meta)).to.deep.equal({layout: '1'})
      expect(await store.get(1)).to.deep.equal(added)
    })

    it('every key of a hive carries the one hash tag {hive}, and there are no others', async () => {
      for (const prefix of ['hivemind:', 'weird{tag}:', '']) {
        const store = new RedisClientStore({port: server.port, keyPrefix: `${prefix}${uniquePrefix()}`})
        await store.open()
        opened.push(store)
        await store.add({api_key: 'k1'})
        const second = await store.add({api_key: 'k2'})
        await store.revoke(second.client_id)
        await store.update(1, {name: 'x'})
        const keys = await keysOf(observer, store.keys.base)
        expect(keys).to.deep.equal(
          [store.keys.client(1), store.keys.client(2), store.keys.ids, store.keys.index, store.keys.lastId, store.keys.live, store.keys.meta, store.keys.revision].sort(),
        )
        const tags = new Set(keys.map(hashTag))
        expect([...tags], `keys ${keys.join(', ')}`).to.have.length(1)
        if (!prefix.includes('{')) expect([...tags]).to.deep.equal(['hive'])
      }
    })

    it('works on a cluster-mode node, and Redis itself puts every key of a hive in one slot', async () => {
      const cluster = await startRedisServer({args: ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf']})
      const admin = new Redis({port: cluster.port})
      const store = new RedisClientStore({port: cluster.port, keyPrefix: 'hivemind:'})
      try {
        await admin.call('CLUSTER', 'ADDSLOTS', ...Array.from({length: 16_384}, (_, slot) => String(slot)))
        const deadline = Date.now() + 10_000
        while (!String(await admin.cluster('INFO')).includes('cluster_state:ok') && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50))
        await store.open()
        await store.add({api_key: 'a'})
        await store.add({api_key: 'b'})
        await store.revoke(2)
        await store.update(1, {name: 'n'})
        await store.putMany([buildClient(5, {api_key: 'c'})])
        expect((await store.getByApiKey('c'))?.client_id).to.equal(5)
        expect((await all(store.list({includeRevoked: true}))).map((record) => record.client_id)).to.deep.equal([1, 2, 5])
        const keys = await keysOf(admin, store.keys.base)
        expect(keys).to.have.length(3 + 6)
        const slots = new Set(await Promise.all(keys.map((key) => admin.cluster('KEYSLOT', key))))
        expect([...slots]).to.deep.equal([await admin.cluster('KEYSLOT', 'hive')])
      } finally {
        await store.close()
        admin.disconnect()
        await cluster.stop()
      }
    })

    it('keeps null and "" apart, and reads booleans written as "true"/"false"', async () => {
      const store = await openStore()
      await store.add({api_key: 'k-null', password: null, crypto_key: null})
      await store.add({api_key: 'k-empty', password: '', crypto_key: ''})
      expect(await observer.hexists(store.keys.client(1), 'password')).to.equal(0)
      expect(await observer.hget(store.keys.client(2), 'password')).to.equal('')
      expect(await store.get(1)).to.include({password: null, crypto_key: null})
      expect(await store.get(2)).to.include({password: '', crypto_key: ''})

      await observer.hset(store.keys.client(1), 'is_admin', 'true', 'can_broadcast', 'false')
      expect(await store.get(1)).to.include({is_admin: true, can_broadcast: false})
    })

    it('a hand-broken field is a StoreCorruptError naming the key and field, never the value', async () => {
      const store = await openStore()
      await store.add({api_key: 'k1'})
      await observer.hset(store.keys.client(1), 'allowed_types', 'secret-looking{not json')
      const error = await failure(store.get(1))
      expect(error).to.be.instanceOf(StoreCorruptError)
      expect(error.message).to.contain(store.keys.client(1)).and.to.contain('allowed_types').and.not.to.contain('secret-looking')
    })

    it('a hash whose client_id field was edited to another id is a StoreCorruptError on every read path (it showed as the other client)', async () => {
      const store = await openStore()
      await store.add({api_key: 'k1'})
      await store.add({api_key: 'k2'})
      await observer.hset(store.keys.client(2), 'client_id', '7')
      const message = `Redis key ${store.keys.client(2)} holds client_id 7, not the id 2 its key names`
      for (const read of [() => store.get(2), () => store.getByApiKey('k2'), () => all(store.list())]) {
        const error = await failure(read())
        expect(error).to.be.instanceOf(StoreCorruptError)
        expect(error.message).to.equal(message)
      }
      expect((await store.getByApiKey('k1'))?.client_id).to.equal(1)
    })

    it('an id listed without its hash (deleted by hand) fails the listing with the redis-cli command that removes it', async () => {
      const store = await openStore()
      await store.add({api_key: 'k1'})
      await store.add({api_key: 'k2'})
      await observer.del(store.keys.client(1))
      const error = await failure((async () => {
        for await (const _record of store.list()) {
          // Drained for the error.
        }
      })())
      expect(error).to.be.instanceOf(StoreCorruptError)
      expect(error.message).to.equal(`Redis key ${store.keys.client(1)} is missing, but ${store.keys.live} lists client 1`)
      expect((error as StoreCorruptError).suggestion).to.equal(`remove the id with: redis-cli -h 127.0.0.1 -p ${server.port} -n 0 ZREM '${store.keys.live}' 1 (or restore the record)`)
    })

    it('a key of the hive overwritten by another tool (wrong type, a counter that is not a number) is a StoreCorruptError whose hint lists this hive\'s keys', async () => {
      const store = await openStore()
      await store.add({api_key: 'k1'})
      const pattern = `redis-cli -h 127.0.0.1 -p ${server.port} -n 0 --scan --pattern '${store.keys.base}*'`
      await observer.del(store.keys.index)
      await observer.set(store.keys.index, 'not a hash')
      const wrongType = await failure(store.add({api_key: 'k2'}))
      expect(wrongType).to.be.instanceOf(StoreCorruptError)
      expect(wrongType.message).to.contain('WRONGTYPE')
      expect((wrongType as StoreCorruptError).suggestion).to.contain(pattern)
      await observer.del(store.keys.index)
      await observer.set(store.keys.lastId, 'abc')
      const counter = await failure(store.add({api_key: 'k3'}))
      expect(counter).to.be.instanceOf(StoreCorruptError)
      expect(counter.message).to.match(/the counter .*last_id does not hold a whole number/)
      expect(counter.message).not.to.match(/script|@user_script/)
      expect((counter as StoreCorruptError).suggestion).to.contain(pattern)
    })

    it('a write on a hive with a damaged key changes nothing at all, and names the key (Redis does not undo a script\'s earlier writes)', async () => {
      const store = await openStore()
      await store.add({api_key: 'k1', password: 'p1'})
      await store.add({api_key: 'k2'})
      const {keys} = store
      const snapshot = async () => {
        const names = (await keysOf(observer, keys.base)).sort()
        return Promise.all(names.map(async (name) => [name, (await observer.dumpBuffer(name))?.toString('hex')]))
      }
      const writes: Array<[string, () => Promise<unknown>]> = [
        ['add', () => store.add({api_key: 'k-new'})],
        ['put', () => store.put(buildClient(7, {api_key: 'k7'}))],
        ['putMany', () => store.putMany([buildClient(1, {api_key: 'k1', name: 'renamed'}), buildClient(3, {api_key: 'k3'}), buildClient(4, {api_key: 'k4'})])],
        ['update', () => store.update(1, {name: 'renamed'})],
        ['revoke', () => store.revoke(1)],
        ['reserveIds', () => store.reserveIds(50)],
        ['clear', () => store.clear()],
      ]
      const damages: Array<[string, string, () => Promise<unknown>, RegExp]> = [
        ['the live set is a string', keys.live, () => observer.set(keys.live, 'junk'), /the key .*live holds a string where this hive keeps a zset/],
        ['the id set is a string', keys.ids, () => observer.set(keys.ids, 'junk'), /the key .*ids holds a string where this hive keeps a zset/],
        ['the index is a list', keys.index, () => observer.rpush(keys.index, 'junk'), /the key .*index holds a list where this hive keeps a hash/],
        ['the meta key is a string', keys.meta, () => observer.set(keys.meta, 'junk'), /the key .*meta holds a string where this hive keeps a hash/],
        ['the revision is not a number', keys.revision, () => observer.set(keys.revision, 'abc'), /the counter .*revision does not hold a whole number/],
        ['the id counter has a leading zero (INCR refuses it)', keys.lastId, () => observer.set(keys.lastId, '02'), /the counter .*last_id does not hold a whole number/],
        ['the id counter is a hash', keys.lastId, () => observer.hset(keys.lastId, 'a', '1'), /the key .*last_id holds a hash where this hive keeps a string/],
      ]
      for (const [damage, key, inflict, message] of damages) {
        const saved = await observer.dumpBuffer(key)
        await observer.del(key)
        await inflict()
        const before = await snapshot()
        for (const [name, write] of writes) {
          const error = await failure(write())
          expect(error, `${name} with ${damage}`).to.be.instanceOf(StoreCorruptError)
          expect(error.message, `${name} with ${damage}`).to.match(message).and.to.contain('Nothing was written').and.not.to.match(/script|@user_script/)
          expect(await snapshot(), `${name} with ${damage}`).to.deep.equal(before)
        }
        await observer.del(key)
        if (saved) await observer.restore(key, 0, saved)
      }
      // A record key of another type, met by a batch after records it would already have written.
      await observer.set(keys.client(4), 'junk')
      const before = await snapshot()
      const error = await failure(store.putMany([buildClient(1, {api_key: 'k1', name: 'renamed'}), buildClient(3, {api_key: 'k3'}), buildClient(4, {api_key: 'k4'})]))
      expect(error).to.be.instanceOf(StoreCorruptError)
      expect(error.message).to.match(/the key .*client:4 holds a string where this hive keeps a hash/)
      expect(await snapshot()).to.deep.equal(before)
      await observer.del(keys.client(4))
      // Repaired, every write works again.
      await store.putMany([buildClient(3, {api_key: 'k3'})])
      expect((await store.get(3))?.api_key).to.equal('k3')
    })

    it('an ACL user named without a password: "no password was given for user …", not "wrong password"', async () => {
      const user = `named-${uniquePrefix().replaceAll(':', '')}`
      await observer.call('ACL', 'SETUSER', user, 'on', '>named-pw', '~*', '+@all')
      try {
        const error = await failure(createStore({username: user}).open())
        expect(error).to.be.instanceOf(StoreUnavailableError)
        expect(error.message).to.equal(`Redis at 127.0.0.1:${server.port}: authentication failed (no password was given for user "${user}")`)
        const wrong = await failure(createStore({username: user, password: 'not-it'}).open())
        expect(wrong.message).to.equal(`Redis at 127.0.0.1:${server.port}: authentication failed (wrong password for user "${user}", or the user is disabled)`)
      } finally {
        await observer.call('ACL', 'DELUSER', user)
      }
    })

    it('a connection reset: before any reply it may be a TLS port (said so); once connected it is a lost connection, with no TLS advice', async () => {
      const {RedisConnection} = await import('../../../src/plugins/redis/connection.js')
      const {resolveTarget} = await import('../../../src/plugins/redis/options.js')
      const reset = () => Object.assign(new Error('read ECONNRESET'), {code: 'ECONNRESET'})
      const connection = new RedisConnection({...resolveTarget({port: server.port, keyPrefix: 'x:'}), reconnect: false}, {reconnect: false, commandTimeoutMs: 2000})
      try {
        expect(connection.translate(reset(), 'connect').message).to.contain('if the server requires TLS')
        await connection.connect()
        const lost = connection.translate(reset(), 'read')
        expect(lost.message).to.equal(`Redis at 127.0.0.1:${server.port}: connection lost (ECONNRESET)`)
        expect(connection.translate(reset(), 'write').message).to.contain('the last write may or may not have been applied')
      } finally {
        await connection.close()
      }
    })

    it('a password without a user name on a server whose "default" user is disabled: says a user name is missing, not "none was given"', async () => {
      const own = await startRedisServer()
      const admin = new Redis({port: own.port})
      try {
        await admin.call('ACL', 'SETUSER', 'hive', 'on', '>hive-pw', '~*', '+@all')
        await admin.call('ACL', 'SETUSER', 'default', 'off')
        const error = await failure(new RedisClientStore({port: own.port, password: 'hive-pw', keyPrefix: 'x:'}).open())
        expect(error).to.be.instanceOf(StoreUnavailableError)
        expect(error.message).to.contain('a password was given without a user name').and.not.to.contain('none was given')
        expect((error as StoreUnavailableError).suggestion).to.contain('redis://USER@host:port/db')
        const named = new RedisClientStore({port: own.port, username: 'hive', password: 'hive-pw', keyPrefix: 'x:'})
        await named.open()
        await named.close()
      } finally {
        admin.disconnect()
        await own.stop()
      }
    })

    it('an ACL user refused a command inside a script: one line saying so and where the list of commands is, no script text', async () => {
      const user = `limited-${uniquePrefix().replaceAll(':', '')}`
      await observer.call('ACL', 'SETUSER', user, 'on', '>limited-pw', '~*', '+@all', '-zadd')
      try {
        const store = await openStore({username: user, password: 'limited-pw'})
        const error = await failure(store.add({api_key: 'k1'}))
        expect(error).to.be.instanceOf(StoreUnavailableError)
        expect(error.message).to.match(/the Redis user is not allowed to run one of the commands of hivemind-core's scripts \(NOPERM inside a script\)$/)
        expect(error.message).not.to.match(/@user_script|script: [0-9a-f]{40}/)
        expect((error as StoreUnavailableError).suggestion).to.contain('docs/redis.md')
      } finally {
        await observer.call('ACL', 'DELUSER', user)
      }
    })

    it('the credential lookup and list read exactly what get() reads: absent fields, hand-added fields, broken fields', async () => {
      const store = await openStore()
      await store.add({api_key: 'k-plain', password: null, crypto_key: 'c'.repeat(16), metadata: {room: 'hall'}})
      await store.add({api_key: 'k-extra', password: 'p'})
      // A field hivemind-core does not know, added by hand: it folds into metadata on every path.
      await observer.hset(store.keys.client(2), 'site', 'north')
      for (const [id, key] of [[1, 'k-plain'], [2, 'k-extra']] as const) expect(await store.getByApiKey(key)).to.deep.equal(await store.get(id))
      expect(await all(store.list())).to.deep.equal([await store.get(1), await store.get(2)])
      expect((await store.getByApiKey('k-extra'))?.metadata).to.deep.equal({site: 'north'})
      expect(await store.getByApiKey('k-plain')).to.include({password: null})
      // A client_id field deleted by hand: listing, get() and the credential lookup take the id the key names.
      await observer.hdel(store.keys.client(1), 'client_id')
      expect((await all(store.list())).map((record) => record.client_id)).to.deep.equal([1, 2])
      expect(await all(store.list())).to.deep.equal([await store.get(1), await store.get(2)])
      expect(await store.getByApiKey('k-plain')).to.deep.equal(await store.get(1)).and.to.include({client_id: 1})
      await observer.hset(store.keys.client(1), 'client_id', '1')

      await observer.hset(store.keys.client(1), 'last_seen', 'secret-looking')
      for (const read of [() => store.getByApiKey('k-plain'), () => all(store.list())]) {
        const error = await failure(read())
        expect(error).to.be.instanceOf(StoreCorruptError)
        expect(error.message).to.contain(store.keys.client(1)).and.to.contain('last_seen').and.not.to.contain('secret-looking')
      }

      // A record hash deleted by hand while the id sets still list it: named, not skipped.
      await observer.del(store.keys.client(1))
      const missing = await failure(all(store.list()))
      expect(missing).to.be.instanceOf(StoreCorruptError)
      expect(missing.message).to.contain(`${store.keys.client(1)} is missing`)
    })

    it('refuses a hive written by a newer key layout', async () => {
      const store = createStore()
      await observer.hset(store.keys.meta, 'layout', '99')
      const error = await failure(store.open())
      expect(error).to.be.instanceOf(StoreCorruptError)
      expect(error.message).to.contain('newer hivemind-core')
    })
  })

  describe('ids, revocation and the index', () => {
    it('revoke leaves a tombstone, drops the index entry, and "revoked" is never indexed', async () => {
      const store = await openStore()
      await store.add({api_key: 'k1', password: 'p1', crypto_key: 'c'.repeat(16), name: 'one'})
      await store.add({api_key: 'k2'})
      const tombstone = await store.revoke(1)
      expect(tombstone).to.include({client_id: 1, api_key: REVOKED_API_KEY, password: null, crypto_key: null, name: 'one'})
      expect(await observer.hgetall(store.keys.client(1))).to.include({api_key: REVOKED_API_KEY}).and.not.to.have.any.keys('password', 'crypto_key')
      expect(await observer.hgetall(store.keys.index)).to.deep.equal({k2: '2'})
      expect(await store.getByApiKey('k1')).to.equal(undefined)
      expect(await store.getByApiKey(REVOKED_API_KEY)).to.equal(undefined)
      // A tombstone stored with put is not indexed either.
      await store.put({...buildClient(7, {api_key: REVOKED_API_KEY, name: 'old'})})
      expect(await observer.hexists(store.keys.index, REVOKED_API_KEY)).to.equal(0)
      expect(await store.count()).to.equal(1)
      expect(await store.count({includeRevoked: true})).to.equal(3)
      expect((await all(store.list())).map((record) => record.client_id)).to.deep.equal([2])
      expect((await all(store.list({includeRevoked: true}))).map((record) => record.client_id)).to.deep.equal([1, 2, 7])
      // The revoked key is free again.
      expect((await store.add({api_key: 'k1'})).client_id).to.equal(8)
      await expectConsistent(observer, store)
    })

    it('the counter never reuses ids, and put advances it past the id it stores', async () => {
      const store = await openStore()
      for (const key of ['a', 'b', 'c']) await store.add({api_key: key})
      await store.revoke(3)
      expect((await store.add({api_key: 'd'})).client_id).to.equal(4)
      await store.put(buildClient(50, {api_key: 'fifty'}))
      expect(await observer.get(store.keys.lastId)).to.equal('50')
      await store.put(buildClient(10, {api_key: 'ten'}))
      expect(await observer.get(store.keys.lastId)).to.equal('50')
      expect((await store.add({api_key: 'e'})).client_id).to.equal(51)
      // Even a counter reset by hand never hands out a taken id.
      await observer.set(store.keys.lastId, '0')
      expect((await store.add({api_key: 'f'})).client_id).to.equal(52)
      await expectConsistent(observer, store)
    })

    it('a duplicate live access key is rejected inside the script, naming the holder; nothing is written', async () => {
      const store = await openStore()
      await store.add({api_key: 'taken'})
      await store.add({api_key: 'other'})
      const revision = await store.revision()
      for (const attempt of [store.add({api_key: 'taken'}), store.put(buildClient(9, {api_key: 'taken'})), store.update(2, {api_key: 'taken'})]) {
        const error = await failure(attempt)
        expect(error).to.be.instanceOf(DuplicateApiKeyError)
        expect((error as DuplicateApiKeyError).existingClientId).to.equal(1)
      }
      expect(await store.revision()).to.equal(revision)
      expect(await store.count({includeRevoked: true})).to.equal(2)
      // Re-storing a client with its own key is not a duplicate.
      await store.put({...(await store.get(1))!, name: 'renamed'})
      expect(await store.get(1)).to.include({name: 'renamed', api_key: 'taken'})
      await expectConsistent(observer, store)
    })

    it('update changes only the given fields, moves the index with the key, and clears nulls', async () => {
      const store = await openStore()
      await store.add({api_key: 'old-key', password: 'pw', crypto_key: 'c'.repeat(16), name: 'n'})
      const updated = await store.update(1, {api_key: 'new-key', crypto_key: null, allowed_types: ['a:b']})
      expect(updated).to.include({api_key: 'new-key', password: 'pw', crypto_key: null, name: 'n'})
      expect(updated.allowed_types).to.deep.equal(['a:b'])
      expect(await observer.hgetall(store.keys.index)).to.deep.equal({'new-key': '1'})
      expect(await observer.hexists(store.keys.client(1), 'crypto_key')).to.equal(0)
      expect(await failure(store.update(99, {name: 'x'}))).to.have.property('code', 'CLIENT_NOT_FOUND')
      expect(await failure(store.revoke(99))).to.have.property('code', 'CLIENT_NOT_FOUND')
    })

    it('concurrent updates of different fields from two processes both survive', async () => {
      const store = await openStore()
      const other = await sameHive(store)
      await store.add({api_key: 'k'})
      await Promise.all([store.update(1, {name: 'from-a'}), other.update(1, {description: 'from-b'}), store.update(1, {is_admin: true})])
      expect(await store.get(1)).to.include({name: 'from-a', description: 'from-b', is_admin: true})
    })

    it('putMany takes a large batch (10,000 records) in one script', async () => {
      const store = await openStore()
      await store.putMany(Array.from({length: 10_000}, (_, index) => buildClient(index + 1, {api_key: `bulk-${index + 1}`, name: `n${index + 1}`})))
      expect(await store.count()).to.equal(10_000)
      expect(await store.getByApiKey('bulk-9999')).to.include({client_id: 9999, name: 'n9999'})
    })

    it('putMany is all or nothing, checking keys as if stored one after the other', async () => {
      const store = await openStore()
      await store.add({api_key: 'a'})
      const before = await store.revision()
      const error = await failure(store.putMany([buildClient(5, {api_key: 'x'}), buildClient(6, {api_key: 'y'}), buildClient(7, {api_key: 'x'})]))
      expect(error).to.be.instanceOf(DuplicateApiKeyError)
      expect((error as DuplicateApiKeyError).existingClientId).to.equal(5)
      expect(await store.revision()).to.equal(before)
      expect(await store.count({includeRevoked: true})).to.equal(1)
      // Giving client 1 a new key frees its old one for a later record of the same batch.
      await store.putMany([buildClient(1, {api_key: 'a2'}), buildClient(2, {api_key: 'a'})])
      expect((await store.getByApiKey('a'))?.client_id).to.equal(2)
      expect((await store.getByApiKey('a2'))?.client_id).to.equal(1)
      await expectConsistent(observer, store)
    })
  })

  describe('reads', () => {
    it('getByApiKey costs one round trip: one EVALSHA/EVAL, nothing else', async () => {
      const store = await openStore()
      await store.add({api_key: 'lookup-key'})
      for (let round = 0; round < 2; round++) {
        let found: ClientRecord | undefined
        const sent = await clientCommands(server, observer, async () => {
          found = await store.getByApiKey('lookup-key')
        })
        expect(found?.client_id).to.equal(1)
        expect(sent, JSON.stringify(sent)).to.have.length(1)
        expect(sent[0]![0]!.toLowerCase()).to.be.oneOf(['evalsha', 'eval'])
      }
      // The key "revoked" is refused without asking the server at all.
      expect(await clientCommands(server, observer, () => store.getByApiKey(REVOKED_API_KEY))).to.deep.equal([])
    })

    it('list streams in id order, one script call per page, and agrees with count', async () => {
      const store = await openStore()
      const total = PAGE_SIZE * 2 + 3
      await store.putMany(Array.from({length: total}, (_, i) => buildClient(total - i, {api_key: `key-${total - i}`})))
      for (let id = 3; id <= total; id += 7) await store.revoke(id)
      let listed: ClientRecord[] = []
      const sent = await clientCommands(server, observer, async () => {
        listed = await all(store.list({includeRevoked: true}))
      })
      expect(listed.map((record) => record.client_id)).to.deep.equal(Array.from({length: total}, (_, i) => i + 1))
      expect(sent.map((args) => args[0]!.toLowerCase())).to.satisfy((names: string[]) => names.every((name) => name === 'evalsha' || name === 'eval'))
      // Three pages, and the one after the last, asked for before the last was known to be short.
      expect(sent).to.have.length(4)
      const live = await all(store.list())
      expect(live.every((record) => record.api_key !== REVOKED_API_KEY)).to.equal(true)
      expect(live.map((record) => record.client_id)).to.deep.equal([...live.map((record) => record.client_id)].sort((a, b) => a - b))
      expect(await store.count()).to.equal(live.length)
      expect(await store.count({includeRevoked: true})).to.equal(total)
    })

    it('a page asked for ahead is used only if it starts where the previous one ended: a write in between makes it be asked for again', async () => {
      const store = await openStore()
      const total = PAGE_SIZE * 5 + 10
      await store.putMany(Array.from({length: total}, (_, i) => buildClient(i + 1, {api_key: `key-${i + 1}`})))
      const writer = await sameHive(store)
      const listing = store.list()[Symbol.asyncIterator]()
      const listed: number[] = [((await listing.next()).value as ClientRecord).client_id]
      // The first page is here, so pages 2 and 3 (ids up to 1500) were asked for and served. Now
      // ten clients of page 3 leave the live set: page 4, asked for next ("500 live ids after the
      // end of page 2"), would start after 1510 in today's view, while page 3 still ends at 1500.
      for (let id = 1101; id <= 1110; id++) await writer.revoke(id)
      for (let next = await listing.next(); !next.done; next = await listing.next()) listed.push(next.value.client_id)
      // Every id once, in order: nothing after 1500 skipped (ids 1101-1110 were listed before they were revoked).
      expect(listed).to.deep.equal(Array.from({length: total}, (_, i) => i + 1))
    })

    it('servers without cjson get plain pages, one at a time, holding the same records', async () => {
      const store = await openStore()
      const total = PAGE_SIZE * 2 + 3
      await store.putMany(Array.from({length: total}, (_, i) => buildClient(i + 1, {api_key: `key-${i + 1}`, metadata: {n: i}})))
      const asJson = await all(store.list())
      // What the store falls back to after the server rejects the JSON page for want of cjson.
      ;(store as unknown as {pagesAsJson: boolean}).pagesAsJson = false
      let plain: ClientRecord[] = []
      const sent = await clientCommands(server, observer, async () => {
        plain = await all(store.list())
      })
      expect(plain).to.deep.equal(asJson)
      expect(plain).to.have.length(total)
      expect(sent).to.have.length(3)
    })

    it('revision() is the write counter: +1 per write, unchanged by reads and refused writes', async () => {
      const store = await openStore()
      expect(await store.revision()).to.equal('0')
      const other = await sameHive(store)
      const steps: Array<() => Promise<unknown>> = [
        () => store.add({api_key: 'a'}),
        () => other.update(1, {name: 'b'}),
        () => store.put(buildClient(3, {api_key: 'c'})),
        () => other.putMany([buildClient(4, {api_key: 'd'}), buildClient(5, {api_key: 'e'})]),
        () => store.revoke(1),
      ]
      for (const [index, step] of steps.entries()) {
        await step()
        expect(await other.revision()).to.equal(String(index + 1))
      }
      await store.get(1)
      await store.getByApiKey('c')
      await all(store.list())
      await failure(store.add({api_key: 'c'}))
      expect(await store.revision()).to.equal(String(steps.length))
      expect(await observer.get(store.keys.revision)).to.equal(String(steps.length))
    })

    it('keyPrefix isolates hives on one server', async () => {
      const a = await openStore()
      const b = await openStore()
      await a.add({api_key: 'shared-key', name: 'in a'})
      await a.add({api_key: 'only-a'})
      expect(await b.count({includeRevoked: true})).to.equal(0)
      expect(await b.getByApiKey('shared-key')).to.equal(undefined)
      // The same access key may exist in both hives; ids start at 1 in each.
      expect((await b.add({api_key: 'shared-key', name: 'in b'})).client_id).to.equal(1)
      expect((await a.getByApiKey('shared-key'))?.name).to.equal('in a')
      expect((await b.getByApiKey('shared-key'))?.name).to.equal('in b')
      expect(await a.revision()).to.equal('2')
      expect(await b.revision()).to.equal('1')
      const keysA = await keysOf(observer, a.keys.base)
      const keysB = await keysOf(observer, b.keys.base)
      expect(keysA.filter((key) => keysB.includes(key))).to.deep.equal([])
    })

    it('probe: nothing there → exists false; clients → live count and highest id; no server → undefined', async () => {
      const store = await openStore()
      const options = {port: server.port, keyPrefix: store.keys.base.replace('{hive}', '')}
      expect(await probeRedis(options)).to.deep.include({exists: false, clients: 0})
      await store.add({api_key: 'a'})
      await store.add({api_key: 'b'})
      await store.revoke(2)
      expect(await probeRedis(options)).to.deep.equal({exists: true, clients: 1, lastId: 2, location: store.location})
      expect(await probeRedis({...options, port: await freePort()})).to.equal(undefined)
    })
  })

  describe('atomicity (R3)', () => {
    it('20 concurrent add() from 20 separately connected stores: 20 unique ids, index and records agree', async () => {
      const first = await openStore()
      const stores = [first]
      for (let i = 1; i < 20; i++) stores.push(await sameHive(first))
      const added = await Promise.all(stores.map((store, i) => store.add({api_key: `key-${i}`, name: `n${i}`})))
      expect(added.map((record) => record.client_id).sort((a, b) => a - b)).to.deep.equal(Array.from({length: 20}, (_, i) => i + 1))
      expect(await first.count()).to.equal(20)
      expect(await first.revision()).to.equal('20')
      for (const record of added) expect((await first.getByApiKey(record.api_key))?.client_id).to.equal(record.client_id)
      await expectConsistent(observer, first)
    })

    it('20 barrier-started processes adding at once: 20 unique ids, nothing lost', async () => {
      const prefix = uniquePrefix()
      const script = path.join(root, 'test/helpers/redis-add-child.ts')
      const children: ChildProcessWithoutNullStreams[] = []
      const outputs: string[] = []
      const exits: Array<Promise<number | null>> = []
      const ready: Array<Promise<void>> = []
      for (let i = 0; i < 20; i++) {
        const child = spawn(process.execPath, ['--import', 'tsx', script, String(server.port), prefix, `p${i}`], {cwd: root, stdio: 'pipe'})
        children.push(child)
        outputs[i] = ''
        ready.push(new Promise((resolve) => {
          child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
            outputs[i] += chunk
            if (outputs[i]!.includes('ready\n')) resolve()
          })
        }))
        child.stderr.setEncoding('utf8').on('data', (chunk: string) => (outputs[i] += chunk))
        exits.push(new Promise((resolve) => child.on('close', resolve)))
      }
      await Promise.all(ready)
      // The barrier: every child is connected and waiting; release them all at once.
      for (const child of children) child.stdin.write('go\n')
      const codes = await Promise.all(exits)
      expect(codes, outputs.join('\n')).to.deep.equal(Array.from({length: 20}, () => 0))
      const ids = outputs.map((output) => Number(/id (\d+)/.exec(output)?.[1])).sort((a, b) => a - b)
      expect(ids).to.deep.equal(Array.from({length: 20}, (_, i) => i + 1))
      const store = new RedisClientStore({port: server.port, keyPrefix: prefix})
      await store.open()
      opened.push(store)
      expect(await store.count()).to.equal(20)
      await expectConsistent(observer, store)
    })
  })

  describe('connection policy', () => {
    it('a read-only replica: a long-running writer (listen) is refused at open, naming where the primary is; a one-shot reader is not', async () => {
      const replica = await startRedisServer({args: ['--replicaof', '127.0.0.1', String(server.port)]})
      const writer = new RedisClientStore({port: replica.port, keyPrefix: uniquePrefix()}, {paths: {home: '', dataDir: '', configDir: '', stateDir: ''}, mode: 'write', longRunning: true, warn() {}})
      const reader = new RedisClientStore({port: replica.port, keyPrefix: uniquePrefix()}, {paths: {home: '', dataDir: '', configDir: '', stateDir: ''}, mode: 'read', warn() {}})
      try {
        const error = await failure(writer.open())
        expect(error).to.be.instanceOf(StoreUnavailableError)
        expect(error.message).to.equal(`Redis at 127.0.0.1:${replica.port} is a read-only replica: a listener writes (last_seen), so it needs the primary`)
        await reader.open()
        expect(await reader.count()).to.equal(0)
      } finally {
        await writer.close()
        await reader.close()
        await replica.stop()
      }
    })

    it('a port where something else listens (a web server) is "does not speak the Redis protocol", not an ioredis protocol error', async () => {
      const web = net.createServer((socket) => socket.once('data', () => socket.end('HTTP/1.1 400 Bad Request\r\n\r\n<html>')))
      await new Promise<void>((resolve) => web.listen(0, '127.0.0.1', resolve))
      const {port} = web.address() as net.AddressInfo
      const store = new RedisClientStore({port, keyPrefix: 'x:', connectTimeoutMs: 2000})
      try {
        const error = await failure(store.open())
        expect(error).to.be.instanceOf(StoreUnavailableError)
        expect(error.message).to.equal(`Redis at 127.0.0.1:${port} does not speak the Redis protocol (its first reply was not a Redis reply): is that the right port, or does the server expect TLS?`)
      } finally {
        await store.close()
        await new Promise((resolve) => web.close(resolve))
      }
    })

    it('a fail-fast store reports "store unavailable" when the server goes away, and stays down', async () => {
      const own = await startRedisServer()
      const store = new RedisClientStore({port: own.port, keyPrefix: 'x:'})
      try {
        await store.open()
        await store.add({api_key: 'k'})
        await own.stop()
        const error = await failure(store.getByApiKey('k'))
        expect(error).to.be.instanceOf(StoreUnavailableError)
        expect(error.message).to.contain(`127.0.0.1:${own.port}`)
        const restarted = await startRedisServer({port: own.port})
        try {
          expect(await failure(store.count())).to.be.instanceOf(StoreUnavailableError)
        } finally {
          await restarted.stop()
        }
      } finally {
        await store.close()
        await own.stop()
      }
    })

    it('a reconnecting store (listen) fails lookups during an outage, never "not found", and recovers', async () => {
      const own = await startRedisServer()
      const store = new RedisClientStore({port: own.port, keyPrefix: 'x:'}, undefined, {reconnect: true})
      let restarted: RedisServer | undefined
      try {
        await store.open()
        expect(store.reconnects).to.equal(true)
        await store.add({api_key: 'k'})
        await own.stop()
        for (let i = 0; i < 3; i++) {
          const error = await failure(store.getByApiKey('k'))
          expect(error).to.be.instanceOf(StoreUnavailableError)
          await new Promise((resolve) => setTimeout(resolve, 100))
        }
        restarted = await startRedisServer({port: own.port})
        const deadline = Date.now() + 10_000
        let count: number | undefined
        while (count === undefined && Date.now() < deadline) {
          count = await store.count().catch(() => undefined)
          if (count === undefined) await new Promise((resolve) => setTimeout(resolve, 50))
        }
        // The restarted server has no persistence: empty, but answering.
        expect(count).to.equal(0)
      } finally {
        await store.close()
        await restarted?.stop()
        await own.stop()
      }
    })

    it('a server that accepts but never answers: open() fails within the deadline and probe() gives up', async () => {
      const sockets: net.Socket[] = []
      const silent = net.createServer((socket) => sockets.push(socket))
      await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
      const {port} = silent.address() as net.AddressInfo
      try {
        const started = performance.now()
        const error = await failure(new RedisClientStore({port, keyPrefix: 'x:'}).open())
        // R7's bound: a command against an unusable server ends within 3 s.
        const ms = Math.round(performance.now() - started)
        expect(ms).to.be.below(3000)
        console.log(`      (silent server: open() failed after ${ms} ms)`)
        expect(error).to.be.instanceOf(StoreUnavailableError)
        expect(error.message).to.contain(`127.0.0.1:${port}`)
        expect(await probeRedis({port, keyPrefix: 'x:'})).to.equal(undefined)
      } finally {
        for (const socket of sockets) socket.destroy()
        silent.close()
      }
    })

    it('a bulk write gets a deadline that grows with its records; other commands keep the configured one', async () => {
      const store = await openStore({commandTimeoutMs: 300})
      const records = Array.from({length: 20_000}, (_, i) => buildClient(i + 1, {api_key: `bulk-key-${i}`, name: `bulk ${i}`}))
      // A script this connection already ran is sent by its hash; a server that lost it (restart,
      // SCRIPT FLUSH) answers NOSCRIPT and ioredis sends it again: the longer deadline must hold
      // for that second send too.
      await store.putMany(records.slice(0, 1))
      await observer.script('FLUSH')
      const started = performance.now()
      await store.putMany(records)
      const ms = Math.round(performance.now() - started)
      console.log(`      (putMany of ${records.length} records with a 300 ms command deadline: ${ms} ms)`)
      // Otherwise this test would prove nothing about the deadline.
      expect(ms, 'the write outlasts the plain deadline').to.be.above(300)
      expect(await store.count()).to.equal(records.length)
      expect((await store.getByApiKey('bulk-key-19999'))?.client_id).to.equal(20_000)

      // Back to 300 ms: a lookup while another client's script keeps the server busy fails.
      const error = await failureWhileBusy(() => store.getByApiKey('bulk-key-1'))
      expect(error).to.be.instanceOf(StoreUnavailableError)
      expect(error.message).to.equal(`Redis at 127.0.0.1:${server.port} did not answer within 300 ms`)
    })

    it('a bulk write that outlasts even its longer deadline says the server may still apply it', async () => {
      const store = await openStore({commandTimeoutMs: 300})
      const other = await sameHive(store)
      await store.add({api_key: 'first'})
      // Each attempt writes new records, so the last one's are those the server got while busy.
      let attempt = 0
      let records: ClientRecord[] = []
      const error = await failureWhileBusy(() => {
        attempt++
        records = [buildClient(attempt * 10, {api_key: `second-${attempt}`}), buildClient(attempt * 10 + 1, {api_key: `third-${attempt}`})]
        return store.putMany(records)
      })
      expect(error).to.be.instanceOf(StoreUnavailableError)
      expect(error.message).to.equal(`Redis at 127.0.0.1:${server.port} did not answer within 302 ms; the server may still apply the write`)
      expect((error as HivemindError).suggestion).to.match(/commandTimeoutMs/)
      // It did: the script was queued behind the busy one.
      expect((await other.get(records[1]!.client_id))?.api_key).to.equal(records[1]!.api_key)
    })

    it('a closed store refuses work; close() is idempotent', async () => {
      const store = await openStore()
      await store.close()
      await store.close()
      expect(await failure(store.count())).to.be.instanceOf(HivemindError).and.have.property('code', 'STORE_CLOSED')
    })
  })

  describe('TLS', () => {
    let pki: TestPki | undefined
    let tlsServer: RedisServer | undefined
    const password = `tls-pw-${process.pid}`

    before(async function () {
      try {
        pki = createTestPki()
        tlsServer = await startRedisServer({tls: {cert: pki.serverCert, key: pki.serverKey, ca: pki.ca}, password})
      } catch (error) {
        // openssl missing, or a redis-server built without TLS: say so instead of failing.
        console.warn(`    (TLS tests skipped: ${(error as Error).message.split('\n')[0]})`)
        this.skip()
      }
    })

    after(async () => {
      await tlsServer?.stop()
      pki?.cleanup()
    })

    it('a server that requires client certificates: none given, or a key not of the certificate, each said in words (no OpenSSL text); the right pair connects', async () => {
      const mutual = await startRedisServer({tls: {cert: pki!.serverCert, key: pki!.serverKey, ca: pki!.ca}, args: ['--tls-auth-clients', 'yes']})
      try {
        const base = {port: mutual.port, tls: true, keyPrefix: 'x:', tlsCa: pki!.ca}
        const none = await failure(new RedisClientStore(base).open())
        expect(none.message).to.equal(`Redis at 127.0.0.1:${mutual.port}: TLS handshake failed: the server requires a client certificate, and none was given`)
        const mismatched = await failure(new RedisClientStore({...base, tlsCert: pki!.serverCert, tlsKey: pki!.otherCaKey}).open())
        expect(mismatched.message).to.equal(`Redis at 127.0.0.1:${mutual.port}: the TLS client key (database.redis.tlsKey) does not belong to the client certificate (database.redis.tlsCert)`)
        for (const error of [none, mismatched]) expect(error.message).not.to.match(/openssl|\.c:\d+/)
        // The CA signed the server's certificate; presented by the client, it is a valid client certificate.
        const good = new RedisClientStore({...base, tlsCert: pki!.serverCert, tlsKey: pki!.serverKey})
        await good.open()
        await good.close()
      } finally {
        await mutual.stop()
      }
    })

    it('connects with the right CA (rediss:// or tls: true)', async () => {
      for (const options of [{url: `rediss://127.0.0.1:${tlsServer!.port}/0`}, {port: tlsServer!.port, tls: true}]) {
        const store = new RedisClientStore({...options, password, keyPrefix: uniquePrefix(), tlsCa: pki!.ca})
        await store.open()
        opened.push(store)
        expect(store.location).to.match(/^rediss:\/\//)
        await store.add({api_key: 'k'})
        expect(await store.count()).to.equal(1)
      }
    })

    it('a bad CA is a clear certificate error (never just "Connection is closed")', async () => {
      const started = performance.now()
      const error = await failure(new RedisClientStore({port: tlsServer!.port, tls: true, password, keyPrefix: 'x:', tlsCa: pki!.otherCa}).open())
      expect(performance.now() - started).to.be.below(2000)
      expect(error).to.be.instanceOf(StoreUnavailableError)
      expect(error.message).to.match(/TLS handshake failed: .*certificate/).and.to.contain(`127.0.0.1:${tlsServer!.port}`)
      expect(error.message).not.to.contain('Connection is closed').and.not.to.contain(password)
    })

    it('a tlsCa / tlsCert / tlsKey file that holds no PEM block of its kind is named as such (node would skip such a CA silently)', async () => {
      const notPem = path.join(pki!.dir, 'not-pem.der')
      writeFileSync(notPem, Buffer.from([0x30, 0x82, 0x01, 0x0a, 0x02]))
      for (const [option, holds] of [['tlsCa', 'a PEM certificate'], ['tlsCert', 'a PEM certificate'], ['tlsKey', 'a PEM private key']] as const) {
        const files = {tlsCa: pki!.ca, tlsCert: pki!.serverCert, tlsKey: pki!.serverKey, [option]: option === 'tlsCert' ? pki!.serverKey : notPem}
        const error = await failure((async () => new RedisClientStore({port: server.port, tls: true, keyPrefix: 'x:', ...files}).open())())
        expect(error).to.be.instanceOf(HivemindError)
        expect(error.message).to.equal(`database.redis.${option} ${files[option]} does not hold ${holds}`)
      }
    })

    it('plain Redis against a TLS port says the server closed the connection and hints at TLS', async () => {
      const error = await failure(new RedisClientStore({port: tlsServer!.port, password, keyPrefix: 'x:'}).open())
      expect(error.message).to.contain('closed the connection').and.to.contain('rediss://')
    })

    it('TLS against a plain port times out, and the hint says to use redis:// if that port has no TLS', async () => {
      const error = await failure(new RedisClientStore({port: server.port, tls: true, keyPrefix: 'x:', connectTimeoutMs: 500, tlsCa: pki!.ca}).open())
      expect(error).to.be.instanceOf(StoreUnavailableError)
      expect(error.message).to.contain('connecting took too long')
      expect((error as StoreUnavailableError).suggestion).to.contain('if that port does not use TLS, use redis:// (or tls: false)')
    })

    it('R8 through the CLI: a bad CA → non-zero exit within 2 s naming the certificate problem, no password', async () => {
      const sandbox = createSandbox()
      try {
        const env = {HIVEMIND_REDIS_TLS_CA: pki!.otherCa, HIVEMIND_REDIS_PASSWORD: password}
        const result = await timed(() => sandbox.run(['list-clients', '--db-backend', 'redis', '--redis-url', `rediss://127.0.0.1:${tlsServer!.port}/0`], {env}))
        expect(result.code).to.not.equal(0)
        expect(result.ms).to.be.below(2000)
        expect(result.stderr).to.match(/TLS handshake failed: .*certificate/)
        expect(result.stdout + result.stderr).not.to.contain(password).and.not.to.contain('    at ')
        console.log(`      (R8 TLS bad CA: exit ${result.code} after ${result.ms} ms)`)
        const good = await sandbox.run(['list-clients', '--json', '--quiet', '--db-backend', 'redis', '--redis-url', `rediss://127.0.0.1:${tlsServer!.port}/0`], {
          env: {...env, HIVEMIND_REDIS_TLS_CA: pki!.ca},
        })
        expect(good.code, good.stderr).to.equal(0)
      } finally {
        sandbox.cleanup()
      }
    })

    it('--redis-tls with --redis-host/--redis-port connects over TLS (--no-redis-tls does not), and so does --to-redis-tls for migrate-db', async () => {
      const sandbox = createSandbox()
      try {
        const env = {HIVEMIND_REDIS_TLS_CA: pki!.ca, HIVEMIND_REDIS_PASSWORD: password}
        const address = ['--redis-host', '127.0.0.1', '--redis-port', String(tlsServer!.port)]
        const added = await sandbox.run(['add-client', '--name', 'kitchen', '--quiet', '--db-backend', 'redis', ...address, '--redis-tls', '--db-option', 'keyPrefix=tlsflag:'], {env})
        expect(added.code, added.stderr).to.equal(0)
        const plain = await sandbox.run(['list-clients', '--quiet', '--db-backend', 'redis', ...address, '--no-redis-tls', '--db-option', 'keyPrefix=tlsflag:'], {env})
        expect(plain.code).to.equal(1)
        expect(plain.stderr).to.contain('use rediss://')
        const migrated = await sandbox.run(['migrate-db', '--from', 'redis', '--from-redis-host', '127.0.0.1', '--from-redis-port', String(tlsServer!.port), '--from-redis-tls', '--from-option', 'keyPrefix=tlsflag:', '--to', 'json', '--to-path', path.join(sandbox.home, 'out.json'), '--quiet', '--json'], {env})
        expect(migrated.code, migrated.stderr).to.equal(0)
        expect(JSON.parse(migrated.stdout)).to.deep.include({copied: 1, verified: true})
      } finally {
        sandbox.cleanup()
      }
    })
  })

  describe('through the built CLI', () => {
    let sandbox: CliSandbox

    before(function () {
      if (!existsSync(path.join(root, 'dist/plugins/redis/index.js'))) {
        throw new Error('dist/ is missing the redis backend: run `npm run build` first')
      }
    })

    beforeEach(() => {
      sandbox = createSandbox()
    })

    afterEach(() => sandbox.cleanup())

    it('warns (once per command) when the server persists nothing, and not when it does', async () => {
      const db = ['--db-backend', 'redis', '--redis-url', server.url, '--quiet']
      const env = {HIVEMIND_REDIS_KEY_PREFIX: uniquePrefix()}
      // The test server runs with --save '' --appendonly no.
      const bare = await sandbox.run(['add-client', '--name', 'a', ...db], {env})
      expect(bare.code, bare.stderr).to.equal(0)
      const warnings = bare.stderr.split('\n').filter((line) => line.includes('persists nothing'))
      expect(warnings).to.have.length(1)
      expect(warnings[0]).to.contain(`127.0.0.1:${server.port}`).and.to.contain('appendonly yes')
      const persisting = await startRedisServer({args: ['--appendonly', 'yes']})
      try {
        const safe = await sandbox.run(['add-client', '--name', 'b', '--db-backend', 'redis', '--redis-url', persisting.url, '--quiet'], {env})
        expect(safe.code, safe.stderr).to.equal(0)
        expect(safe.stderr).not.to.contain('persists nothing')
      } finally {
        await persisting.stop()
      }
    })

    it('import-clients writes a 20k-client file in one script, past the plain command deadline', async () => {
      const prefix = uniquePrefix()
      const file = path.join(sandbox.root, 'clients.json')
      writeFileSync(file, toUpstreamJson(Array.from({length: 20_000}, (_, i) => buildClient(i + 1, {api_key: `imported-${i}`, name: `satellite ${i}`}))))
      // The one putMany script of 20k clients takes well over 300 ms (1.5 s and more on the
      // development machine); without the longer deadline of a bulk write, the import fails.
      const started = performance.now()
      const imported = await sandbox.run(['import-clients', file, '--db-backend', 'redis', '--redis-url', server.url, '--quiet'], {
        env: {HIVEMIND_REDIS_KEY_PREFIX: prefix, HIVEMIND_REDIS_COMMAND_TIMEOUT_MS: '300'},
      })
      console.log(`      (import-clients of 20000 clients with a 300 ms command deadline: ${Math.round(performance.now() - started)} ms)`)
      expect(imported.code, imported.stderr).to.equal(0)
      expect(await observer.zcard(`${prefix}{hive}live`)).to.equal(20_000)
      expect(await observer.hget(`${prefix}{hive}index`, 'imported-19999')).to.equal('20000')
    })

    it('add-client, list-clients and delete-client work end to end with --redis-url', async () => {
      const prefix = uniquePrefix()
      const db = ['--db-backend', 'redis', '--redis-url', server.url]
      const env = {HIVEMIND_REDIS_KEY_PREFIX: prefix}
      const added = await sandbox.run(['add-client', '--name', 'kitchen', '--json', ...db], {env})
      expect(added.code, added.stderr).to.equal(0)
      expect(added.stderr).to.contain(`Database: redis redis://127.0.0.1:${server.port}/0 prefix ${prefix}`)
      const record = JSON.parse(added.stdout) as {client_id: number; api_key: string}
      expect(record.client_id).to.equal(1)
      expect(await observer.hget(`${prefix}{hive}client:1`, 'name')).to.equal('kitchen')
      expect(await observer.hget(`${prefix}{hive}index`, record.api_key)).to.equal('1')

      const duplicate = await sandbox.run(['add-client', '--access-key', record.api_key, ...db], {env})
      expect(duplicate.code).to.equal(1)
      expect(duplicate.stderr).to.contain('already used by client 1')

      await sandbox.run(['add-client', '--name', 'bridge', '--admin', '--quiet', ...db], {env})
      const listed = await sandbox.run(['list-clients', '--json', '--quiet', ...db], {env})
      expect(listed.code, listed.stderr).to.equal(0)
      expect((JSON.parse(listed.stdout) as ClientRecord[]).map((client) => [client.client_id, client.name, client.is_admin])).to.deep.equal([
        [1, 'kitchen', false],
        [2, 'bridge', true],
      ])

      const deleted = await sandbox.run(['delete-client', '1', '--yes', '--quiet', ...db], {env})
      expect(deleted.code, deleted.stderr).to.equal(0)
      const after = await sandbox.run(['list-clients', '--all', '--json', '--quiet', ...db], {env})
      expect((JSON.parse(after.stdout) as ClientRecord[]).map((client) => [client.client_id, client.api_key === REVOKED_API_KEY])).to.deep.equal([
        [1, true],
        [2, false],
      ])
      expect(await observer.hexists(`${prefix}{hive}index`, record.api_key)).to.equal(0)
    })

    it('20 add-client processes at once (R3 through the CLI): all exit 0, 20 unique ids', async () => {
      const prefix = uniquePrefix()
      const db = ['--db-backend', 'redis', '--redis-port', String(server.port), '--json', '--quiet']
      const results = await Promise.all(Array.from({length: 20}, (_, i) => sandbox.run(['add-client', '--name', `c${i}`, ...db], {env: {HIVEMIND_REDIS_KEY_PREFIX: prefix}})))
      expect(results.map((result) => result.code), results.map((result) => result.stderr + result.stdout).join('\n')).to.deep.equal(Array.from({length: 20}, () => 0))
      const ids = results.map((result) => (JSON.parse(result.stdout) as {client_id: number}).client_id).sort((a, b) => a - b)
      expect(ids).to.deep.equal(Array.from({length: 20}, (_, i) => i + 1))
      const store = new RedisClientStore({port: server.port, keyPrefix: prefix})
      await store.open()
      opened.push(store)
      await expectConsistent(observer, store)
    })

    it('R7: Redis down when a command starts → non-zero exit within 3 s naming host:port, no stack trace', async () => {
      const dead = await freePort()
      for (const command of [['list-clients'], ['add-client', '--name', 'x']]) {
        const result = await timed(() => sandbox.run([...command, '--db-backend', 'redis', '--redis-port', String(dead)]))
        expect(result.code, result.stderr).to.not.equal(0)
        expect(result.ms, `${command[0]} took ${result.ms} ms`).to.be.below(3000)
        expect(result.stderr).to.contain(`127.0.0.1:${dead}`).and.to.contain('not reachable')
        expect(result.stderr + result.stdout).not.to.contain('    at ')
        console.log(`      (R7 ${command[0]}: exit ${result.code} after ${result.ms} ms)`)
      }
    })

    describe('R8: wrong or missing password', () => {
      let secured: RedisServer
      const password = `S3cret-${process.pid}-${Date.now()}`
      const wrong = `Wr0ng-${process.pid}-${Date.now()}`

      before(async () => {
        secured = await startRedisServer({password})
      })

      after(async () => secured?.stop())

      const cases: Array<[string, string[], NodeJS.ProcessEnv]> = [
        ['missing password', [], {}],
        ['wrong password in HIVEMIND_REDIS_PASSWORD', [], {HIVEMIND_REDIS_PASSWORD: wrong}],
        ['wrong password in --redis-password', ['--redis-password', wrong], {}],
        ['wrong password in --redis-url', ['--redis-url', `redis://:${wrong}@127.0.0.1:PORT/0`], {}],
        ['wrong password, HIVEMIND_DEBUG=1 (stacks shown)', [], {HIVEMIND_REDIS_PASSWORD: wrong, HIVEMIND_DEBUG: '1'}],
      ]
      for (const [label, flags, env] of cases) {
        it(`${label} → non-zero exit within 2 s, "authentication failed", no password anywhere`, async () => {
          for (const command of [['list-clients'], ['add-client', '--name', 'x']]) {
            const args = [...command, '--db-backend', 'redis', '--redis-port', String(secured.port), ...flags.map((flag) => flag.replace('PORT', String(secured.port)))]
            const result = await timed(() => sandbox.run(args, {env}))
            expect(result.code, result.stderr).to.not.equal(0)
            expect(result.ms, `${label}: ${command[0]} took ${result.ms} ms`).to.be.below(2000)
            expect(result.stderr).to.contain('authentication failed').and.to.contain(`127.0.0.1:${secured.port}`)
            const output = result.stdout + result.stderr
            expect(output).not.to.contain(password)
            expect(output).not.to.contain(wrong)
            if (!env.HIVEMIND_DEBUG) expect(output).not.to.contain('    at ')
            console.log(`      (R8 ${label}, ${command[0]}: exit ${result.code} after ${result.ms} ms)`)
          }
        })
      }

      it('the right password (env) works', async () => {
        const result = await sandbox.run(['list-clients', '--json', '--quiet', '--db-backend', 'redis', '--redis-port', String(secured.port)], {env: {HIVEMIND_REDIS_PASSWORD: password}})
        expect(result.code, result.stderr).to.equal(0)
        expect(JSON.parse(result.stdout)).to.deep.equal([])
      })
    })
  })
})
