/**
 * P8: last_seen writes are bounded by the interval, whatever the message rate and however often a
 * satellite reconnects; what is pending is written once the interval allows, and at shutdown. The
 * store is a real sqlite store; its writes are counted by wrapping `update`.
 */
import {expect} from 'chai'

import type {ClientStore} from '../../src/core/store.js'
import {HiveTestClient} from '../helpers/hive-client.js'
import {sqliteStore, startHub} from '../helpers/hub.js'

/** A sqlite store whose last_seen updates are recorded. */
async function countingStore() {
  const db = await sqliteStore()
  const updates: Array<{id: number; last_seen?: number}> = []
  const counting: ClientStore = Object.create(db.store) as ClientStore
  counting.update = async (id, patch) => {
    updates.push({id, ...patch})
    return db.store.update(id, patch)
  }
  return {db, counting, updates}
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

describe('listener last_seen (P8)', () => {
  it('writes once on connect, never per message, and what is pending at shutdown', async () => {
    const {db, counting, updates} = await countingStore()
    const record = await db.store.add({api_key: 'busy-key', password: 'busy-password'})
    const hub = await startHub(counting, {lastSeenIntervalMs: 60_000})
    let stopped = false
    try {
      const client = await HiveTestClient.connect({port: hub.port, accessKey: 'busy-key', password: 'busy-password'})
      for (let i = 0; i < 200; i++) client.sendBus('recognizer_loop:utterance', {n: i})
      await hub.bus.until(() => hub.bus.received.length === 200)
      expect(updates).to.have.length(1)
      const beforeClose = Date.now() / 1000
      client.close()
      await client.waitClosed()
      // Within the interval, the close writes nothing more...
      await sleep(500)
      expect(updates).to.have.length(1)
      // ...and the shutdown writes what is pending.
      await hub.stop()
      stopped = true
      expect(updates).to.have.length(2)
      expect((await db.store.get(record.client_id))!.last_seen).to.be.closeTo(beforeClose, 5)
    } finally {
      if (!stopped) await hub.stop()
      await db.cleanup()
    }
  })

  it('a satellite reconnecting again and again causes no more writes than one that stays; the pending one follows when the interval passes', async () => {
    const {db, counting, updates} = await countingStore()
    await db.store.add({api_key: 'flappy-key', password: 'flappy-password'})
    const hub = await startHub(counting, {lastSeenIntervalMs: 1500})
    try {
      for (let i = 0; i < 8; i++) {
        const client = await HiveTestClient.connect({port: hub.port, accessKey: 'flappy-key', password: 'flappy-password'})
        client.sendBus('recognizer_loop:utterance', {n: i})
        client.close()
        await client.waitClosed()
      }
      // 8 connects and closes within the first interval: the first connect's write only.
      expect(updates.length, JSON.stringify(updates)).to.equal(1)
      // Once the interval has passed, the pending activity is written (by the sweep).
      const deadline = Date.now() + 5000
      while (updates.length < 2 && Date.now() < deadline) await sleep(50)
      expect(updates).to.have.length(2)
      await sleep(2000)
      expect(updates).to.have.length(2)
    } finally {
      await hub.stop()
      await db.cleanup()
    }
  })
})
