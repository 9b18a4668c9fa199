/**
 * Store outages as the listener logs them: once per outage, and "available" only once the store
 * really answers again (a real json store whose file another tool broke, a connected satellite).
 */
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'

import {expect} from 'chai'

import {jsonBackend} from '../../src/plugins/json/index.js'
import {HiveTestClient} from '../helpers/hive-client.js'
import {startHub, testContext} from '../helpers/hub.js'

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

describe('listener store outages', function () {
  this.timeout(30_000)

  it('a json file that stops parsing is one store.unavailable, and store.available only once it parses again', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'hivemind-outage-'))
    const file = path.join(dir, 'clients.json')
    const store = await jsonBackend.create({path: file, lockStaleMs: 10_000, lockWaitMs: 10_000}, testContext(dir))
    await store.open()
    await store.add({api_key: 'kitchen-key', password: 'kitchen-password'})
    const hub = await startHub(store)
    try {
      const client = await HiveTestClient.connect({port: hub.port, accessKey: 'kitchen-key', password: 'kitchen-password'})
      const good = readFileSync(file, 'utf8')
      writeFileSync(file, good.slice(0, 40))
      await sleep(1500)
      const events = () => hub.logs.map((line) => (JSON.parse(line) as {event: string}).event).filter((event) => event === 'store.unavailable' || event === 'store.available')
      expect(events()).to.deep.equal(['store.unavailable'])
      writeFileSync(file, good)
      const deadline = Date.now() + 5000
      while (!events().includes('store.available') && Date.now() < deadline) await sleep(50)
      expect(events()).to.deep.equal(['store.unavailable', 'store.available'])
      client.close()
    } finally {
      await hub.stop()
      await store.close()
      rmSync(dir, {recursive: true, force: true})
    }
  })
})
