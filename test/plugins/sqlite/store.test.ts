/**
 * The sqlite backend: the conformance suite on real temp files, then only what is specific to
 * SQLite (upstream files, file modes, other processes, corrupt files, concurrent writers).
 */
import {spawn, spawnSync} from 'node:child_process'
import {createHash} from 'node:crypto'
import {chmodSync, existsSync, readFileSync, renameSync, statSync, writeFileSync} from 'node:fs'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

import Database from 'better-sqlite3'
import {expect} from 'chai'

import {type ClientRecord, DEFAULT_ALLOWED_TYPES} from '../../../src/core/client.js'
import type {ClientStore} from '../../../src/core/store.js'
import {MIGRATIONS} from '../../../src/plugins/sqlite/migrations.js'
import {runStoreConformance} from '../../../src/testing/index.js'
import {sqliteBackend} from '../../../src/plugins/sqlite/index.js'
import {createSqliteStore, sqliteOptions, tempDir, testPaths, type UpstreamRow, writeUpstreamDb} from './helpers.js'

runStoreConformance(
  'sqlite',
  async () => {
    const {dir, remove} = tempDir()
    return {store: await createSqliteStore(path.join(dir, 'clients.db')), cleanup: async () => remove()}
  },
  {reopen: async (closed) => createSqliteStore(closed.location), another: async (open) => createSqliteStore(open.location)},
)

// ------------------------------------------------------------------------------------------
// SQLite-specific behaviour
// ------------------------------------------------------------------------------------------

const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url))
const CHILD_SCRIPT = fileURLToPath(new URL('add-one-child.ts', import.meta.url))

const UPSTREAM_DEFAULT_TYPES_JSON =
  '["recognizer_loop:utterance", "recognizer_loop:record_begin", "recognizer_loop:record_end", ' +
  '"recognizer_loop:audio_output_start", "recognizer_loop:audio_output_end", "recognizer_loop:b64_transcribe", ' +
  '"speak:b64_audio", "ovos.common_play.SEI.get.response"]'

/** An upstream hive: an admin, a restricted client, two tombstones, a sparse row with NULLs, an id gap. */
const UPSTREAM_ROWS: UpstreamRow[] = [
  {
    client_id: 1, api_key: '0f1e2d3c4b5a69788796a5b4c3d2e1f0', name: 'HiveMind-Node-1', description: 'kitchen satellite',
    is_admin: 1, last_seen: 1_712_345_678.5, intent_blacklist: '[]', skill_blacklist: '[]', message_blacklist: '[]',
    allowed_types: UPSTREAM_DEFAULT_TYPES_JSON, crypto_key: '0123456789abcdef', password: 'c0ffeec0ffeec0ffeec0ffeec0ffee00',
    can_broadcast: 1, can_escalate: 1, can_propagate: 1,
  },
  {
    client_id: 2, api_key: 'aaaabbbbccccddddeeeeffff00001111', name: 'Küche 🐝', description: '',
    is_admin: 0, last_seen: -1, intent_blacklist: '["skill-weather.openvoiceos:WeatherIntent"]',
    skill_blacklist: '["skill-volume.openvoiceos", "skill-date-time.openvoiceos"]', message_blacklist: '["speak"]',
    allowed_types: '["recognizer_loop:utterance"]', crypto_key: null, password: 'p2',
    can_broadcast: 0, can_escalate: 1, can_propagate: 0,
  },
  {
    client_id: 3, api_key: 'revoked', name: 'HiveMind-Node-3', description: 'lost phone',
    is_admin: 0, last_seen: 1_700_000_000, intent_blacklist: '[]', skill_blacklist: '[]', message_blacklist: '[]',
    allowed_types: UPSTREAM_DEFAULT_TYPES_JSON, crypto_key: null, password: null,
    can_broadcast: 1, can_escalate: 1, can_propagate: 1,
  },
  {
    client_id: 4, api_key: 'revoked', name: 'HiveMind-Node-4', description: '',
    is_admin: 1, last_seen: -1, intent_blacklist: '[]', skill_blacklist: '[]', message_blacklist: '[]',
    allowed_types: '[]', crypto_key: null, password: null,
    can_broadcast: 1, can_escalate: 0, can_propagate: 1,
  },
  {
    client_id: 6, api_key: '99998888777766665555444433332222', name: null, description: null,
    is_admin: 0, last_seen: -1, intent_blacklist: null, skill_blacklist: null, message_blacklist: null,
    allowed_types: null, crypto_key: null, password: null,
    can_broadcast: 1, can_escalate: 1, can_propagate: 1,
  },
]

