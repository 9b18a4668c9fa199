/**
 * Listener rows of `npm run bench` (docs/performance.md P5, P6, P9), each beside a baseline measured
 * in the same run, median of interleaved rounds. Benchmarks are not tests: nothing here asserts a time.
 *
 *   P6  password handshakes/s against an in-process HiveServer (sqlite store, fake agent bus), N
 *       concurrent satellites, vs raw async PBKDF2-SHA256 (100k) at the same concurrency.
 *   P5  encrypted bus messages/s relayed to the agent bus by 100 connected satellites, vs a raw `ws`
 *       server relaying the very same frames to the same kind of sink.
 *   P9  memory of 10k idle authenticated connections, vs a raw `ws` server holding 10k idle sockets;
 *       each server runs in a child process (its RSS and heap deltas alone), the satellites here.
 *
 * Standalone: `npx tsx bench/listener.ts` prints these rows only (BENCH_ROUNDS, default 5).
 * BENCH_P9_CONNECTIONS (default 10000) and BENCH_P9_ROUNDS tune P9, the slow row.
 * `--p9-child listener|raw` is the child of P9 (internal).
 */
import {spawn} from 'node:child_process'
import crypto from 'node:crypto'
import {readFileSync} from 'node:fs'
import type {AddressInfo} from 'node:net'
import os from 'node:os'
import path from 'node:path'
import {fileURLToPath, pathToFileURL} from 'node:url'

import WebSocket, {WebSocketServer} from 'ws'

import type {ClientStore} from '../src/core/store.js'
import {createLogger} from '../src/server/logger.js'
import {HiveServer, type ListenerOptions} from '../src/server/server.js'
import {FakeBus} from '../test/helpers/fake-bus.js'
import {encode, encrypt, HiveTestClient} from '../test/helpers/hive-client.js'
import {sqliteStore} from '../test/helpers/hub.js'
import type {Row} from './run.js'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const PASSWORD = 'bench-password-0123456789abcdef'
const accessKey = (index: number) => `bench-key-${index}-${'x'.repeat(20)}`

/** P6: concurrent satellites (2 × cores) and handshakes per round. */
const P6_CONCURRENCY = 2 * os.cpus().length
const P6_HANDSHAKES = 12 * P6_CONCURRENCY
/** P5: connected satellites and messages each sends per round. */
const P5_CLIENTS = 100
const P5_MESSAGES = 200
/** P9: idle connections (reduced to what the file-descriptor limit allows) and the KDF iterations of that row only. */
const P9_CONNECTIONS = Number(process.env.BENCH_P9_CONNECTIONS ?? 10_000)
const P9_KDF_ITERATIONS = 1000
/** Connections being opened at once by P9's satellites (under the listener's 256 pending handshakes). */
const P9_IN_FLIGHT = 100
/** Rounds of P9 (≈ 35 s each on 2 cores: 10k handshakes; BENCH_P9_ROUNDS overrides the common count). */
const P9_ROUNDS = process.env.BENCH_P9_ROUNDS ? Number(process.env.BENCH_P9_ROUNDS) : undefined

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)]!
}

const seconds = (start: bigint) => Number(process.hrtime.bigint() - start) / 1e9

