/**
 * A private `redis-server` for tests: started on a free port in a temp directory (no RDB, no AOF),
 * awaited until it answers, and stopped (and its directory removed) afterwards. Tests never touch
 * the machine's own Redis on 6379.
 */
import {type ChildProcess, spawn} from 'node:child_process'
import {mkdtempSync, rmSync} from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'

export interface RedisServerOptions {
  /** Starts the server with `--requirepass`. */
  password?: string
  /** Serves TLS only (`--port 0 --tls-port <port>`) with these PEM files. */
  tls?: {cert: string; key: string; ca: string}
  /** Extra redis-server arguments. */
  args?: string[]
  /** Use this port (e.g. to restart a server where it was) instead of a free one. */
  port?: number
}

export interface RedisServer {
  host: string
  port: number
  /** redis://127.0.0.1:<port>/0 (no password in it). */
  url: string
  /** The temp directory the server runs in. */
  dir: string
  /** Stops the server (SIGTERM, then SIGKILL) and removes its directory. Idempotent. */
  stop(): Promise<void>
}

/** A TCP port nobody listens on right now. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.unref()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const {port} = server.address() as net.AddressInfo
      server.close(() => resolve(port))
    })
  })
}

/** Starts a redis-server; retries with another port if the chosen one was taken meanwhile. */
export async function startRedisServer(options: RedisServerOptions = {}): Promise<RedisServer> {
  if (options.port !== undefined) return startOn(options.port, options)
  let lastError: unknown
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort()
    try {
      return await startOn(port, options)
    } catch (error) {
      lastError = error
    }
  }
  throw lastError
}

async function startOn(port: number, options: RedisServerOptions): Promise<RedisServer> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hivemind-redis-'))
  const args = ['--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--daemonize', 'no']
  if (options.tls) {
    args.push('--port', '0', '--tls-port', String(port), '--tls-cert-file', options.tls.cert, '--tls-key-file', options.tls.key, '--tls-ca-cert-file', options.tls.ca, '--tls-auth-clients', 'no')
  } else {
    args.push('--port', String(port))
  }
  if (options.password !== undefined) args.push('--requirepass', options.password)
  args.push(...(options.args ?? []))

  const child = spawn('redis-server', args, {cwd: dir, stdio: ['ignore', 'pipe', 'pipe']})
  let output = ''
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (output = (output + chunk).slice(-4000)))
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (output = (output + chunk).slice(-4000)))
  let exited = false
  const exit = new Promise<void>((resolve) => {
    child.once('exit', () => {
      exited = true
      resolve()
    })
  })
  child.once('error', () => {
    exited = true
  })

  let stopped = false
  const stop = async () => {
    if (stopped) return
    stopped = true
    await kill(child, exit, () => exited)
    rmSync(dir, {recursive: true, force: true})
  }

  const deadline = Date.now() + 10_000
  while (!(await accepts(port))) {
    if (exited || Date.now() > deadline) {
      await stop()
      throw new Error(`redis-server did not start on port ${port}:\n${output}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
  return {host: '127.0.0.1', port, url: `redis://127.0.0.1:${port}/0`, dir, stop}
}

/** True once something accepts TCP connections on the port. */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({host: '127.0.0.1', port})
    socket.once('connect', () => {
      socket.destroy()
      resolve(true)
    })
    socket.once('error', () => resolve(false))
  })
}

async function kill(child: ChildProcess, exit: Promise<void>, exited: () => boolean): Promise<void> {
  if (exited()) return
  child.kill('SIGTERM')
  const timeout = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), 3000).unref())
  if ((await Promise.race([exit, timeout])) === 'timeout' && !exited()) {
    child.kill('SIGKILL')
    await exit
  }
}