/** What the store must read from UPSTREAM_ROWS, written out field by field. */
const UPSTREAM_RECORDS: ClientRecord[] = [
  {
    client_id: 1, api_key: '0f1e2d3c4b5a69788796a5b4c3d2e1f0', name: 'HiveMind-Node-1', description: 'kitchen satellite',
    is_admin: true, last_seen: 1_712_345_678.5, intent_blacklist: [], skill_blacklist: [], message_blacklist: [],
    allowed_types: [...DEFAULT_ALLOWED_TYPES], crypto_key: '0123456789abcdef', password: 'c0ffeec0ffeec0ffeec0ffeec0ffee00',
    can_broadcast: true, can_escalate: true, can_propagate: true, metadata: {},
  },
  {
    client_id: 2, api_key: 'aaaabbbbccccddddeeeeffff00001111', name: 'Küche 🐝', description: '',
    is_admin: false, last_seen: -1, intent_blacklist: ['skill-weather.openvoiceos:WeatherIntent'],
    skill_blacklist: ['skill-volume.openvoiceos', 'skill-date-time.openvoiceos'], message_blacklist: ['speak'],
    allowed_types: ['recognizer_loop:utterance'], crypto_key: null, password: 'p2',
    can_broadcast: false, can_escalate: true, can_propagate: false, metadata: {},
  },
  {
    client_id: 3, api_key: 'revoked', name: 'HiveMind-Node-3', description: 'lost phone',
    is_admin: false, last_seen: 1_700_000_000, intent_blacklist: [], skill_blacklist: [], message_blacklist: [],
    allowed_types: [...DEFAULT_ALLOWED_TYPES], crypto_key: null, password: null,
    can_broadcast: true, can_escalate: true, can_propagate: true, metadata: {},
  },
  {
    client_id: 4, api_key: 'revoked', name: 'HiveMind-Node-4', description: '',
    is_admin: true, last_seen: -1, intent_blacklist: [], skill_blacklist: [], message_blacklist: [],
    allowed_types: [], crypto_key: null, password: null,
    can_broadcast: true, can_escalate: false, can_propagate: true, metadata: {},
  },
  {
    client_id: 6, api_key: '99998888777766665555444433332222', name: '', description: '',
    is_admin: false, last_seen: -1, intent_blacklist: [], skill_blacklist: [], message_blacklist: [],
    allowed_types: [...DEFAULT_ALLOWED_TYPES], crypto_key: null, password: null,
    can_broadcast: true, can_escalate: true, can_propagate: true, metadata: {},
  },
]

const UPSTREAM_COLUMNS = Object.keys(UPSTREAM_ROWS[0]!)

/**
 * The error is a StoreCorruptError. Compared by name and code, not instanceof: mocha require()s
 * the spec files (tsx compiles them to CommonJS) while the backend's lazy `import('./store.js')`
 * loads the ESM copy, so under this harness each module exists twice.
 */
function expectStoreCorrupt(error: unknown): void {
  expect(error).to.be.instanceOf(Error)
  expect(error).to.have.property('name', 'StoreCorruptError')
  expect(error).to.have.property('code', 'STORE_CORRUPT')
}

/** Runs `work` while capturing everything written to this process's stdout and stderr. */
async function captureOutput<T>(work: () => Promise<T>): Promise<{result: T; output: string}> {
  let output = ''
  const originals = {stdout: process.stdout.write, stderr: process.stderr.write}
  const capture = (chunk: unknown, ...rest: unknown[]): boolean => {
    output += String(chunk)
    const callback = rest.find((arg) => typeof arg === 'function') as (() => void) | undefined
    callback?.()
    return true
  }
  process.stdout.write = capture as typeof process.stdout.write
  process.stderr.write = capture as typeof process.stderr.write
  try {
    return {result: await work(), output}
  } finally {
    process.stdout.write = originals.stdout
    process.stderr.write = originals.stderr
  }
}

