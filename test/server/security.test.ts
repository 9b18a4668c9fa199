/**
 * Unexpected access patterns against the real listener: a burst of bad keys from one address is
 * refused after the threshold, with one warning and one audit line, while a valid client still
 * completes its handshake; memory stays bounded.
 */
import {readFileSync} from 'node:fs'
import path from 'node:path'

import {expect} from 'chai'
import WebSocket from 'ws'

import {AuditTrail, FileAuditSink} from '../../src/audit/trail.js'
import type {ClientStore} from '../../src/core/store.js'
import {ListenerAudit} from '../../src/server/audit.js'
import {AuthFailureLimiter} from '../../src/server/auth-limiter.js'
import {HandshakeGate} from '../../src/server/handshake-gate.js'
import {HiveTestClient} from '../helpers/hive-client.js'
import {sqliteStore, startHub, type TestHub} from '../helpers/hub.js'

const KEY = '00112233445566778899aabbccddeeff'
const PASSWORD = 'ffeeddccbbaa99887766554433221100'

/** Opens a connection with a bad key and resolves with its close code (bounded). */
function badKeyAttempt(port: number, index: number): Promise<number> {
  return new Promise((resolve) => {
    const authorization = Buffer.from(`burst:bad-key-${index}`).toString('base64')
    const socket = new WebSocket(`ws://127.0.0.1:${port}/?authorization=${encodeURIComponent(authorization)}`)
    const timer = setTimeout(() => {
      socket.terminate()
      resolve(-1)
    }, 10_000)
    socket.on('error', () => {})
    socket.on('close', (code) => {
      clearTimeout(timer)
      resolve(code)
    })
  })
}

describe('listener under a burst of bad keys', function () {
  this.timeout(120_000)
  let db: {store: ClientStore; dir: string; cleanup(): Promise<void>}
  let hub: TestHub
  let auditFile: string

  before(async () => {
    db = await sqliteStore()
    await db.store.add({api_key: KEY, password: PASSWORD, name: 'kitchen'})
    auditFile = path.join(db.dir, 'audit.log')
    hub = await startHub(db.store, {
      logLevel: 'info',
      authLimiter: new AuthFailureLimiter({maxFailures: 10, coolOffMs: 60_000}),
      handshakeGate: new HandshakeGate({maxInFlight: 64, maxPerAddress: 4}),
      audit: new ListenerAudit(new AuditTrail([new FileAuditSink(auditFile)], 'listen')),
    })
  })

  after(async () => {
    await hub?.stop()
    await db?.cleanup()
  })

  it('200 bad-key connections: refused after the threshold, one warning, while a valid client (another address) completes its handshake', async () => {
    const heapBefore = process.memoryUsage().heapUsed
    // The valid satellite connects from 127.0.0.2 (another address, same machine) during the burst.
    const burst = Promise.all(Array.from({length: 200}, (_, index) => badKeyAttempt(hub.port, index)))
    const satellite = await HiveTestClient.connect({port: hub.port, localAddress: '127.0.0.2', accessKey: KEY, password: PASSWORD})
    const codes = await burst
    expect(satellite.serverHello?.payload.peer).to.match(/::/)
    satellite.close()

    // Every attempt was turned away (1008: bad key, or refused while blocked; 1013: gate busy), none hung.
    expect(codes.filter((code) => code === -1)).to.have.length(0)
    expect(codes.every((code) => code === 1008 || code === 1013)).to.equal(true)
    // The limiter stopped looking at keys after 10 failures: the rest were refused up front.
    const rejected = hub.logs.filter((line) => line.includes('"auth.rejected"'))
    expect(rejected.length).to.be.at.least(10).and.at.most(10 + 4)
    const warnings = hub.logs.filter((line) => line.includes('"auth.address_blocked"'))
    expect(warnings).to.have.length(1)
    expect(warnings[0]).to.contain('127.0.0.1')

    // A valid key from the blocked address is refused too, until the cooling-off ends.
    const blocked = await HiveTestClient.open({port: hub.port, accessKey: KEY})
    expect((await blocked.waitClosed()).code).to.equal(1008)

    // The audit trail has the failures up to the block and one rate_limited line, no keys.
    await new Promise((resolve) => setTimeout(resolve, 200))
    const lines = readFileSync(auditFile, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as {event: string})
    expect(lines.filter((line) => line.event === 'rate_limited')).to.have.length(1)
    expect(lines.filter((line) => line.event === 'auth_failure').length).to.be.at.least(9)
    expect(readFileSync(auditFile, 'utf8')).not.to.contain('bad-key-')

    // Bounded memory: 200 refused connections leave no lasting growth (generous bound, not timing).
    const heapAfter = process.memoryUsage().heapUsed
    expect(heapAfter - heapBefore).to.be.below(64 * 1024 * 1024)
  })
})

