/**
 * Shared by the sqlite tests and the child processes they spawn: building a store the way the
 * CLI does (descriptor + schema defaults), and writing upstream-format files.
 */
import {spawnSync} from 'node:child_process'
import {createHash} from 'node:crypto'
import {existsSync, mkdtempSync, readdirSync, readFileSync, rmSync} from 'node:fs'
import {createRequire} from 'node:module'
import os from 'node:os'
import path from 'node:path'

import Database from 'better-sqlite3'

import type {ClientRecord} from '../../../src/core/client.js'
import type {BackendContext, ClientStore, HivemindPaths, StoreMode} from '../../../src/core/store.js'
import {sqliteBackend} from '../../../src/plugins/sqlite/index.js'
import type {SqliteOptions} from '../../../src/plugins/sqlite/options.js'

/** Standard directories under a temp root, so no test touches the real home. */
export function testPaths(root: string): HivemindPaths {
  return {
    home: root,
    dataDir: path.join(root, 'data', 'hivemind-core'),
    configDir: path.join(root, 'config', 'hivemind-core'),
    stateDir: path.join(root, 'state', 'hivemind-core'),
  }
}

/** The backend's options: every schema default, then the given path. */
export function sqliteOptions(file: string, paths: HivemindPaths): SqliteOptions {
  const options: Record<string, unknown> = {}
  for (const [name, spec] of Object.entries(sqliteBackend.optionsSchema)) {
    if (spec.default !== undefined) options[name] = typeof spec.default === 'function' ? (spec.default as (p: HivemindPaths) => unknown)(paths) : spec.default
  }
  options.path = file
  return options as SqliteOptions
}

/** An un-opened sqlite store on `file`, created through the descriptor as the CLI does. */
export async function createSqliteStore(
  file: string,
  mode: StoreMode = 'write',
  warn: (message: string) => void = () => {},
  hints: Pick<BackendContext, 'leaveUntouched'> = {},
): Promise<ClientStore> {
  const paths = testPaths(path.dirname(file))
  return sqliteBackend.create(sqliteOptions(file, paths), {paths, mode, warn, ...hints})
}

/** A fresh temp directory and its removal. */
export function tempDir(prefix = 'hivemind-sqlite-'): {dir: string; remove: () => void} {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix))
  return {dir, remove: () => rmSync(dir, {recursive: true, force: true})}
}

/** The `clients` table exactly as the Python hivemind-core creates it: no metadata column, no index. */
export const UPSTREAM_CLIENTS_DDL = `CREATE TABLE clients (
  client_id INTEGER PRIMARY KEY,
  api_key VARCHAR(255) NOT NULL,
  name VARCHAR(255),
  description VARCHAR(255),
  is_admin BOOLEAN DEFAULT FALSE,
  last_seen REAL DEFAULT -1,
  intent_blacklist TEXT,
  skill_blacklist TEXT,
  message_blacklist TEXT,
  allowed_types TEXT,
  crypto_key VARCHAR(16),
  password TEXT,
  can_broadcast BOOLEAN DEFAULT TRUE,
  can_escalate BOOLEAN DEFAULT TRUE,
  can_propagate BOOLEAN DEFAULT TRUE
)`

/** One upstream row: lists as JSON text (Python's json.dumps spacing), booleans 0/1. */
export interface UpstreamRow {
  client_id: number
  api_key: string
  name: string | null
  description: string | null
  is_admin: 0 | 1
  last_seen: number
  intent_blacklist: string | null
  skill_blacklist: string | null
  message_blacklist: string | null
  allowed_types: string | null
  crypto_key: string | null
  password: string | null
  can_broadcast: 0 | 1
  can_escalate: 0 | 1
  can_propagate: 0 | 1
}

/** Writes an upstream-format clients.db (rollback journal, as Python's sqlite3 leaves it). */
export function writeUpstreamDb(file: string, rows: readonly UpstreamRow[]): void {
  const db = new Database(file)
  try {
    db.exec(UPSTREAM_CLIENTS_DDL)
    const insert = db.prepare(`INSERT INTO clients VALUES (@client_id, @api_key, @name, @description, @is_admin, @last_seen,
      @intent_blacklist, @skill_blacklist, @message_blacklist, @allowed_types, @crypto_key, @password,
      @can_broadcast, @can_escalate, @can_propagate)`)
    db.transaction(() => {
      for (const row of rows) insert.run(row)
    })()
  } finally {
    db.close()
  }
}

/**
 * The `clients` table as the Python hivemind-core's sqlite3 code creates it, word for word (TEXT
 * columns, no metadata, no index); the file it leaves has a rollback journal and no other table.
 */