/** Waits (bounded) until `check` holds, polling. */
async function until(check: () => boolean, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`bench: timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 2))
  }
}

/** Runs `count` jobs with at most `width` in flight. */
async function pool(count: number, width: number, job: (index: number) => Promise<void>): Promise<void> {
  let next = 0
  await Promise.all(Array.from({length: Math.min(width, count)}, async () => {
    while (next < count) await job(next++)
  }))
}

interface Listener {
  server: HiveServer
  bus: FakeBus
  port: number
  /** Handshakes the listener completed (its `client.connected` log lines). */
  readonly connected: number
  stop(): Promise<void>
}

/**
 * An in-process listener as test/helpers/hub.ts starts one (sqlite store, fake agent bus), logging
 * at `info` like `hivemind-core listen` does, into a sink that keeps nothing but a count.
 */
async function startListener(clients: number, options: Partial<ListenerOptions> = {}): Promise<Listener> {
  const db = await sqliteStore()
  const store: ClientStore = db.store
  for (let index = 0; index < clients; index++) await store.add({api_key: accessKey(index), password: PASSWORD, name: `bench ${index}`})
  const bus = await FakeBus.start()
  let connected = 0
  const logger = createLogger('info', (line) => {
    if (line.includes('"event":"client.connected"')) connected++
  })
  const server = new HiveServer({host: '127.0.0.1', port: 0, agentUrl: bus.url, ...options, store, logger})
  const {port} = await server.start()
  await bus.until(() => bus.connections > 0, 5000)
  return {
    server,
    bus,
    port,
    get connected() {
      return connected
    },
    async stop() {
      await server.stop()
      await bus.stop()
      await db.cleanup()
    },
  }
}

// --- P6 -------------------------------------------------------------------------------------

async function benchHandshakes(rows: Row[], rounds: number): Promise<void> {
  const listener = await startListener(P6_CONCURRENCY)
  const ours: number[] = []
  const baseline: number[] = []
  try {
    for (let round = 0; round < rounds; round++) {
      let start = process.hrtime.bigint()
      await pool(P6_HANDSHAKES, P6_CONCURRENCY, () =>
        new Promise<void>((resolve, reject) => {
          crypto.pbkdf2(PASSWORD, crypto.randomBytes(8), 100_000, 32, 'sha256', (error) => (error ? reject(error) : resolve()))
        }),
      )
      baseline.push(P6_HANDSHAKES / seconds(start))
      const before = listener.connected
      start = process.hrtime.bigint()
      await pool(P6_HANDSHAKES, P6_CONCURRENCY, async (index) => {
        const client = await HiveTestClient.connect({port: listener.port, accessKey: accessKey(index % P6_CONCURRENCY), password: PASSWORD})
        // The client's hello is sent; the close frame follows it on the same socket.
        client.close()
      })
      // Completed = the listener had every hello (it logs client.connected when it counts a session ready).
      await until(() => listener.connected - before >= P6_HANDSHAKES, 'the last handshakes')
      ours.push(P6_HANDSHAKES / seconds(start))
    }
  } finally {
    await listener.stop()
  }
  // Satellite and hub derive the key on the same cores here: a handshake costs two KDFs, so the
  // baseline is raw PBKDF2 per second halved (the hub's own share).
  const raw = median(baseline)
  rows.push({
    id: 'P6',
    what: `listener password handshakes, ${P6_CONCURRENCY} concurrent satellites in-process (kdfConcurrency 2); baseline raw PBKDF2-SHA256 100k/s at ${P6_CONCURRENCY} in flight = ${raw.toFixed(1)}, halved: satellite and hub both derive on these cores`,
    ours: median(ours),
    baseline: raw / 2,
    unit: 'handshakes/s',
    higherIsBetter: true,
    goal: '≥ 0.8× raw PBKDF2 (per hub-side KDF)',
  })
}

// --- P5 -------------------------------------------------------------------------------------

/** A raw `ws` relay: every frame from a client is sent as is to one upstream connection (to `sink`). */
async function startRawRelay(sink: FakeBus): Promise<{port: number; stop(): Promise<void>}> {
  const upstream = new WebSocket(sink.url)
  await new Promise<void>((resolve, reject) => {
    upstream.once('open', () => resolve())
    upstream.once('error', reject)
  })
  const wss = new WebSocketServer({host: '127.0.0.1', port: 0, perMessageDeflate: false})
  await new Promise<void>((resolve) => wss.once('listening', () => resolve()))
  wss.on('connection', (socket) => {
    socket.on('message', (data, isBinary) => upstream.send(data as Buffer, {binary: isBinary}))
  })
  return {
    port: (wss.address() as AddressInfo).port,
    async stop() {
      for (const socket of wss.clients) socket.terminate()
      await new Promise<void>((resolve) => wss.close(() => resolve()))
      upstream.terminate()
    },
  }
}

async function benchRelay(rows: Row[], rounds: number): Promise<void> {
  const listener = await startListener(P5_CLIENTS)
  const sink = await FakeBus.start()
  const relay = await startRawRelay(sink)
  const satellites: HiveTestClient[] = []
  const raws: WebSocket[] = []
  const ours: number[] = []
  const baseline: number[] = []
  let frameBytes = 0
  try {
    await pool(P5_CLIENTS, P5_CLIENTS, async (index) => {
      satellites[index] = await HiveTestClient.connect({port: listener.port, accessKey: accessKey(index), password: PASSWORD})
    })
    await until(() => listener.server.clients === P5_CLIENTS, 'the satellites to be ready')
    // The frames, encrypted once (outside the timings): the same strings go through both servers.
    const frames = satellites.map((client) =>
      Array.from({length: P5_MESSAGES}, (_, n) => {
        const message = {msg_type: 'bus', payload: {type: 'recognizer_loop:utterance', data: {utterances: ['what time is it'], lang: 'en-US', n}, context: {}}, metadata: {}, route: []}
        const {ciphertext, tag, nonce} = encrypt(client.cipher, client.key!, Buffer.from(JSON.stringify(message), 'utf8'))
        const frame = JSON.stringify({ciphertext: encode(client.encoding, ciphertext), tag: encode(client.encoding, tag), nonce: encode(client.encoding, nonce)})
        frameBytes += frame.length
        return frame
      }),
    )
    await pool(P5_CLIENTS, P5_CLIENTS, async (index) => {
      const socket = new WebSocket(`ws://127.0.0.1:${relay.port}`)
      await new Promise<void>((resolve, reject) => {
        socket.once('open', () => resolve())
        socket.once('error', reject)
      })
      raws[index] = socket
    })
    const total = P5_CLIENTS * P5_MESSAGES
    for (let round = 0; round < rounds; round++) {
      sink.received.splice(0)
      let start = process.hrtime.bigint()
      for (let n = 0; n < P5_MESSAGES; n++) for (let index = 0; index < P5_CLIENTS; index++) raws[index]!.send(frames[index]![n]!)
      await until(() => sink.received.length >= total, 'the raw relay')
      baseline.push(total / seconds(start))
      listener.bus.received.splice(0)
      start = process.hrtime.bigint()
      for (let n = 0; n < P5_MESSAGES; n++) for (let index = 0; index < P5_CLIENTS; index++) satellites[index]!.socket.send(frames[index]![n]!)
      await until(() => listener.bus.received.length >= total, 'the listener to relay every message')
      ours.push(total / seconds(start))
    }
  } finally {
    for (const client of satellites) client?.close()
    for (const socket of raws) socket?.terminate()
    await relay.stop()
    await sink.stop()
    await listener.stop()
  }
  rows.push({
    id: 'P5',
    what: `listener relays encrypted bus messages to the agent bus, ${P5_CLIENTS} satellites × ${P5_MESSAGES} (AES-GCM JSON-HEX frames ≈ ${Math.round(frameBytes / (P5_CLIENTS * P5_MESSAGES))} B)`,
    ours: median(ours),
    baseline: median(baseline),
    unit: 'messages/s',
    higherIsBetter: true,
    goal: '≥ 0.5× raw ws relay of the same frames',
  })
}