describe('listener handshake gate', function () {
  this.timeout(60_000)

  it('connections the gate refuses (1013) are logged once per address, with how many', async () => {
    const db = await sqliteStore()
    await db.store.add({api_key: KEY, password: PASSWORD, name: 'kitchen'})
    const hub = await startHub(db.store, {logLevel: 'info', handshakeGate: new HandshakeGate({maxInFlight: 64, maxPerAddress: 1})})
    const holders: HiveTestClient[] = []
    try {
      // One connection that never completes its handshake holds the address's only slot.
      holders.push(await HiveTestClient.open({port: hub.port, accessKey: KEY}))
      const codes = await Promise.all(Array.from({length: 10}, (_, index) => badKeyAttempt(hub.port, index)))
      expect(codes).to.deep.equal(Array.from({length: 10}, () => 1013))
      const refused = hub.logs.filter((line) => line.includes('"peer.refused"')).map((line) => JSON.parse(line) as Record<string, unknown>)
      expect(refused).to.have.length(1)
      expect(refused[0]).to.deep.include({level: 'warn', address: '127.0.0.1', reason: 'too many handshakes from this address', refused_since_last_line: 1})
    } finally {
      for (const holder of holders) holder.close()
      await hub.stop()
      await db.cleanup()
    }
  })
})

describe('listener under wrong crypto keys (legacy clients)', function () {
  this.timeout(60_000)

  it('each wrong key is an audited authentication failure, and the address is blocked after the threshold', async () => {
    const db = await sqliteStore()
    await db.store.add({api_key: 'legacy-key-0001', password: null, crypto_key: '0123456789abcdef', name: 'old'})
    const auditFile = path.join(db.dir, 'audit.log')
    const hub = await startHub(db.store, {
      logLevel: 'info',
      authLimiter: new AuthFailureLimiter({maxFailures: 3, coolOffMs: 60_000}),
      audit: new ListenerAudit(new AuditTrail([new FileAuditSink(auditFile)], 'listen')),
    })
    try {
      for (let attempt = 0; attempt < 5; attempt++) {
        const client = await HiveTestClient.open({port: hub.port, accessKey: 'legacy-key-0001', cryptoKey: `WRONG-key-${attempt}-xxxx`.slice(0, 16)})
        // Once the address is blocked, the connection is refused before any frame.
        const refused = await client.handshake().then(() => false, () => true)
        if (!refused) client.sendBus('recognizer_loop:utterance', {attempt})
        expect((await client.waitClosed()).code).to.equal(1008)
      }
      expect(hub.logs.filter((line) => line.includes('"auth.address_blocked"'))).to.have.length(1)
      await new Promise((resolve) => setTimeout(resolve, 200))
      const entries = readFileSync(auditFile, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as {event: string; details?: {reason?: string}})
      expect(entries.filter((entry) => entry.event === 'auth_failure' && entry.details?.reason === 'wrong crypto key')).to.have.length(2)
      expect(entries.filter((entry) => entry.event === 'rate_limited')).to.have.length(1)
      expect(readFileSync(auditFile, 'utf8')).not.to.contain('0123456789abcdef')
    } finally {
      await hub.stop()
      await db.cleanup()
    }
  })
})