export const PYTHON_CLIENTS_DDL =
  'CREATE TABLE clients (client_id INTEGER PRIMARY KEY, api_key TEXT NOT NULL, name TEXT, description TEXT, is_admin BOOLEAN DEFAULT FALSE, ' +
  'last_seen REAL DEFAULT -1, intent_blacklist TEXT, skill_blacklist TEXT, message_blacklist TEXT, allowed_types TEXT, crypto_key TEXT, ' +
  'password TEXT, can_broadcast BOOLEAN DEFAULT TRUE, can_escalate BOOLEAN DEFAULT TRUE, can_propagate BOOLEAN DEFAULT TRUE)'

/**
 * Writes a clients.db as the Python hivemind-core leaves it: two live clients and a tombstone
 * (client 2, revoked: key "revoked", secrets NULL). Returns the records it holds.
 */
export function writePythonClientsDb(file: string): ClientRecord[] {
  const records: ClientRecord[] = [
    {
      client_id: 1, api_key: 'a1b2c3d4e5f60718293a4b5c6d7e8f90', name: 'kitchen', description: 'by the fridge', is_admin: true, last_seen: 1_700_000_000.25,
      intent_blacklist: ['skill-weather:forecast'], skill_blacklist: ['skill-jokes'], message_blacklist: [], allowed_types: ['recognizer_loop:utterance', 'speak'],
      crypto_key: '0123456789abcdef', password: 'python-password-1', can_broadcast: true, can_escalate: false, can_propagate: true, metadata: {},
    },
    {
      client_id: 2, api_key: 'revoked', name: 'old satellite', description: '', is_admin: false, last_seen: -1,
      intent_blacklist: [], skill_blacklist: [], message_blacklist: [], allowed_types: [],
      crypto_key: null, password: null, can_broadcast: true, can_escalate: true, can_propagate: true, metadata: {},
    },
    {
      client_id: 3, api_key: 'ffeeddccbbaa99887766554433221100', name: 'HiveMind-Node-3', description: 'café ☕', is_admin: false, last_seen: 1_700_000_100,
      intent_blacklist: [], skill_blacklist: [], message_blacklist: ['speak'], allowed_types: ['recognizer_loop:utterance'],
      crypto_key: null, password: 'python-password-3', can_broadcast: false, can_escalate: true, can_propagate: false, metadata: {},
    },
  ]
  const db = new Database(file)
  try {
    db.exec(PYTHON_CLIENTS_DDL)
    const insert = db.prepare(`INSERT INTO clients (client_id, api_key, name, description, is_admin, last_seen, intent_blacklist, skill_blacklist,
      message_blacklist, allowed_types, crypto_key, password, can_broadcast, can_escalate, can_propagate) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
    // Lists as Python's json.dumps writes them (", " between items), booleans 0/1.
    const list = (items: string[]) => JSON.stringify(items).replaceAll('","', '", "')
    for (const r of records) {
      insert.run(r.client_id, r.api_key, r.name, r.description, Number(r.is_admin), r.last_seen, list(r.intent_blacklist), list(r.skill_blacklist),
        list(r.message_blacklist), list(r.allowed_types), r.crypto_key, r.password, Number(r.can_broadcast), Number(r.can_escalate), Number(r.can_propagate))
    }
  } finally {
    db.close()
  }
  return records
}

/** SHA-256 of a file's bytes. */
export function fileDigest(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex')
}

/** Files beside `file` that SQLite may create for it (-wal, -shm, -journal) and that exist. */
export function sqliteSiblings(file: string): string[] {
  return readdirSync(path.dirname(file)).filter((entry) => entry.startsWith(`${path.basename(file)}-`))
}

/**
 * Leaves `file` (a rollback-journal database, as the Python hub writes) the way a hub killed in
 * the middle of a write does: a transaction that renamed every client and inserted 2000 more was
 * spilled into the file (a one-page cache forces it) when the process got SIGKILL, so a hot
 * `-journal` holds what the file must go back to.
 */
export function leaveHotJournal(file: string): void {
  const driver = createRequire(import.meta.url).resolve('better-sqlite3')
  const writer = `
    const Database = require(${JSON.stringify(driver)})
    const db = new Database(${JSON.stringify(file)})
    db.pragma('cache_size = 1')
    db.exec('BEGIN')
    db.prepare("UPDATE clients SET name = 'uncommitted'").run()
    const insert = db.prepare("INSERT INTO clients (api_key, name, allowed_types) VALUES (?, 'uncommitted', '[]')")
    for (let i = 0; i < 2000; i++) insert.run('uncommitted-' + i + '-' + 'x'.repeat(200))
    process.kill(process.pid, 'SIGKILL')
  `
  const child = spawnSync(process.execPath, ['-e', writer], {stdio: ['ignore', 'ignore', 'pipe']})
  if (child.signal !== 'SIGKILL') throw new Error(`the writer was to be killed mid-transaction; it ended with ${child.status}: ${child.stderr.toString()}`)
  if (!existsSync(`${file}-journal`)) throw new Error(`no hot journal was left beside ${file}`)
}
