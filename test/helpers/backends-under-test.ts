/**
 * The three built-in backends as tests open them in-process and name them on the command line
 * (as the current database with --db-*, or as a migrate/restore target with --to-*).
 */
import {existsSync} from 'node:fs'
import path from 'node:path'

import {canonicalJson, type ClientRecord} from '../../src/core/client.js'
import type {BackendDescriptor, ClientStore} from '../../src/core/store.js'
import {jsonBackend} from '../../src/plugins/json/index.js'
import {redisBackend} from '../../src/plugins/redis/index.js'
import {sqliteBackend} from '../../src/plugins/sqlite/index.js'
import type {RedisServer} from './redis-server.js'

export interface BackendUnderTest {
  name: 'json' | 'sqlite' | 'redis'
  descriptor: BackendDescriptor
  options(location: string): Record<string, unknown>
  /** Flags selecting this location as the current database. */
  dbFlags(location: string): string[]
  /** --to-* flags (migrate-db, restore-db). */
  toFlags(location: string): string[]
  /** A fresh location under `root`. */
  location(root: string, tag: string): string
  exists(location: string): boolean
}

let prefixes = 0

/** The backends; `redis()` returns the test's server (started in a `before`). */
export function backendsUnderTest(redis: () => RedisServer | undefined): Record<'json' | 'sqlite' | 'redis', BackendUnderTest> {
  return {
    json: {
      name: 'json',
      descriptor: jsonBackend as unknown as BackendDescriptor,
      options: (location) => ({path: location, lockStaleMs: 2000, lockWaitMs: 30_000}),
      dbFlags: (location) => ['--db-backend', 'json', '--db-path', location],
      toFlags: (location) => ['--to', 'json', '--to-path', location],
      location: (root, tag) => path.join(root, `${tag}.json`),
      exists: (location) => existsSync(location),
    },
    sqlite: {
      name: 'sqlite',
      descriptor: sqliteBackend as unknown as BackendDescriptor,
      options: (location) => ({path: location, busyTimeoutMs: 10_000}),
      dbFlags: (location) => ['--db-backend', 'sqlite', '--db-path', location],
      toFlags: (location) => ['--to', 'sqlite', '--to-path', location],
      location: (root, tag) => path.join(root, `${tag}.db`),
      exists: (location) => existsSync(location),
    },
    redis: {
      name: 'redis',
      descriptor: redisBackend as unknown as BackendDescriptor,
      // A location is a key prefix on the test server: every test gets a fresh, isolated hive.
      options: (location) => ({url: redis()!.url, keyPrefix: location, connectTimeoutMs: 2000, reconnect: false}),
      dbFlags: (location) => ['--db-backend', 'redis', '--redis-url', redis()!.url, '--db-option', `keyPrefix=${location}`],
      toFlags: (location) => ['--to', 'redis', '--to-redis-url', redis()!.url, '--to-option', `keyPrefix=${location}`],
      location: (_root, tag) => `s${++prefixes}-${process.pid}-${tag}:`,
      exists: () => true,
    },
  }
}

const context = {paths: {home: '', dataDir: '', configDir: '', stateDir: ''}, mode: 'write' as const, warn() {}}

export async function withStore<T>(backend: BackendUnderTest, location: string, work: (store: ClientStore) => Promise<T>): Promise<T> {
  const store = await backend.descriptor.create(backend.options(location), context)
  await store.open()
  try {
    return await work(store)
  } finally {
    await store.close()
  }
}

export async function seed(backend: BackendUnderTest, location: string, records: ClientRecord[]): Promise<void> {
  await withStore(backend, location, (store) => store.putMany!(records))
}

/** Canonical JSON of every record, tombstones included, in id order ([] when nothing is there). */
export async function contents(backend: BackendUnderTest, location: string): Promise<string[]> {
  if (!backend.exists(location)) return []
  return withStore(backend, location, async (store) => {
    const all: string[] = []
    for await (const record of store.list({includeRevoked: true})) all.push(canonicalJson(record))
    return all
  })
}
