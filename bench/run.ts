/**
 * `npm run bench`: each row prints our figure, a baseline measured in the same run, and the ratio
 * (median of interleaved rounds). Benchmarks are not tests: nothing here asserts a time.
 * Rows: P1 (sqlite getByApiKey), P2 (json getByApiKey), P3 (redis getByApiKey), P4 (CLI cold start),
 * P7 (migrate-db between every pair, BENCH_P7_CLIENTS clients, default 100k); P5, P6, P9 (listener) in bench/listener.ts.
 * BENCH_ONLY=P3,P4 runs only the named rows (P5, P6 and P9 run together as "listener").
 */
import {spawnSync} from 'node:child_process'
import {mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

import Database from 'better-sqlite3'

import {buildClient, type ClientRecord} from '../src/core/client.js'
import type {BackendDescriptor, ClientStore} from '../src/core/store.js'
import {jsonBackend} from '../src/plugins/json/index.js'
import {redisBackend} from '../src/plugins/redis/index.js'
import {sqliteBackend} from '../src/plugins/sqlite/index.js'
import {startRedisServer} from '../test/helpers/redis-server.js'
import {benchListener} from './listener.js'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const ROUNDS = 5
/** Rounds of P4: a cold start is short and the noisiest row (a busy moment moves one run by 100+ ms), and 11 rounds cost ~10 s. */
const COLD_START_ROUNDS = 11
const CLIENTS = 10_000
const context = {paths: {home: '', dataDir: '', configDir: '', stateDir: ''}, mode: 'write' as const, warn() {}}

export interface Row {
  id: string
  what: string
  ours: number
  baseline: number
  unit: string
  /** true when bigger is better (throughput), false for durations. */
  higherIsBetter: boolean
  goal: string
}

const rows: Row[] = []

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)]!
}

/** Lookups per second of `lookup` over `keys`. */
async function throughput(keys: string[], lookup: (key: string) => unknown): Promise<number> {
  const start = process.hrtime.bigint()
  for (const key of keys) await lookup(key)
  const seconds = Number(process.hrtime.bigint() - start) / 1e9
  return keys.length / seconds
}

function clients(count: number): ClientRecord[] {
  return Array.from({length: count}, (_, index) => buildClient(index + 1, {api_key: `key-${index + 1}-${'x'.repeat(20)}`, name: `client ${index + 1}`, password: 'p'}))
}

/**
 * Access keys to look up, as a listener receives them: decoded from the network into flat strings.
 * A template literal builds a rope, which a Map lookup must first flatten (~0.5 µs): a cost no
 * real lookup pays, and one the stat baseline of P2b, which ignores the key, never paid.
 */
function sample(count: number): string[] {
  return Array.from({length: count}, () => Buffer.from(`key-${1 + Math.floor(Math.random() * CLIENTS)}-${'x'.repeat(20)}`).toString())
}

async function openStore(descriptor: BackendDescriptor, options: Record<string, unknown>): Promise<ClientStore> {
  const store = await descriptor.create(options, context)
  await store.open()
  return store
}

async function benchSqlite(dir: string): Promise<void> {
  const file = path.join(dir, 'clients.db')
  const store = await openStore(sqliteBackend as unknown as BackendDescriptor, {path: file, busyTimeoutMs: 10_000})
  await store.putMany!(clients(CLIENTS))
  const raw = new Database(file, {readonly: true})
  const statement = raw.prepare("SELECT * FROM clients WHERE api_key = ? AND api_key != 'revoked'")
  const ours: number[] = []
  const baseline: number[] = []
  for (let round = 0; round < ROUNDS; round++) {
    const keys = sample(20_000)
    baseline.push(await throughput(keys, (key) => statement.get(key)))
    ours.push(await throughput(keys, (key) => store.getByApiKey(key)))
  }
  raw.close()
  await store.close()
  rows.push({id: 'P1', what: `sqlite getByApiKey, ${CLIENTS} clients`, ours: median(ours), baseline: median(baseline), unit: 'lookups/s', higherIsBetter: true, goal: '≥ 0.5× raw prepared get'})
}

/** requests/s that redis-benchmark reports for one command at a concurrency. */
function redisBenchmark(port: number, clientsInFlight: number, requests: number, command: string[]): number {
  const result = spawnSync('redis-benchmark', ['-p', String(port), '-c', String(clientsInFlight), '-n', String(requests), '-q', ...command], {encoding: 'utf8'})
  const match = /([\d.]+) requests per second/.exec(result.stdout)
  if (!match) throw new Error(`redis-benchmark printed: ${result.stdout}${result.stderr}`)
  return Number(match[1])
}

