/**
 * Runs the BUILT `hivemind-core listen` as a real process (inside a sandbox's HOME), reads its
 * structured logs to learn the port, and stops it with a signal.
 */
import {type ChildProcess, spawn} from 'node:child_process'

import {CLI} from './sandbox.js'

export interface ListenerProcess {
  child: ChildProcess
  port: number
  /** Everything written to stderr so far. */
  stderr(): string
  stdout(): string
  /** Sends a signal and resolves with the exit code (bounded; SIGKILL after the timeout). */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<number | null>
  /** Waits (bounded) until stderr matches. */
  waitForLog(pattern: RegExp, timeoutMs?: number): Promise<void>
}

/**
 * Starts listen with `--host 127.0.0.1 --port 0` (unless `ownAddress`: the settings then decide)
 * and resolves once it logged `listener.started`.
 */
export async function startListener(args: string[], options: {env: NodeJS.ProcessEnv; cwd: string; timeoutMs?: number; ownAddress?: boolean}): Promise<ListenerProcess> {
  const address = options.ownAddress ? [] : ['--host', '127.0.0.1', '--port', '0']
  const child = spawn(process.execPath, [CLI, 'listen', ...address, ...args], {cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe']})
  let stderr = ''
  let stdout = ''
  let exitCode: number | null | undefined
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => {
    exitCode = code
    resolve(code)
  }))
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk))

  const waitForLog = async (pattern: RegExp, timeoutMs = 10_000) => {
    const deadline = Date.now() + timeoutMs
    while (!pattern.test(stderr)) {
      if (exitCode !== undefined) throw new Error(`listen exited (${exitCode}) before ${pattern}:\n${stderr}`)
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${pattern}:\n${stderr}`)
      await new Promise((resolve) => setTimeout(resolve, 25))
    }
  }
  const stop = async (signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 10_000) => {
    if (exitCode !== undefined) return exitCode
    child.kill(signal)
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    const code = await exited
    clearTimeout(timer)
    return code
  }
  try {
    await waitForLog(/"event":"listener.started"/, options.timeoutMs ?? 15_000)
  } catch (error) {
    await stop('SIGKILL')
    throw error
  }
  const started = stderr.split('\n').find((line) => line.includes('"listener.started"'))!
  const port = (JSON.parse(started) as {port: number}).port
  return {child, port, stderr: () => stderr, stdout: () => stdout, stop, waitForLog}
}

/** The process exit promise for a command that should refuse to start. */
export function exitOf(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)))
}
