/**
 * Starts an in-process listener (src/server) on a real store for the test/server suites, with a
 * fake OVOS bus, and cleans everything up.
 */
import {mkdtempSync, rmSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'

import type {ClientStore} from '../../src/core/store.js'
import {createLogger, type LogLevel} from '../../src/server/logger.js'
import {HiveServer, type ListenerOptions} from '../../src/server/server.js'
import {sqliteBackend} from '../../src/plugins/sqlite/index.js'
import {FakeBus} from './fake-bus.js'

export interface TestHub {
  server: HiveServer
  store: ClientStore
  bus: FakeBus
  port: number
  /** Everything the listener logged (JSON lines). */
  logs: string[]
  stop(): Promise<void>
}

export const testContext = (dir: string) => ({paths: {home: dir, dataDir: dir, configDir: dir, stateDir: dir}, mode: 'write' as const, warn() {}})

/** A fresh sqlite store in a temp directory (closed and removed by `cleanup`). */
export async function sqliteStore(): Promise<{store: ClientStore; dir: string; cleanup(): Promise<void>}> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hivemind-listen-'))
  const store = await sqliteBackend.create({path: path.join(dir, 'clients.db'), busyTimeoutMs: 5000}, testContext(dir))
  await store.open()
  return {
    store,
    dir,
    async cleanup() {
      await store.close()
      rmSync(dir, {recursive: true, force: true})
    },
  }
}

/** Starts a listener on 127.0.0.1 with a fresh fake bus. Options override the test defaults. */
export async function startHub(store: ClientStore, options: Partial<ListenerOptions> & {logLevel?: LogLevel; bus?: FakeBus} = {}): Promise<TestHub> {
  const bus = options.bus ?? (await FakeBus.start())
  const logs: string[] = []
  const logger = createLogger(options.logLevel ?? 'debug', (line) => logs.push(line))
  const server = new HiveServer({host: '127.0.0.1', port: 0, agentUrl: bus.url, pollIntervalMs: 100, ...options, store, logger})
  const {port} = await server.start()
  // The agent bus connection is made in the background: wait for it (bounded).
  await bus.until(() => bus.connections > 0, 5000)
  const hub: TestHub = {
    server,
    store,
    bus,
    port,
    logs,
    async stop() {
      await server.stop()
      // A test may have replaced the bus (agent restart): stop the current one.
      await hub.bus.stop()
    },
  }
  return hub
}