async function benchRedis(): Promise<void> {
  const server = await startRedisServer()
  try {
    const store = await openStore(redisBackend as unknown as BackendDescriptor, {url: server.url, keyPrefix: 'bench:', connectTimeoutMs: 2000, reconnect: false})
    await store.putMany!(clients(CLIENTS))
    const recordKey = (store as unknown as {keys: {client(id: number): string}}).keys.client(1)
    for (const inFlight of [1, 50]) {
      const ours: number[] = []
      const baseline: number[] = []
      for (let round = 0; round < ROUNDS; round++) {
        baseline.push(redisBenchmark(server.port, inFlight, 20_000, ['HGETALL', recordKey]))
        const keys = sample(20_000)
        const start = process.hrtime.bigint()
        let next = 0
        await Promise.all(Array.from({length: inFlight}, async () => {
          while (next < keys.length) await store.getByApiKey(keys[next++]!)
        }))
        ours.push(keys.length / (Number(process.hrtime.bigint() - start) / 1e9))
      }
      rows.push({id: 'P3', what: `redis getByApiKey, ${inFlight} in flight`, ours: median(ours), baseline: median(baseline), unit: 'lookups/s', higherIsBetter: true, goal: '≥ 0.5× redis-benchmark HGETALL'})
    }
    await store.close()
  } finally {
    await server.stop()
  }
}

async function benchJson(dir: string): Promise<void> {
  const file = path.join(dir, 'clients.json')
  const store = await openStore(jsonBackend as unknown as BackendDescriptor, {path: file, lockStaleMs: 10_000, lockWaitMs: 30_000})
  await store.putMany!(clients(CLIENTS))
  const ours: number[] = []
  const baseline: number[] = []
  const stats: number[] = []
  for (let round = 0; round < ROUNDS; round++) {
    // The upstream behaviour: re-read, parse and scan the whole file on every lookup.
    baseline.push(await throughput(sample(50), (key) => Object.values(JSON.parse(readFileSync(file, 'utf8')) as Record<string, ClientRecord>).find((record) => record.api_key === key)))
    const keys = sample(20_000)
    // Alternately first: whichever runs right after the re-read baseline pays for its garbage.
    const measureOurs = async () => ours.push(await throughput(keys, (key) => store.getByApiKey(key)))
    const measureStat = async () => stats.push(await throughput(keys, () => statSync(file, {bigint: true})))
    if (round % 2 === 0) await measureOurs().then(measureStat)
    else await measureStat().then(measureOurs)
  }
  await store.close()
  rows.push({id: 'P2', what: `json getByApiKey, ${CLIENTS} clients`, ours: median(ours), baseline: median(baseline), unit: 'lookups/s', higherIsBetter: true, goal: '≥ 100× re-read+parse+scan'})
  rows.push({id: 'P2b', what: 'json getByApiKey vs one fs.stat', ours: median(ours), baseline: median(stats), unit: 'ops/s', higherIsBetter: true, goal: '≥ 0.5× (a lookup ≤ 2 stats)'})
}

/** Wall time of one process run, ms. */
function timeRun(args: string[], env: NodeJS.ProcessEnv, cwd: string): number {
  const start = process.hrtime.bigint()
  const result = spawnSync(process.execPath, args, {env, cwd, stdio: 'ignore'})
  if (result.status !== 0) throw new Error(`${args.join(' ')} exited ${result.status}`)
  return Number(process.hrtime.bigint() - start) / 1e6
}

