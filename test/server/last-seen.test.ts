/**
 * P8: last_seen writes are bounded by the interval, whatever the message rate, and flushed when the
 * client leaves. The store is a real sqlite store; its writes are counted by wrapping `update`.
 */
import {expect} from 'chai'

import type {ClientStore} from '../../src/core/store.js'
import {HiveTestClient} from '../helpers/hive-client.js'
import {sqliteStore, startHub} from '../helpers/hub.js'

describe('listener last_seen (P8)', () => {
  it('writes once on connect, never per message, and flushes on disconnect', async () => {
    const db = await sqliteStore()
    const updates: Array<Record<string, unknown>> = []
    const counting: ClientStore = Object.create(db.store) as ClientStore
    counting.update = async (id, patch) => {
      updates.push({id, ...patch})
      return db.store.update(id, patch)
    }
    const record = await db.store.add({api_key: 'busy-key', password: 'busy-password'})
    const hub = await startHub(counting, {lastSeenIntervalMs: 60_000})
    try {
      const client = await HiveTestClient.connect({port: hub.port, accessKey: 'busy-key', password: 'busy-password'})
      for (let i = 0; i < 200; i++) client.sendBus('recognizer_loop:utterance', {n: i})
      await hub.bus.until(() => hub.bus.received.length === 200)
      expect(updates.filter((u) => 'last_seen' in u)).to.have.length(1)
      const beforeClose = Date.now() / 1000
      client.close()
      await client.waitClosed()
      const deadline = Date.now() + 5000
      while (updates.length < 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50))
      expect(updates).to.have.length(2)
      const stored = (await db.store.get(record.client_id))!.last_seen
      expect(stored).to.be.closeTo(beforeClose, 5)
    } finally {
      await hub.stop()
      await db.cleanup()
    }
  })
})