// --- P9 -------------------------------------------------------------------------------------

/** Soft limit of open files of this process (Linux), or undefined. */
function openFilesLimit(): number | undefined {
  try {
    const match = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'utf8'))
    if (!match) return undefined
    return match[1] === 'unlimited' ? Number.POSITIVE_INFINITY : Number(match[1])
  } catch {
    return undefined
  }
}

interface Memory {
  rss: number
  heap: number
}

function memory(): Memory {
  globalThis.gc?.()
  globalThis.gc?.()
  const usage = process.memoryUsage()
  return {rss: usage.rss, heap: usage.heapUsed + usage.external}
}

/** Child of P9: serves, reports its memory at rest, then (asked) its memory holding the connections. */
async function p9Child(kind: string): Promise<void> {
  const send = (message: object) => process.send!(message)
  let count: () => number
  if (kind === 'listener') {
    const listener = await startListener(P5_CLIENTS, {kdfIterations: P9_KDF_ITERATIONS})
    count = () => listener.server.clients
    send({port: listener.port, limit: openFilesLimit()})
  } else {
    const wss = new WebSocketServer({host: '127.0.0.1', port: 0, perMessageDeflate: false})
    await new Promise<void>((resolve) => wss.once('listening', () => resolve()))
    wss.on('connection', (socket) => socket.on('error', () => {}))
    count = () => wss.clients.size
    send({port: (wss.address() as AddressInfo).port, limit: openFilesLimit()})
  }
  await new Promise((resolve) => setTimeout(resolve, 200))
  const atRest = memory()
  process.on('message', (request: {expect: number}) => {
    void (async () => {
      await until(() => count() >= request.expect, `${request.expect} connections in the ${kind} child`)
      await new Promise((resolve) => setTimeout(resolve, 500))
      const holding = memory()
      send({rss: holding.rss - atRest.rss, heap: holding.heap - atRest.heap, count: count()})
    })().catch((error: unknown) => {
      console.error(error)
      process.exit(1)
    })
  })
}

interface ChildReport {
  rss: number
  heap: number
  count: number
}