async function benchColdStart(dir: string): Promise<void> {
  // A bare oclif CLI with one "hello" command, on the same @oclif/core.
  const bare = path.join(dir, 'bare')
  mkdirSync(path.join(bare, 'commands'), {recursive: true})
  writeFileSync(path.join(bare, 'package.json'), JSON.stringify({name: 'bare', version: '1.0.0', type: 'module', oclif: {bin: 'bare', commands: './commands'}}))
  writeFileSync(path.join(bare, 'commands', 'hello.js'), `import {Command} from ${JSON.stringify(path.join(ROOT, 'node_modules/@oclif/core/lib/index.js'))}\nexport default class Hello extends Command { async run() { this.log('hello') } }\n`)
  writeFileSync(path.join(bare, 'run.js'), `import {execute} from ${JSON.stringify(path.join(ROOT, 'node_modules/@oclif/core/lib/index.js'))}\nawait execute({dir: import.meta.url})\n`)
  const home = path.join(dir, 'home')
  mkdirSync(home)
  const env = {PATH: process.env.PATH, HOME: home}
  const cli = path.join(ROOT, 'bin/run.js')
  // A private server, like the tests use: the machine's own Redis (if any) is never touched.
  const redis = await startRedisServer()
  try {
    const redisArgs = ['--db-backend', 'redis', '--redis-url', redis.url]
    for (const backend of [['--db-backend', 'json'], ['--db-backend', 'sqlite'], redisArgs]) {
      const added = spawnSync(process.execPath, [cli, 'add-client', ...backend, '-q'], {env, cwd: home, stdio: 'ignore'})
      if (added.status !== 0) throw new Error(`add-client ${backend.join(' ')} exited ${added.status}`)
    }
    const cases: Array<[string, string[], string]> = [
      ['--help', ['--help'], '≤ 1.1×'],
      ['list-clients on json', ['list-clients', '--db-backend', 'json', '-q'], '≤ 1.5×'],
      ['list-clients on redis', ['list-clients', ...redisArgs, '-q'], '≤ 1.6×'],
      ['list-clients on sqlite', ['list-clients', '--db-backend', 'sqlite', '-q'], '≤ 2.0×'],
    ]
    for (const [label, args, goal] of cases) {
      const ours: number[] = []
      const baseline: number[] = []
      for (let round = 0; round < COLD_START_ROUNDS; round++) {
        baseline.push(timeRun([path.join(bare, 'run.js'), 'hello'], env, home))
        ours.push(timeRun([cli, ...args], env, home))
      }
      rows.push({id: 'P4', what: `cold start: ${label}`, ours: median(ours), baseline: median(baseline), unit: 'ms', higherIsBetter: false, goal: `${goal} bare oclif hello (${COLD_START_ROUNDS} rounds)`})
    }
  } finally {
    await redis.stop()
  }
}

/** Number of clients of P7 (BENCH_P7_CLIENTS; 0 skips the row). */
const P7_CLIENTS = Number(process.env.BENCH_P7_CLIENTS ?? 100_000)
/** Rounds of P7: the median of at least 5 interleaved rounds, as every row (docs/performance.md); BENCH_P7_ROUNDS changes it. */
const P7_ROUNDS = Number(process.env.BENCH_P7_ROUNDS ?? 5)

/** A migration target of P7: how our store opens on a fresh location, and the raw driver's bulk insert. */
interface P7Side {
  name: string
  descriptor: BackendDescriptor
  options(tag: string): Record<string, unknown>
  rawBulkInsert(tag: string, records: ClientRecord[]): Promise<void>
}

