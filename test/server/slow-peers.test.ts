/**
 * Peers that connect and then send their upgrade request slowly, or never: the listener drops
 * them after `upgradeTimeoutMs` instead of Node's defaults (minutes), over plain TCP and over TLS,
 * while a satellite that completed its upgrade stays connected well past that time.
 */
import {readFileSync} from 'node:fs'
import net from 'node:net'
import tls from 'node:tls'

import {expect} from 'chai'

import type {ClientStore} from '../../src/core/store.js'
import {loadTlsMaterial} from '../../src/server/tls-files.js'
import {createTestPki, type TestPki} from '../helpers/certs.js'
import {HiveTestClient} from '../helpers/hive-client.js'
import {sqliteStore, startHub, type TestHub} from '../helpers/hub.js'

const KEY = '00112233445566778899aabbccddeeff'
const PASSWORD = 'ffeeddccbbaa99887766554433221100'
const UPGRADE_TIMEOUT_MS = 600

/** Resolves with how long `socket` stayed open, or -1 when it is still open after `limitMs`. */
function openFor(socket: net.Socket, limitMs: number): Promise<number> {
  const start = Date.now()
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      socket.destroy()
      resolve(-1)
    }, limitMs)
    socket.on('error', () => {})
    socket.on('close', () => {
      clearTimeout(timer)
      resolve(Date.now() - start)
    })
  })
}

/** Sends `text` one byte every `everyMs` until the socket closes. */
function dribble(socket: net.Socket, text: string, everyMs: number): void {
  let index = 0
  const timer = setInterval(() => {
    if (socket.destroyed || index >= text.length) return clearInterval(timer)
    socket.write(text[index++]!)
  }, everyMs)
  socket.on('close', () => clearInterval(timer))
}

describe('listener: peers slow to send their upgrade request', function () {
  this.timeout(60_000)
  // Far beyond the timeout, far below Node's defaults (60 s of headers checked every 30 s, 120 s of TLS handshake).
  const LIMIT_MS = 10_000
  let db: {store: ClientStore; dir: string; cleanup(): Promise<void>}
  let hub: TestHub

  before(async () => {
    db = await sqliteStore()
    await db.store.add({api_key: KEY, password: PASSWORD, name: 'kitchen'})
    hub = await startHub(db.store, {logLevel: 'info', upgradeTimeoutMs: UPGRADE_TIMEOUT_MS})
  })

  after(async () => {
    await hub?.stop()
    await db?.cleanup()
  })

  it('drops a peer that connects and sends nothing', async () => {
    const socket = net.connect(hub.port, '127.0.0.1')
    const lasted = await openFor(socket, LIMIT_MS)
    expect(lasted, 'still open').to.be.greaterThan(0)
    expect(lasted).to.be.at.least(UPGRADE_TIMEOUT_MS - 50)
  })

  it('drops a peer that sends its request a byte at a time', async () => {
    const socket = net.connect(hub.port, '127.0.0.1')
    // Each byte well inside any idle timeout: only a limit on the whole request stops it.
    dribble(socket, `GET /?authorization=x HTTP/1.1\r\nHost: 127.0.0.1\r\n${'X-Padding: a\r\n'.repeat(200)}\r\n`, 50)
    expect(await openFor(socket, LIMIT_MS), 'still open').to.be.greaterThan(0)
  })

  it('keeps a satellite that completed its upgrade connected long past the timeout', async () => {
    const client = await HiveTestClient.connect({port: hub.port, accessKey: KEY, password: PASSWORD})
    try {
      await new Promise((resolve) => setTimeout(resolve, UPGRADE_TIMEOUT_MS * 4))
      expect(client.closed, 'closed').to.equal(undefined)
      expect(hub.server.clients).to.equal(1)
    } finally {
      client.socket.close()
    }
  })

  describe('over TLS', () => {
    let pki: TestPki | undefined
    let tlsHub: TestHub | undefined

    before(async function () {
      try {
        pki = createTestPki()
      } catch (error) {
        console.warn(`    (TLS tests skipped, openssl failed: ${(error as Error).message.split('\n')[0]})`)
        this.skip()
      }
      tlsHub = await startHub(db.store, {logLevel: 'info', upgradeTimeoutMs: UPGRADE_TIMEOUT_MS, tls: loadTlsMaterial(pki!.serverCert, pki!.serverKey)})
    })

    after(async () => {
      await tlsHub?.stop()
      pki?.cleanup()
    })

    it('drops a peer that opens TCP to the TLS port and never starts the TLS handshake', async () => {
      const socket = net.connect(tlsHub!.port, '127.0.0.1')
      expect(await openFor(socket, LIMIT_MS), 'still open').to.be.greaterThan(0)
    })

    it('drops a peer that completes the TLS handshake and then sends nothing', async () => {
      const socket = tls.connect({port: tlsHub!.port, host: '127.0.0.1', ca: readFileSync(pki!.ca)})
      await new Promise<void>((resolve, reject) => {
        socket.once('secureConnect', resolve)
        socket.once('error', reject)
      })
      expect(await openFor(socket, LIMIT_MS), 'still open').to.be.greaterThan(0)
    })
  })
})
