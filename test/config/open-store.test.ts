import {existsSync, mkdtempSync, rmSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'

import {expect} from 'chai'
import {Redis} from 'ioredis'

import {openBackend} from '../../src/config/open-store.js'
import type {RegisteredBackend} from '../../src/core/registry.js'
import type {BackendDescriptor, HivemindPaths} from '../../src/core/store.js'
import {redisBackend} from '../../src/plugins/redis/index.js'
import {sqliteBackend} from '../../src/plugins/sqlite/index.js'
import {type RedisServer, startRedisServer} from '../helpers/redis-server.js'

const builtIn = (descriptor: unknown): RegisteredBackend => ({descriptor: descriptor as BackendDescriptor, plugin: 'hivemind-core', builtIn: true})

describe('openBackend in read mode', () => {
  let dir: string
  let paths: HivemindPaths
  let server: RedisServer
  let observer: Redis

  before(async () => {
    server = await startRedisServer()
    observer = new Redis({port: server.port})
  })

  after(async () => {
    observer.disconnect()
    await server.stop()
  })

  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'hivemind-open-store-'))
    paths = {home: dir, dataDir: dir, configDir: dir, stateDir: dir}
  })

  afterEach(() => rmSync(dir, {recursive: true, force: true}))

  /** Connections the server has accepted so far (the observer's own is already counted). */
  async function connectionsAccepted(): Promise<number> {
    const stats = await observer.info('stats')
    return Number(/total_connections_received:(\d+)/.exec(stats)![1])
  }

  it('opens a Redis store with one connection: no probe connection first', async () => {
    const seed = await openBackend(builtIn(redisBackend), {port: server.port, keyPrefix: 'one:'}, paths, 'write', () => {})
    await seed.store.add({api_key: 'k1', name: 'kitchen'})
    await seed.store.close()
    const before = await connectionsAccepted()
    const opened = await openBackend(builtIn(redisBackend), {port: server.port, keyPrefix: 'one:'}, paths, 'read', () => {})
    try {
      expect((await opened.store.getByApiKey('k1'))?.name).to.equal('kitchen')
    } finally {
      await opened.store.close()
    }
    expect(await connectionsAccepted()).to.equal(before + 1)
  })

  it('reads a Redis prefix that holds nothing as an empty store, writing nothing', async () => {
    const opened = await openBackend(builtIn(redisBackend), {port: server.port, keyPrefix: 'nothing-here:'}, paths, 'read', () => {})
    try {
      expect(await opened.store.count({includeRevoked: true})).to.equal(0)
      expect(opened.missing).to.equal(false)
    } finally {
      await opened.store.close()
    }
    expect(await observer.keys('nothing-here:*')).to.deep.equal([])
  })

  it('probes a backend whose open would create its location: a missing SQLite file is read as empty and not created', async () => {
    const file = path.join(dir, 'clients.db')
    const opened = await openBackend(builtIn(sqliteBackend), {path: file, busyTimeoutMs: 1000}, paths, 'read', () => {})
    try {
      expect(opened.missing).to.equal(true)
      expect(await opened.store.count({includeRevoked: true})).to.equal(0)
    } finally {
      await opened.store.close()
    }
    expect(existsSync(file)).to.equal(false)
  })
})