function sha256(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex')
}

function mode(file: string): number {
  return statSync(file).mode & 0o777
}

function octal(value: number): string {
  return `0${value.toString(8)}`
}

async function collect(iterable: AsyncIterable<ClientRecord>): Promise<ClientRecord[]> {
  const out: ClientRecord[] = []
  for await (const record of iterable) out.push(record)
  return out
}

/** Reads the raw table with better-sqlite3, bypassing the store. */
function rawRows(file: string): Array<Record<string, unknown>> {
  const db = new Database(file, {readonly: true, fileMustExist: true})
  try {
    return db.prepare('SELECT * FROM clients ORDER BY client_id').all() as Array<Record<string, unknown>>
  } finally {
    db.close()
  }
}

/** Runs a small ESM script in another node process (cwd = the repository, for module resolution). */
function runNode(script: string, args: string[] = []): {status: number | null; stdout: string; stderr: string} {
  const result = spawnSync(process.execPath, ['--input-type=module', '-e', script, '--', ...args], {cwd: REPO_ROOT, encoding: 'utf8'})
  return {status: result.status, stdout: result.stdout, stderr: result.stderr}
}

describe('sqlite store (backend-specific)', () => {
  let dir: string
  let remove: () => void
  let stores: ClientStore[]

  beforeEach(() => {
    ;({dir, remove} = tempDir())
    stores = []
  })

  afterEach(async () => {
    for (const store of stores) await store.close()
    remove()
  })

  /** An opened store on `file`, closed after the test. */
  async function openStore(file: string): Promise<ClientStore> {
    const store = await createSqliteStore(file)
    stores.push(store)
    await store.open()
    return store
  }

  it("a long-running store (listen) waits for another process's write lock without blocking its event loop", async () => {
    const file = path.join(dir, 'clients.db')
    const paths = testPaths(dir)
    const store = await sqliteBackend.create(sqliteOptions(file, paths), {paths, mode: 'write', warn() {}, longRunning: true})
    stores.push(store)
    await store.open()
    const added = await store.add({api_key: 'kitchen-key'})
    // Another process's long write (an import, a migration into the live file).
    const holder = new Database(file)
    holder.exec('BEGIN IMMEDIATE')
    let longestGap = 0
    let last = Date.now()
    const ticker = setInterval(() => {
      const now = Date.now()
      longestGap = Math.max(longestGap, now - last)
      last = now
    }, 10)
    try {
      const update = store.update(added.client_id, {last_seen: 1_700_000_000})
      await new Promise((resolve) => setTimeout(resolve, 1500))
      holder.exec('COMMIT')
      await update
    } finally {
      clearInterval(ticker)
      holder.close()
    }
    // Without the asynchronous wait the update blocked the loop until the busy timeout (10 s),
    // and the holder could not even commit meanwhile.
    expect(longestGap).to.be.below(500)
    expect((await store.get(added.client_id))!.last_seen).to.equal(1_700_000_000)
  })

  describe('an upstream clients.db (no metadata column, no index)', () => {
    let file: string

    beforeEach(() => {
      file = path.join(dir, 'clients.db')
      writeUpstreamDb(file, UPSTREAM_ROWS)
    })

    it('lists the same clients, field by field', async () => {
      const store = await openStore(file)
      expect(await collect(store.list({includeRevoked: true}))).to.deep.equal(UPSTREAM_RECORDS)
      expect(await collect(store.list())).to.deep.equal(UPSTREAM_RECORDS.filter((record) => record.api_key !== 'revoked'))
      expect(await store.count()).to.equal(3)
      expect(await store.count({includeRevoked: true})).to.equal(5)
      for (const record of UPSTREAM_RECORDS) expect(await store.get(record.client_id)).to.deep.equal(record)
      expect(await store.getByApiKey('aaaabbbbccccddddeeeeffff00001111')).to.deep.equal(UPSTREAM_RECORDS[1])
      expect(await store.getByApiKey('revoked')).to.equal(undefined)
    })

    it('accepts add with the next id after the highest, and keeps every upstream row as it was', async () => {
      const before = rawRows(file)
      const store = await openStore(file)
      const added = await store.add({api_key: 'fresh-key', name: 'new satellite'})
      expect(added.client_id).to.equal(7)
      await store.close()

      const after = rawRows(file)
      expect(after.map((row) => row.client_id)).to.deep.equal([1, 2, 3, 4, 6, 7])
      for (const [index, row] of before.entries()) {
        const kept = Object.fromEntries(UPSTREAM_COLUMNS.map((column) => [column, after[index]![column]]))
        expect(kept, `row ${String(row.client_id)}`).to.deep.equal(row)
        expect(after[index]!.metadata, `row ${String(row.client_id)} metadata`).to.equal(null)
      }
      // The new row is written the upstream way too: JSON text lists, 0/1 booleans.
      const fresh = after[5]!
      expect(fresh.allowed_types).to.be.a('string')
      expect(JSON.parse(fresh.allowed_types as string)).to.deep.equal([...DEFAULT_ALLOWED_TYPES])
      expect(fresh.intent_blacklist).to.equal('[]')
      expect(fresh.is_admin).to.equal(0)
      expect(fresh.can_broadcast).to.equal(1)
      expect(fresh.metadata).to.equal('{}')

      const reopened = await openStore(file)
      expect(await collect(reopened.list({includeRevoked: true}))).to.deep.equal([...UPSTREAM_RECORDS, added])
    })

    it('gains the metadata column and the unique partial index on api_key, and runs in WAL mode', async () => {
      await openStore(file)
      const db = new Database(file, {readonly: true})
      try {
        expect(db.pragma('journal_mode', {simple: true})).to.equal('wal')
        const columns = (db.pragma('table_info(clients)') as Array<{name: string; type: string}>).map((column) => column.name)
        expect(columns).to.deep.equal([...UPSTREAM_COLUMNS, 'metadata'])
        const index = db.prepare("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'clients'").all() as Array<{name: string; sql: string}>
        expect(index.map((row) => row.name)).to.deep.equal(['clients_live_api_key'])
        const list = db.pragma('index_list(clients)') as Array<{name: string; unique: number; partial: number}>
        expect(list).to.have.length(1)
        expect(list[0]).to.include({name: 'clients_live_api_key', unique: 1, partial: 1})
        expect(index[0]!.sql).to.match(/WHERE api_key != 'revoked'/)
        // The unique index really holds, even for a writer that is not the store.
        expect(() => db.exec("INSERT INTO clients (client_id, api_key) VALUES (99, 'aaaabbbbccccddddeeeeffff00001111')")).to.throw()
      } finally {
        db.close()
      }
    })
  })

  describe('file modes (umask 022)', () => {
    let umask: number

    beforeEach(() => {
      umask = process.umask(0o022)
    })

    afterEach(() => {
      process.umask(umask)
    })

    it('creates a missing directory 0700 and the database, -wal and -shm 0600', async () => {
      const dataDir = path.join(dir, 'data', 'hivemind-core')
      const file = path.join(dataDir, 'clients.db')
      const store = await openStore(file)
      await store.add({api_key: 'k1'})
      expect(octal(mode(dataDir)), 'data directory').to.equal('0700')
      expect(octal(mode(file)), 'database').to.equal('0600')
      // Checked while open: SQLite removes -wal (and may remove -shm) on the last close.
      expect(existsSync(`${file}-wal`), '-wal exists').to.equal(true)
      expect(existsSync(`${file}-shm`), '-shm exists').to.equal(true)
      expect(octal(mode(`${file}-wal`)), '-wal').to.equal('0600')
      expect(octal(mode(`${file}-shm`)), '-shm').to.equal('0600')
    })

    it('tightens an existing world-readable upstream file to 0600', async () => {
      const file = path.join(dir, 'clients.db')
      writeUpstreamDb(file, UPSTREAM_ROWS)
      chmodSync(file, 0o644)
      const store = await openStore(file)
      await store.add({api_key: 'k1'})
      expect(octal(mode(file))).to.equal('0600')
      for (const suffix of ['-wal', '-shm']) if (existsSync(file + suffix)) expect(octal(mode(file + suffix)), suffix).to.equal('0600')
    })

    it('a read-only command that upgrades a world-readable upstream file tightens it to 0600; one that changes nothing leaves modes alone (QA: list-clients left an upgraded clients.db 0644)', async () => {
      const file = path.join(dir, 'clients.db')
      writeUpstreamDb(file, UPSTREAM_ROWS)
      chmodSync(file, 0o644)
      const reader = await createSqliteStore(file, 'read')
      stores.push(reader)
      await reader.open()
      expect((await collect(reader.list())).length).to.be.greaterThan(0)
      expect(octal(mode(file)), 'upgraded by a reader').to.equal('0600')
      for (const suffix of ['-wal', '-shm']) if (existsSync(file + suffix)) expect(octal(mode(file + suffix)), suffix).to.equal('0600')
      await reader.close()
      // Already ours and in WAL mode: a reader writes nothing, so a mode chosen by hand stays.
      chmodSync(file, 0o640)
      const again = await createSqliteStore(file, 'read')
      stores.push(again)
      await again.open()
      await collect(again.list())
      expect(octal(mode(file)), 'not upgraded').to.equal('0640')
    })
  })

  describe('revision', () => {
    it('changes when another process writes, and not when it only reads', async () => {
      const file = path.join(dir, 'clients.db')
      const store = await openStore(file)
      await store.add({api_key: 'k1', name: 'before'})
      const initial = await store.revision()

      const reader = runNode(
        `import Database from 'better-sqlite3'
         const db = new Database(process.argv[1], {timeout: 5000})
         console.log(db.prepare('SELECT COUNT(*) AS n FROM clients').get().n)
         db.close()`,
        [file],
      )
      expect(reader.status, reader.stderr).to.equal(0)
      expect(reader.stdout.trim()).to.equal('1')
      expect(await store.revision(), 'after a read by another process').to.equal(initial)

      // Another tool (think: the Python hivemind-core) renames the client directly.
      const writer = runNode(
        `import Database from 'better-sqlite3'
         const db = new Database(process.argv[1], {timeout: 5000})
         db.prepare("UPDATE clients SET name = 'renamed elsewhere' WHERE client_id = 1").run()
         db.close()`,
        [file],
      )
      expect(writer.status, writer.stderr).to.equal(0)
      const afterWrite = await store.revision()
      expect(afterWrite, 'after a write by another process').to.not.equal(initial)
      expect((await store.get(1))?.name).to.equal('renamed elsewhere')
      expect(await store.revision(), 'stable again').to.equal(afterWrite)
    })

    it('changes when a second store instance on the same file writes, which the first then sees', async () => {
      const file = path.join(dir, 'clients.db')
      const first = await openStore(file)
      const second = await openStore(file)
      await first.add({api_key: 'k1'})
      const before = await first.revision()
      const added = await second.add({api_key: 'k2'})
      expect(added.client_id).to.equal(2)
      expect(await first.revision()).to.not.equal(before)
      expect((await first.getByApiKey('k2'))?.client_id).to.equal(2)
      const revoked = await first.revision()
      await second.revoke(1)
      expect(await first.revision()).to.not.equal(revoked)
      expect(await first.getByApiKey('k1')).to.equal(undefined)
    })

    it('changes when the file is replaced', async () => {
      const file = path.join(dir, 'clients.db')
      const store = await openStore(file)
      await store.add({api_key: 'k1'})
      const before = await store.revision()
      const replacement = path.join(dir, 'replacement.db')
      writeUpstreamDb(replacement, UPSTREAM_ROWS)
      renameSync(replacement, file)
      expect(await store.revision()).to.not.equal(before)
    })
  })

  describe('files it cannot use are left untouched', () => {
    it('a file that is not a SQLite database: StoreCorruptError, bytes unchanged', async () => {
      const file = path.join(dir, 'clients.db')
      writeFileSync(file, 'this is a text file, not a database\n'.repeat(200))
      const before = sha256(file)
      const store = await createSqliteStore(file)
      stores.push(store)
      const error = await store.open().then(
        () => undefined,
        (error_: unknown) => error_,
      )
      expectStoreCorrupt(error)
      expect((error as Error).message).to.include(file)
      expect(sha256(file)).to.equal(before)
      await store.close()
    })

    it('duplicate live access keys in an upstream file: StoreCorruptError naming the ids, file unchanged', async () => {
      const file = path.join(dir, 'clients.db')
      writeUpstreamDb(file, [
        UPSTREAM_ROWS[0]!,
        {...UPSTREAM_ROWS[1]!, api_key: UPSTREAM_ROWS[0]!.api_key},
        UPSTREAM_ROWS[2]!,
        UPSTREAM_ROWS[3]!,
      ])
      const before = sha256(file)
      const store = await createSqliteStore(file)
      stores.push(store)
      const {result: error, output} = await captureOutput(() =>
        store.open().then(
          () => undefined,
          (error_: unknown) => error_,
        ),
      )
      expectStoreCorrupt(error)
      expect(output, 'printed while opening (the typed error is the only report)').to.equal('')
      expect((error as Error).message).to.match(/\b1,2\b/)
      expect((error as Error).message).to.not.include(UPSTREAM_ROWS[0]!.api_key)
      expect(sha256(file), 'main file bytes').to.equal(before)
      // Nothing hides in a leftover WAL either: the schema is still exactly upstream's.
      const db = new Database(file, {readonly: true})
      try {
        const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type IN ('table', 'index') ORDER BY name").all() as Array<{name: string}>).map((row) => row.name)
        expect(tables).to.deep.equal(['clients'])
        expect((db.pragma('table_info(clients)') as Array<{name: string}>).map((column) => column.name)).to.deep.equal(UPSTREAM_COLUMNS)
      } finally {
        db.close()
      }
    })
  })

  describe('a clients table that hivemind-core did not write', () => {
    for (const [label, ddl] of [
      ['has an api_key but lacks upstream columns', 'CREATE TABLE clients (client_id INTEGER PRIMARY KEY, api_key TEXT NOT NULL, owner TEXT)'],
      ['lacks api_key', 'CREATE TABLE clients (id INTEGER PRIMARY KEY, token TEXT)'],
    ] as const) {
      it(`${label}: StoreCorruptError naming the missing columns, file unchanged`, async () => {
        const file = path.join(dir, 'clients.db')
        const db = new Database(file)
        db.exec(ddl)
        db.close()
        const before = sha256(file)
        const store = await createSqliteStore(file)
        stores.push(store)
        const error = await store.open().then(
          () => undefined,
          (error_: unknown) => error_,
        )
        expectStoreCorrupt(error)
        expect((error as Error).message).to.match(/lacks column\(s\) .*description/)
        expect(sha256(file), 'main file bytes').to.equal(before)
        const check = new Database(file, {readonly: true})
        try {
          const objects = (check.prepare("SELECT name FROM sqlite_master WHERE type IN ('table', 'index')").all() as Array<{name: string}>).map((row) => row.name)
          expect(objects, 'no table or index added').to.deep.equal(['clients'])
        } finally {
          check.close()
        }
      })
    }
  })

  describe('R2: 20 barrier-started processes each add one client', () => {
    const CHILDREN = 20

    interface ChildOutcome {
      apiKey: string
      status: number | null
      stdout: string
      stderr: string
    }

    /** Spawns the children, releases them at one instant once all are ready, and collects them. */
    async function runConcurrentAdds(file: string, phase: 'open-first' | 'open-at-barrier'): Promise<ChildOutcome[]> {
      const children = Array.from({length: CHILDREN}, (_, index) => {
        const apiKey = `r2-key-${String(index).padStart(2, '0')}`
        const child = spawn(process.execPath, ['--import', 'tsx', CHILD_SCRIPT, file, apiKey, phase], {cwd: REPO_ROOT, stdio: ['pipe', 'pipe', 'pipe']})
        const outcome: ChildOutcome = {apiKey, status: null, stdout: '', stderr: ''}
        child.stdout.setEncoding('utf8')
        child.stderr.setEncoding('utf8')
        child.stderr.on('data', (chunk: string) => (outcome.stderr += chunk))
        const exited = new Promise<ChildOutcome>((resolve) => {
          child.on('close', (status) => {
            outcome.status = status
            resolve(outcome)
          })
        })
        const ready = new Promise<void>((resolve, reject) => {
          child.stdout.on('data', (chunk: string) => {
            outcome.stdout += chunk
            if (outcome.stdout.includes('ready\n')) resolve()
          })
          void exited.then(() => reject(new Error(`child ${apiKey} exited (${String(outcome.status)}) before it was ready: ${outcome.stderr}`)))
        })
        return {child, ready, exited}
      })
      try {
        await Promise.all(children.map((each) => each.ready))
      } catch (error) {
        for (const {child} of children) if (child.exitCode === null) child.kill()
        throw error
      }
      // Every child is loaded and waiting: release them all at the same instant.
      const startAt = Date.now() + 250
      for (const {child} of children) child.stdin.end(`${startAt}\n`)
      return Promise.all(children.map((each) => each.exited))
    }

    function expectAllStored(file: string, outcomes: ChildOutcome[]): void {
      for (const outcome of outcomes) {
        const output = `${outcome.stdout}\n${outcome.stderr}`
        expect(/database is locked|SQLITE_BUSY/i.test(output), `${outcome.apiKey} reported a lock error:\n${output}`).to.equal(false)
        expect(outcome.status, `${outcome.apiKey} exit status; stderr: ${outcome.stderr}`).to.equal(0)
      }
      const reported = outcomes.map((outcome) => (JSON.parse(outcome.stdout.split('\n').find((line) => line.startsWith('{'))!) as {id: number}).id)
      expect(new Set(reported).size, 'distinct ids reported').to.equal(CHILDREN)

      const rows = rawRows(file)
      expect(rows, 'rows stored').to.have.length(CHILDREN)
      expect(rows.map((row) => row.client_id)).to.deep.equal(Array.from({length: CHILDREN}, (_, i) => i + 1))
      expect(rows.map((row) => row.client_id)).to.have.members(reported)
      expect(rows.map((row) => row.api_key)).to.have.members(outcomes.map((outcome) => outcome.apiKey))
      for (const outcome of outcomes) {
        const id = reported[outcomes.indexOf(outcome)]
        expect(rows.find((row) => row.client_id === id)?.api_key, `the id ${outcome.apiKey} was told`).to.equal(outcome.apiKey)
      }
      const db = new Database(file, {readonly: true})
      try {
        expect(db.pragma('integrity_check', {simple: true})).to.equal('ok')
      } finally {
        db.close()
      }
    }

    it('on an existing database: 20 rows, 0 lost, unique ids, all exit 0', async function () {
      this.timeout(120_000)
      const file = path.join(dir, 'clients.db')
      const setup = await createSqliteStore(file)
      await setup.open()
      await setup.close()
      expectAllStored(file, await runConcurrentAdds(file, 'open-first'))
    })

    it('on a file (and directory) that does not exist yet: creation and migrations race too', async function () {
      this.timeout(120_000)
      const dataDir = path.join(dir, 'not-yet', 'hivemind-core')
      const file = path.join(dataDir, 'clients.db')
      expectAllStored(file, await runConcurrentAdds(file, 'open-at-barrier'))
      // Whichever child won the creation race made them private (0700 / 0600 under any umask).
      expect(octal(mode(dataDir)), 'data directory').to.equal('0700')
      expect(octal(mode(file)), 'database').to.equal('0600')
      const db = new Database(file, {readonly: true})
      try {
        const applied = db.prepare('SELECT COUNT(*) AS n FROM hivemind_migrations').get() as {n: number}
        expect(applied.n, 'each migration recorded once').to.equal(MIGRATIONS.length)
      } finally {
        db.close()
      }
    })
  })
})
