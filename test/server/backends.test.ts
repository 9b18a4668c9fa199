/**
 * R12, R13, R15 and R17 against every built-in backend: the listener runs on one store instance,
 * changes are made through ANOTHER instance of the same backend (as a second process would), and
 * hostile peers must not disturb an established satellite. Everything is logged at debug level and
 * searched for secrets at the end (R15).
 */
import {mkdtempSync, rmSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'

import {expect} from 'chai'
import WebSocket from 'ws'

import type {ClientStore} from '../../src/core/store.js'
import {jsonBackend} from '../../src/plugins/json/index.js'
import {redisBackend} from '../../src/plugins/redis/index.js'
import {sqliteBackend} from '../../src/plugins/sqlite/index.js'
import {DEFAULT_POLL_INTERVAL_MS} from '../../src/server/revision-poller.js'
import {HiveTestClient, hubUrl} from '../helpers/hive-client.js'
import {startHub, testContext, type TestHub} from '../helpers/hub.js'
import {type RedisServer, startRedisServer} from '../helpers/redis-server.js'

interface Backend {
  name: string
  /** Two independent store instances on the same data. */
  open(dir: string): Promise<[ClientStore, ClientStore]>
  cleanup?(): Promise<void>
}

let redis: RedisServer | undefined
const BACKENDS: Backend[] = [
  {
    name: 'sqlite',
    async open(dir) {
      const options = {path: path.join(dir, 'clients.db'), busyTimeoutMs: 5000}
      return [await sqliteBackend.create(options, testContext(dir)), await sqliteBackend.create(options, testContext(dir))]
    },
  },
  {
    name: 'json',
    async open(dir) {
      const options = {path: path.join(dir, 'clients.json'), lockStaleMs: 10_000, lockWaitMs: 10_000}
      return [await jsonBackend.create(options, testContext(dir)), await jsonBackend.create(options, testContext(dir))]
    },
  },
  {
    name: 'redis',
    async open(dir) {
      redis ??= await startRedisServer()
      const options = {url: redis.url, keyPrefix: `t${path.basename(dir)}:`}
      return [
        await redisBackend.create(options, {...testContext(dir), longRunning: true}),
        await redisBackend.create(options, testContext(dir)),
      ]
    },
  },
]

after(async () => {
  await redis?.stop()
})

for (const backend of BACKENDS) {
  describe(`listener on the ${backend.name} backend`, function () {
    this.timeout(60_000)
    let dir: string
    let served: ClientStore
    let cli: ClientStore
    let hub: TestHub
    const secrets: string[] = []
    const clients: HiveTestClient[] = []

    before(async () => {
      dir = mkdtempSync(path.join(os.tmpdir(), `hivemind-${backend.name}-`))
      ;[served, cli] = await backend.open(dir)
      await cli.open()
      await served.open()
      // The listener's own polling interval, as `listen` runs it.
      hub = await startHub(served, {pollIntervalMs: DEFAULT_POLL_INTERVAL_MS, maxPendingHandshakes: 20, maxPayload: 1024 * 1024})
    })

    afterEach(() => {
      for (const client of clients.splice(0)) client.close()
    })

    after(async () => {
      await hub?.stop()
      await served?.close()
      await cli?.close()
      // R15: nothing the listener logged at debug level holds a secret.
      const logs = hub?.logs.join('') ?? ''
      for (const secret of secrets) expect(logs, 'a secret was logged').not.to.contain(secret)
      rmSync(dir, {recursive: true, force: true})
    })

    const enrol = async (name: string) => {
      const suffix = Math.random().toString(16).slice(2, 10)
      const record = await cli.add({api_key: `key-${name}-${suffix}-0123456789`, password: `pw-${name}-${suffix}-abcdef`, crypto_key: `ck-${suffix}-1234`.slice(0, 16).padEnd(16, 'x'), name})
      secrets.push(record.api_key, record.password!, record.crypto_key!)
      return record
    }

    const connect = async (record: {api_key: string; password: string | null}) => {
      const client = await HiveTestClient.connect({port: hub.port, accessKey: record.api_key, password: record.password!})
      clients.push(client)
      return client
    }

    it('R13: a client added by another process authenticates within a second', async () => {
      const record = await enrol('newcomer')
      const start = Date.now()
      await connect(record)
      expect(Date.now() - start).to.be.at.most(1000)
    })

    it('R12: revocation by another process closes the live connection within a second; "revoked" never authenticates', async () => {
      const record = await enrol('doomed')
      const client = await connect(record)
      await cli.revoke(record.client_id)
      const start = Date.now()
      const closed = await client.waitClosed(5000)
      expect(Date.now() - start).to.be.at.most(1000)
      expect(closed.code).to.equal(1008)
      for (const key of [record.api_key, 'revoked']) {
        const again = await HiveTestClient.open({port: hub.port, accessKey: key})
        clients.push(again)
        expect((await again.waitClosed()).code).to.equal(1008)
        expect(again.frames).to.have.length(0)
      }
    })

    it('R17: hostile peers do not disturb an established satellite', async () => {
      const good = await enrol('steady')
      const steady = await connect(good)
      const victim = await enrol('victim')
      const hostile: WebSocket[] = []
      const open = (url: string) =>
        new Promise<WebSocket>((resolve) => {
          const socket = new WebSocket(url)
          socket.on('error', () => {})
          hostile.push(socket)
          socket.once('open', () => resolve(socket))
          socket.once('close', () => resolve(socket))
        })
      const closedCode = (socket: WebSocket) =>
        new Promise<number>((resolve) => {
          if (socket.readyState === WebSocket.CLOSED) resolve(-1)
          socket.once('close', (code) => resolve(code))
        })

      // Bad base64, no header.
      for (const url of [`ws://127.0.0.1:${hub.port}/?authorization=!!!`, `ws://127.0.0.1:${hub.port}/`]) {
        const socket = await open(url)
        expect(await closedCode(socket)).to.be.oneOf([1008, -1])
      }
      // A 10 MB frame (over maxPayload) from an authenticated peer, garbage JSON, wrong ciphertext.
      const big = await HiveTestClient.connect({port: hub.port, accessKey: victim.api_key, password: victim.password!})
      clients.push(big)
      big.socket.send(Buffer.alloc(10 * 1024 * 1024, 0x61))
      expect((await big.waitClosed()).code).to.equal(1009)
      const garbage = await HiveTestClient.connect({port: hub.port, accessKey: victim.api_key, password: victim.password!})
      clients.push(garbage)
      for (const frame of ['{not json', '[]', '{"ciphertext": "zz", "nonce": 1}', JSON.stringify({ciphertext: 'ab'.repeat(40), tag: 'cd'.repeat(16), nonce: 'ef'.repeat(16)}), 'null']) {
        garbage.socket.send(frame)
      }
      expect((await garbage.waitClosed()).code).to.equal(1008)
      // A flood of handshakes: three times the cap (20) in flight at once. Each flooding socket
      // is either served (it gets the clear hello) or told to retry (1013); never more than the cap.
      const outcomes = await Promise.all(
        Array.from({length: 60}, () =>
          new Promise<'served' | number>((resolve) => {
            const socket = new WebSocket(hubUrl(hub.port, victim.api_key))
            hostile.push(socket)
            socket.on('error', () => {})
            socket.once('message', () => resolve('served'))
            socket.once('close', (code) => resolve(code))
          }),
        ),
      )
      const served = outcomes.filter((outcome) => outcome === 'served').length
      expect(served).to.be.at.most(20)
      expect(outcomes.filter((outcome) => outcome === 1013).length).to.equal(60 - served)
      for (const socket of hostile) socket.terminate()

      // The established satellite is unaffected.
      hub.bus.onMessage = (message) => {
        if (message.data.marker === `still-${backend.name}`) hub.bus.reply(message, 'speak', {utterance: 'still here'})
      }
      steady.sendBus('recognizer_loop:utterance', {marker: `still-${backend.name}`})
      await steady.waitFor((f) => f.message.payload?.data?.utterance === 'still here')
      expect(steady.closed).to.equal(undefined)
      // And new satellites can still get in.
      await connect(good)
      for (const socket of hostile) socket.terminate()
    })

    it('writes last_seen for connected clients and flushes it when they leave', async () => {
      const record = await enrol('visitor')
      const client = await connect(record)
      client.close()
      await client.waitClosed()
      const deadline = Date.now() + 5000
      let seen = -1
      while (Date.now() < deadline && seen <= 0) {
        seen = (await cli.get(record.client_id))!.last_seen
        if (seen <= 0) await new Promise((resolve) => setTimeout(resolve, 100))
      }
      expect(seen).to.be.greaterThan(0)
    })
  })
}