/** Starts a P9 child (open-files soft limit raised to the hard one), holds `connections` sockets to it, returns its deltas. */
async function p9Round(kind: 'listener' | 'raw', connections: number | undefined): Promise<ChildReport & {connections: number}> {
  const args = ['--import', 'tsx', '--expose-gc', path.join(ROOT, 'bench/listener.ts'), '--p9-child', kind]
  const child = spawn('sh', ['-c', 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$0" "$@"', process.execPath, ...args], {cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit', 'ipc']})
  const messages: Array<Record<string, any>> = []
  child.on('message', (message: Record<string, any>) => messages.push(message))
  let exited = false
  child.on('exit', () => (exited = true))
  const next = async (what: string) => {
    await until(() => messages.length > 0 || exited, what, 120_000)
    if (messages.length === 0) throw new Error(`bench: the P9 ${kind} child exited`)
    return messages.shift()!
  }
  const sockets: WebSocket[] = []
  const satellites: HiveTestClient[] = []
  try {
    const hello = await next(`the P9 ${kind} child to start`)
    const childLimit = typeof hello.limit === 'number' ? hello.limit : Number.POSITIVE_INFINITY
    const count = connections ?? Math.max(0, Math.min(P9_CONNECTIONS, (openFilesLimit() ?? Number.POSITIVE_INFINITY) - 200, childLimit - 200))
    await pool(count, P9_IN_FLIGHT, async (index) => {
      if (kind === 'listener') {
        satellites.push(await HiveTestClient.connect({port: hello.port, accessKey: accessKey(index % P5_CLIENTS), password: PASSWORD, kdfIterations: P9_KDF_ITERATIONS, timeoutMs: 60_000}))
      } else {
        const socket = new WebSocket(`ws://127.0.0.1:${hello.port}`)
        socket.on('error', () => {})
        await new Promise<void>((resolve, reject) => {
          socket.once('open', () => resolve())
          socket.once('close', () => reject(new Error('closed before open')))
        })
        sockets.push(socket)
      }
    })
    child.send({expect: count})
    const report = (await next(`the P9 ${kind} child's memory`)) as ChildReport
    return {...report, connections: count}
  } finally {
    child.kill('SIGKILL')
    for (const client of satellites) client.socket.terminate()
    for (const socket of sockets) socket.terminate()
  }
}

async function benchMemory(rows: Row[], rounds: number): Promise<void> {
  const MiB = 2 ** 20
  const rss = {ours: [] as number[], baseline: [] as number[]}
  const heap = {ours: [] as number[], baseline: [] as number[]}
  let connections: number | undefined
  for (let round = 0; round < (P9_ROUNDS ?? rounds); round++) {
    const raw = await p9Round('raw', connections)
    connections = raw.connections
    const ours = await p9Round('listener', connections)
    rss.baseline.push(raw.rss / MiB)
    rss.ours.push(ours.rss / MiB)
    heap.baseline.push(raw.heap / MiB)
    heap.ours.push(ours.heap / MiB)
  }
  const reduced = connections !== undefined && connections < P9_CONNECTIONS ? ` (reduced from ${P9_CONNECTIONS}: open-files limit)` : ''
  const what = `${connections ?? 0} idle authenticated connections${reduced}, kdfIterations ${P9_KDF_ITERATIONS} for this row only, server in a child process`
  rows.push({id: 'P9', what: `listener memory: RSS delta, ${what}`, ours: median(rss.ours), baseline: median(rss.baseline), unit: 'MiB', higherIsBetter: false, goal: '≤ 2× raw ws server holding as many idle sockets'})
  rows.push({id: 'P9b', what: `listener memory: heap+external delta after GC, ${what}`, ours: median(heap.ours), baseline: median(heap.baseline), unit: 'MiB', higherIsBetter: false, goal: '≤ 2× raw ws server holding as many idle sockets'})
}

/** P5, P6 and P9, pushed into `rows` (median of `rounds` interleaved rounds, baseline first). */
export async function benchListener(rows: Row[], rounds: number): Promise<void> {
  await benchHandshakes(rows, rounds)
  await benchRelay(rows, rounds)
  await benchMemory(rows, rounds)
}

// --- standalone and child entry points ------------------------------------------------------

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const childAt = process.argv.indexOf('--p9-child')
  if (childAt >= 0) {
    await p9Child(process.argv[childAt + 1] ?? 'raw')
  } else {
    const rounds = Number(process.env.BENCH_ROUNDS ?? 5)
    const rows: Row[] = []
    await benchListener(rows, rounds)
    const format = (value: number) => (value >= 100 ? Math.round(value).toLocaleString('en') : value.toFixed(1))
    console.log(`${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, Node ${process.version}; median of ${rounds} interleaved rounds; ratio = ours / baseline`)
    console.log(['id', 'what', 'ours', 'baseline', 'unit', 'ratio', 'goal'].join('\t'))
    for (const row of rows) console.log([row.id, row.what, format(row.ours), format(row.baseline), row.unit, `${(row.ours / row.baseline).toFixed(2)}×`, row.goal].join('\t'))
  }
}