async function benchMigrate(dir: string): Promise<void> {
  if (P7_CLIENTS <= 0) return
  const server = await startRedisServer()
  const {Redis} = await import('ioredis')
  const redis = new Redis({port: server.port})
  const {toUpstreamJson} = await import('../src/core/interchange.js')
  const {recordToRow} = await import('../src/plugins/sqlite/entity.js')
  const {copyRecords, planMigration, recordsDigest, verifyMigration} = await import('../src/migrate/migrate.js')
  const sides: P7Side[] = [
    {
      name: 'sqlite',
      descriptor: sqliteBackend as unknown as BackendDescriptor,
      options: (tag) => ({path: path.join(dir, `${tag}.db`), busyTimeoutMs: 10_000}),
      async rawBulkInsert(tag, records) {
        // The same schema (created by our migrations), filled by the raw driver in one transaction.
        const file = path.join(dir, `${tag}.db`)
        const schema = await openStore(sqliteBackend as unknown as BackendDescriptor, {path: file, busyTimeoutMs: 10_000})
        await schema.close()
        const db = new Database(file)
        const columns = Object.keys(recordToRow(records[0]!))
        const insert = db.prepare(`INSERT INTO clients (${columns.join(', ')}) VALUES (${columns.map(() => '?').join(', ')})`)
        db.transaction(() => {
          for (const record of records) {
            insert.run(...Object.values(recordToRow(record)).map((value) => (typeof value === 'boolean' ? Number(value) : Array.isArray(value) || (typeof value === 'object' && value !== null) ? JSON.stringify(value) : value)))
          }
        })()
        db.close()
      },
    },
    {
      name: 'json',
      descriptor: jsonBackend as unknown as BackendDescriptor,
      options: (tag) => ({path: path.join(dir, `${tag}.json`), lockStaleMs: 10_000, lockWaitMs: 30_000}),
      async rawBulkInsert(tag, records) {
        writeFileSync(path.join(dir, `${tag}.json`), toUpstreamJson(records))
      },
    },
    {
      name: 'redis',
      descriptor: redisBackend as unknown as BackendDescriptor,
      options: (tag) => ({url: server.url, keyPrefix: `${tag}:`, connectTimeoutMs: 2000, reconnect: false}),
      async rawBulkInsert(tag, records) {
        const pipeline = redis.pipeline()
        for (const record of records) {
          pipeline.hset(`${tag}:{hive}client:${record.client_id}`, Object.fromEntries(Object.entries(record).map(([key, value]) => [key, typeof value === 'string' ? value : JSON.stringify(value)])))
          pipeline.hset(`${tag}:{hive}index`, record.api_key, String(record.client_id))
        }
        await pipeline.exec()
      },
    },
  ]
  const records = clients(P7_CLIENTS)
  let tags = 0
  try {
    for (const from of sides) {
      const sourceTag = `p7-source-${from.name}`
      const source = await openStore(from.descriptor, from.options(sourceTag))
      // In batches: one 100k-record script blocks a Redis server for seconds (a slow moment of the
      // machine once took it past the 10 s command timeout).
      for (let start = 0; start < records.length; start += 10_000) await source.putMany!(records.slice(start, start + 10_000))
      for (const to of sides) {
        if (to === from) continue
        const ours: number[] = []
        const baseline: number[] = []
        for (let round = 0; round < P7_ROUNDS; round++) {
          let start = process.hrtime.bigint()
          await to.rawBulkInsert(`p7-raw-${++tags}`, records)
          baseline.push(P7_CLIENTS / (Number(process.hrtime.bigint() - start) / 1e9))
          const target = await openStore(to.descriptor, to.options(`p7-ours-${++tags}`))
          start = process.hrtime.bigint()
          const plan = await planMigration(source, target)
          await copyRecords(target, plan.toCopy, target.preferredBatchSize ?? 500, () => {})
          // Exactly the calls migrate-db makes (src/commands/migrate-db.ts), in the same order,
          // fingerprint of the source for the completion mark included (only the mark's tiny file
          // writes and the audit line are left out).
          const verification = await verifyMigration(source, target, new Set(), plan)
          recordsDigest(verification.expected)
          ours.push(P7_CLIENTS / (Number(process.hrtime.bigint() - start) / 1e9))
          if (!verification.ok) throw new Error(`P7 ${from.name} → ${to.name}: verification failed`)
          await target.close()
        }
        rows.push({id: 'P7', what: `migrate ${from.name} → ${to.name}, ${P7_CLIENTS} clients (read, copy, verify, fingerprint)`, ours: median(ours), baseline: median(baseline), unit: 'clients/s', higherIsBetter: true, goal: `≥ 0.5× raw bulk insert (${P7_ROUNDS} rounds)`})
      }
      await source.close()
    }
  } finally {
    redis.disconnect()
    await server.stop()
  }
}

/** Rows selected by BENCH_ONLY (comma-separated ids); all when unset. */
const only = new Set((process.env.BENCH_ONLY ?? '').split(',').map((id) => id.trim().toUpperCase()).filter(Boolean))
const wanted = (...ids: string[]) => only.size === 0 || ids.some((id) => only.has(id))

const dir = mkdtempSync(path.join(os.tmpdir(), 'hivemind-bench-'))
try {
  if (wanted('P1')) await benchSqlite(dir)
  if (wanted('P2', 'P2B')) await benchJson(dir)
  if (wanted('P3')) await benchRedis()
  if (wanted('P4')) await benchColdStart(dir)
  if (wanted('P5', 'P6', 'P9', 'LISTENER')) await benchListener(rows, ROUNDS)
  if (wanted('P7')) await benchMigrate(dir)
} finally {
  rmSync(dir, {recursive: true, force: true})
}

const format = (value: number) => (value >= 100 ? Math.round(value).toLocaleString('en') : value.toFixed(1))
console.log(`${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}; median of ${ROUNDS} interleaved rounds; ratio = ours / baseline`)
console.log(['id', 'what', 'ours', 'baseline', 'unit', 'ratio', 'goal'].join('\t'))
for (const row of rows) {
  const ratio = row.ours / row.baseline
  console.log([row.id, row.what, format(row.ours), format(row.baseline), row.unit, `${ratio.toFixed(2)}×`, row.goal].join('\t'))
}
